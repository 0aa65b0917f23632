"""The ``copy`` command: a whole store into an empty one, SQLite to PostgreSQL or back.

Registered on the ``negotiation`` group by :mod:`negotiation.cli`. A library error is one line
on stderr and exit code 1; a SQLite file the command created for a copy that failed is removed.
"""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path

import click

from negotiation.cli_store import PROGRESS_FROM, VERIFY_PHASES, PhaseBars, existing_store, open_store, stored_events
from negotiation.errors import NegotiationError
from negotiation.store import is_store_url
from negotiation.store.copying import Copied, copy_store

__all__ = ["copy_command"]


def _remove_new_file(target: str) -> None:
    """Remove the SQLite file (and its WAL companions) a failed copy created."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(OSError):
            Path(target + suffix).unlink()


@click.command("copy")
@click.argument("source", callback=existing_store)
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def copy_command(source: str, target: str, as_json: bool) -> None:
    """Copy the store SOURCE into the empty store TARGET, then verify TARGET.

    Each is a SQLite file or a postgresql://[user@]host[:port]/database URL; a TARGET file is
    created if missing. Events keep their positions, versions and hashes; the read model and
    snapshots go with them; subscribers' checkpoints do not. All or nothing: a failed copy
    leaves TARGET as it was.
    """
    new_file = not is_store_url(target) and not Path(target).exists()
    copied: Copied | None = None
    try:
        with open_store(source) as src, open_store(target, readonly=False) as dst:
            shown = (getattr(src, "path", source), getattr(dst, "path", target))  # URLs without passwords
            total = stored_events(src)
            if total >= PROGRESS_FROM:
                labels = {
                    "copy": "Copying",
                    **{k: f"Verifying the copy: {v[0].lower()}{v[1:]}" for k, v in VERIFY_PHASES.items()},
                }
                with PhaseBars(labels) as bars:
                    copied = copy_store(src, dst, progress=lambda done: bars("copy", done, total), verify_progress=bars)
            else:
                copied = copy_store(src, dst)
    except NegotiationError as e:
        raise click.ClickException(str(e)) from None
    finally:
        if copied is None and new_file:
            _remove_new_file(target)
    if as_json:
        data = {
            "source": shown[0],
            "target": shown[1],
            "events": copied.events,
            "negotiations": copied.negotiations,
            "snapshots": copied.snapshots,
            "verified": copied.verification.ok,
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"copied {copied.events} events ({copied.negotiations} negotiations, {copied.snapshots} snapshots) "
        f"from {shown[0]} to {shown[1]}"
    )
    click.echo(f"{shown[1]}: {copied.verification}")
