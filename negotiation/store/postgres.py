"""The PostgreSQL store: the SQLite store's promises, on a server several machines share.

Every write is one transaction that starts by taking ``LOCK TABLE events IN EXCLUSIVE MODE``
(as eventsourcing's PostgreSQL recorder does): writers queue one behind another, so positions
are assigned from ``MAX(position) + 1`` without gaps and become visible in their order, while
readers (which take no such lock) never wait. An append checks its events before it takes the
lock, then sends one statement that takes the lock and writes (:data:`_APPEND_FUNCTION`), so
that the lock is held only while the server works; where another writer went past the state
the events were checked against, it checks them again under the lock.

Reads run in ``REPEATABLE READ READ ONLY`` transactions, a consistent view, except a load,
which is one statement and needs none. Triggers refuse UPDATE, DELETE and TRUNCATE of
``events``; a statement trigger sends ``NOTIFY negotiation_events`` on every insert, which
wakes ``follow`` and live subscribers (on a second, listening connection) instead of polling.

Needs ``psycopg`` 3 (the ``postgres`` extra: ``pip install 'negotiation[postgres]'``). Errors
from ``psycopg`` are translated into :class:`~negotiation.StoreError` here, at the boundary;
the password of a URL never appears in a message.
"""

from __future__ import annotations

import functools
import json
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

import psycopg

from negotiation import snapshot
from negotiation.dates import parse_timestamp, utc_now
from negotiation.errors import StoreError
from negotiation.events import Event
from negotiation.store.base import (
    SNAPSHOT_EVERY,
    SUMMARY_COLUMNS,
    SUMMARY_ON_CONFLICT,
    EventStore,
    Latest,
    NegotiationSummary,
    StoredEvent,
    Written,
    derived_summary,
    rebuild_read_model,
    summary_from_row,
    summary_row,
    summary_upsert,
)
from negotiation.store.chain import GENESIS, Row, recorded_head, store_hash
from negotiation.stored import decode, decode_rows

__all__ = ["CHANNEL", "POSTGRES_SCHEMA_VERSION", "URL_SCHEMES", "PostgresStore", "display_url", "translate_error"]

#: The URL schemes that name a PostgreSQL store.
URL_SCHEMES = ("postgresql", "postgres")

#: The channel every insert into ``events`` notifies (``follow`` listens on it).
CHANNEL = "negotiation_events"

#: The version of the PostgreSQL schema this library writes (kept in ``meta``): 2 records the
#: store head (:func:`~negotiation.store.chain.store_hash`) in ``meta``; 3 adds the owed moves
#: to the read model (``negotiations.awaiting``, as in version 4 of the SQLite schema); 4 adds
#: the function ``negotiation_append`` (:data:`_APPEND_FUNCTION`).
POSTGRES_SCHEMA_VERSION = 4

#: What takes a version-2 schema to version 3 (the store then recomputes the read model, which fills it).
_AWAITING = "ALTER TABLE negotiations ADD COLUMN awaiting TEXT NOT NULL DEFAULT '[]'"

#: A key for ``pg_advisory_xact_lock``: two processes creating the schema at once take turns.
_SCHEMA_LOCK = 0x6E65_6731

_COLUMNS = "position, negotiation, version, id, type, occurred, recorded, data, hash"
#: The rows of an append in one statement: one array per column, whatever the number of rows.
_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) SELECT * FROM unnest("
    "%b::bigint[], %b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[])"
)

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE events (
        position BIGINT PRIMARY KEY,
        negotiation TEXT NOT NULL,
        version BIGINT NOT NULL,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        occurred TEXT NOT NULL,
        recorded TEXT NOT NULL,
        data TEXT NOT NULL,
        hash TEXT NOT NULL,
        CONSTRAINT events_negotiation_version UNIQUE (negotiation, version),
        CONSTRAINT events_negotiation_id UNIQUE (negotiation, id)
    )""",
    """CREATE FUNCTION negotiation_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'events are append-only: % is refused', TG_OP;
    END $$""",
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "FOR EACH ROW EXECUTE FUNCTION negotiation_events_append_only()",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION negotiation_events_append_only()",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION negotiation_events_append_only()",
    f"""CREATE FUNCTION negotiation_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NOTIFY {CHANNEL};
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION negotiation_events_notify()",
    """CREATE TABLE negotiations (
        id TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        version BIGINT NOT NULL,
        last_event TEXT,
        owed INTEGER NOT NULL,
        head TEXT NOT NULL,
        updated TEXT NOT NULL
    )""",
    """CREATE TABLE snapshots (
        negotiation TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        fingerprint TEXT NOT NULL,
        taken TEXT NOT NULL,
        data BYTEA NOT NULL
    )""",
    "CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position BIGINT NOT NULL, updated TEXT NOT NULL)",
)

