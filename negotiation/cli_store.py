"""The store's commands: ``append``, ``export``, ``list`` and ``verify``.

Registered on the ``negotiation`` group by :mod:`negotiation.cli`. Each opens the store,
calls one library function and formats the result; a library error is one line on stderr and
exit code 1 (the group sees to that). :func:`open_store` and :func:`load_from_store` also serve ``status``,
``timeline`` and ``check`` when they are given a store instead of a log file.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar, cast

import click

from negotiation.errors import NegotiationError
from negotiation.events import Event
from negotiation.logfile import Log, LogStream, read_log, replay_log
from negotiation.state import NegotiationState
from negotiation.store import EventStore, SQLiteStore, is_sqlite_file, is_store_url
from negotiation.store import open_store as open_any_store
from negotiation.store.chain import parse_head
from negotiation.store.logs import check_store, export_log, import_log, select_negotiation

__all__ = [
    "PROGRESS_FROM",
    "STDIN",
    "TIMEOUT",
    "VERIFY_PHASES",
    "PhaseBars",
    "append_command",
    "check_store_file",
    "existing_store",
    "export_command",
    "head_command",
    "is_store",
    "list_command",
    "load_from_store",
    "load_state",
    "negotiation_option",
    "open_store",
    "printable",
    "read_cli_log",
    "stored_events",
    "timeout_option",
    "verify_command",
]

#: A log (or store) with at least this many events gets a progress bar on import (copy, verify).
PROGRESS_FROM = 5000

#: The LOG argument that means standard input.
STDIN = "-"

#: Seconds a command waits for another writer's lock before giving up (``--timeout``).
TIMEOUT = 30.0

#: Control characters (but tab and newline): escaped before text reaches a terminal, so that an
#: id or a title from an imported log cannot move the cursor or recolour the screen.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\x1b``), for a person's screen."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _fail(error: Exception) -> NoReturn:
    raise click.ClickException(printable(str(error))) from None


def timeout_option(func: Any) -> Any:
    """``--timeout SECONDS``: how long to wait for another writer's lock."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for another writer's lock on the store before giving up.",
    )(func)


def read_cli_log(log: str, negotiation: str | None) -> Log:
    """Read the LOG argument: a file, or standard input for ``-`` (whose lines must name their
    negotiation, or ``-n`` names it)."""
    if log == STDIN:
        return read_log(sys.stdin.buffer, negotiation=negotiation, name="<stdin>")
    return read_log(log, negotiation=negotiation)


