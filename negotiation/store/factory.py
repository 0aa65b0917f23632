"""Choosing a store by what names it: a ``postgresql://`` URL, or a SQLite file.

:func:`open_store` is what the command line and programs call with a store's name as a person
typed it. The PostgreSQL backend is imported only when a URL asks for it, so that ``psycopg``
stays an optional dependency (the ``postgres`` extra).
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from negotiation.errors import StoreError
from negotiation.store.base import EventStore
from negotiation.store.sqlite import SQLiteStore

__all__ = ["is_store_url", "open_store"]

_SCHEMES = ("postgresql", "postgres")


def is_store_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` is a PostgreSQL URL (``postgresql://...`` or ``postgres://...``)."""
    if not isinstance(target, str):
        return False
    return urllib.parse.urlsplit(target).scheme.lower() in _SCHEMES and "://" in target


def open_store(target: str | os.PathLike[str], *, readonly: bool = False, **options: Any) -> EventStore:
    """Open the store ``target`` names: a :class:`~negotiation.store.postgres.PostgresStore` for a
    ``postgresql://`` URL, a :class:`~negotiation.SQLiteStore` for a file path (or ``":memory:"``).

    ``options`` go to the store's constructor (``timeout``, ``snapshot_every``).

    Raises:
        StoreError: the store cannot be opened, or a URL is given and ``psycopg`` is not
            installed (``pip install 'negotiation[postgres]'``).
    """
    if is_store_url(target):
        assert isinstance(target, str)
        try:
            from negotiation.store.postgres import PostgresStore
        except ImportError as e:
            msg = (
                f"{target.partition('://')[0]}:// URL given, but the PostgreSQL backend needs psycopg 3 "
                f"({e}); install it with: pip install 'negotiation[postgres]'"
            )
            raise StoreError(msg) from None
        return PostgresStore(target, readonly=readonly, **options)
    return SQLiteStore(target, readonly=readonly, **options)
