"""The ``datasette-metadata`` command: Datasette's metadata for a SQLite store.

Registered on the ``negotiation`` group by :mod:`negotiation.cli`. The store is opened
read-only to check that it is one (nothing is created or migrated); a path that is not a
SQLite store is one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import click

from negotiation.cli_store import check_output, printable, replaced
from negotiation.datasette import metadata
from negotiation.errors import NegotiationError
from negotiation.store import SQLiteStore, is_sqlite_file, is_store_url
from negotiation.store.schema import SCHEMA_VERSION, read_schema_version

__all__ = ["datasette_metadata_command"]


def _fail(message: str) -> NoReturn:
    raise click.ClickException(printable(message))


def _check_store(db: str) -> None:
    """End the command unless ``db`` is a SQLite store this version reads; warn (on stderr) when
    its schema is older than the canned queries need."""
    if is_store_url(db):
        # not named: the URL may hold a password
        _fail(
            "a PostgreSQL URL: Datasette serves SQLite files; copy the store into one first (negotiation copy URL FILE)"
        )
    path = Path(db)
    if not path.exists():
        _fail(f"{db}: no such file")
    if path.is_dir():
        _fail(f"{db}: a directory, not a store")
    if not is_sqlite_file(path):
        _fail(f"{db}: not a SQLite store (a store starts with SQLite's header; make one with negotiation append)")
    try:
        with SQLiteStore(path, readonly=True) as store:
            version = read_schema_version(store.db)
    except NegotiationError as e:
        _fail(str(e))
    if not version:
        _fail(f"{db}: an empty SQLite database, not a store (make one with negotiation append)")
    if version < SCHEMA_VERSION:
        click.echo(
            printable(
                f"Warning: {db} is a store of schema version {version} (this version writes {SCHEMA_VERSION}): the "
                "owed_by_party query needs its awaiting column; open it once for writing to migrate it "
                "(negotiation append DB LOG does, even when it appends nothing)"
            ),
            err=True,
        )


@click.command("datasette-metadata")
@click.argument("db")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def datasette_metadata_command(db: str, output: str | None) -> None:
    """Print Datasette metadata (JSON) for the SQLite store DB: table descriptions, and canned
    queries for the negotiations by stage, the owed moves by party and one negotiation's events.

    Use it as `datasette DB -m metadata.json`: Datasette names the database after the file's
    stem, and so does the metadata. With --output the file is written whole or not at all.
    """
    _check_store(db)
    if output is not None:
        check_output(Path(output), db)
    text = json.dumps(metadata(Path(db).stem), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    with replaced(Path(output)) as handle:
        handle.write(text)
