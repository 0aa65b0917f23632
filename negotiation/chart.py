"""The timeline as a static figure, for a paper or a slide (``negotiation chart``).

:func:`draw_timeline` draws what the report page draws (:func:`negotiation.report.report_data`),
with matplotlib (the ``charts`` extra; see :mod:`negotiation.figures`): the stage over time as
a band, each agreed text's life as a band of its own, one lane per party (other roles and
outsiders apart, below a dashed rule), each event a mark by type (the report's colours and
shapes), joint acts joined by a line, and each event linked by a curve to what it names.
The marks of each type are one group, ``marks-<Type>``, in the SVG.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from negotiation.figures import figure_style, new_figure, save_figure

__all__ = ["draw_timeline"]

#: Day 0 of the report's day numbers.
EPOCH = dt.date(1970, 1, 1)

#: The report's shapes as matplotlib markers (a ring is a circle left hollow).
MARKERS = {"circle": "o", "ring": "o", "square": "s", "triangle": "^", "diamond": "D", "star": "*", "cross": "X"}

#: What each life status of an agreed text is coloured as: the stage it stands for.
LIFE_STAGES = {
    "agreed": "text_agreed",
    "signed": "signed",
    "ratifying": "ratifying",
    "in_force": "in_force",
    "terminated": "terminated",
    "refused": "broken_off",
}


def _bands(ax: Any, spans: list[dict[str, Any]], key: str, y: float, height: float, data: dict[str, Any]) -> None:
    """Draw consecutive spans (each from its day to the next one's) as coloured bars, labelled
    where they are wide enough."""
    end = data["last_day"] + 1
    width_days = max(1, end - data["first_day"])
    for i, span in enumerate(spans):
        stop = spans[i + 1]["day"] if i + 1 < len(spans) else end
        stage = span[key] if key == "stage" else LIFE_STAGES[span[key]]
        colour = data["stage_colours"][stage]
        ax.broken_barh(
            [(span["day"], stop - span["day"])],
            (y - height / 2, height),
            facecolors=colour,
            edgecolors="white",
            linewidth=0.5,
        )
        if (stop - span["day"]) / width_days > 0.07:
            light = stage in ("in_force", "broken_off")
            ax.text(
                span["day"] + width_days * 0.004,
                y,
                span[key],
                va="center",
                ha="left",
                fontsize=7,
                color="white" if light else "black",
                clip_on=True,
            )


def _short(label: str, most: int = 30) -> str:
    """A row label that fits the margin."""
    return label if len(label) <= most else label[: most - 1] + "…"


def _ticks(first: int, last: int) -> list[tuple[int, str]]:
    """Ticks on the first day of years (or of months, for less than three years), at most 12."""
    start, stop = EPOCH + dt.timedelta(days=first), EPOCH + dt.timedelta(days=last + 1)
    if (stop - start).days > 3 * 366:
        every = max(1, -(-(stop.year - start.year + 1) // 12))
        years = range(start.year + (start.month > 1 or start.day > 1), stop.year + 1)
        return [((dt.date(y, 1, 1) - EPOCH).days, str(y)) for y in years if (y - years.start) % every == 0]
    months = (stop.year - start.year) * 12 + stop.month - start.month + 1
    every = next(n for n in (1, 2, 3, 6, 12) if months / n <= 12)
    ticks = []
    for k in range(months + 1):
        year, month = divmod(start.month - 1 + k, 12)
        day = dt.date(start.year + year, month + 1, 1)
        if start <= day <= stop and (month % every == 0):
            ticks.append(((day - EPOCH).days, day.strftime("%Y-%m")))
    return ticks


def _curve(x1: float, y1: float, x2: float, y2: float, lift: float) -> list[tuple[float, float]]:
    """A quadratic curve from one mark to another, bowed upwards (lanes grow downwards)."""
    cx, cy = (x1 + x2) / 2, min(y1, y2) - lift
    points = []
    for k in range(13):
        t = k / 12
        points.append(
            ((1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t**2 * x2, (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t**2 * y2)
        )
    return points


def draw_timeline(data: dict[str, Any], path: str | os.PathLike[str], *, format: str | None = None) -> None:
    """Draw the timeline of ``data`` (from :func:`~negotiation.report.report_data`) to ``path``.

    Args:
        data: the report's data of one negotiation.
        path: the file to write, whole or not at all.
        format: ``svg``, ``png`` or ``pdf``; by default the one the suffix of ``path`` names.

    Raises:
        NegotiationError: matplotlib is missing, the format is unknown, or the file cannot be
            written there.
    """
    with figure_style():
        from matplotlib.collections import LineCollection
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        figure = _draw(data, LineCollection, Line2D, Patch)
    save_figure(figure, path, format=format)


def _draw(data: dict[str, Any], LineCollection: Any, Line2D: Any, Patch: Any) -> Any:  # noqa: N803 - classes
    lanes, events, instruments = data["lanes"], data["events"], data["instruments"]
    rows = 1 + len(instruments) + len(lanes)
    figure = new_figure(11.0, 1.6 + 0.32 * rows)
    ax = figure.add_axes((0.16, 0.3 if rows < 8 else 0.2, 0.82, 0.6 if rows < 8 else 0.72))
    stage_y, life_y = 0.0, [1.0 + k * 0.8 for k in range(len(instruments))]
    top = 1.0 + len(instruments) * 0.8 + 0.4
    lane_y = [top + 0.5 + i for i in range(len(lanes))]
    _bands(ax, data["stages"], "stage", stage_y, 0.8, data)
    for ins, y in zip(instruments, life_y, strict=True):
        _bands(ax, ins["life"], "status", y, 0.6, data)
    for i, lane in enumerate(lanes):
        if i % 2:
            ax.axhspan(lane_y[i] - 0.5, lane_y[i] + 0.5, color="#f4f4f4", zorder=0)
        if i and lane["role"] != "party" and lanes[i - 1]["role"] == "party":
            ax.axhline(lane_y[i] - 0.5, color="#999999", linestyle="--", linewidth=0.8)
    span = max(1, data["last_day"] + 1 - data["first_day"])
    x = [e["day"] + 0.5 for e in events]
    curves, strong = [], []
    for i, event in enumerate(events):
        for r in event["refs"]:
            a, b = events[r], event
            lift = min(0.9, 0.15 + abs(x[i] - x[r]) / span * 2)
            curves.append(_curve(x[r], lane_y[a["lanes"][0]], x[i], lane_y[b["lanes"][0]], lift))
            strong.append(event["answers"] and r == event["refs"][0])
    if curves:
        ax.add_collection(
            LineCollection(
                curves,
                colors=["#555555" if s else "#aaaaaa" for s in strong],
                linewidths=[0.7 if s else 0.5 for s in strong],
                linestyles=["solid" if s else (0, (3, 2)) for s in strong],
                zorder=1,
            )
        )
    joints = [
        (x[i], min(lane_y[n] for n in e["lanes"]), max(lane_y[n] for n in e["lanes"]))
        for i, e in enumerate(events)
        if len(e["lanes"]) > 1
    ]
    if joints:
        ax.vlines(
            [j[0] for j in joints],
            [j[1] for j in joints],
            [j[2] for j in joints],
            colors="#bbbbbb",
            linewidth=0.8,
            zorder=1,
        )
    by_type: dict[str, list[tuple[float, float]]] = {}
    for i, event in enumerate(events):
        by_type.setdefault(event["type"], []).extend((x[i], lane_y[lane]) for lane in event["lanes"])
    size = 30 if len(events) < 500 else 12
    handles = []
    for kind, points in by_type.items():
        sample = next(e for e in events if e["type"] == kind)
        colour, shape = sample["colour"], sample["shape"]
        hollow = shape == "ring"
        marks = ax.scatter(
            [p[0] for p in points],
            [p[1] for p in points],
            s=size,
            marker=MARKERS[shape],
            facecolors="none" if hollow else colour,
            edgecolors=colour if hollow else "white",
            linewidths=1.2 if hollow else 0.4,
            zorder=3,
        )
        marks.set_gid(f"marks-{kind}")
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=MARKERS[shape],
                markersize=6,
                markerfacecolor="none" if hollow else colour,
                markeredgecolor=colour,
                label=kind,
            )
        )
    seen = [s["stage"] for s in data["stages"]]
    seen += [LIFE_STAGES[s["status"]] for ins in instruments for s in ins["life"]]
    handles += [
        Patch(facecolor=data["stage_colours"][s], edgecolor="#aaaaaa", label=s)
        for s in dict.fromkeys(seen)
        if s != "idle"
    ]
    labels = ["stage", *[_short(f"{i['id']} ({i['instrument']})") for i in instruments]]
    labels += [
        _short(lane["name"] + ("" if lane["role"] in ("party", "all") else f" ({lane['role']})")) for lane in lanes
    ]
    ax.set_yticks([stage_y, *life_y, *lane_y], labels, fontsize=8)
    ax.set_ylim(lane_y[-1] + 0.6 if lanes else top, stage_y - 0.8)
    ax.set_xlim(data["first_day"] - span * 0.01, data["last_day"] + 1 + span * 0.01)
    ticks = _ticks(data["first_day"], data["last_day"])
    ax.set_xticks([day for day, _ in ticks], [label for _, label in ticks])
    ax.tick_params(axis="x", labelsize=8)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        f"{data['negotiation']}: {len(events):,} events, {data['first_date']} to {data['last_date']}",
        fontsize=11,
        loc="left",
    )
    figure.legend(handles=handles, loc="lower center", ncols=6, fontsize=7, frameon=False, bbox_to_anchor=(0.55, 0.0))
    return figure
