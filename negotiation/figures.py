"""The home of the matplotlib figures: pictures for people, written as SVG, PNG or PDF.

:func:`draw_diagram` draws the stage machine of :mod:`negotiation.machine`: the stages as
rounded boxes at hand-set positions (:data:`LAYOUT`), one curved arrow per (source,
destination) pair labelled with the event types that take it.

matplotlib is optional (the ``charts`` extra: ``pip install 'negotiation[charts]'``); nothing
here imports it before a figure is drawn, and :func:`require_matplotlib` turns its absence
into a :class:`~negotiation.errors.NegotiationError` saying what to install. Figures are drawn
off screen (a :class:`~matplotlib.figure.Figure` on the Agg canvas, never ``pyplot``, so a
caller's own backend and figures are left alone) and written whole or not at all by
:func:`save_figure`: into a temporary file beside the target, renamed over it once complete.
The same figure gives the same bytes every time (no dates in the metadata, a fixed SVG hash
salt, text kept as text in SVG).
"""

from __future__ import annotations

import math
import os
import tempfile
import textwrap
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO

from negotiation.errors import NegotiationError
from negotiation.events import EVENT_TYPES
from negotiation.machine import NEUTRAL_TYPES, PAUSED_STAGES, TABLE, Stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FORMATS",
    "LAYOUT",
    "diagram_labels",
    "draw_diagram",
    "figure_format",
    "new_figure",
    "require_matplotlib",
    "save_figure",
    "write_whole",
]

#: The picture formats a figure is written in; the file suffix names one of them.
FORMATS: tuple[str, ...] = ("svg", "png", "pdf")

#: What the command names when matplotlib is missing.
INSTALL_HINT = "pip install 'negotiation[charts]'"

#: Where each stage's box stands (x, y: its centre, in units of about a box height). The main
#: path runs along the top row, to ``framework_agreed``, then along the bottom one from
#: ``text_agreed``; the paused stages stand apart, in between. A stage missing here stops :func:`draw_diagram` (no stage may vanish silently).
LAYOUT: Mapping[Stage, tuple[float, float]] = {
    Stage.IDLE: (0.0, 10.0),
    Stage.EXPLORATION: (3.9, 10.0),
    Stage.PROPOSAL_OPEN: (7.8, 10.0),
    Stage.TALKS: (11.7, 10.0),
    Stage.FRAMEWORK_AGREED: (15.6, 10.0),
    Stage.TEXT_AGREED: (7.8, 2.0),
    Stage.SIGNED: (11.7, 2.0),
    Stage.RATIFYING: (15.6, 2.0),
    Stage.IN_FORCE: (19.5, 2.0),
    Stage.TERMINATED: (23.4, 2.0),
    Stage.SUSPENDED: (2.0, 6.0),
    Stage.BROKEN_OFF: (18.5, 6.0),
    Stage.LAPSED: (23.0, 6.0),
}

#: The label standing for every neutral type (the footnote lists them).
NEUTRAL_LABEL = "neutral events"
#: What the default diagram says of the neutral types' self-loops it leaves out (as the Mermaid one).
NEUTRAL_NOTE = (
    "contacts, consultations, statements, disclosures and deadlines are recorded in every stage and change none"
)
_BOX_WIDTH, _BOX_HEIGHT = 2.4, 0.7
_INCH = 0.66  # inches per unit of LAYOUT
_LABEL_WIDTH = 24  # characters per line of an arrow's label (a self-loop's: twice that)
_BULGE = 0.3  # how far an arrow's middle stands off the straight line (opposite arrows: twice that apart)
_ROUND_BOXES = 0.8  # how far an arrow along a row stands off it, to pass around the boxes between
_LABEL_BOX: Mapping[str, Any] = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
_METADATA: Mapping[str, Mapping[str, Any]] = {
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
    "png": {},
}


# -- shared by every figure ------------------------------------------------------------------


