"""The ``simulate`` and ``paths`` commands: thin edges over :mod:`negotiation.simulation`.

Registered on the ``negotiation`` group by :mod:`negotiation.cli`, which turns a library error
into one line on stderr and exit code 1. Each parses its arguments, replays the log, calls one
library function and formats the result (a table for a person, JSON with ``--json``, JSON
Lines events for ``paths``).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from negotiation.cli_store import STDIN, is_store, load_state, negotiation_option, printable, read_cli_log
from negotiation.codec import dump_event
from negotiation.errors import NegotiationError
from negotiation.machine import Stage

if TYPE_CHECKING:  # the simulation imports Hypothesis: only the commands that need it load it
    from negotiation.simulation import ShortestPaths, SimulationResult

__all__ = ["format_paths", "format_simulation", "paths_command", "simulate_command"]


def _fail(error: Exception) -> NoReturn:
    raise click.ClickException(printable(str(error))) from None


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


_negotiation_option = click.option(
    "--negotiation",
    "-n",
    metavar="ID",
    help="The negotiation to use when the log holds several (default: the only one).",
)


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def format_simulation(result: SimulationResult, *, as_of: str | None = None, policy_name: str = "default") -> str:
    """The outcome of a simulation as tables for a person."""
    data = result.to_dict()  # the shares and step statistics
    when = f" as of {as_of}" if as_of else ""
    lines = [
        f"{result.negotiation}{when}: stage {result.start.value}; {result.runs} runs of at most "
        f"{result.max_steps} steps, seed {result.seed}, policy {policy_name}",
        f"{result.events} events simulated; runs ended: "
        + ", ".join(f"{why} {count}" for why, count in result.ended.items()),
        "",
        f"{'final stage':<18}{'runs':>8}{'share':>9}",
    ]
    lines += [f"{stage:<18}{final['runs']:>8}{_percent(final['share']):>9}" for stage, final in data["final"].items()]
    lines += [
        "",
        "Steps to first reach each stage (runs that reached it):",
        f"{'stage':<18}{'runs':>8}{'share':>9}{'min':>6}{'median':>8}{'mean':>8}{'max':>6}",
    ]
    lines += [
        f"{stage:<18}{r['runs']:>8}{_percent(r['share']):>9}{r['min']:>6}{r['median']:>8g}{r['mean']:>8.1f}{r['max']:>6}"
        for stage, r in data["reached"].items()
    ]
    return "\n".join(lines)


@click.command("simulate")
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--as-of", metavar="DATE", help="Start from the state as of this date (YYYY, YYYY-MM, YYYY-MM-DD or a date-time)."
)
@negotiation_option
@click.option("--runs", type=click.IntRange(min=1), required=True, metavar="N", help="How many runs.")
@click.option("--steps", type=click.IntRange(min=1), required=True, metavar="K", help="At most this many events a run.")
@click.option(
    "--policy",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Weights of the next steps by event type and party (TOML or JSON; see the README). Default: every type 1, retractions 0.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random generator.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (counts, shares, step statistics).")
def simulate_command(
    log: str,
    as_of: str | None,
    negotiation: str | None,
    runs: int,
    steps: int,
    policy: str | None,
    seed: int,
    as_json: bool,
) -> None:
    """Monte Carlo: RUNS continuations of LOG (a log file, -, or a store DB and a NEGOTIATION)
    of at most STEPS events each.

    Prints how many runs ended in each stage, and how many steps the runs took to first reach
    each stage. The same seed gives the same output.
    """
    from negotiation.simulation import Policy, simulate

    try:
        state = load_state(log, negotiation=negotiation, as_of=as_of)
        rules = Policy.of(policy)
        with click.progressbar(length=runs, label="Simulating", file=sys.stderr, show_pos=True) as bar:
            result = simulate(state, rules, runs=runs, max_steps=steps, seed=seed, progress=lambda n: bar.update(n))
    except NegotiationError as e:
        _fail(e)
    if as_json:
        data = result.to_dict()
        data["as_of"] = None if state.as_of is None else str(state.as_of)
        _emit_json(data)
    else:
        click.echo(format_simulation(result, as_of=as_of, policy_name=policy or "default"))


def format_paths(found: ShortestPaths) -> list[tuple[str, list[str]]]:
    """Each path as (a header for a person, its JSON Lines events)."""
    count = len(found.paths)
    out = []
    for number, path in enumerate(found.paths, start=1):
        events = "event" if len(path) == 1 else "events"
        header = f"path {number} of {count} from {found.start.value} to {found.to.value}: {len(path)} {events}"
        out.append((header, [dump_event(e) for e in path]))
    return out


@click.command("paths")
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--to",
    "to_stage",
    type=click.Choice([s.value for s in Stage]),
    required=True,
    metavar="STAGE",
    help="The stage to reach.",
)
@click.option("--as-of", metavar="DATE", help="Start from the state as of this date.")
@negotiation_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Print at most this many paths."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every path.")
def paths_command(
    log: str, to_stage: str, as_of: str | None, negotiation: str | None, limit: int, as_json: bool
) -> None:
    """Print the shortest event sequences that take LOG (a log file, -, or a store DB and a
    NEGOTIATION) to STAGE.

    Each path is printed as JSON Lines events, ready to append to the log; paths are separated
    by a blank line and described on stderr. With --limit 1 the output is one path:

    \b
        negotiation paths LOG --to text_agreed --limit 1 >> LOG

    Exits 1 when the stage is unreachable (with --json: "reachable": false, exit 0).
    """
    from negotiation.simulation import shortest_paths

    try:
        source: Any = log
        if log == STDIN or not is_store(log):  # read once (standard input cannot be read twice)
            source = read_cli_log(log, negotiation)
            negotiation = source.select(negotiation)
        state = load_state(source, negotiation=negotiation, as_of=as_of)
        everything = load_state(source, negotiation=negotiation, as_of=None, lenient=True)
        taken = [e.id for e in (*everything.events, *everything.retractions, *everything.retracted)]
        taken += [e.event_id for e in everything.rejected if e.event_id is not None]
        found = shortest_paths(state, to_stage, limit=limit, reserved=taken)
    except NegotiationError as e:
        _fail(e)
    if as_json:
        _emit_json(found.to_dict())
        return
    if not found.reachable:
        msg = f"stage {found.to.value!r} is unreachable from {found.start.value!r} ({found.negotiation})"
        raise click.ClickException(msg)
    for number, (header, lines) in enumerate(format_paths(found)):
        if number:
            click.echo("")
        click.echo(header, err=True)
        for line in lines:
            click.echo(line)
