"""The SQLite store: an append-only log in one file that loses nothing and proves it.

Every write is one ``BEGIN IMMEDIATE`` transaction (positions are assigned under that lock,
so they have no gaps), in WAL mode with ``synchronous=FULL`` (an acknowledged append survives
a crash of the process or of the machine). Readers never block the writer. Errors from
``sqlite3`` are translated into :class:`~negotiation.StoreError` here, at the boundary.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import Any, ClassVar

import sqlite_utils

from negotiation import snapshot
from negotiation.dates import parse_timestamp, utc_now
from negotiation.errors import StoreError
from negotiation.events import Event, _isoformat
from negotiation.machine import Stage
from negotiation.snapshot import EventSource
from negotiation.store.base import (
    SNAPSHOT_EVERY,
    EventStore,
    NegotiationSummary,
    StoredEvent,
    _put_summary,
    _timeline_latest,
)
from negotiation.store.chain import GENESIS, Row
from negotiation.store.schema import MIGRATIONS, SCHEMA_VERSION, read_schema_version

__all__ = ["SQLiteStore", "translate_error"]

_COLUMNS = "position, negotiation, version, id, type, occurred, recorded, data, hash"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
#: A stage's text by member: a dict lookup, where ``Stage.value`` goes through enum's descriptor.
_STAGE_TEXT = {stage: stage.value for stage in Stage}

#: Bytes of write-ahead log left on disk after a checkpoint. The log grows to hold a whole
#: transaction (a large import), and SQLite keeps the file at that size unless told otherwise.
WAL_SIZE_LIMIT = 64 * 1024 * 1024


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
    # The store validated this event on append and its rows are append-only and hash-chained
    # (verify() finds a tampered row), so it is read back without running the validators; a
    # row the trusted path cannot read gets the validating path and its precise error.
    return _decoded(json.loads(data))


def _decoded(decoded: Any) -> Event:
    try:
        return Event.from_stored(decoded)
    except (KeyError, TypeError, ValueError, AttributeError):
        return Event.from_dict(decoded)


def _events(rows: Sequence[Sequence[Any]]) -> list[Event]:
    """The events of rows whose first column is their JSON: decoded in one call, not one per row.

    Rows that do not make a JSON array of as many items together are decoded one by one
    (and a row that is not JSON gets its own error).
    """
    try:
        decoded = json.loads("".join(("[", ",".join([row[0] for row in rows]), "]")))
    except (ValueError, TypeError):  # TypeError: a row that is not text
        decoded = None
    if not isinstance(decoded, list) or len(decoded) != len(rows):
        return [_event(row[0]) for row in rows]
    try:
        return [Event.from_stored(data) for data in decoded]
    except (KeyError, TypeError, ValueError, AttributeError):
        return [_decoded(data) for data in decoded]


def _stored(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(position=row[0], negotiation=row[1], version=row[2], event=_event(row[3]), hash=row[4])


def _summary(row: Sequence[Any]) -> NegotiationSummary:
    return NegotiationSummary(
        id=row[0],
        stage=Stage(row[1]),
        version=row[2],
        last_event=row[3],
        owed=row[4],
        head=row[5],
        updated=parse_timestamp(row[6], field="updated"),
    )


class _Source:
    """A negotiation's events up to a version, read back for a fold restored from a snapshot.

    Reads through the store's connection; after the store is closed, through a short-lived
    read-only connection to the same file (a ``:memory:`` store cannot be read after close).
    """

    def __init__(self, store: SQLiteStore, negotiation: str, version: int) -> None:
        self._store = store
        self._negotiation = negotiation
        self._version = version

    def events(self) -> list[Event]:
        sql = "SELECT data FROM events WHERE negotiation = ? AND version <= ? ORDER BY version"
        return _events(self._store._query(sql, (self._negotiation, self._version)))

    def event(self, event_id: str) -> Event | None:
        sql = "SELECT data FROM events WHERE negotiation = ? AND id = ? AND version <= ?"
        rows = self._store._query(sql, (self._negotiation, event_id, self._version))
        return _event(rows[0][0]) if rows else None

    def has(self, event_id: str) -> bool:
        sql = "SELECT 1 FROM events WHERE negotiation = ? AND id = ? AND version <= ?"
        return bool(self._store._query(sql, (self._negotiation, event_id, self._version)))


class _Transaction:
    """The shared logic's view of one SQLite transaction."""

    __slots__ = ("conn", "data_version", "position", "store", "unchanged")

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn
        self.data_version: int | None = None  # read by start()
        self.unchanged = False  # whether start() found the database as this store left it
        self.position: int | None = None  # the store's last position, once start() knows it

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def version(self, negotiation: str) -> int:
        return int(self._one("SELECT MAX(version) FROM events WHERE negotiation = ?", (negotiation,)) or 0)

    def tip(self, negotiation: str, known: tuple[int, str] | None = None) -> tuple[int, str]:
        if known is not None and self.unchanged:
            return known
        sql = "SELECT version, hash FROM events WHERE negotiation = ? ORDER BY version DESC LIMIT 1"
        row = self.conn.execute(sql, (negotiation,)).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def start(self, negotiation: str, known: tuple[int, str] | None = None) -> tuple[int, int, str]:
        # Nobody else wrote since this store's last append if the database's data_version
        # (which only other connections' commits change) and this connection's own count of
        # changes are what that append left: then the last position and a cached tip hold.
        conn = self.conn
        self.data_version = data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        left = self.store._left
        if left is not None and left[0] == data_version and left[1] == conn.total_changes:
            self.unchanged = True
            self.position = left[2]
            if known is not None:
                return left[2], *known
            return left[2], *self.tip(negotiation)
        sql = (
            "SELECT (SELECT MAX(position) FROM events), t.version, t.hash FROM (SELECT 1) "
            "LEFT JOIN (SELECT version, hash FROM events WHERE negotiation = ? ORDER BY version DESC LIMIT 1) t"
        )
        position, version, head = conn.execute(sql, (negotiation,)).fetchone()
        self.position = int(position or 0)
        return self.position, int(version or 0), GENESIS if head is None else str(head)

    def stored(self, negotiation: str, ids: Sequence[str]) -> dict[str, Event]:
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
        if len(rows) == 1:  # a one-event append: execute costs less than executemany's setup
            self.conn.execute(_INSERT, rows[0][:9])
        else:
            self.conn.executemany(_INSERT, [r[:9] for r in rows])
        if rows and self.position is not None:
            self.position = max(self.position, rows[-1].position)

    def summary(self, negotiation: str) -> NegotiationSummary | None:
        sql = "SELECT id, stage, version, last_event, owed, head, updated FROM negotiations WHERE id = ?"
        row = self.conn.execute(sql, (negotiation,)).fetchone()
        return None if row is None else _summary(row)

    def put_summary(
        self,
        negotiation: str,
        stage: Stage,
        version: int,
        last_event: str | None,
        owed: int,
        head: str,
        updated: dt.datetime,
    ) -> None:
        # the moment the append's rows were stamped with: its text is remembered
        values = (_STAGE_TEXT[stage], version, last_event, owed, head, _isoformat(updated), negotiation)
        # an append to a known negotiation (the common case) updates its row in one statement
        cursor = self.conn.execute(
            "UPDATE negotiations SET stage = ?, version = ?, last_event = ?, owed = ?, head = ?, updated = ? "
            "WHERE id = ?",
            values,
        )
        if cursor.rowcount == 0:
            self.conn.execute(
                "INSERT INTO negotiations (stage, version, last_event, owed, head, updated, id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def snapshot(self, negotiation: str) -> tuple[int, bytes] | None:
        sql = "SELECT version, data FROM snapshots WHERE negotiation = ? AND fingerprint = ?"
        row = self.conn.execute(sql, (negotiation, snapshot.FINGERPRINT)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def put_snapshot(self, negotiation: str, version: int, data: bytes) -> None:
        self.conn.execute(
            "INSERT INTO snapshots (negotiation, version, fingerprint, taken, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (negotiation) DO UPDATE SET version = excluded.version, "
            "fingerprint = excluded.fingerprint, taken = excluded.taken, data = excluded.data",
            (negotiation, version, snapshot.FINGERPRINT, utc_now().isoformat(), data),
        )

    def events(self, negotiation: str, after_version: int = 0, up_to: int | None = None) -> list[Event]:
        sql = "SELECT data FROM events WHERE negotiation = ? AND version > ? AND version <= ? ORDER BY version"
        limit = up_to if up_to is not None else 2**62
        return _events(self.conn.execute(sql, (negotiation, after_version, limit)).fetchall())

    def source(self, negotiation: str, version: int) -> EventSource:
        return _Source(self.store, negotiation, version)

    def checkpoint(self, name: str) -> int:
        return int(self._one("SELECT position FROM checkpoints WHERE name = ?", (name,)) or 0)

    def put_checkpoint(self, name: str, position: int) -> None:
        self.conn.execute(
            "INSERT INTO checkpoints (name, position, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated = excluded.updated",
            (name, position, utc_now().isoformat()),
        )

    def read_all(self, after_position: int, limit: int | None) -> list[StoredEvent]:
        sql = (
            "SELECT position, negotiation, version, data, hash FROM events WHERE position > ? ORDER BY position LIMIT ?"
        )
        rows = self.conn.execute(sql, (after_position, -1 if limit is None else limit))
        return [_stored(r) for r in rows]

    def read(self, negotiation: str, after_version: int) -> list[StoredEvent]:
        sql = (
            "SELECT position, negotiation, version, data, hash FROM events "
            "WHERE negotiation = ? AND version > ? ORDER BY version"
        )
        return [_stored(r) for r in self.conn.execute(sql, (negotiation, after_version))]

    def summaries(self) -> list[NegotiationSummary]:
        sql = "SELECT id, stage, version, last_event, owed, head, updated FROM negotiations ORDER BY id"
        return [_summary(r) for r in self.conn.execute(sql)]

    def rows(self) -> Iterator[Row]:
        for r in self.conn.execute(f"SELECT {_COLUMNS} FROM events ORDER BY position"):
            yield Row(*r)

    def projection(self, name: str) -> sqlite_utils.Database:
        return self.store.db


class _Opening:
    """One transaction under the store's lock: ``__enter__`` takes the lock and begins (SQLite's
    errors translated). A class, not ``@contextmanager``: a one-event append or a short load
    is short enough for the generator machinery to show."""

    __slots__ = ("conn", "doing", "store", "tx")
    BEGIN: ClassVar[str] = "BEGIN"

    def __init__(self, store: SQLiteStore, doing: str) -> None:
        self.store = store
        self.doing = doing

    def __enter__(self) -> _Transaction:
        store = self.store
        store._lock.acquire()
        try:
            conn = store._connection()
            try:
                conn.execute(self.BEGIN)
            except sqlite3.Error as e:
                raise translate_error(e, path=store.path, doing=self.doing) from e
        except BaseException:
            store._lock.release()
            raise
        self.conn = conn
        self.tx = _Transaction(store, conn)
        return self.tx


class _Writing(_Opening):
    """A write transaction: ``COMMIT`` on success, ``ROLLBACK`` otherwise."""

    __slots__ = ()
    BEGIN = "BEGIN IMMEDIATE"

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        store, conn = self.store, self.conn
        try:
            if error is None:
                try:
                    conn.execute("COMMIT")
                except BaseException as e:
                    error = e
                else:
                    store._committed(self.tx)
                    return
            store._rollback(conn)
            if isinstance(error, sqlite3.Error):
                raise translate_error(error, path=store.path, doing=self.doing) from error
            if error is not None and kind is None:  # the commit itself was interrupted
                raise error
        finally:
            store._lock.release()


class _Reading(_Opening):
    """A read transaction: always rolled back."""

    __slots__ = ()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        store = self.store
        try:
            store._rollback(self.conn)
            if isinstance(error, sqlite3.Error):
                raise translate_error(error, path=store.path, doing=self.doing) from error
        finally:
            store._lock.release()


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
        # (data_version, total_changes, last position) as this store's last append left the
        # database: see _Transaction.start
        self._left: tuple[int, int, int] | None = None
        self._conn: sqlite3.Connection | None = None
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
                uri = f"{file.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(
                    uri, uri=True, timeout=self.timeout, isolation_level=None, check_same_thread=False
                )
            else:
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise translate_error(e, path=self.path, doing="opening the store") from e
        try:
            if not self._memory and not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute(f"PRAGMA journal_size_limit = {int(WAL_SIZE_LIMIT)}")
        except sqlite3.Error as e:
            conn.close()
            raise translate_error(e, path=self.path, doing="opening the store") from e
        return conn

    def _prepare(self) -> None:
        """Check the schema version; create or migrate (under the write lock) when needed."""
        version = self._schema_version()
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            msg = (
                f"{self.path}: schema version {version} is older than {SCHEMA_VERSION}; "
                "open it once for writing to migrate it"
            )
            raise StoreError(msg)
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
        names = [r[0] for r in self.db.execute("SELECT DISTINCT negotiation FROM events ORDER BY negotiation")]
        for name in names:
            version, head = tx.tip(name)
            fold = self._restore(tx, name, version, None)
            events = tx.events(name)
            recorded = max(e.recorded for e in events if e.recorded is not None)
            _put_summary(tx, name, fold, version, _timeline_latest(fold), head, recorded)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            msg = f"{self.path}: the store is closed"
            raise StoreError(msg)
        return self._conn

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

    def _write(self, doing: str) -> _Writing:
        return _Writing(self, doing)

    def _committed(self, tx: _Transaction) -> None:
        self._commits += 1
        conn = tx.conn
        if tx.data_version is not None and tx.position is not None:
            self._left = (tx.data_version, conn.total_changes, tx.position)
        else:  # another kind of write (a snapshot, a checkpoint, a migration)
            self._left = None

    def _read(self, doing: str) -> _Reading:
        return _Reading(self, doing)

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
