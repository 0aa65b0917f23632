"""The ``negotiation`` command line: thin commands over the library.

Each command parses its arguments, calls one library function and formats the result, for a
person or, with ``--json``, for a script. A library error becomes one line on stderr and exit
code 1; no traceback reaches the user.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import attrs
import click

from negotiation import events as vocabulary
from negotiation.cli_copy import copy_command
from negotiation.cli_datasette import datasette_metadata_command
from negotiation.cli_report import chart_command, report_command
from negotiation.cli_simulate import paths_command, simulate_command
from negotiation.cli_store import (
    STDIN,
    append_command,
    check_store_file,
    export_command,
    head_command,
    is_store,
    list_command,
    load_state,
    negotiation_option,
    printable,
    verify_command,
)
from negotiation.errors import NegotiationError
from negotiation.events import EVENT_TYPES, PARTY_FIELDS, Stance
from negotiation.logfile import UnknownField, errors_in, read_log, unknown_fields
from negotiation.machine import TABLE, Stage
from negotiation.machine import diagram as machine_diagram
from negotiation.report import describe
from negotiation.rules import RULES
from negotiation.state import NegotiationState

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])

#: How many owed moves, next steps and refs a step names ``status`` prints without ``--all``.
SHOWN = 30


def _emit_json(data: Any) -> None:
    click.echo(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False, indent=2)))


#: What ``json.dumps`` leaves raw that a terminal may act on (DEL and the C1 controls).
_C1 = re.compile("[\x7f-\x9f]")


def _fail(error: Exception) -> NoReturn:
    raise click.ClickException(printable(str(error))) from None


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="negotiation")
def cli() -> None:
    """Negotiations as append-only event logs, replayed through a stage machine.

    A log is a JSON Lines file, one event per line (see the README). Replay it to see the
    stage, who owes which move and what may happen next, at any date in the past:

    \b
        negotiation status events/security-guarantees-2021.jsonl --as-of 2022-02-02
    """


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@_cutoff_options
@negotiation_option
@click.option("--lenient", is_flag=True, help="Skip events that are not permitted and report them, instead of failing.")
@click.option(
    "--detail", is_flag=True, help="With --json: add documents, contacts, agreements, positions, deadlines, timeline."
)
@click.option(
    "--all", "everything", is_flag=True, help=f"List everything: no cap at {SHOWN} entries, and the retractions."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def status(
    log: str,
    as_of: str | None,
    known_at: str | None,
    negotiation: str | None,
    lenient: bool,
    detail: bool,
    everything: bool,
    as_json: bool,
) -> None:
    """Print the stage, the owed moves and the permitted next steps of LOG (a log file, - for
    standard input, or a store DB and a NEGOTIATION)."""
    try:
        state = load_state(log, negotiation=negotiation, as_of=as_of, known_at=known_at, lenient=lenient)
        if as_json:
            _emit_json(state.to_dict(detail=detail))
        else:
            click.echo(format_status(state, everything=everything))
    except NegotiationError as e:
        _fail(e)


def _capped(lines: list[str], everything: bool, what: str) -> list[str]:
    if everything or len(lines) <= SHOWN:
        return lines
    return [*lines[:SHOWN], f"  ... and {len(lines) - SHOWN} more {what} (--all shows them)"]


def format_status(state: NegotiationState, *, everything: bool = False) -> str:
    """The status of a negotiation as text for a person.

    The participants in roles other than party (mediators, guarantors) are named under the
    stage. Owed moves say who owes what to whom, on which document or contact, since when and
    for how many days (to ``as_of``, or today). Without ``everything`` long lists stop after
    :data:`SHOWN` entries and the retractions are left out of the next steps.
    """
    when = f" as of {state.as_of}" if state.as_of is not None else ""
    if state.known_at is not None:
        when += f" (known at {state.known_at.isoformat()})"
    lines = [f"{state.negotiation}{when}: stage {state.stage.value} ({len(state.events)} events)"]
    if state.roles:  # mediators, guarantors, observers: not parties
        lines.append("Also taking part: " + ", ".join(f"{name} ({role.value})" for name, role in state.roles.items()))
    texts = [a for a in state.agreements.values() if a.status is not None]
    if len(texts) > 1 or any(a.instrument != "agreement" for a in texts):  # several instruments
        lines.append("Instruments: " + ", ".join(f"{a.id} ({a.instrument}, {a.status})" for a in texts))
    lines += ["", "Owed moves:"]
    if not state.awaiting:
        lines.append("  none")
    today = state.as_of.last_day if state.as_of is not None else dt.datetime.now(dt.UTC).date()
    by_id = {e.id: e for e in state.events} if state.awaiting else {}
    owed_lines = []
    for owed in state.awaiting:
        ref = by_id.get(owed.ref)
        line = f"  {owed.party} owes {' or '.join(owed.types)} on {owed.ref!r}"
        if ref is not None:
            author = getattr(ref, "actor", None)
            about = [f"{getattr(ref, 'title', None)!r}"] if getattr(ref, "title", None) else []
            about += [f"from {author}"] if author else []
            days = (today - ref.occurred.last_day).days
            about.append(f"since {ref.occurred}, {days:,} day{'s' if days != 1 else ''}")
            line += f" ({', '.join(about)})"
        owed_lines.append(line)
    lines += _capped(owed_lines, everything, "owed moves")
    lines += ["", "Permitted next steps:"]
    step_lines = []
    for step in state.next_steps(retractions=everything):  # with --all, which events may be retracted
        who = "anyone" if step.actors is None else "by " + ", ".join(step.actors)
        refs = list(map(repr, step.refs))
        if len(refs) > SHOWN and not everything:
            refs = [*refs[:SHOWN], f"... {len(step.refs) - SHOWN} more"]
        step_lines.append(f"  {step.type:<26} {who}" + (f" on {', '.join(refs)}" if refs else ""))
    lines += _capped(step_lines, everything, "next steps")
    if not everything and state.events:  # the last event may always be retracted
        lines.append("  (and retractions: --all lists the events that may be retracted)")
    overdue = state.overdue()
    if overdue:
        lines += ["", "Overdue deadlines:"]
        overdue_lines = [f"  {d.id}: due {d.deadline}" + (f" from {d.actor}" if d.actor else "") for d in overdue]
        lines += _capped(overdue_lines, everything, "overdue deadlines")
    if state.rejected:
        lines += ["", f"Skipped ({len(state.rejected)} events not permitted):"]
        lines += _capped([f"  {e}" for e in state.rejected], everything, "skipped events")
    return printable("\n".join(lines))


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@_cutoff_options
@negotiation_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines events instead of text.")
def timeline(log: str, as_of: str | None, known_at: str | None, negotiation: str | None, as_json: bool) -> None:
    """Print the events of LOG (a log file, or a store DB and a NEGOTIATION) sorted by when they occurred."""
    state = load_state(log, negotiation=negotiation, as_of=as_of, known_at=known_at, lenient=False)
    for event in state.timeline:
        if as_json:
            click.echo(json.dumps(event.to_dict(), ensure_ascii=False))
        else:
            click.echo(printable(f"{event.occurred!s:<12} {event.TYPE:<26} {describe(event)}  [{event.id}]"))


@cli.command()
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@negotiation_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of errors.")
def check(log: str, negotiation: str | None, as_json: bool) -> None:
    """Report every error in LOG (a log file, or a store DB); exit 1 if there is any.

    A log's fields that its types do not define are reported too, as warnings on stderr:
    they are kept (in the event's extra), and are often typos.
    """
    unknown: list[UnknownField] = []
    try:
        if is_store(log) and log != STDIN:
            errors = check_store_file(log, negotiation)
        else:
            source = sys.stdin.buffer if log == STDIN else log
            read = read_log(
                source, negotiation=negotiation, collect_errors=True, name="<stdin>" if log == STDIN else None
            )
            errors = errors_in(read, negotiation)
            unknown = unknown_fields(read, negotiation)
    except NegotiationError as e:
        _fail(e)
    for warning in unknown:
        click.echo(printable(f"warning: {warning}"), err=True)
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
            click.echo(printable(str(error)), err=True)
        warned = f", {len(unknown)} unknown field{'s' if len(unknown) != 1 else ''}" if unknown else ""
        click.echo(f"{log}: {len(errors)} error{'s' if len(errors) != 1 else ''}{warned}", err=bool(errors))
    if errors:
        sys.exit(1)


#: What a log line holds for each declared field type, in the contract's words.
_JSON_KINDS = {
    "str": "text",
    "str | int | None": "text or integer",
    "bool": "true or false",
    "PartialDate": "date",
    "tuple[str, ...]": "list of texts",
    "FrozenMap[str, Stance] | None": "object: item -> stance (" + ", ".join(s.value for s in Stance) + ")",
    "Source | None": "object: any of title, outlet, url, published, quote",
    "dt.datetime | None": "date-time with a UTC offset",
}
#: Fields that name earlier events of the negotiation.
_EVENT_IDS = frozenset({"ref", "amends", "keeps_open"})


def json_kind(cls: type[Any], field: attrs.Attribute[Any]) -> str:
    """What a log line writes for ``field`` of event type ``cls``: a party, an event id, a
    date, one of an enumeration's values, ..."""
    declared = str(field.type).removesuffix(" | None")
    listed = declared == "tuple[str, ...]"
    if field.name in PARTY_FIELDS[cls]:
        return "list of parties" if listed else "party"
    if field.name in _EVENT_IDS:
        return "list of event ids" if listed else "event id"
    values = getattr(vocabulary, declared, None)
    if isinstance(values, type) and issubclass(values, enum.Enum):
        return "one of: " + ", ".join(str(v.value) for v in values)
    return _JSON_KINDS.get(declared, _JSON_KINDS.get(str(field.type), declared))


def describe_type(name: str) -> dict[str, Any]:
    """What the contract says of an event type, as data: its fields (with what a log line
    writes for each), the fields that name parties, and its rule (the stages that permit it,
    where each leads, and its constraints)."""
    cls = EVENT_TYPES[name]
    rule = RULES[name]
    fields = [
        {"name": f.name, "type": str(f.type), "json": json_kind(cls, f), "required": f.default is attrs.NOTHING}
        for f in attrs.fields(cls)
        if f.name != "extra"
    ]
    transitions = []
    for (stage, kind), branches in TABLE.items():
        if kind != name:
            continue
        for conditions, dest in branches:
            when = [guard.__name__ if wanted else f"not {guard.__name__}" for guard, wanted in conditions]
            transitions.append({"from": stage.value, "to": (dest or stage).value, "when": when})
    return {
        "type": name,
        "summary": (cls.__doc__ or "").strip().splitlines()[0],
        "fields": fields,
        "parties": list(PARTY_FIELDS[cls]),
        "rule": {
            "stages": [s.value for s in Stage if any(t["from"] == s.value for t in transitions)]
            if name != "EventRetracted"
            else [s.value for s in Stage if s is not Stage.IDLE],
            "transitions": transitions,
            "party_only": rule.party_only,
            "outsider_may_make_it": rule.outsider,
            "meets_deadlines": rule.settles,
        },
    }


@cli.command()
@click.argument("name", metavar="[TYPE]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def types(name: str | None, as_json: bool) -> None:
    """List the event types of the contract, or print one TYPE's fields, roles and rule."""
    if name is not None and name not in EVENT_TYPES:
        msg = f"{name!r} is not an event type; expected one of: {', '.join(EVENT_TYPES)}"
        raise click.BadParameter(msg, param_hint="TYPE")
    described = [describe_type(n) for n in ([name] if name else EVENT_TYPES)]
    if as_json:
        _emit_json(described[0] if name else described)
        return
    if name is None:
        for d in described:
            required = ", ".join(f["name"] for f in d["fields"] if f["required"])
            click.echo(f"{d['type']:<27} {d['summary']}  [{required}]")
        return
    d = described[0]
    lines = [f"{d['type']}: {d['summary']}", "", "Fields (* required):"]
    lines += [f"  {'*' if f['required'] else ' '} {f['name']:<12} {f['json']}" for f in d["fields"]]
    lines += ["", f"Parties named in: {', '.join(d['parties']) or 'none (it names no party)'}", "", "Rule:"]
    if d["type"] == "EventRetracted":
        lines.append("  permitted in every stage but idle; replay leaves the retracted event out")
    for t in d["rule"]["transitions"]:
        when = f" when {' and '.join(t['when'])}" if t["when"] else ""
        move = "stays" if t["from"] == t["to"] else f"-> {t['to']}"
        lines.append(f"  in {t['from']}: {move}{when}")
    flags = d["rule"]
    if flags["party_only"]:
        lines.append("  only a party to the talks may make it")
    if flags["outsider_may_make_it"]:
        lines.append("  an outsider may make it (it does not make its actor a party)")
    if flags["meets_deadlines"]:
        lines.append("  it meets a deadline set on what it references")
    lines.append("  (docs/contract.md states the checks on its fields and references)")
    click.echo("\n".join(lines))


@cli.command()
@click.option("--full", is_flag=True, help="Draw the neutral events' self-loops in every stage too.")
@click.option(
    "--format",
    "kind",
    type=click.Choice(["mermaid", "svg", "png", "pdf"]),
    help="Mermaid text (the default), or a picture: svg, png or pdf (needs matplotlib and --output).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write to this file (whole or not at all); without --format its suffix names the format.",
)
def diagram(full: bool, kind: str | None, output: str | None) -> None:
    """Print the stage machine as a Mermaid state diagram, or draw it as a picture.

    With --format svg, png or pdf (or --output FILE ending in .svg, .png or .pdf) the diagram
    is drawn with matplotlib (pip install 'negotiation[charts]') into FILE.
    """
    from pathlib import Path

    from negotiation import figures

    to_stdout = output is None or output == "-"
    if kind is None:
        suffix = "" if output is None or to_stdout else Path(output).suffix.lower().lstrip(".")
        if to_stdout or suffix in ("mmd", "mermaid"):
            kind = "mermaid"
        elif suffix in figures.FORMATS:
            kind = suffix
        else:
            msg = (
                f"cannot tell the format from the file name {output!r}: give --format "
                f"(mermaid, {', '.join(figures.FORMATS)}) or a file ending in .mmd, .svg, .png or .pdf"
            )
            raise click.UsageError(msg)
    if kind == "mermaid":
        text = machine_diagram(full=full)
        if output is None or to_stdout:
            click.echo(text, nl=False)
            return
        try:
            figures.write_whole(output, text.encode("utf-8"))
        except NegotiationError as e:
            _fail(e)
        return
    if output is None or to_stdout:
        msg = f"--format {kind} draws a picture: name the file to write it to with -o/--output FILE"
        raise click.UsageError(msg)
    try:
        figures.draw_diagram(output, format=kind, full=full)
    except NegotiationError as e:
        _fail(e)


cli.add_command(simulate_command)
cli.add_command(paths_command)
cli.add_command(append_command)
cli.add_command(export_command)
cli.add_command(list_command)
cli.add_command(verify_command)
cli.add_command(head_command)
cli.add_command(copy_command)
cli.add_command(datasette_metadata_command)
cli.add_command(report_command)
cli.add_command(chart_command)


def main() -> None:
    """The console script: run the CLI; an unexpected error is one line, never a traceback.

    Output is UTF-8 whatever the locale says (a log exported through a cp1252 stdout must
    re-import); Ctrl-C ends the command with exit code 130 and one line.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")
    try:
        code = cli.main(prog_name="negotiation", standalone_mode=False)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as e:  # the last line of defence: no traceback reaches a CLI user
        click.echo(printable(f"Error: internal error: {type(e).__name__}: {e} (please report this)"), err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
