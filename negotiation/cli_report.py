"""``negotiation report`` and ``negotiation chart``: a negotiation to look at and share.

``report`` writes one HTML page, ``chart`` a figure (SVG, PNG or PDF); both are written whole
or not at all (into a temporary file beside the output, renamed over it at the end), like
``export -o``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from negotiation.chart import draw_timeline
from negotiation.cli_store import (
    PROGRESS_FROM,
    STDIN,
    check_output,
    is_store,
    load_events,
    negotiation_option,
    printable,
    replaced,
)
from negotiation.errors import EventRejected, NegotiationError
from negotiation.figures import FORMATS, figure_format, require_matplotlib
from negotiation.report import FRAMES, render_report, report_data

__all__ = ["chart_command", "report_command"]


def _data(log: str, negotiation: str | None, frames: int) -> dict[str, object]:
    """The report's data of the negotiation LOG names; an error becomes one line naming where."""
    try:
        name, events, parsed = load_events(log, negotiation=negotiation)
        try:
            if len(events) < PROGRESS_FROM:
                return report_data(events, name, frames=frames)
            with click.progressbar(length=1, label=f"Replaying {log}", file=sys.stderr) as bar:

                def progress(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(done - bar.pos)

                return report_data(events, name, frames=frames, progress=progress)
        except EventRejected as e:
            raise (parsed.locate(e, name) if parsed is not None else e) from None
    except NegotiationError as e:
        raise click.ClickException(printable(str(e))) from None
    except ValueError as e:  # an empty log
        raise click.ClickException(printable(f"{log}: {e}")) from None


def _check_target(target: Path, log: str) -> None:
    """Refuse an output that is the input (the store or the log) or in a missing directory."""
    if log != STDIN and is_store(log):
        check_output(target, log)
    elif log != STDIN and target.exists() and target.resolve() == Path(log).resolve():
        msg = f"--output {printable(str(target))}: that is the log itself; choose another file"
        raise click.ClickException(msg)
    elif not target.parent.is_dir():
        check_output(target, log)  # names the missing directory


@click.command("report")
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@negotiation_option
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), required=True, help="The HTML file to write (e.g. report.html)."
)
@click.option(
    "--frames",
    type=click.IntRange(min=1),
    default=FRAMES,
    show_default=True,
    help="At most this many dates for the slider: every date an event occurred on, or this many spread over them.",
)
def report_command(log: str, negotiation: str | None, output: str, frames: int) -> None:
    """Write a report page of LOG (a log file, - for standard input, or a store DB and a
    NEGOTIATION): one HTML file with its script inline, that loads nothing from the network.

    It shows a timeline with one lane per party (mediators and other roles apart), each
    event a mark by type and linked to what it answers; the stage over time; each agreed
    text's life; and a date slider that moves "as of" and updates the stage, the owed moves
    (with days pending), the next steps and the overdue deadlines, as `status --as-of` says
    them. Point at an event for its details and source.
    """
    target = Path(output)
    _check_target(target, log)
    page = render_report(_data(log, negotiation, frames))
    with replaced(target) as out:
        out.write(page)
    click.echo(f"{output}: the report of {printable(log)}", err=True)


@click.command("chart")
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True))
@negotiation_option
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), required=True, help="The file to write: .svg, .png or .pdf."
)
@click.option(
    "--format",
    "kind",
    type=click.Choice(FORMATS),
    help="The figure's format (default: the one the output's suffix names).",
)
def chart_command(log: str, negotiation: str | None, output: str, kind: str | None) -> None:
    """Draw the timeline of LOG (a log file, - for standard input, or a store DB and a
    NEGOTIATION) as a static figure for a paper or a slide: SVG, PNG or PDF.

    The report's timeline without its slider: the stage over time, each agreed text's life,
    one lane per party (other roles apart), each event a mark by type, linked to what it
    answers. Needs matplotlib: pip install 'negotiation[charts]'.
    """
    try:
        figure_format(output, kind)
        require_matplotlib()
    except NegotiationError as e:
        raise click.ClickException(printable(str(e))) from None
    target = Path(output)
    _check_target(target, log)
    data = _data(log, negotiation, FRAMES)
    try:
        draw_timeline(data, target, format=kind)
    except NegotiationError as e:
        raise click.ClickException(printable(f"--output {output}: {e}")) from None
    click.echo(f"{output}: the timeline of {printable(log)}", err=True)
