"""Event stores: durable homes for negotiations' logs.

:class:`SQLiteStore` is the embedded default (one file, append-only, hash-chained);
:class:`MemoryStore` has the same interface and keeps everything in memory. Both build on
:class:`~negotiation.store.base.EventStore`, where the shared rules live.
:class:`~negotiation.store.postgres.PostgresStore` (the ``postgres`` extra) keeps the same
promises on a PostgreSQL server; :func:`open_store` picks the backend from a URL or a path.
"""

from negotiation.store.base import EventStore, NegotiationSummary, StoredEvent
from negotiation.store.chain import Verification
from negotiation.store.factory import is_store_url, open_store
from negotiation.store.memory import MemoryStore
from negotiation.store.schema import SCHEMA_VERSION, is_sqlite_file
from negotiation.store.sqlite import SQLiteStore

__all__ = [
    "SCHEMA_VERSION",
    "EventStore",
    "MemoryStore",
    "NegotiationSummary",
    "SQLiteStore",
    "StoredEvent",
    "Verification",
    "is_sqlite_file",
    "is_store_url",
    "open_store",
]
