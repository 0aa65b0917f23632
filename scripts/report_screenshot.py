"""Write the report of the founding log and take the README's screenshot of it (docs/report.png).

The page is opened in headless chromium (Playwright, with the machine's chromium: see
tests/browser.py), moved to 2 February 2022 with its slider, with the US reply of 26 January
picked for its details. Usage::

    .venv/bin/python scripts/report_screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from negotiation import read_log  # noqa: E402
from negotiation.report import render_report, report_data  # noqa: E402
from tests.browser import ARGS, chromium_path  # noqa: E402

LOG = ROOT / "events" / "security-guarantees-2021.jsonl"


def main() -> None:
    from playwright.sync_api import sync_playwright

    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report.png"
    chromium = chromium_path()
    if chromium is None:
        sys.exit("no chromium found: apt install chromium, or set NEGOTIATION_CHROMIUM")
    events = read_log(LOG).events()
    data = report_data(events)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        page_file = Path(folder) / "report.html"
        page_file.write_text(render_report(data), encoding="utf-8")
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1040})
        page.goto(page_file.as_uri())
        page.wait_for_selector("body[data-ready='1']")
        frame = next(i for i, f in enumerate(data["frames"]) if f["date"] == "2022-02-02")
        page.locator("#slider").evaluate("(s, i) => { s.value = i; s.dispatchEvent(new Event('input')); }", frame)
        page.locator("#zoom-in").click()
        reply = [e.id for e in events].index("us-reply")
        page.locator(f"use.mark[data-i='{reply}']").first.click()
        page.screenshot(path=str(output))
        browser.close()
    print(f"{output}: the report of {LOG.name} as of 2022-02-02")


if __name__ == "__main__":
    main()
