"""The ``negotiation`` command line: thin commands over the library.

Each command parses its arguments, calls one library function and formats the result, for a
person or, with ``--json``, for a script. A library error becomes one line on stderr and exit
code 1; no traceback reaches the user.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from negotiation.cli_simulate import paths_command, simulate_command
from negotiation.cli_store import (
    append_command,
    check_store_file,
    export_command,
    is_store,
    list_command,
    load_from_store,
    verify_command,
)
from negotiation.errors import NegotiationError
from negotiation.events import Event
from negotiation.logfile import check_log, replay_log
from negotiation.machine import diagram as machine_diagram
from negotiation.state import NegotiationState

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


class _Group(click.Group):
    """The command group: a library error ends any of its commands as one line on stderr, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NegotiationError as e:
            raise click.ClickException(str(e)) from None


def _cutoff_options(func: F) -> F:
    func = click.option(
        "--known-at",
        metavar="TIME",
        help="Only events recorded by this moment (ISO date-time with offset; a date means its end, UTC).",
    )(func)
    func = click.option(
        "--as-of",
        metavar="DATE",
        help="Only events that had occurred by this date (YYYY, YYYY-MM, YYYY-MM-DD or a date-time).",
    )(func)
    return func


def _negotiation_option(func: F) -> F:
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
    log: str, *, negotiation: str | None, as_of: str | None, known_at: str | None, lenient: bool
) -> NegotiationState:
    """Replay the negotiation a command names (a log file, or a store and a negotiation id)."""
    if is_store(log):
        return load_from_store(log, negotiation=negotiation, as_of=as_of, known_at=known_at, lenient=lenient)
    return replay_log(log, negotiation=negotiation, as_of=as_of, known_at=known_at, strict=not lenient)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="negotiation")
def cli() -> None:
    """Negotiations as append-only event logs, replayed through a stage machine.

    A log is a JSON Lines file, one event per line (see the README). Replay it to see the
    stage, who owes which move and what may happen next, at any date in the past:

    \b
        negotiation status events/security-guarantees-2021.jsonl --as-of 2022-02-02
    """


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False))
@_cutoff_options
@_negotiation_option
@click.option("--lenient", is_flag=True, help="Skip events that are not permitted and report them, instead of failing.")
@click.option(
    "--detail", is_flag=True, help="With --json: add documents, contacts, agreements, positions, deadlines, timeline."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def status(
    log: str,
    as_of: str | None,
    known_at: str | None,
    negotiation: str | None,
    lenient: bool,
    detail: bool,
    as_json: bool,
) -> None:
    """Print the stage, the owed moves and the permitted next steps of LOG (a log file, or a store DB and a NEGOTIATION)."""
    state = load_state(log, negotiation=negotiation, as_of=as_of, known_at=known_at, lenient=lenient)
    if as_json:
        _emit_json(state.to_dict(detail=detail))
    else:
        click.echo(format_status(state))


def format_status(state: NegotiationState) -> str:
    """The status of a negotiation as text for a person."""
    when = f" as of {state.as_of}" if state.as_of is not None else ""
    if state.known_at is not None:
        when += f" (known at {state.known_at.isoformat()})"
    lines = [f"{state.negotiation}{when}: stage {state.stage.value} ({len(state.events)} events)", ""]
    lines.append("Owed moves:")
    if not state.awaiting:
        lines.append("  none")
    for owed in state.awaiting:
        lines.append(f"  {owed.party} owes {' or '.join(owed.types)} on {owed.ref!r}")
    lines += ["", "Permitted next steps:"]
    for step in state.permitted:
        who = "anyone" if step.actors is None else "by " + ", ".join(step.actors)
        refs = f" on {', '.join(map(repr, step.refs))}" if step.refs else ""
        lines.append(f"  {step.type:<26} {who}{refs}")
    overdue = state.overdue()
    if overdue:
        lines += ["", "Overdue deadlines:"]
        lines += [f"  {d.id}: due {d.deadline}" + (f" from {d.actor}" if d.actor else "") for d in overdue]
    if state.rejected:
        lines += ["", f"Skipped ({len(state.rejected)} events not permitted):"]
        lines += [f"  {e}" for e in state.rejected]
    return "\n".join(lines)


def describe(event: Event) -> str:
    """A one-line summary of an event: who, what, to whom, about what."""
    data = event.to_dict()
    who = data.get("actor") or "/".join(data.get("parties", ())) or ""
    parts = [who] if who else []
    if "to" in data:
        parts.append("-> " + ", ".join(data["to"]))
    for key in ("title", "level", "mode", "reason", "summary", "deadline"):
        if key in data:
            parts.append(f"{key}={data[key]!r}" if key != "title" else repr(data[key]))
    if "ref" in data:
        parts.append(f"on {data['ref']!r}")
    return " ".join(parts)


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False))
@_cutoff_options
@_negotiation_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines events instead of text.")
def timeline(log: str, as_of: str | None, known_at: str | None, negotiation: str | None, as_json: bool) -> None:
    """Print the events of LOG (a log file, or a store DB and a NEGOTIATION) sorted by when they occurred."""
    state = load_state(log, negotiation=negotiation, as_of=as_of, known_at=known_at, lenient=False)
    for event in state.timeline:
        if as_json:
            click.echo(json.dumps(event.to_dict(), ensure_ascii=False))
        else:
            click.echo(f"{event.occurred!s:<12} {event.TYPE:<26} {describe(event)}  [{event.id}]")


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False))
@_negotiation_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of errors.")
def check(log: str, negotiation: str | None, as_json: bool) -> None:
    """Report every error in LOG (a log file, or a store DB); exit 1 if there is any."""
    errors = check_store_file(log, negotiation) if is_store(log) else check_log(log, negotiation=negotiation)
    if as_json:
        _emit_json(
            [
                {
                    "path": e.path,
                    "line": e.line,
                    "negotiation": e.negotiation,
                    "event": e.event_id,
                    "error": type(e).__name__,
                    "message": e.message,
                }
                for e in errors
            ]
        )
    else:
        for error in errors:
            click.echo(str(error), err=True)
        click.echo(f"{log}: {len(errors)} error{'s' if len(errors) != 1 else ''}", err=bool(errors))
    if errors:
        sys.exit(1)


@cli.command()
@click.option("--full", is_flag=True, help="Draw the neutral events' self-loops in every stage too.")
def diagram(full: bool) -> None:
    """Print the stage machine as a Mermaid state diagram."""
    click.echo(machine_diagram(full=full), nl=False)


cli.add_command(simulate_command)
cli.add_command(paths_command)
cli.add_command(append_command)
cli.add_command(export_command)
cli.add_command(list_command)
cli.add_command(verify_command)


def main() -> None:
    """The console script: run the CLI; an unexpected error is one line, never a traceback."""
    try:
        cli.main(prog_name="negotiation", standalone_mode=True)
    except Exception as e:  # the last line of defence: no traceback reaches a CLI user
        click.echo(f"Error: internal error: {type(e).__name__}: {e} (please report this)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