def existing_store(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Check a store argument: a ``postgresql://`` URL as given, or a file that exists."""
    if is_store_url(value):
        return value
    return str(click.Path(dir_okay=False, exists=True).convert(value, param, ctx))


F = TypeVar("F", bound=Callable[..., Any])


def negotiation_option(func: F) -> F:
    """``--negotiation ID``, and the same as an optional argument after a store (``DB ID``)."""

    @functools.wraps(func)
    def merged(*args: Any, negotiation_id: str | None = None, **kwargs: Any) -> Any:
        if negotiation_id is not None:
            if kwargs.get("negotiation") not in (None, negotiation_id):
                msg = f"two negotiations named: {negotiation_id!r} and --negotiation {kwargs['negotiation']!r}"
                raise click.UsageError(msg)
            kwargs["negotiation"] = negotiation_id
        return func(*args, **kwargs)

    merged = click.argument("negotiation_id", metavar="[NEGOTIATION]", required=False)(merged)
    return cast(
        F,
        click.option(
            "--negotiation",
            "-n",
            metavar="ID",
            help="The negotiation to use when the log or store holds several (default: the only one).",
        )(merged),
    )


def load_state(
    log: str | Log,
    *,
    negotiation: str | None,
    as_of: str | None,
    known_at: str | None = None,
    lenient: bool = False,
) -> NegotiationState:
    """The state of the negotiation a command names: in a log file, standard input (``-``), a
    log read already, or a store and a negotiation id."""
    if isinstance(log, Log):
        return replay_log(log, negotiation=negotiation, as_of=as_of, known_at=known_at, strict=not lenient)
    if log != STDIN and is_store(log):
        return load_from_store(log, negotiation=negotiation, as_of=as_of, known_at=known_at, lenient=lenient)
    source = read_cli_log(log, negotiation) if log == STDIN else log
    return replay_log(source, negotiation=negotiation, as_of=as_of, known_at=known_at, strict=not lenient)


def load_events(log: str, *, negotiation: str | None) -> tuple[str, list[Event], Log | None]:
    """The events of the negotiation a command names, in log order (retractions included):
    its id, the events, and the log they were read from (None for a store), which can say
    where an event the rules refuse stands (:meth:`Log.locate`)."""
    if log != STDIN and is_store(log):
        with _open(log, readonly=True) as store:
            name = select_negotiation(store, negotiation)
            return name, [stored.event for stored in store.read(name)], None
    parsed = read_cli_log(log, negotiation)
    name = parsed.select(negotiation)
    return name, parsed.events(name), parsed


def _open(path: str, *, readonly: bool, timeout: float = TIMEOUT) -> EventStore:
    """The store at ``path``: PostgreSQL for a ``postgresql://`` URL, else a SQLite file."""
    if is_store_url(path):
        return open_any_store(path, readonly=readonly, timeout=timeout)
    return SQLiteStore(path, readonly=readonly, timeout=timeout)


def is_store(path: str) -> bool:
    """Whether ``path`` is a store (a ``postgresql://`` URL or a SQLite file) rather than a JSONL log."""
    return is_store_url(path) or is_sqlite_file(path)


@contextmanager
def open_store(path: str, *, readonly: bool = True, timeout: float = TIMEOUT) -> Iterator[EventStore]:
    """Open the store at ``path``, a file or a ``postgresql://`` URL (read-only unless asked);
    library errors end the command."""
    try:
        store = _open(path, readonly=readonly, timeout=timeout)
    except NegotiationError as e:
        raise click.ClickException(str(e)) from None
    with store:
        yield store


def load_from_store(
    path: str, *, negotiation: str | None, as_of: str | None, known_at: str | None, lenient: bool
) -> NegotiationState:
    """Load a negotiation of the store at ``path`` (the only one, when none is named)."""
    with _open(path, readonly=True) as store:
        name = select_negotiation(store, negotiation)
        return store.load(name, as_of=as_of, known_at=known_at, strict=not lenient)


def check_store_file(path: str, negotiation: str | None) -> list[NegotiationError]:
    """What ``check`` reports for a store: a broken hash chain, then what today's rules refuse."""
    with _open(path, readonly=True) as store:
        return check_store(store, negotiation)


@click.command("append")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--negotiation",
    "-n",
    metavar="ID",
    help="The negotiation of lines that name none (default: the log file's stem).",
)
@timeout_option
def append_command(db: str, log: str, negotiation: str | None, timeout: float) -> None:
    """Import LOG (JSON Lines; - for standard input) into the store DB: all its events or none.

    DB is created if it does not exist. Events already in the store with the same content
    are skipped, so a log that has grown since its last import appends only what is new.
    """
    try:
        if log == STDIN:
            stream = LogStream(sys.stdin.buffer, negotiation=negotiation, name="<stdin>")
        else:
            stream = LogStream(log, negotiation=negotiation)
        if stream.empty():  # before the store is opened (and created)
            stream.close()
            _fail(Exception(f"{stream.name}: the log holds no event; nothing was appended"))
    except NegotiationError as e:
        _fail(e)
    total = None if log == STDIN else _count_lines(Path(log))
    with stream, open_store(db, readonly=False, timeout=timeout) as store:
        try:
            before = {s.id: s.version for s in store.negotiations()}
            try:
                if total is not None and total >= PROGRESS_FROM:
                    with click.progressbar(length=total, label=f"Appending {log}", file=sys.stderr) as bar:
                        seen = [0]

                        def progress(done: int) -> None:
                            bar.update(done - seen[0])
                            seen[0] = done

                        versions = import_log(store, stream, progress=progress)
                else:
                    versions = import_log(store, stream)
            except KeyboardInterrupt:
                versions = _after_interrupt(store, stream.name, before)
        except NegotiationError as e:
            _fail(e)
    for name, version in versions.items():
        added = version - before.get(name, 0)
        click.echo(printable(f"{name}: {added} event{'s' if added != 1 else ''} appended, now at version {version}"))
    if stream.unknown:
        fields = f"{stream.unknown} field{'s' if stream.unknown != 1 else ''}"
        hint = f"negotiation check {log}" if log != STDIN else "negotiation check"
        click.echo(
            printable(f"warning: {stream.name}: {fields} that no type defines, kept as extra ({hint} names them)"),
            err=True,
        )


#: The label of each phase of ``verify``'s progress.
VERIFY_PHASES = {
    "rows": "Checking the hash chains",
    "read model": "Replaying the negotiations",
    "snapshots": "Checking the snapshots",
}


