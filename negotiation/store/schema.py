"""The SQLite schema of the store, its version and its migrations.

The schema is built through ``sqlite-utils`` as a list of migrations; the ``meta`` table
records how many have run (``schema_version``). A database at an older version is migrated
when opened for writing; one written by a newer version of this library is refused.

Version 1 is the log itself: ``meta``, the ``events`` table with its unique indexes and the
triggers that refuse UPDATE and DELETE. Version 2 adds what is derived from it and can be
rebuilt: the ``negotiations`` read model, ``snapshots`` and the subscribers' ``checkpoints``
(the store rebuilds the read model from the events when it migrates a version-1 database).
Version 3 records the store head (the running hash that ties events to their positions) in
``meta``. Version 4 adds the owed moves themselves to the read model: ``negotiations.awaiting``,
a JSON array of ``{"party", "types", "ref"}`` objects beside the ``owed`` count (the store
recomputes the read model from the events when it migrates a version-2 or version-3 database,
which fills it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from negotiation.store.chain import GENESIS, Row, store_hash

__all__ = ["AWAITING_SINCE", "MIGRATIONS", "SCHEMA_VERSION", "SQLITE_HEADER", "is_sqlite_file", "read_schema_version"]

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"

_APPEND_ONLY = (
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is refused'); END",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is refused'); END",
)


def _v1_log(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key", not_null={"value"})
    db.table("events").create(
        {
            "position": int,
            "negotiation": str,
            "version": int,
            "id": str,
            "type": str,
            "occurred": str,
            "recorded": str,
            "data": str,
            "hash": str,
        },
        pk="position",
        not_null={"negotiation", "version", "id", "type", "occurred", "recorded", "data", "hash"},
    )
    db.table("events").create_index(["negotiation", "version"], index_name="events_negotiation_version", unique=True)
    db.table("events").create_index(["negotiation", "id"], index_name="events_negotiation_id", unique=True)
    for statement in _APPEND_ONLY:
        db.execute(statement)


def _v2_derived(db: sqlite_utils.Database) -> None:
    db.table("negotiations").create(
        {
            "id": str,
            "stage": str,
            "version": int,
            "last_event": str,
            "owed": int,
            "head": str,
            "updated": str,
        },
        pk="id",
        not_null={"stage", "version", "owed", "head", "updated"},
    )
    db.table("snapshots").create(
        {"negotiation": str, "version": int, "fingerprint": str, "taken": str, "data": bytes},
        pk="negotiation",
        not_null={"version", "fingerprint", "taken", "data"},
    )
    db.table("checkpoints").create(
        {"name": str, "position": int, "updated": str}, pk="name", not_null={"position", "updated"}
    )


def _v3_store_head(db: sqlite_utils.Database) -> None:
    """The store head (:func:`~negotiation.store.chain.store_hash`) over the events stored so far."""
    head, position = GENESIS, 0
    for r in db.execute("SELECT position, negotiation, version, hash FROM events ORDER BY position"):
        position = r[0]
        head = store_hash(head, Row(r[0], r[1], r[2], "", "", "", "", "", r[3]))
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('head', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (f"{position}:{head}",),
    )


def _v4_awaiting(db: sqlite_utils.Database) -> None:
    """The owed moves in the read model: ``[]`` until the rows are recomputed, which
    :class:`~negotiation.store.sqlite.SQLiteStore` does in the transaction that migrates."""
    db.table("negotiations").add_column("awaiting", str, not_null_default="[]")


#: The migrations, in order: migration ``i`` takes a database from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _v1_log,
    _v2_derived,
    _v3_store_head,
    _v4_awaiting,
)

#: The first schema version whose read model holds ``awaiting``: the store recomputes the read
#: model when it migrates a database from a version before it (but 0 and 1, which rebuild it anyway).
AWAITING_SINCE = 4

#: The schema version this library writes.
SCHEMA_VERSION = len(MIGRATIONS)


def read_schema_version(db: sqlite_utils.Database) -> int | None:
    """The database's schema version: 0 for an empty database, None for one that is not a store."""
    tables = set(db.table_names())
    if not tables:
        return 0
    if "meta" not in tables or "events" not in tables:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return None
    try:
        return int(row[0])
    except ValueError:
        return None


def is_sqlite_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with SQLite's header (``SQLite format 3\\0``)."""
    try:
        with Path(path).open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False
