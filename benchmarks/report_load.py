"""How long a long negotiation's report takes: to build, and to load in a real browser.

Writes a synthetic log of N events (default 10,000: ``benchmarks/synthetic.py``), then times
in one run, on the same log:

- ``negotiation status LOG`` as a user runs it (a new process, wall time);
- ``negotiation report LOG -o FILE`` (a new process, wall time), and the page's size;
- the page's load in headless chromium: ``performance.now()`` when its script has drawn the
  timeline and filled the status (the page sets ``window.reportReady``), from the start of
  navigation; then the time one move of the date slider takes to show its date.

Needs Playwright and a chromium (``tests/browser.py`` finds it). Usage::

    .venv/bin/python benchmarks/report_load.py [--events N] [--runs R]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from synthetic import synthetic_events  # noqa: E402

from negotiation import write_log  # noqa: E402
from tests.browser import ARGS, chromium_path  # noqa: E402


def _wall(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "negotiation", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="how many events the log holds")
    parser.add_argument("--runs", type=int, default=3, help="how many times each is measured (the median is printed)")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    if chromium is None:
        sys.exit("no chromium found: apt install chromium, or set NEGOTIATION_CHROMIUM")
    with tempfile.TemporaryDirectory() as folder:
        log, page_file = Path(folder) / "long.jsonl", Path(folder) / "long.html"
        write_log(synthetic_events(options.events), log)
        status = [_wall("status", str(log)) for _ in range(options.runs)]
        report = [_wall("report", str(log), "-o", str(page_file)) for _ in range(options.runs)]
        loads, moves = [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
            for _ in range(options.runs):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(page_file.as_uri())
                page.wait_for_selector("body[data-ready='1']", timeout=120_000)
                loads.append(page.evaluate("window.reportReady") / 1000)
                moves.append(
                    page.evaluate(
                        "() => { const s = document.getElementById('slider'); const t = performance.now();"
                        " s.value = Math.floor(s.max / 2); s.dispatchEvent(new Event('input'));"
                        " document.body.offsetHeight; return performance.now() - t; }"
                    )
                    / 1000
                )
                if errors:
                    sys.exit(f"the page failed: {errors[0]}")
                page.close()
            browser.close()
        size = page_file.stat().st_size
    print(f"{options.events:,} events, median of {options.runs} runs")
    print(f"  negotiation status LOG (new process)        {statistics.median(status):7.2f} s")
    print(f"  negotiation report LOG -o FILE (new process) {statistics.median(report):7.2f} s ({size / 1e6:.1f} MB)")
    print(f"  the page's load in chromium (performance.now) {statistics.median(loads):6.2f} s")
    print(f"  one move of the date slider                   {statistics.median(moves):6.3f} s")


if __name__ == "__main__":
    main()
