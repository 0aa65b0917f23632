"""Hypothesis' entry point: ``st.from_type(ProposalPublished)`` and friends draw from
:mod:`negotiation.strategies` once the package is installed.

Hypothesis runs :func:`setup` when it is first imported. If that import comes from
:mod:`negotiation.strategies` itself (half imported at that moment), the strategies module
registers its strategies at its own end instead.
"""

from __future__ import annotations

import sys

__all__ = ["setup"]


def setup() -> None:
    """Register the strategies for ``st.from_type``."""
    module = sys.modules.get("negotiation.strategies")
    if module is not None and not hasattr(module, "register_types"):
        return  # being imported: it registers its strategies when it is done
    from negotiation.strategies import register_types

    register_types()