class PhaseBars:
    """A progress bar on stderr per phase of a long task, from ``(phase, done, total)`` calls."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.phase: str | None = None
        self.bar: Any = None
        self.shown = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase, self.shown = phase, 0
            self.bar = click.progressbar(length=max(total, 1), label=self.labels[phase], file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def __enter__(self) -> PhaseBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stored_events(store: EventStore) -> int:
    """How many events the store's read model counts, for a progress bar; 0 when it cannot be
    read (``verify`` then reports why)."""
    try:
        return sum(summary.version for summary in store.negotiations())
    except NegotiationError:
        return 0


def _count_lines(path: Path) -> int:
    """The lines of a file that are not blank: about its events, for a progress bar."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _after_interrupt(store: EventStore, log: str, before: dict[str, int]) -> dict[str, int]:
    """What an interrupted import left: the new versions if its transaction had committed (Ctrl-C
    came after COMMIT), else the command ends saying nothing was appended."""
    now = {s.id: s.version for s in store.negotiations()}
    moved = {name: version for name, version in now.items() if version != before.get(name, 0)}
    if moved:  # one transaction: if anything moved, all of it committed (or another writer did)
        click.echo(f"Interrupted after the import of {log} was complete:", err=True)
        return moved
    click.echo("Interrupted: nothing was appended.", err=True)
    sys.exit(130)


@click.command("export")
@click.argument("db", callback=existing_store)
@click.argument("negotiation")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def export_command(db: str, negotiation: str, output: str | None) -> None:
    """Print NEGOTIATION's events from the store DB as JSON Lines (they re-import identically).

    With --output the file is written whole or not at all: into a temporary file beside it,
    renamed over it once every event is written. The store itself (or its -wal and -shm
    files) is refused as the output.
    """
    if output is not None:
        check_output(Path(output), db)
    with open_store(db) as store:
        try:
            if output is None:
                export_log(store, negotiation, sys.stdout)
            else:
                with replaced(Path(output)) as out:
                    export_log(store, negotiation, out)
        except NegotiationError as e:
            _fail(e)


def check_output(output: Path, db: str) -> None:
    """Refuse an output that is the store (the same file, whatever its name) or a directory that is missing."""
    if not is_store_url(db):
        for suffix in ("", "-wal", "-shm", "-journal"):
            part = Path(db + suffix)
            same = output.resolve() == part.resolve()
            with suppress(OSError):
                same = same or os.path.samefile(output, part)
            if same:
                _fail(
                    Exception(
                        f"--output {output}: that is the store {db}{' (its ' + suffix[1:] + ' file)' if suffix else ''}; choose another file"
                    )
                )
    if not output.parent.is_dir():
        _fail(Exception(f"--output {output}: cannot write there: the directory {output.parent} does not exist"))


@contextmanager
def replaced(path: Path) -> Iterator[IO[str]]:
    """A file to write ``path``'s new content into; it replaces ``path`` only if the block succeeds."""
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then renamed or removed
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        )
    except OSError as e:
        _fail(Exception(f"--output {path}: cannot write there: {e.strerror}"))
    try:
        with handle:
            yield handle
        if path.exists():  # the file keeps its permissions; a new one gets the usual ones
            shutil.copymode(path, handle.name)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(handle.name)
        raise


@click.command("list")
@click.argument("db", callback=existing_store)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_command(db: str, as_json: bool) -> None:
    """List the negotiations in the store DB with their stage, version and owed moves."""
    with open_store(db) as store:
        summaries = store.negotiations()
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in summaries], ensure_ascii=False, indent=2))
        return
    rows: list[tuple[Any, ...]] = [("negotiation", "stage", "version", "last event", "owed")]
    rows += [(s.id, s.stage.value, s.version, s.last_event or "-", s.owed) for s in summaries]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            printable("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        )


@click.command("verify")
@click.argument("db", callback=existing_store)
@click.option(
    "--head",
    "kept",
    metavar="POSITION:HEX",
    help="A store head kept elsewhere (from `negotiation head`): also find events removed or rewritten up to it.",
)
def verify_command(db: str, kept: str | None) -> None:
    """Recompute every hash chain of the store DB, its store head and read model, and its
    snapshots; exit 1 at the first thing that does not match."""
    try:
        head = None if kept is None else parse_head(kept)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--head") from None
    with open_store(db) as store:
        try:
            if stored_events(store) >= PROGRESS_FROM:
                with PhaseBars(VERIFY_PHASES) as bars:
                    result = store.verify(head=head, progress=bars)
            else:
                result = store.verify(head=head)
        except NegotiationError as e:
            _fail(e)
        where = getattr(store, "path", db)  # a URL without its password
    if not result.ok:
        _fail(Exception(f"{where}: {result}"))
    click.echo(printable(f"{where}: {result}"))


@click.command("head")
@click.argument("db", callback=existing_store)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of POSITION:HEX.")
def head_command(db: str, as_json: bool) -> None:
    """Print the store head of DB: the position of its last event and the running hash there.

    Keep it somewhere else (a notebook, a commit message, another machine); `negotiation
    verify DB --head POSITION:HEX` later finds events removed from the end of the store or
    rewritten before that position, even by someone who rewrote every record in the file.
    """
    with open_store(db) as store:
        try:
            position, head = store.head()
        except NegotiationError as e:
            _fail(e)
    if as_json:
        click.echo(json.dumps({"position": position, "head": head}))
    else:
        click.echo(f"{position}:{head}")
