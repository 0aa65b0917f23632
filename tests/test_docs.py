"""The README's promises: its python blocks run, its first commands are what CI runs."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_python_examples() -> None:
    """The README shows the library in use (replay and embedding)."""
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each python block of the README runs as written, from the repository root."""
    monkeypatch.chdir(ROOT)
    exec(compile(BLOCKS[index], f"README.md block {index + 1}", "exec"), {"__name__": "readme"})


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    """The first two sh blocks replay the founding log and run the tests; .ci/run runs the latter verbatim."""
    commands = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)[:2]
    assert "negotiation status events/security-guarantees-2021.jsonl" in commands[0]
    assert commands[1].endswith("-m pytest -q")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()


def test_changelog_is_newest_first() -> None:
    """CHANGELOG.md exists and starts with the Unreleased section."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = [line for line in changelog.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Unreleased"