#: Writes the read model's row of a negotiation.
_PUT_SUMMARY = summary_upsert("%s")

#: How a snapshot written again replaces the one stored (after ``INSERT INTO snapshots``).
_SNAPSHOT_ON_CONFLICT = (
    "ON CONFLICT (negotiation) DO UPDATE SET version = excluded.version, "
    "fingerprint = excluded.fingerprint, taken = excluded.taken, data = excluded.data"
)

#: Schema version 4: the write of an append checked before the lock (see
#: :meth:`PostgresStore._write_at_once`), done by the server in one statement. It takes the
#: table lock, checks each negotiation's tip and the recorded store head, then writes the rows
#: after the last position, moving the store head as
#: :func:`~negotiation.store.chain.store_hash` does, the read model's rows and the snapshots
#: due. It returns the new last position, or :data:`_NOT_AS_CHECKED` (and writes nothing)
#: when a negotiation is no longer at the tip its events were checked at, or the recorded
#: head is not at the last position.
_APPEND_FUNCTION = (
    """
CREATE OR REPLACE FUNCTION negotiation_append(
    tip_negotiations TEXT[], tip_versions BIGINT[], tip_hashes TEXT[],
    p_negotiations TEXT[], p_versions BIGINT[], p_ids TEXT[], p_types TEXT[],
    p_occurred TEXT[], p_recorded TEXT[], p_data TEXT[], p_hashes TEXT[],
    s_ids TEXT[], s_stages TEXT[], s_versions BIGINT[], s_last_events TEXT[],
    s_owed INTEGER[], s_heads TEXT[], s_updated TEXT[], s_awaiting TEXT[],
    n_negotiations TEXT[], n_versions BIGINT[], n_fingerprint TEXT, n_taken TEXT, n_data BYTEA[]
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    last BIGINT;
    recorded_head TEXT;
    head TEXT;
    tip_version BIGINT;
    tip_hash TEXT;
BEGIN
    -- writers take turns from here to the end of the caller's transaction (as every write does)
    LOCK TABLE events IN EXCLUSIVE MODE;
    FOR i IN 1 .. cardinality(tip_negotiations) LOOP
        SELECT e.version, e.hash INTO tip_version, tip_hash FROM events e
        WHERE e.negotiation = tip_negotiations[i] ORDER BY e.version DESC LIMIT 1;
        IF NOT FOUND THEN
            tip_version := 0;
            tip_hash := '';
        END IF;
        IF tip_version <> tip_versions[i] OR tip_hash <> tip_hashes[i] THEN
            RETURN -1;
        END IF;
    END LOOP;
    SELECT COALESCE(MAX(e.position), 0) INTO last FROM events e;
    SELECT COALESCE(MAX(m.value), '0:') INTO recorded_head FROM meta m WHERE m.key = 'head';
    IF split_part(recorded_head, ':', 1) <> last::TEXT THEN
        RETURN -1;
    END IF;
    head := split_part(recorded_head, ':', 2);
    INSERT INTO events (position, negotiation, version, id, type, occurred, recorded, data, hash)
    SELECT last + r.n, r.negotiation, r.version, r.id, r.type, r.occurred, r.recorded, r.data, r.hash
    FROM unnest(p_negotiations, p_versions, p_ids, p_types, p_occurred, p_recorded, p_data, p_hashes)
        WITH ORDINALITY AS r(negotiation, version, id, type, occurred, recorded, data, hash, n);
    FOR i IN 1 .. cardinality(p_ids) LOOP
        head := encode(sha256(convert_to(
            head || '|' || (last + i) || '|' || p_hashes[i] || '|' || p_negotiations[i], 'UTF8')), 'hex');
    END LOOP;
    last := last + cardinality(p_ids);
    UPDATE meta SET value = last || ':' || head WHERE key = 'head';
    INSERT INTO negotiations ("""
    + SUMMARY_COLUMNS
    + """)
    SELECT * FROM unnest(s_ids, s_stages, s_versions, s_last_events, s_owed, s_heads, s_updated, s_awaiting)
    """
    + SUMMARY_ON_CONFLICT
    + """;
    INSERT INTO snapshots (negotiation, version, fingerprint, taken, data)
    SELECT r.negotiation, r.version, n_fingerprint, n_taken, r.data
    FROM unnest(n_negotiations, n_versions, n_data) AS r(negotiation, version, data)
    """
    + _SNAPSHOT_ON_CONFLICT
    + """;
    RETURN last;
END $$
"""
)

