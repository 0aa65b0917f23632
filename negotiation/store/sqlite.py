"""The SQLite store: an append-only log in one file that loses nothing and proves it.

Every write is one ``BEGIN IMMEDIATE`` transaction (positions are assigned under that lock,
so they have no gaps), in WAL mode with ``synchronous=FULL`` (an acknowledged append survives
a crash of the process or of the machine). Readers never block the writer. Errors from
``sqlite3`` are translated into :class:`~negotiation.StoreError` here, at the boundary.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlite_utils

from negotiation import snapshot
from negotiation.dates import parse_timestamp, utc_now
from negotiation.errors import StoreError
from negotiation.events import Event
from negotiation.store.base import (
    SNAPSHOT_EVERY,
    SUMMARY_COLUMNS,
    EventStore,
    Latest,
    NegotiationSummary,
    StoredEvent,
    derived_summary,
    rebuild_read_model,
    summary_from_row,
    summary_row,
    summary_upsert,
)
from negotiation.store.chain import GENESIS, Row, recorded_head, store_hash
from negotiation.store.schema import AWAITING_SINCE, MIGRATIONS, SCHEMA_VERSION, read_schema_version
from negotiation.stored import decode, decode_rows

__all__ = ["SQLiteStore", "translate_error"]

_COLUMNS = "position, negotiation, version, id, type, occurred, recorded, data, hash"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

#: Bytes of write-ahead log left on disk after a checkpoint. The log grows to hold a whole
#: transaction (a large import), and SQLite keeps the file at that size unless told otherwise.
WAL_SIZE_LIMIT = 64 * 1024 * 1024

#: Writes the read model's row of a negotiation.
_PUT_SUMMARY = summary_upsert("?")


def translate_error(error: sqlite3.Error, *, path: str, doing: str) -> StoreError:
    """The :class:`~negotiation.StoreError` that says what a ``sqlite3`` error means here."""
    text = str(error)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        msg = f"{path}: the database is locked by another connection; gave up {doing}"
    elif "readonly" in lowered or "read-only" in lowered:
        msg = f"{path}: the database is read-only; cannot write while {doing}"
    elif "full" in lowered:
        msg = f"{path}: the database or disk is full; nothing was written while {doing}"
    elif "not a database" in lowered or "malformed" in lowered:
        msg = f"{path}: not a usable SQLite database ({text})"
    elif "unable to open" in lowered:
        msg = f"{path}: cannot open the database file ({text})"
    elif "i/o" in lowered:
        msg = f"{path}: disk I/O error while {doing}; nothing was written"
    elif isinstance(error, sqlite3.IntegrityError):
        msg = f"{path}: refused by the database while {doing}: {text}"
    else:
        msg = f"{path}: SQLite error while {doing}: {text}"
    return StoreError(msg)


def _event(data: str) -> Event:
    return decode(json.loads(data))


def _events(rows: Sequence[Sequence[Any]]) -> list[Event]:
    """The events of rows whose first column is their JSON (see :mod:`negotiation.stored`)."""
    return decode_rows([row[0] for row in rows])


def _stored(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(
        position=row[0],
        negotiation=row[1],
        version=row[2],
        event=_event(row[3]),
        hash=row[4],
        recorded=parse_timestamp(row[5], field="recorded"),
    )


class _Transaction:
    """The shared logic's view of one SQLite transaction."""

    __slots__ = ("conn", "store")

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn

    def head(self) -> tuple[int, str]:
        if not self.store.derived:  # an older schema, read as it is: computed from the rows
            head, position = GENESIS, 0
            for row in self.rows():
                head, position = store_hash(head, row), row.position
            return position, head
        sql = "SELECT (SELECT MAX(position) FROM events), (SELECT value FROM meta WHERE key = 'head')"
        last, recorded = self.conn.execute(sql).fetchone()
        return recorded_head(last, recorded, path=self.store.path)

    def put_head(self, position: int, head: str) -> None:
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'head'", (f"{position}:{head}",))

    def tip(self, negotiation: str) -> tuple[int, str]:
        sql = "SELECT version, hash FROM events WHERE negotiation = ? ORDER BY version DESC LIMIT 1"
        row = self.conn.execute(sql, (negotiation,)).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def head_and_tips(self, negotiations: Sequence[str]) -> tuple[tuple[int, str], dict[str, tuple[int, str]]]:
        return self.head(), {name: self.tip(name) for name in negotiations}

    def stored(self, negotiation: str, ids: Iterable[str]) -> dict[str, Event]:
        found: dict[str, Event] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT id, data FROM events WHERE negotiation = ? AND id IN ({marks})"
            for event_id, data in self.conn.execute(sql, (negotiation, *chunk)):
                found[event_id] = _event(data)
        return found

    def insert(self, rows: Sequence[Row]) -> None:
        self.conn.executemany(_INSERT, [r[:9] for r in rows])

    def summary(self, negotiation: str) -> NegotiationSummary | None:
        if not self.store.derived or self.store.stale_model:
            return self._derived_summary(negotiation)
        sql = f"SELECT {SUMMARY_COLUMNS} FROM negotiations WHERE id = ?"
        row = self.conn.execute(sql, (negotiation,)).fetchone()
        return None if row is None else summary_from_row(row)

    def put_summary(self, summary: NegotiationSummary) -> None:
        self.conn.execute(_PUT_SUMMARY, summary_row(summary))

    def snapshot(self, negotiation: str) -> tuple[int, bytes] | None:
        if not self.store.derived:
            return None
        sql = "SELECT version, data FROM snapshots WHERE negotiation = ? AND fingerprint = ?"
        row = self.conn.execute(sql, (negotiation, snapshot.FINGERPRINT)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def snapshots(self) -> Iterator[tuple[str, int, bytes]]:
        if not self.store.derived:
            return
        for negotiation, version, data in self.conn.execute("SELECT negotiation, version, data FROM snapshots"):
            yield negotiation, int(version), bytes(data)

    def put_snapshot(self, negotiation: str, version: int, data: bytes) -> None:
        self.conn.execute(
            "INSERT INTO snapshots (negotiation, version, fingerprint, taken, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (negotiation) DO UPDATE SET version = excluded.version, "
            "fingerprint = excluded.fingerprint, taken = excluded.taken, data = excluded.data",
            (negotiation, version, snapshot.FINGERPRINT, utc_now().isoformat(), data),
        )

    def latest(self, negotiation: str) -> Latest:
        tip = self.tip(negotiation)
        if not tip[0]:
            return tip, None, list
        snap = self.snapshot(negotiation)
        after = snap[0] if snap is not None and snap[0] <= tip[0] else 0
        sql = "SELECT data FROM events WHERE negotiation = ? AND version > ? AND version <= ? ORDER BY version"
        rows = self.conn.execute(sql, (negotiation, after, tip[0])).fetchall()
        return tip, snap if after else None, functools.partial(_events, rows)

    def events(self, negotiation: str, after_version: int = 0, up_to: int | None = None) -> list[Event]:
        sql = "SELECT data FROM events WHERE negotiation = ? AND version > ? AND version <= ? ORDER BY version"
        limit = up_to if up_to is not None else 2**62
        return _events(self.conn.execute(sql, (negotiation, after_version, limit)).fetchall())

    def checkpoint(self, name: str) -> int:
        if not self.store.derived:
            return 0
        row = self.conn.execute("SELECT position FROM checkpoints WHERE name = ?", (name,)).fetchone()
        return 0 if row is None else int(row[0])

    def put_checkpoint(self, name: str, position: int) -> None:
        self.conn.execute(
            "INSERT INTO checkpoints (name, position, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated = excluded.updated",
            (name, position, utc_now().isoformat()),
        )

    def read_all(self, after_position: int, limit: int | None) -> list[StoredEvent]:
        sql = (
            "SELECT position, negotiation, version, data, hash, recorded FROM events WHERE position > ? "
            "ORDER BY position LIMIT ?"
        )
        rows = self.conn.execute(sql, (after_position, -1 if limit is None else limit))
        return [_stored(r) for r in rows]

    def read(self, negotiation: str, after_version: int, limit: int | None = None) -> list[StoredEvent]:
        sql = (
            "SELECT position, negotiation, version, data, hash, recorded FROM events "
            "WHERE negotiation = ? AND version > ? ORDER BY version LIMIT ?"
        )
        return [
            _stored(r) for r in self.conn.execute(sql, (negotiation, after_version, -1 if limit is None else limit))
        ]

    def summaries(self) -> list[NegotiationSummary]:
        if not self.store.derived or self.store.stale_model:
            names = [r[0] for r in self.conn.execute("SELECT DISTINCT negotiation FROM events ORDER BY negotiation")]
            return [s for s in map(self._derived_summary, names) if s is not None]
        sql = f"SELECT {SUMMARY_COLUMNS} FROM negotiations ORDER BY id"
        return [summary_from_row(r) for r in self.conn.execute(sql)]

    def _derived_summary(self, negotiation: str) -> NegotiationSummary | None:
        """The read-model row of a negotiation, from its events (for a store whose schema has no
        read model or an older one, or while one is rebuilt); what today's rules refuse is left out."""
        return derived_summary(self, negotiation, self.store.path)

    def rows(self) -> Iterator[Row]:
        for r in self.conn.execute(f"SELECT {_COLUMNS} FROM events ORDER BY position"):
            yield Row(*r)

    def projection(self, name: str) -> sqlite_utils.Database:
        return self.store.db


class SQLiteStore(EventStore):
    """The event store in a SQLite file (or ``":memory:"``).

    Args:
        path: the database file (created with its schema if missing), or ``":memory:"``.
        readonly: open an existing file for reading only (no file is created or migrated).
        timeout: seconds to wait for another connection's lock before giving up.
        snapshot_every: see :class:`~negotiation.store.base.EventStore`.

    Raises:
        StoreError: the file is not a SQLite database, not a store, written by a newer
            version, locked, or cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        readonly: bool = False,
        timeout: float = 5.0,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        super().__init__(snapshot_every=snapshot_every)
        self.path = os.fspath(path)
        self.readonly = readonly
        self.timeout = timeout
        self._memory = self.path in (":memory:", "")
        self._lock = threading.RLock()
        self._commits = 0
        self._conn: sqlite3.Connection | None = None
        #: Whether the schema holds the derived tables (the read model, snapshots, checkpoints);
        #: False for an older store opened read-only, whose read model is derived from its events.
        self.derived = True
        #: Whether the read model was written under other rules and the store is read-only:
        #: then it is derived from the events too.
        self.stale_model = False
        self._conn = self._connect()
        try:
            self.db = sqlite_utils.Database(self._conn, recursive_triggers=False, execute_plugins=False)
            self._prepare()
        except sqlite3.Error as e:
            self.close()
            raise translate_error(e, path=self.path, doing="opening the store") from e
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}{', readonly=True' if self.readonly else ''})"

    # -- the connection ------------------------------------------------------------------------

    def _connect(self, *, readonly: bool | None = None) -> sqlite3.Connection:
        readonly = self.readonly if readonly is None else readonly
        try:
            if readonly:
                if self._memory:
                    msg = "a ':memory:' store cannot be opened read-only"
                    raise ValueError(msg)
                file = Path(self.path)
                if not file.is_file():
                    msg = f"{self.path}: no such database file"
                    raise StoreError(msg)
                conn = self._connect_uri(f"{file.resolve().as_uri()}?mode=ro")
                try:
                    conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                except sqlite3.OperationalError as e:
                    if getattr(e, "sqlite_errorname", "") != "SQLITE_READONLY_DIRECTORY":
                        raise
                    # A directory this process cannot write to (a copy on someone's share): SQLite
                    # cannot create the files it reads a write-ahead log through, and nobody can
                    # write the store there, so it is read as a file that does not change.
                    conn.close()
                    conn = self._connect_uri(f"{file.resolve().as_uri()}?immutable=1")
            else:
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise translate_error(e, path=self.path, doing="opening the store") from e
        return conn

    def _connect_uri(self, uri: str) -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None, check_same_thread=False)

    def _configure(self) -> None:
        """Write-ahead logging, each commit synced to disk: set once the file is known to be a store.

        Switching a new file to WAL takes a lock that SQLite does not wait for (the busy timeout
        does not apply), so several processes creating one store at once retry until ``timeout``.
        """
        conn = self._connection()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA journal_size_limit = {int(WAL_SIZE_LIMIT)}")

    def _prepare(self) -> None:
        """Check the schema version; create or migrate (under the write lock) when needed.

        Nothing is changed in a file until it is known to be a store or an empty database.
        """
        version = self._schema_version()
        if not self._memory and not self.readonly:
            self._configure()
        if version == SCHEMA_VERSION:
            self._check_rules()
            return
        if self.readonly:  # read as it is: what the read model would hold is derived from the events
            self.derived = False
            return
        with self._write("migrating the schema") as tx:
            version = self._schema_version()  # again, under the lock: another process may have
            for migrate in MIGRATIONS[version:]:
                migrate(self.db)
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
            if 0 < version < 2:
                self._rebuild_read_model(tx)
            elif 0 < version < AWAITING_SINCE:  # the new column filled, under today's rules
                self._recompute_read_model(tx)
        self._check_rules()

    def _rules(self) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = 'rules'").fetchone()
        return None if row is None else str(row[0])

    def _check_rules(self) -> None:
        """Recompute the read model once when the store was last written under other rules
        (another contract version may derive other stages and owed moves from the same events).

        Read-only, the read model is derived from the events instead.
        """
        if self._rules() == snapshot.FINGERPRINT:
            return
        if self.readonly:
            self.stale_model = True
            return
        with self._write("recomputing the read model under today's rules") as tx:
            if self._rules() == snapshot.FINGERPRINT:  # another process did it meanwhile
                return
            self._recompute_read_model(tx)

    def _recompute_read_model(self, tx: _Transaction) -> None:
        """Recompute every read-model row under today's rules and record that they were."""
        rebuild_read_model(tx, str(self.path))
        tx.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('rules', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (snapshot.FINGERPRINT,),
        )

    def _schema_version(self) -> int:
        version = read_schema_version(self.db)
        if version is None:
            msg = f"{self.path}: a SQLite database, but not an event store (no meta and events tables)"
            raise StoreError(msg)
        if version > SCHEMA_VERSION:
            msg = (
                f"{self.path}: written by a newer version of negotiation (schema version {version}; "
                f"this version reads up to {SCHEMA_VERSION}); upgrade negotiation to open it"
            )
            raise StoreError(msg)
        return version

    def _rebuild_read_model(self, tx: _Transaction) -> None:
        """Fill the read model from the events; an event today's rules refuse is left out of it,
        with a :class:`~negotiation.errors.StoreWarning` naming it."""
        self.derived = False
        try:
            summaries = tx.summaries()
        finally:
            self.derived = True
        for summary in summaries:
            tx.put_summary(summary)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            msg = f"{self.path}: the store is closed"
            raise StoreError(msg)
        return self._conn

    def _covered(self, negotiation: str, version: int) -> list[Event]:
        # through _query: a state loaded before the store was closed still reads its file
        sql = "SELECT data FROM events WHERE negotiation = ? AND version <= ? ORDER BY version"
        return _events(self._query(sql, (negotiation, version)))

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run a read; after close, through a short-lived read-only connection to the file."""
        with self._lock:
            if self._conn is not None:
                try:
                    return self._conn.execute(sql, params).fetchall()
                except sqlite3.Error as e:
                    raise translate_error(e, path=self.path, doing="reading events") from e
        if self._memory:
            msg = "the ':memory:' store is closed: its events can no longer be read"
            raise StoreError(msg)
        with closing(self._connect(readonly=True)) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise translate_error(e, path=self.path, doing="reading events") from e

    # -- transactions ----------------------------------------------------------------------------

    def _begin(self, statement: str, doing: str) -> sqlite3.Connection:
        conn = self._connection()
        try:
            conn.execute(statement)
        except sqlite3.Error as e:
            raise translate_error(e, path=self.path, doing=doing) from e
        return conn

    @contextmanager
    def _write(self, doing: str) -> Iterator[_Transaction]:
        """``BEGIN IMMEDIATE``, then ``COMMIT`` if the block succeeds, ``ROLLBACK`` otherwise."""
        with self._lock:
            if self._connection().in_transaction:
                msg = f"{self.path}: {doing} inside a transaction of the same store (a subscriber's handler may read the store, not write to it)"
                raise StoreError(msg)
            conn = self._begin("BEGIN IMMEDIATE", doing)
            try:
                yield _Transaction(self, conn)
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                self._rollback(conn)
                raise translate_error(e, path=self.path, doing=doing) from e
            except BaseException:
                self._rollback(conn)
                raise
            self._commits += 1

    @contextmanager
    def _read(self, doing: str) -> Iterator[_Transaction]:
        """A read transaction (a consistent view), always rolled back.

        Inside this store's own write transaction (a subscriber's handler reading the store),
        the read joins it.
        """
        with self._lock:
            if self._connection().in_transaction:
                try:
                    yield _Transaction(self, self._connection())
                except sqlite3.Error as e:
                    raise translate_error(e, path=self.path, doing=doing) from e
                return
            conn = self._begin("BEGIN", doing)
            try:
                yield _Transaction(self, conn)
            except sqlite3.Error as e:
                raise translate_error(e, path=self.path, doing=doing) from e
            finally:
                self._rollback(conn)

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # the transaction is gone already (SQLite rolled it back)
                conn.execute("ROLLBACK")

    def _change_token(self) -> object:
        with self._lock:
            try:
                row = self._connection().execute("PRAGMA data_version").fetchone()
            except sqlite3.Error as e:
                raise translate_error(e, path=self.path, doing="polling for changes") from e
            return (row[0], self._commits)

    def _wait(self, token: object, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._change_token() != token:
                return
            time.sleep(min(remaining, 0.01))

    def close(self) -> None:
        """Close the connection (idempotent). States loaded earlier read a file store anew."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
