"""A real browser for the tests of the report page: Debian's chromium, driven by Playwright.

Playwright drives the chromium installed on the machine (never a browser of its own
download). Where there is no chromium (``NEGOTIATION_CHROMIUM``, or ``chromium``,
``chromium-browser`` or ``google-chrome`` on the PATH) or no Playwright, the browser tests are
skipped with the reason; under CI (``CI`` set) they fail instead, so that a CI run cannot pass
without them. ``.ci/run`` installs chromium with apt.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

#: The flags a headless chromium needs on a machine without network or screen.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``; fail under CI, where the browser must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"no browser test: {reason}")


def chromium_path() -> str | None:
    """The chromium to drive, if the machine has one."""
    chosen = os.environ.get("NEGOTIATION_CHROMIUM")
    if chosen:
        return chosen if os.path.exists(chosen) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium for the module's tests."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    if path is None:
        unavailable("no chromium found (apt install chromium, or set NEGOTIATION_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=path, args=ARGS)
        except Error as e:
            unavailable(f"{path} did not start: {str(e).splitlines()[0]}")
        try:
            yield launched
        finally:
            launched.close()