#: What :data:`_APPEND_FUNCTION` returns when the store is not where an append's checks assumed.
_NOT_AS_CHECKED = -1

#: What :meth:`PostgresStore._write_at_once` calls: one array per column, in binary.
_APPEND = (
    "SELECT negotiation_append("
    "%b::text[], %b::bigint[], %b::text[], "  # the tips the runs were checked at
    "%b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "  # the rows
    "%b::text[], %b::text[], %b::bigint[], %b::text[], %b::integer[], %b::text[], %b::text[], %b::text[], "  # read model
    "%b::text[], %b::bigint[], %s, %s, %b::bytea[])"  # the snapshots due, their fingerprint and moment
)


#: What :meth:`_Transaction.head_and_tips` runs for one negotiation: the last position, the
#: recorded store head, and the negotiation's tip, in one round trip.
_HEAD_AND_TIP = """
SELECT (SELECT MAX(position) FROM events), (SELECT value FROM meta WHERE key = 'head'),
(SELECT version FROM events WHERE negotiation = %(n)s ORDER BY version DESC LIMIT 1),
(SELECT hash FROM events WHERE negotiation = %(n)s ORDER BY version DESC LIMIT 1)
"""

#: What :meth:`_Transaction.latest` runs: the tip and the snapshot under today's rules, then
#: the events after that snapshot, in version order.
_LATEST = """
WITH t AS (SELECT version, hash FROM events WHERE negotiation = %(n)s ORDER BY version DESC LIMIT 1),
s AS (SELECT version, data FROM snapshots WHERE negotiation = %(n)s AND fingerprint = %(f)s)
SELECT 0 AS kind, t.version, t.hash, s.version, s.data FROM t LEFT JOIN s ON s.version <= t.version
UNION ALL
SELECT 1, e.version, e.data, NULL, NULL FROM events e, t
WHERE e.negotiation = %(n)s AND e.version <= t.version
AND e.version > COALESCE((SELECT s.version FROM s WHERE s.version <= t.version), 0)
ORDER BY 1, 2
"""


