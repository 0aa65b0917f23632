"""The store's commands: ``append``, ``export``, ``list`` and ``verify``.

Registered on the ``negotiation`` group by :mod:`negotiation.cli`. Each opens the store,
calls one library function and formats the result; a library error is one line on stderr and
exit code 1 (the group sees to that). :func:`open_store` and :func:`load_from_store` also serve ``status``,
``timeline`` and ``check`` when they are given a store instead of a log file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from negotiation.errors import NegotiationError
from negotiation.logfile import read_log
from negotiation.state import NegotiationState
from negotiation.store import SQLiteStore, is_sqlite_file
from negotiation.store.logs import check_store, export_log, import_log, select_negotiation

__all__ = [
    "PROGRESS_FROM",
    "append_command",
    "check_store_file",
    "export_command",
    "is_store",
    "list_command",
    "load_from_store",
    "open_store",
    "verify_command",
]

#: A log with at least this many events gets a progress bar on import.
PROGRESS_FROM = 5000


def is_store(path: str) -> bool:
    """Whether ``path`` is a SQLite file (a store) rather than a JSONL log."""
    return is_sqlite_file(path)


@contextmanager
def open_store(path: str, *, readonly: bool = True) -> Iterator[SQLiteStore]:
    """Open the store at ``path`` (read-only unless asked); library errors end the command."""
    try:
        store = SQLiteStore(path, readonly=readonly)
    except NegotiationError as e:
        raise click.ClickException(str(e)) from None
    with store:
        yield store


def load_from_store(
    path: str, *, negotiation: str | None, as_of: str | None, known_at: str | None, lenient: bool
) -> NegotiationState:
    """Load a negotiation of the store at ``path`` (the only one, when none is named)."""
    with SQLiteStore(path, readonly=True) as store:
        name = select_negotiation(store, negotiation)
        return store.load(name, as_of=as_of, known_at=known_at, strict=not lenient)


def check_store_file(path: str, negotiation: str | None) -> list[NegotiationError]:
    """What ``check`` reports for a store: a broken hash chain, then what today's rules refuse."""
    with SQLiteStore(path, readonly=True) as store:
        return check_store(store, negotiation)


@click.command("append")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("log", type=click.Path(dir_okay=False))
@click.option(
    "--negotiation",
    "-n",
    metavar="ID",
    help="The negotiation of lines that name none (default: the log file's stem).",
)
def append_command(db: str, log: str, negotiation: str | None) -> None:
    """Import LOG (JSON Lines) into the store DB: all its events or none.

    DB is created if it does not exist. Events already in the store with the same content
    are skipped, so a log that has grown since its last import appends only what is new.
    """
    parsed = read_log(log, negotiation=negotiation)
    total = sum(len(events) for events in parsed.negotiations.values())
    with open_store(db, readonly=False) as store:
        before = {s.id: s.version for s in store.negotiations()}
        if total >= PROGRESS_FROM:
            with click.progressbar(length=total, label=f"Appending {log}", file=sys.stderr) as bar:
                versions = import_log(store, parsed, progress=lambda done: bar.update(done - bar.pos))
        else:
            versions = import_log(store, parsed)
    for name, version in versions.items():
        added = version - before.get(name, 0)
        click.echo(f"{name}: {added} event{'s' if added != 1 else ''} appended, now at version {version}")


@click.command("export")
@click.argument("db", type=click.Path(dir_okay=False, exists=True))
@click.argument("negotiation")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout."
)
def export_command(db: str, negotiation: str, output: str | None) -> None:
    """Print NEGOTIATION's events from the store DB as JSON Lines (they re-import identically)."""
    with open_store(db) as store:
        if output is None:
            export_log(store, negotiation, sys.stdout)
        else:
            with Path(output).open("w", encoding="utf-8") as out:
                export_log(store, negotiation, out)


@click.command("list")
@click.argument("db", type=click.Path(dir_okay=False, exists=True))
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
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@click.command("verify")
@click.argument("db", type=click.Path(dir_okay=False, exists=True))
def verify_command(db: str) -> None:
    """Recompute every hash chain of the store DB; exit 1 at the first position that does not match."""
    with open_store(db) as store:
        result = store.verify()
    report = f"{db}: {result}"
    if not result.ok:
        raise click.ClickException(report)
    click.echo(report)
