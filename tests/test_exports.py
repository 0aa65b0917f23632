"""The public API: __all__ is explicit, sorted and complete."""

from __future__ import annotations

import pytest

import negotiation


def _order(name: str) -> tuple[int, str]:
    if name.isupper():
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


def test_all_equals_the_public_names() -> None:
    """Every public name of the package is in __all__ and every name in __all__ exists."""
    public = {n for n in dir(negotiation) if not n.startswith("_")} - {
        # submodules are reachable as attributes once imported; they are not re-exports
        name
        for name in dir(negotiation)
        if type(getattr(negotiation, name)).__name__ == "module"
    }
    assert set(negotiation.__all__) - {"__version__"} == public


def test_all_is_sorted() -> None:
    """__all__ lists constants, then classes, then the rest (functions, __version__), each in code-point order."""
    assert negotiation.__all__ == sorted(negotiation.__all__, key=_order)


@pytest.mark.extended
def test_the_command_line_does_not_import_hypothesis() -> None:
    """`import negotiation` and the CLI stay quick: the simulation (and Hypothesis) load on first use."""
    import subprocess
    import sys

    code = "import sys, negotiation.cli; assert 'hypothesis' not in sys.modules; negotiation.simulate; assert 'hypothesis' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.extended
def test_the_command_line_does_not_import_the_optional_extras() -> None:
    """matplotlib, Datasette and Playwright load only when a figure is drawn or a test runs."""
    import subprocess
    import sys

    code = "import sys, negotiation.cli; assert not {'matplotlib', 'datasette', 'playwright'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