def display_url(url: str) -> str:
    """The URL as it may appear in a message: its password replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def translate_error(error: psycopg.Error, *, url: str, doing: str) -> StoreError:
    """The :class:`~negotiation.StoreError` that says what a ``psycopg`` error means here."""
    where = display_url(url)
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, psycopg.errors.LockNotAvailable):
        msg = f"{where}: the events table is locked by another writer; gave up {doing}"
    elif isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
        msg = f"{where}: the store is opened read-only; cannot write while {doing}"
    elif isinstance(error, psycopg.errors.IntegrityError | psycopg.errors.RaiseException):
        msg = f"{where}: refused by the database while {doing}: {text}"
    elif isinstance(error, psycopg.OperationalError) and doing in ("opening the store", "reconnecting"):
        msg = f"{where}: cannot connect to PostgreSQL ({text})"
    elif isinstance(error, psycopg.OperationalError):
        msg = (
            f"{where}: the connection to PostgreSQL failed while {doing} ({text}); "
            "an append that was not acknowledged may be retried (stored events are skipped)"
        )
    else:
        msg = f"{where}: PostgreSQL error while {doing}: {text}"
    return StoreError(msg)


def _event(data: str) -> Event:
    return decode(json.loads(data))


def _events(rows: Sequence[Sequence[Any]]) -> list[Event]:
    """The events of rows whose first column is their JSON (see :mod:`negotiation.stored`)."""
    return decode_rows([row[0] for row in rows])


def _stored(rows: Sequence[Sequence[Any]]) -> list[StoredEvent]:
    events = _events([(r[3],) for r in rows])
    return [
        StoredEvent(
            position=int(r[0]),
            negotiation=r[1],
            version=int(r[2]),
            event=event,
            hash=r[4],
            recorded=parse_timestamp(r[5], field="recorded"),
        )
        for r, event in zip(rows, events, strict=True)
    ]


class _Transaction:
    """The shared logic's view of one PostgreSQL transaction.

    The writes of an append (its rows, the read model's row, the snapshot, the store head) are
    queued, not sent, and go to the server with the ``COMMIT`` in one pipeline (one round trip
    instead of one per statement, while the table lock is held); anything that reads the
    connection first sends what is queued, so reads see the transaction's own writes.
    """

    __slots__ = ("_conn", "_queued", "store")

    def __init__(self, store: PostgresStore, conn: psycopg.Connection[Any]) -> None:
        self.store = store
        self._conn = conn
        self._queued: list[tuple[str, Sequence[Any]]] = []

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The connection, with the queued writes sent."""
        if self._queued:
            self._send()
        return self._conn

    def _queue(self, sql: str, params: Sequence[Any]) -> None:
        self._queued.append((sql, params))

    def _send(self, *then: str) -> None:
        """Send the queued writes, then the statements ``then``, in one pipeline."""
        queued, self._queued = self._queued, []
        with self._conn.pipeline(), self._conn.cursor() as cursor:
            for sql, params in queued:
                cursor.execute(sql, params)
            for sql in then:
                cursor.execute(sql)

    def commit(self) -> None:
        """Send the queued writes and ``COMMIT``, in one round trip."""
        self._send("COMMIT")

    def _one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        return self.conn.execute(sql, params).fetchone()

    def head(self) -> tuple[int, str]:
        if not self.store.derived:  # an older schema, read as it is: computed from the rows
            head, position = GENESIS, 0
            for row in self.rows():
                head, position = store_hash(head, row), row.position
            return position, head
        last, recorded = self._one(
            "SELECT (SELECT MAX(position) FROM events), (SELECT value FROM meta WHERE key = 'head')"
        )
        return recorded_head(last, recorded)

    def head_and_tips(self, negotiations: Sequence[str]) -> tuple[tuple[int, str], dict[str, tuple[int, str]]]:
        if len(negotiations) != 1 or not self.store.derived:  # several: one statement each
            return self.head(), {name: self.tip(name) for name in negotiations}
        (name,) = negotiations
        last, recorded, version, hash_ = self._one(_HEAD_AND_TIP, {"n": name})
        return recorded_head(last, recorded), {name: (0, GENESIS) if version is None else (int(version), hash_)}

    def put_head(self, position: int, head: str) -> None:
        self._queue("UPDATE meta SET value = %s WHERE key = 'head'", (f"{position}:{head}",))

    def tip(self, negotiation: str) -> tuple[int, str]:
        sql = "SELECT version, hash FROM events WHERE negotiation = %s ORDER BY version DESC LIMIT 1"
        row = self._one(sql, (negotiation,))
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def stored(self, negotiation: str, ids: Iterable[str]) -> dict[str, Event]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        sql = "SELECT id, data FROM events WHERE negotiation = %s AND id = ANY(%s)"
        return {event_id: _event(data) for event_id, data in self.conn.execute(sql, (negotiation, unique))}

    def insert(self, rows: Sequence[Row]) -> None:
        # one array per column, in binary (a text array is escaped item by item, in Python)
        self._queue(_INSERT, [list(column) for column in zip(*(row[:9] for row in rows), strict=True)])

    def summary(self, negotiation: str) -> NegotiationSummary | None:
        if not self.store.derived:
            return derived_summary(self, negotiation, self.store.path)
        sql = f"SELECT {SUMMARY_COLUMNS} FROM negotiations WHERE id = %s"
        row = self._one(sql, (negotiation,))
        return None if row is None else summary_from_row(row)

    def put_summary(self, summary: NegotiationSummary) -> None:
        self._queue(_PUT_SUMMARY, summary_row(summary))

    def snapshot(self, negotiation: str) -> tuple[int, bytes] | None:
        sql = "SELECT version, data FROM snapshots WHERE negotiation = %s AND fingerprint = %s"
        row = self._one(sql, (negotiation, snapshot.FINGERPRINT))
        return None if row is None else (int(row[0]), bytes(row[1]))

    def snapshots(self) -> Iterator[tuple[str, int, bytes]]:
        rows = self.conn.execute("SELECT negotiation, version, data FROM snapshots ORDER BY negotiation").fetchall()
        for negotiation, version, data in rows:
            yield negotiation, int(version), bytes(data)

    def put_snapshot(self, negotiation: str, version: int, data: bytes) -> None:
        self._queue(
            "INSERT INTO snapshots (negotiation, version, fingerprint, taken, data) VALUES (%s, %s, %s, %s, %s) "
            + _SNAPSHOT_ON_CONFLICT,
            (negotiation, version, snapshot.FINGERPRINT, utc_now().isoformat(), bytes(data)),
        )

    def latest(self, negotiation: str) -> Latest:
        # one statement, so one consistent view without a transaction: the tip and the
        # snapshot (row kind 0), then the events after the snapshot (kind 1)
        rows = self.conn.execute(_LATEST, {"n": negotiation, "f": snapshot.FINGERPRINT}).fetchall()
        if not rows or rows[0][0] != 0:
            return (0, GENESIS), None, list
        _, version, head, snap_version, snap_data = rows[0]
        snap = None if snap_version is None else (int(snap_version), bytes(snap_data))
        return (int(version), str(head)), snap, functools.partial(_events, [(row[2],) for row in rows[1:]])

    def events(self, negotiation: str, after_version: int = 0, up_to: int | None = None) -> list[Event]:
        sql = "SELECT data FROM events WHERE negotiation = %s AND version > %s AND version <= %s ORDER BY version"
        limit = up_to if up_to is not None else 2**62
        return _events(self.conn.execute(sql, (negotiation, after_version, limit)).fetchall())

    def checkpoint(self, name: str) -> int:
        row = self._one("SELECT position FROM checkpoints WHERE name = %s", (name,))
        return 0 if row is None else int(row[0])

    def put_checkpoint(self, name: str, position: int) -> None:
        self.conn.execute(
            "INSERT INTO checkpoints (name, position, updated) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated = excluded.updated",
            (name, position, utc_now().isoformat()),
        )

    def read_all(self, after_position: int, limit: int | None) -> list[StoredEvent]:
        sql = (
            "SELECT position, negotiation, version, data, hash, recorded FROM events WHERE position > %s "
            "ORDER BY position LIMIT %s"
        )
        return _stored(self.conn.execute(sql, (after_position, limit)).fetchall())

    def read(self, negotiation: str, after_version: int, limit: int | None = None) -> list[StoredEvent]:
        sql = (
            "SELECT position, negotiation, version, data, hash, recorded FROM events "
            "WHERE negotiation = %s AND version > %s ORDER BY version LIMIT %s"
        )
        return _stored(self.conn.execute(sql, (negotiation, after_version, limit)).fetchall())

    def summaries(self) -> list[NegotiationSummary]:
        if not self.store.derived:
            sql = 'SELECT negotiation FROM events GROUP BY negotiation ORDER BY negotiation COLLATE "C"'
            names = [r[0] for r in self.conn.execute(sql).fetchall()]
            return [s for s in (derived_summary(self, name, self.store.path) for name in names) if s is not None]
        sql = f'SELECT {SUMMARY_COLUMNS} FROM negotiations ORDER BY id COLLATE "C"'
        return [summary_from_row(r) for r in self.conn.execute(sql)]

    def rows(self) -> Iterator[Row]:
        # a server-side cursor: verify walks a store larger than memory in chunks
        with self.conn.cursor(name="negotiation_rows") as cursor:
            cursor.itersize = 5000
            cursor.execute(f"SELECT {_COLUMNS} FROM events ORDER BY position")
            for r in cursor:
                yield Row(int(r[0]), r[1], int(r[2]), *r[3:])

    def projection(self, name: str) -> psycopg.Connection[Any]:
        return self.conn


class PostgresStore(EventStore):
    """The event store in a PostgreSQL database, with the interface of :class:`~negotiation.SQLiteStore`.

    Args:
        url: a libpq connection URL, ``postgresql://[user[:password]@]host[:port]/database``
            (query parameters such as ``?options=-csearch_path%3Dmyschema`` pass through). The
            tables are created in the first schema of the search path if missing.
        readonly: open for reading only (every transaction is read-only; nothing is created).
        timeout: seconds to wait for the server when connecting, and for another writer's
            lock, before giving up.
        snapshot_every: see :class:`~negotiation.store.base.EventStore`.

    A subscriber's handler gets the store's ``psycopg.Connection`` inside the transaction that
    moves its checkpoint: what it executes there commits or rolls back with the checkpoint.

    Raises:
        StoreError: the server cannot be reached, the database is not a store, it was written
            by a newer version, or the URL is not a PostgreSQL URL.
    """

    #: Writers on several machines share the table lock: each checks its events before it
    #: takes the lock (see :meth:`EventStore._append_runs`), so that they check in parallel.
    checks_before_lock = True

    def __init__(
        self, url: str, *, readonly: bool = False, timeout: float = 5.0, snapshot_every: int = SNAPSHOT_EVERY
    ) -> None:
        super().__init__(snapshot_every=snapshot_every)
        if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in URL_SCHEMES:
            msg = f"url={url!r} must be a PostgreSQL URL (postgresql://[user@]host[:port]/database)"
            raise StoreError(msg)
        self.url = url
        self.path = display_url(url)  # what messages name (no password), as SQLiteStore.path
        self.readonly = readonly
        self.timeout = timeout
        self._lock = threading.RLock()
        self._listen_lock = threading.Lock()
        self._listener: psycopg.Connection[Any] | None = None
        self._notified = 0
        #: Whether the schema is this version's; False for an older one opened read-only, whose
        #: read model is derived from the events (and the store head from the rows) instead.
        self.derived = True
        self._conn: psycopg.Connection[Any] | None = self._connect("opening the store")
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.path!r}{', readonly=True' if self.readonly else ''})"

    # -- the connection ------------------------------------------------------------------------

    def _connect(self, doing: str, *, readonly: bool | None = None) -> psycopg.Connection[Any]:
        readonly = self.readonly if readonly is None else readonly
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, round(self.timeout)))
        except psycopg.Error as e:
            raise translate_error(e, url=self.url, doing=doing) from None
        try:  # set here, not as connection options: those would replace the URL's own ``options``
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, int(self.timeout * 1000))}ms",))
            if readonly:
                conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as e:
            conn.close()
            raise translate_error(e, url=self.url, doing=doing) from None
        return conn

    def _prepare(self) -> None:
        """Check the schema version; create the schema (under an advisory lock) when missing."""
        with self._read("opening the store") as tx:
            version = self._schema_version(tx)
            rules = self._rules(tx) if version == POSTGRES_SCHEMA_VERSION else None
        if version == POSTGRES_SCHEMA_VERSION and (rules == snapshot.FINGERPRINT or self.readonly):
            return
        if self.readonly and version:  # an older schema, read as it is (as SQLite reads one)
            self.derived = version >= 3  # version 3 lacks only the function that appends
            return
        if self.readonly:
            msg = f"{self.path}: no event store in this database (open it once for writing to create one)"
            raise StoreError(msg)
        with self._transaction("BEGIN", "creating the schema") as tx:
            tx.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            version = self._schema_version(tx)  # again, under the lock: another process may have
            if version == 0:
                for statement in _SCHEMA:
                    tx.conn.execute(statement)
                tx.conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
            if version < 2:  # the store head over the events stored so far
                head, position = GENESIS, 0
                for row in tx.rows():
                    head, position = store_hash(head, row), row.position
                tx.conn.execute("INSERT INTO meta (key, value) VALUES ('head', %s)", (f"{position}:{head}",))
            if version < 3:  # the owed moves in the read model, filled by the recomputation below
                tx.conn.execute(_AWAITING)
            if version < 4:  # appends written by the server under the lock
                tx.conn.execute(_APPEND_FUNCTION)
            tx.conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(POSTGRES_SCHEMA_VERSION),))
            if version < 3 or self._rules(tx) != snapshot.FINGERPRINT:  # new column, other rules, or new: recomputed
                rebuild_read_model(tx, self.path)
                tx.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('rules', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (snapshot.FINGERPRINT,),
                )

    def _rules(self, tx: _Transaction) -> str | None:
        """The fingerprint of the rules the read model was last written under."""
        row = tx._one("SELECT value FROM meta WHERE key = 'rules'")
        return None if row is None else str(row[0])

    def _schema_version(self, tx: _Transaction) -> int:
        tables = {r[0] for r in tx.conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        if not tables & {"meta", "events"}:
            return 0
        version = None
        if {"meta", "events"} <= tables:
            row = tx._one("SELECT value FROM meta WHERE key = 'schema_version'")
            version = int(row[0]) if row is not None and str(row[0]).isdigit() else None
        if version is None:
            msg = f"{self.path}: a PostgreSQL database, but not an event store (no meta and events tables)"
            raise StoreError(msg)
        if version > POSTGRES_SCHEMA_VERSION:
            msg = (
                f"{self.path}: written by a newer version of negotiation (schema version {version}; "
                f"this version reads up to {POSTGRES_SCHEMA_VERSION}); upgrade negotiation to open it"
            )
            raise StoreError(msg)
        return version

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection; a new one if the last was broken (the server restarted, say)."""
        if self._conn is None:
            msg = f"{self.path}: the store is closed"
            raise StoreError(msg)
        if self._conn.broken:
            self._conn.close()
            self._conn = None
            self._conn = self._connect("reconnecting")
        return self._conn

    def _covered(self, negotiation: str, version: int) -> list[Event]:
        # a state loaded before the store was closed still reads its events, on a short-lived connection
        sql = "SELECT data FROM events WHERE negotiation = %s AND version <= %s ORDER BY version"
        with self._lock:
            if self._conn is not None:
                with self._read("reading events") as tx:
                    return _events(tx.conn.execute(sql, (negotiation, version)).fetchall())
        conn = self._connect("reading events", readonly=True)
        try:
            return _events(conn.execute(sql, (negotiation, version)).fetchall())
        except psycopg.Error as e:
            raise translate_error(e, url=self.url, doing="reading events") from None
        finally:
            conn.close()

    # -- transactions ----------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, begin: str, doing: str) -> Iterator[_Transaction]:
        """Run ``begin`` (and what follows it in the block), ``COMMIT`` if the block succeeds,
        ``ROLLBACK`` otherwise.

        Inside this store's own transaction (a subscriber's handler using the store) a read
        joins it; a write is refused.
        """
        with self._lock:
            conn = self._connection()
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                if "LOCK TABLE" in begin:
                    msg = f"{self.path}: {doing} inside a transaction of the same store (a subscriber's handler may read the store, not write to it)"
                    raise StoreError(msg)
                try:
                    yield _Transaction(self, conn)
                except psycopg.Error as e:
                    raise translate_error(e, url=self.url, doing=doing) from None
                return
            try:
                conn.execute(begin)
                tx = _Transaction(self, conn)
                yield tx
                tx.commit()
            except psycopg.Error as e:
                self._rollback(conn)
                raise translate_error(e, url=self.url, doing=doing) from None
            except BaseException:
                self._rollback(conn)
                raise

    def _write_at_once(self, written: list[Written]) -> bool:
        """Call :data:`_APPEND_FUNCTION` as one statement in a transaction of its own: the
        table lock is taken once the whole call has reached the server and released at its
        commit, so it is held only while the server works, never across a round trip to this
        client (see :meth:`EventStore._write_at_once
        <negotiation.store.base.EventStore._write_at_once>`).
        """
        rows = [row[1:9] for w in written for row in w.rows]
        summaries = [summary_row(w.summary) for w in written]
        snapshots = [w for w in written if w.snapshot is not None]
        params: list[Any] = [
            [w.negotiation for w in written],
            [w.checked_at[0] for w in written],
            [w.checked_at[1] for w in written],
            *([list(column) for column in zip(*rows, strict=True)]),
            *([list(column) for column in zip(*summaries, strict=True)]),
            [w.negotiation for w in snapshots],
            [w.tip[0] for w in snapshots],
            snapshot.FINGERPRINT,
            utc_now().isoformat(),
            [w.snapshot for w in snapshots],
        ]
        with self._lock:
            conn = self._connection()
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                return False  # inside a handler's transaction: the usual path says why it may not write
            try:  # autocommit: the statement commits by itself, or rolls back when it fails
                (last,) = conn.execute(_APPEND, params).fetchone() or (_NOT_AS_CHECKED,)
            except psycopg.Error as e:
                raise translate_error(e, url=self.url, doing="appending") from None
            if last == _NOT_AS_CHECKED:
                return False
            for w in written:  # under the store's lock, as every append keeps its folds
                self._folds.put(w.negotiation, w.tip, w.fold, w.snapshot_version)
        return True

    def _write(self, doing: str) -> AbstractContextManager[_Transaction]:
        """A write transaction, exclusive among writers (the table lock), rolled back on any exception."""
        return self._transaction("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE", doing)

    @contextmanager
    def _read_unshared(self, doing: str) -> Iterator[_Transaction]:
        """No transaction (see :meth:`EventStore._read_unshared`): each statement sees one
        consistent state by itself; spares a load the BEGIN and ROLLBACK round trips."""
        with self._lock:
            conn = self._connection()
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:  # in a handler: join it
                with self._read(doing) as tx:
                    yield tx
                return
            try:
                yield _Transaction(self, conn)
            except psycopg.Error as e:
                raise translate_error(e, url=self.url, doing=doing) from None

    def _read(self, doing: str) -> AbstractContextManager[_Transaction]:
        """A read transaction (a consistent view); nothing in it is written."""
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", doing)

    @staticmethod
    def _rollback(conn: psycopg.Connection[Any]) -> None:
        with suppress(psycopg.Error):  # the connection is gone: the server rolls the transaction back
            conn.execute("ROLLBACK")

    # -- waking on NOTIFY ------------------------------------------------------------------------

    def _listening(self) -> psycopg.Connection[Any]:
        """The listening connection (opened, with ``LISTEN``, on first use); call under ``_listen_lock``."""
        self._connection()  # closed stores do not listen
        if self._listener is not None and self._listener.broken:
            self._listener.close()
            self._listener = None
            self._notified += 1  # notifications may have been missed: the caller reads again
        if self._listener is None:
            listener = self._connect("listening for new events", readonly=True)
            try:
                listener.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as e:
                listener.close()
                raise translate_error(e, url=self.url, doing="listening for new events") from None
            self._listener = listener
        return self._listener

    def _drain(self, timeout: float) -> None:
        """Count the notifications that arrive within ``timeout`` seconds (stop at the first)."""
        listener = self._listening()
        try:
            for _ in listener.notifies(timeout=timeout, stop_after=1):
                self._notified += 1
            # whatever else is queued already: one wake-up is enough
            for _ in listener.notifies(timeout=0):
                self._notified += 1
        except psycopg.Error as e:
            raise translate_error(e, url=self.url, doing="waiting for new events") from None

    def _change_token(self) -> object:
        """How many notifications this store has received; ``LISTEN`` is on before the caller reads."""
        with self._listen_lock:
            self._drain(0)
            return self._notified

    def _wait(self, token: object, timeout: float) -> None:
        """Wait until a notification arrives after ``token`` was taken, or ``timeout`` seconds pass."""
        with self._listen_lock:
            if self._notified == token:
                self._drain(max(0.0, timeout))

    def close(self) -> None:
        """Close the connections (idempotent). States loaded earlier read their events anew."""
        with self._lock, self._listen_lock:
            for conn in (self._conn, self._listener):
                if conn is not None:
                    conn.close()
            self._conn = None
            self._listener = None
