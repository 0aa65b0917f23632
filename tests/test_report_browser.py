"""The report page in a real browser (headless chromium, see ``tests/browser.py``).

The page must load offline with no console message, its date slider must show what
``negotiation status --as-of`` says, a screenshot of it must show something, and text from a
log must stay text.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from negotiation import read_log
from negotiation.report import render_report, report_data
from tests.browser import browser

__all__ = ["browser"]  # the fixture, used by name

#: A real browser per test: left out of the quick run; CI runs them.
pytestmark = pytest.mark.extended

EVENTS = Path(__file__).resolve().parent.parent / "events"
FOUNDING = EVENTS / "security-guarantees-2021.jsonl"


class Page:
    """A report opened in the browser, with what it asked for and what it printed."""

    def __init__(self, page: Any, url: str) -> None:
        self.page, self.url = page, url
        self.requests: list[str] = []
        self.messages: list[str] = []

    def show(self, date: str) -> None:
        """Move the slider, as a reader drags it, to the frame of ``date``."""
        index = self.page.evaluate(
            "(date) => JSON.parse(document.getElementById('data').textContent).frames.findIndex((f) => f.date === date)",
            date,
        )
        assert index >= 0, f"no frame for {date}"
        self.page.locator("#slider").evaluate(
            "(slider, i) => { slider.value = i; slider.dispatchEvent(new Event('input', {bubbles: true})); }", index
        )

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).text_content())


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Any]:
    pages: list[Any] = []

    def open_(page_html: str, name: str = "report") -> Page:
        path = tmp_path / f"{name}.html"
        path.write_text(page_html, encoding="utf-8")
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pages.append(context)
        page = context.new_page()
        opened = Page(page, path.as_uri())
        page.on("console", lambda m: opened.messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: opened.messages.append(f"pageerror: {e}"))

        def route(r: Any) -> None:
            opened.requests.append(r.request.url)
            if r.request.url == opened.url:
                r.continue_()
            else:
                r.abort()

        page.route("**/*", route)
        page.goto(opened.url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        return opened

    yield open_
    for context in pages:
        context.close()


def _report(path: Path) -> str:
    return render_report(report_data(read_log(path).events()))


def _status(date: str) -> dict[str, Any]:
    """What ``negotiation status --as-of`` prints, run as a user runs it."""
    run = subprocess.run(
        [sys.executable, "-m", "negotiation", "status", str(FOUNDING), "--as-of", date, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(run.stdout))


def test_the_slider_shows_what_status_as_of_says(open_report: Any) -> None:
    page = open_report(_report(FOUNDING))
    assert page.requests == [page.url]  # nothing else fetched
    assert page.messages == []
    assert page.text("#stage") == "broken_off"  # it opens at the last date
    for date in ("2021-12-07", "2021-12-30", "2022-02-02"):
        status = _status(date)
        page.show(date)
        assert page.text("#as-of") == date
        assert page.text("#stage") == status["stage"]
        assert page.text("#event-count") == f"({status['events']} events)"
        owed = page.text("#owed")
        for move in status["awaiting"]:
            assert f"{move['party']} owes {' or '.join(move['types'])} on '{move['ref']}'" in owed
        steps = page.page.locator("#steps li").all_inner_texts()
        assert len(steps) == len([s for s in status["permitted"] if s["type"] != "EventRetracted"]) + 1
    assert "since 2022-01-26, 7 days" in page.text("#owed")  # as status prints it for 2 February
    assert "RU owes ContactAccepted or ContactDeclined on 'us-offer-leader-contact'" in page.text("#owed")
    assert page.messages == []


def test_a_screenshot_of_the_report_is_not_blank(open_report: Any) -> None:
    image = pytest.importorskip("matplotlib.image")
    page = open_report(_report(FOUNDING))
    png = page.page.screenshot(full_page=True)
    assert png.startswith(b"\x89PNG")
    pixels = image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] > 600
    assert pixels.shape[1] == 1400
    colours = {tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).round(2).tolist()}
    assert pixels.std() > 0.05
    assert len(colours) > 40


def test_an_event_shows_its_details_and_its_source(open_report: Any) -> None:
    page = open_report(_report(FOUNDING))
    index = [e.id for e in read_log(FOUNDING).events()].index("us-reply")
    page.page.locator(f"use.mark[data-i='{index}']").first.click()
    details = page.text("#details")
    assert "ReplyDelivered" in details
    assert "us-reply" in details
    assert "ru-draft-us (ProposalPublished)" in details
    link = page.page.locator("#details a")
    url = read_log(FOUNDING).events()[index].source.url
    assert link.get_attribute("href") == url
    assert link.get_attribute("target") == "_blank"
    page.page.locator("#zoom-in").click()  # redrawing keeps the event pinned
    assert "us-reply" in page.text("#details")
    assert page.messages == []


def test_text_from_a_log_stays_text(open_report: Any) -> None:
    hostile = '<img src=x onerror="window.pwned=1"></script><script>window.pwned=2</script>'
    lines = [
        {"type": "ProposalPublished", "id": "p", "occurred": "2024-01-01", "actor": hostile, "to": ["B"]}
        | {"title": hostile, "source": {"url": "javascript:window.pwned=3", "title": hostile}},
        {"type": "ReplyDelivered", "id": "r", "occurred": "2024-01-05", "actor": "B", "ref": "p"},
    ]
    log = read_log([json.dumps(line | {"negotiation": hostile}) for line in lines]).events()
    page = open_report(render_report(report_data(log)))
    page.page.locator("use.mark[data-i='0']").first.click()
    page.page.locator("#details").click()
    assert page.page.evaluate("window.pwned") is None
    assert page.page.locator("img").count() == 0
    assert page.page.locator("#details a").count() == 0  # not a link: only http(s) sources are
    assert hostile in page.text("#details")
    assert page.text("#title") == hostile
    assert page.messages == []
    assert page.requests == [page.url]


LOGS = sorted(EVENTS.glob("*.jsonl"))


@pytest.mark.parametrize("path", LOGS, ids=[p.stem for p in LOGS])
def test_every_shipped_log_makes_a_report_that_loads_cleanly(open_report: Any, path: Path) -> None:
    log = read_log(path).events()
    data = report_data(log)
    page = open_report(render_report(data), path.stem)
    assert page.messages == []
    assert page.requests == [page.url]
    assert page.page.locator("use.mark").count() == sum(len(e["lanes"]) for e in data["events"])
    first = data["frames"][0]
    page.show(first["date"])
    assert page.text("#stage") == first["stage"]
    page.page.keyboard.press("ArrowRight")  # the keyboard moves the date too
    expected = data["frames"][1]["date"] if len(data["frames"]) > 1 else first["date"]
    assert page.text("#as-of") == expected


@pytest.mark.slow
def test_a_report_of_10000_events_loads_and_follows_the_slider(open_report: Any) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from synthetic import synthetic_events

    events = list(synthetic_events(10_000))
    page = open_report(render_report(report_data(events)))
    assert page.messages == []
    assert page.page.locator("use.mark").count() > 10_000
    middle = page.page.evaluate("JSON.parse(document.getElementById('data').textContent).frames[250].date")
    page.show(middle)
    from negotiation import replay

    assert page.text("#stage") == replay(events, as_of=middle).stage.value
