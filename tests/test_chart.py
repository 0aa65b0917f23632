"""The timeline as a static figure (``negotiation chart``), for every shipped log."""

from __future__ import annotations

import builtins
import datetime as dt
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from negotiation import read_log
from negotiation.chart import _ticks, draw_timeline
from negotiation.cli import cli
from negotiation.report import report_data

pytest.importorskip("matplotlib", reason="the charts extra (matplotlib) is not installed")

EVENTS = Path(__file__).resolve().parent.parent / "events"
LOGS = sorted(EVENTS.glob("*.jsonl"))
SVG = "{http://www.w3.org/2000/svg}"
MAGIC = {"svg": b"<?xml", "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


def _marks(svg: Path) -> Counter[str]:
    """How many marks each type's group holds in an SVG timeline."""
    counted: Counter[str] = Counter()
    for group in ET.parse(svg).getroot().iter(f"{SVG}g"):
        name = group.get("id", "")
        if name.startswith("marks-"):
            counted[name.removeprefix("marks-")] += sum(1 for _ in group.iter(f"{SVG}use"))
    return counted


@pytest.mark.extended
@pytest.mark.parametrize("path", LOGS, ids=[p.stem for p in LOGS])
def test_every_shipped_log_is_drawn_with_every_event(path: Path, tmp_path: Path) -> None:
    log = read_log(path).events()
    data = report_data(log)
    expected: Counter[str] = Counter()
    for event in data["events"]:
        expected[event["type"]] += len(event["lanes"])  # one mark per lane of a joint act
    assert sum(expected.values()) >= len(log)
    for kind, smallest in (("svg", 20_000), ("png", 20_000), ("pdf", 8_000)):
        out = tmp_path / f"timeline.{kind}"
        draw_timeline(data, out)
        content = out.read_bytes()
        assert content.startswith(MAGIC[kind]), kind
        assert len(content) > smallest, kind
    assert _marks(tmp_path / "timeline.svg") == expected
    svg = (tmp_path / "timeline.svg").read_text(encoding="utf-8")
    for lane in data["lanes"]:
        assert lane["name"][:20] in svg.replace("&amp;", "&")


@pytest.mark.extended
def test_the_same_data_gives_the_same_svg(tmp_path: Path) -> None:
    data = report_data(read_log(EVENTS / "jcpoa.jsonl").events())
    draw_timeline(data, tmp_path / "a.svg")
    draw_timeline(data, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


@pytest.mark.parametrize(
    ("first", "last", "labels"),
    [
        (
            "2021-06-16",
            "2022-02-24",
            ["2021-07", "2021-08", "2021-09", "2021-10", "2021-11", "2021-12", "2022-01", "2022-02"],
        ),
        (
            "1987-01-01",
            "2019-08-02",
            ["1987", "1990", "1993", "1996", "1999", "2002", "2005", "2008", "2011", "2014", "2017"],
        ),
        ("2024-01-05", "2024-01-09", []),
    ],
)
def test_the_ticks_fall_on_the_first_of_a_month_or_year(first: str, last: str, labels: list[str]) -> None:
    epoch = dt.date(1970, 1, 1)
    ticks = _ticks((dt.date.fromisoformat(first) - epoch).days, (dt.date.fromisoformat(last) - epoch).days)
    assert [label for _, label in ticks] == labels
    for position, label in ticks:
        day = epoch + dt.timedelta(days=position)
        assert day.day == 1
        assert day.isoformat().startswith(label)
        assert len(label) == 7 or day.month == 1


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.extended
def test_the_command_writes_the_figure_the_suffix_names(tmp_path: Path) -> None:
    for kind in ("svg", "png", "pdf"):
        out = tmp_path / f"t.{kind}"
        result = _run("chart", str(EVENTS / "us-iran-2025.jsonl"), "-o", str(out))
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(MAGIC[kind])
    out = tmp_path / "figure.img"
    result = _run("chart", str(EVENTS / "us-iran-2025.jsonl"), "-o", str(out), "--format", "png")
    assert result.exit_code == 0
    assert out.read_bytes().startswith(MAGIC["png"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_command_refuses_clearly(tmp_path: Path) -> None:
    result = _run("chart", str(EVENTS / "jcpoa.jsonl"), "-o", str(tmp_path / "t.txt"))
    assert result.exit_code == 1
    assert "cannot tell the format from the suffix" in result.output
    result = _run("chart", str(EVENTS / "jcpoa.jsonl"), "-o", str(tmp_path / "nowhere" / "t.svg"))
    assert result.exit_code == 1
    assert "does not exist" in result.output
    result = _run("chart", str(EVENTS / "jcpoa.jsonl"), "-o", str(tmp_path / "t.svg"), "--format", "gif")
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_without_matplotlib_the_command_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = _run("chart", str(EVENTS / "jcpoa.jsonl"), "-o", str(tmp_path / "t.svg"))
    assert result.exit_code == 1
    assert "pip install 'negotiation[charts]'" in result.output
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "t.svg").exists()