def require_matplotlib() -> ModuleType:
    """Import matplotlib, or raise :class:`NegotiationError` naming the ``charts`` extra.

    Figures are drawn with :func:`new_figure` on the Agg canvas, so no backend is chosen here
    and a caller's interactive one keeps working.
    """
    try:
        import matplotlib
        import matplotlib.figure  # fails too when a part of matplotlib is missing
    except ImportError as e:
        msg = f"drawing figures needs matplotlib ({e}); install it with: {INSTALL_HINT}"
        raise NegotiationError(msg) from None
    return matplotlib


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on the Agg canvas (off screen, no pyplot)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout=None)
    FigureCanvasAgg(figure)
    return figure


@contextmanager
def figure_style() -> Iterator[None]:
    """matplotlib's default style (not the user's matplotlibrc), with text kept as text in SVG
    and a fixed hash salt, so the same figure gives the same bytes."""
    require_matplotlib()
    from matplotlib import rc_context, style

    with style.context("default"), rc_context({"svg.hashsalt": "negotiation", "svg.fonttype": "none"}):
        yield


def figure_format(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format to write ``path`` in: ``format`` if given, else the one its suffix names.

    Raises:
        NegotiationError: an unknown format, or no format and a suffix that names none.
    """
    if format is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix not in FORMATS:
            msg = (
                f"cannot tell the format from the suffix of {os.fspath(path)!r}: name it (one of {', '.join(FORMATS)})"
            )
            raise NegotiationError(msg)
        return suffix
    if format not in FORMATS:
        msg = f"unknown figure format {format!r}: expected one of {', '.join(FORMATS)}"
        raise NegotiationError(msg)
    return format


def save_figure(figure: Figure, path: str | os.PathLike[str], *, format: str | None = None) -> None:
    """Write ``figure`` to ``path`` whole or not at all, without dates in its metadata.

    It is written into a temporary file beside ``path`` that replaces ``path`` once complete;
    an error on the way removes the temporary file and leaves ``path`` as it was.

    Raises:
        NegotiationError: the format is unknown, or the file cannot be written there.
    """
    kind = figure_format(path, format)
    with _replaced(path) as handle, figure_style():
        figure.savefig(handle, format=kind, metadata=dict(_METADATA[kind]))


def write_whole(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (as :func:`save_figure` writes a figure).

    Raises:
        NegotiationError: the file cannot be written there.
    """
    with _replaced(path) as handle:
        handle.write(data)


@contextmanager
def _replaced(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A temporary file beside ``path`` to write into; it replaces ``path`` if the block succeeds
    and is removed if it fails, leaving ``path`` as it was."""
    target = Path(path)
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        msg = f"cannot write there: {e.strerror}"
        raise NegotiationError(msg, path=os.fspath(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        umask = os.umask(0)  # mkstemp made it private; the file gets the usual permissions
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        try:
            os.replace(temporary, target)
        except OSError as e:
            msg = f"cannot write there: {e.strerror}"
            raise NegotiationError(msg, path=os.fspath(path)) from None
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


# -- the stage machine -----------------------------------------------------------------------


def _pairs(full: bool) -> dict[tuple[Stage, Stage], dict[str, bool]]:
    """``(source, destination) -> {event type: guarded}``, from the compiled table.

    A type is guarded on a pair when every branch taking it there has a condition. Unless
    ``full``, the neutral types' self-loops are left out (as in the Mermaid diagram).
    """
    pairs: dict[tuple[Stage, Stage], dict[str, bool]] = {}
    for (source, kind), branches in TABLE.items():
        for conditions, dest in branches:
            target = source if dest is None else dest
            if not full and kind in NEUTRAL_TYPES and target == source:
                continue
            types = pairs.setdefault((source, target), {})
            types[kind] = types.get(kind, True) and bool(conditions)
    order = list(EVENT_TYPES)
    return {pair: dict(sorted(types.items(), key=lambda item: order.index(item[0]))) for pair, types in pairs.items()}


def diagram_labels(*, full: bool = False) -> dict[tuple[Stage, Stage], str]:
    """The label of each arrow of the diagram: ``(source, destination) -> text``.

    The event types that take the arrow, in the contract's order, joined by commas and wrapped
    to short lines; a type marked ``*`` takes it only under a condition; all the
    neutral types together are written ``neutral events``. Unless ``full``, the neutral types'
    self-loops are left out.
    """
    labels = {}
    for pair, types in _pairs(full).items():
        names = [f"{kind}*" if guarded else kind for kind, guarded in types.items() if kind not in NEUTRAL_TYPES]
        neutral = [kind for kind in types if kind in NEUTRAL_TYPES]
        if len(neutral) == len(NEUTRAL_TYPES):
            names.insert(0, NEUTRAL_LABEL)
        else:
            names = [*neutral, *names]
        width = _LABEL_WIDTH * (2 if pair[0] == pair[1] else 1)
        labels[pair] = textwrap.fill(", ".join(names), width=width, break_long_words=False)
    return labels


def _positions() -> dict[Stage, tuple[float, float]]:
    missing = [stage.value for stage in Stage if stage not in LAYOUT]
    if missing:
        msg = (
            f"the diagram has no position for the stage(s) {', '.join(missing)}: add them to negotiation.figures.LAYOUT"
        )
        raise LookupError(msg)
    return {stage: LAYOUT[stage] for stage in Stage}


def draw_diagram(path: str | os.PathLike[str], *, format: str | None = None, full: bool = False) -> None:
    """Draw the stage machine as a picture and write it to ``path``.

    Args:
        path: the file to write (whole or not at all; see :func:`save_figure`).
        format: ``svg``, ``png`` or ``pdf``; by default the one the suffix of ``path`` names.
        full: draw the neutral types' self-loops in every stage too (by default a note says
            they are recorded in every stage and change none).

    Raises:
        NegotiationError: matplotlib is missing, the format is unknown, or ``path`` cannot be
            written.
        LookupError: a stage has no position in :data:`LAYOUT`.
    """
    kind = figure_format(path, format)
    positions = _positions()
    labels = diagram_labels(full=full)
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    limits = (min(xs) - 1.6, max(xs) + 1.6), (min(ys) - 4.0, max(ys) + 2.2)
    with figure_style():
        figure = new_figure(_INCH * (limits[0][1] - limits[0][0]), _INCH * (limits[1][1] - limits[1][0]))
        axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
        axes.set_xlim(*limits[0])
        axes.set_ylim(*limits[1])
        _draw_machine(axes, positions, labels, full=full)
    save_figure(figure, path, format=kind)


_COLOURS = {
    "box": "#e8f0fa",
    "edge": "#3b5b85",
    "paused": "#fbeedd",
    "paused_edge": "#b07a2a",
    "terminal": "#e4e4e4",
    "arrow": "#333333",
    "pause_arrow": "#c08a3a",
    "resume_arrow": "#5a8f5a",
}


def _blossom(
    start: tuple[float, float], control: tuple[float, float], end: tuple[float, float], u: float, v: float
) -> tuple[float, float]:
    """The blossom of the quadratic Bezier curve: the curve's point at ``t`` for ``u = v = t``, and for
    ``u != v`` the control point of its piece between ``u`` and ``v``."""
    a, b, c = (1 - u) * (1 - v), (1 - u) * v + u * (1 - v), u * v
    return (a * start[0] + b * control[0] + c * end[0], a * start[1] + b * control[1] + c * end[1])


def _leaves(
    start: tuple[float, float],
    control: tuple[float, float],
    end: tuple[float, float],
    centre: tuple[float, float],
    *,
    forward: bool,
) -> float:
    """Where (``t``) the curve crosses the edge of the box around ``centre``: leaving it if
    ``forward`` (the source's box), else entering it (the destination's)."""
    half_width, half_height = _BOX_WIDTH / 2 + 0.04, _BOX_HEIGHT / 2 + 0.04
    inside, outside = (0.0, 1.0) if forward else (1.0, 0.0)
    for _ in range(30):
        t = (inside + outside) / 2
        x, y = _blossom(start, control, end, t, t)
        if abs(x - centre[0]) <= half_width and abs(y - centre[1]) <= half_height:
            inside = t
        else:
            outside = t
    return outside


def _draw_machine(
    axes: Axes, positions: Mapping[Stage, tuple[float, float]], labels: Mapping[tuple[Stage, Stage], str], *, full: bool
) -> None:
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as CurvePath

    terminal = {stage for stage in Stage if not any(s == stage and d != stage for s, d in labels)}
    for stage, (x, y) in positions.items():
        paused = stage in PAUSED_STAGES
        face = _COLOURS["terminal"] if stage in terminal else _COLOURS["paused" if paused else "box"]
        edge = _COLOURS["paused_edge" if paused else "edge"]
        box = FancyBboxPatch(
            (x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2),
            _BOX_WIDTH,
            _BOX_HEIGHT,
            boxstyle="round,pad=0,rounding_size=0.25",
            facecolor=face,
            edgecolor=edge,
            linewidth=1.4,
            linestyle="--" if paused else "-",
            zorder=3,
        )
        axes.add_patch(box)
        if stage in terminal:  # a second outline, as a final state in a state chart
            axes.add_patch(
                FancyBboxPatch(
                    (x - _BOX_WIDTH / 2 - 0.1, y - _BOX_HEIGHT / 2 - 0.1),
                    _BOX_WIDTH + 0.2,
                    _BOX_HEIGHT + 0.2,
                    boxstyle="round,pad=0,rounding_size=0.3",
                    facecolor="none",
                    edgecolor=edge,
                    linewidth=1.4,
                    zorder=3,
                )
            )
        name = f"{stage.value}\n(final)" if stage in terminal else stage.value
        axes.text(x, y, name, ha="center", va="center", fontsize=10.5, fontweight="bold", zorder=4, linespacing=1.1)

    start_x, start_y = positions[Stage.IDLE]
    axes.add_patch(
        FancyArrowPatch(
            (start_x, start_y + 1.4),
            (start_x, start_y + _BOX_HEIGHT / 2 + 0.03),
            arrowstyle="-|>",
            mutation_scale=12,
            color=_COLOURS["arrow"],
            zorder=2,
        )
    )
    axes.plot([start_x], [start_y + 1.4], marker="o", markersize=8, color=_COLOURS["arrow"], zorder=2)

    middle = sum(y for _, y in positions.values()) / len(positions)
    # a label that several arrows into one stage share is written once, near their heads
    shared = Counter((dest, label) for (source, dest), label in labels.items() if source != dest)
    bundles: dict[tuple[Stage, str], list[tuple[float, float]]] = {}
    grouped: dict[tuple[Stage, str], list[str]] = {}  # (paused stage, in or out) -> labels, drawn once
    for (source, dest), label in labels.items():
        colour = _COLOURS["arrow"]
        group: tuple[Stage, str] | None = None
        if dest in PAUSED_STAGES and source not in PAUSED_STAGES:
            colour, group = _COLOURS["pause_arrow"], (dest, "in")
        elif source in PAUSED_STAGES and dest not in PAUSED_STAGES:
            colour, group = _COLOURS["resume_arrow"], (source, "out")
        sx, sy = positions[source]
        if source == dest:
            side = 1.0 if sy >= middle else -1.0  # above the upper stages, below the lower ones
            edge_y = sy + side * _BOX_HEIGHT / 2
            start, end = (sx - 0.45 * side, edge_y), (sx + 0.45 * side, edge_y)
            label_xy = (sx, edge_y + side * 0.72)
            arrow = FancyArrowPatch(
                start, end, connectionstyle="arc3,rad=-1.4", arrowstyle="-|>", mutation_scale=11, color=colour
            )
            va = "bottom" if side > 0 else "top"
        else:
            tx, ty = positions[dest]
            dx, dy = tx - sx, ty - sy
            length = math.hypot(dx, dy)
            rad = 2 * _BULGE / length  # the same bulge whatever the length
            if abs(dy) < 0.01 and abs(dx) > 1.5 * _BOX_WIDTH + 1:  # around the boxes between, toward the middle
                rad = math.copysign(2 * _ROUND_BOXES / length, (sy - middle) * dx)
            control = (sx + dx / 2 + rad * dy, sy + dy / 2 - rad * dx)
            # the curve between the boxes (clipping it here is quicker than matplotlib's patchA/patchB)
            t0 = _leaves((sx, sy), control, (tx, ty), (sx, sy), forward=True)
            t1 = _leaves((sx, sy), control, (tx, ty), (tx, ty), forward=False)
            points = [_blossom((sx, sy), control, (tx, ty), u, v) for u, v in ((t0, t0), (t0, t1), (t1, t1))]
            arrow = FancyArrowPatch(
                path=CurvePath(points, [CurvePath.MOVETO, CurvePath.CURVE3, CurvePath.CURVE3]),
                arrowstyle="-|>",
                mutation_scale=11 if group is None else 9,
                color=colour,
                linewidth=1.0 if group is None else 0.7,
                alpha=1.0 if group is None else 0.75,
            )
            va = "center"
            t = 0.5 if shared[(dest, label)] < 2 else max(0.5, 1 - 1.9 / length)
            label_xy = _blossom((sx, sy), control, (tx, ty), t, t)
        arrow.set_zorder(1)
        axes.add_patch(arrow)
        if group is not None:
            if label not in grouped.setdefault(group, []):
                grouped[group].append(label)
        elif source != dest and shared[(dest, label)] > 1:
            bundles.setdefault((dest, label), []).append(label_xy)
        else:
            axes.text(
                *label_xy,
                label,
                ha="center",
                va=va,
                fontsize=6.5,
                color=colour,
                zorder=5,
                linespacing=1.05,
                bbox=_LABEL_BOX,
            )
    for (_, label), points in bundles.items():
        x = sum(p[0] for p in points) / len(points)
        y = sum(p[1] for p in points) / len(points)
        axes.text(
            x, y, label, ha="center", va="center", fontsize=6.5, color=_COLOURS["arrow"], zorder=5, bbox=_LABEL_BOX
        )
    for (stage, way), texts in grouped.items():  # under the paused stage's box: what comes in, what goes out
        x, y = positions[stage]
        colour = _COLOURS["pause_arrow" if way == "in" else "resume_arrow"]
        axes.text(
            x,
            y - _BOX_HEIGHT / 2 - (0.12 if way == "in" else 0.45),
            f"{way}: {', '.join(texts)}",
            ha="center",
            va="top",
            fontsize=7,
            color=colour,
            fontweight="bold",
            zorder=5,
            bbox=_LABEL_BOX,
        )

    (left, _), (bottom, top) = axes.get_xlim(), axes.get_ylim()
    notes = [
        "* only under a condition (`negotiation diagram` prints the Mermaid text, which names it)",
        textwrap.fill(f"{NEUTRAL_LABEL}: {', '.join(NEUTRAL_TYPES)}", width=170),
    ]
    if not full:
        notes.insert(0, f"Not drawn: the self-loops of the neutral events; {NEUTRAL_NOTE}.")
    axes.text(
        left + 0.3, bottom + 0.2, "\n".join(notes), ha="left", va="bottom", fontsize=8, color="#444444", linespacing=1.3
    )
    axes.text(left + 0.3, top - 0.3, "negotiation stages", fontsize=15, fontweight="bold", va="top")
    axes.set_aspect("equal")
    axes.set_axis_off()
