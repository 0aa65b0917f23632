"""The documentation's promises: its python blocks run, the README's first commands are what CI
runs, and the README and docs/ cover every command, event type, field and stage."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import click
import pytest

import negotiation
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
    assert commands[1].endswith("-m pytest -q -m 'not slow'")  # the extended tests too
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()


def test_changelog_is_newest_first() -> None:
    """CHANGELOG.md exists and starts with the Unreleased section."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = [line for line in changelog.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Unreleased"


# -- the documentation covers the whole surface ------------------------------------------------

DOCS = sorted((ROOT / "docs").glob("*.md"))
CONTRACT = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
#: The envelope every event carries (and ``extra``, where unknown fields go): not a type's own fields.
ENVELOPE = frozenset(("type", "id", "negotiation", "occurred", "recorded", "source", "note", "extra"))
DOC_BLOCKS = [
    (path.name, index, block)
    for path in DOCS
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S))
]


def _section(text: str, heading: str) -> str:
    """The text under a ``## `` heading, up to the next one."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match is not None, f"no section {heading!r}"
    return match.group(1)


def _commands() -> list[str]:
    """Every command of the click group behind the console script."""
    from negotiation import cli as cli_module

    group = cli_module.main if isinstance(cli_module.main, click.Group) else None
    if group is None:  # main() is the console script's wrapper around the group
        group = next(value for value in vars(cli_module).values() if isinstance(value, click.Group))
    return sorted(group.commands)


def _fields(kind: type) -> list[str]:
    return [f.name for f in attrs.fields(kind) if f.name not in ENVELOPE]


def test_readme_is_short() -> None:
    """The README stays an overview: under 15,000 bytes."""
    assert len(README.encode("utf-8")) < 15_000


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme_command_table(command: str) -> None:
    """Each CLI command has a row in the README's command table."""
    table = _section(README, "Commands")
    assert re.search(rf"^\| `negotiation {command}\b", table, flags=re.M), command


@pytest.mark.parametrize("name", list(negotiation.EVENT_TYPES))
def test_every_event_type_is_in_the_readme_table_with_its_fields(name: str) -> None:
    """Each event type has one row in the README's event table naming each of its own fields."""
    section = _section(README, "Event types")
    rows = [line for line in section.splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, name
    assert "`co_actors`" in section.split("| type |")[0]  # said once for every type with an actor
    missing = [f for f in _fields(negotiation.EVENT_TYPES[name]) if f"`{f}`" not in rows[0] and f != "co_actors"]
    assert not missing, f"{name}: {missing}"


@pytest.mark.parametrize("name", list(negotiation.EVENT_TYPES))
def test_every_event_type_has_a_contract_section_listing_its_fields(name: str) -> None:
    """docs/contract.md has a section per event type with a table row for each of its fields."""
    match = re.search(rf"^### `{name}`\n(.*?)(?=^#{{2,3}} |\Z)", CONTRACT, flags=re.S | re.M)
    assert match is not None, f"no section for {name}"
    missing = [f for f in _fields(negotiation.EVENT_TYPES[name]) if not re.search(rf"^\| `{f}` \|", match[1], re.M)]
    assert not missing, f"{name}: {missing}"


@pytest.mark.parametrize("stage", [s.value for s in negotiation.Stage])
def test_every_stage_is_documented(stage: str) -> None:
    """Each stage appears in the README and in docs/contract.md."""
    assert f"`{stage}`" in README
    assert f"`{stage}`" in CONTRACT


def _anchors(text: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_relative_links_point_to_existing_files(path: Path) -> None:
    """Every relative link of the README and docs/ names a file that exists (and a heading in it)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8"))
    relative = [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]  # URLs are not checked
    assert not [t for t in relative if not _resolves(path, t)]


def _resolves(path: Path, target: str) -> bool:
    """Whether a relative link from ``path`` names an existing file and, in Markdown, a heading."""
    file, _, anchor = target.partition("#")
    linked = (path.parent / file).resolve() if file else path
    if not linked.exists():
        return False
    return not anchor or linked.suffix != ".md" or anchor in _anchors(linked.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [ROOT / "README.md", ROOT / "CHANGELOG.md", *DOCS], ids=lambda p: p.name)
def test_docs_speak_for_themselves(path: Path) -> None:
    """The documentation speaks to users: no references to tracker issues or to internal design notes."""
    text = path.read_text(encoding="utf-8").lower()
    assert "the issue" not in text
    assert "design folder" not in text


@pytest.mark.extended
@pytest.mark.parametrize(("name", "index", "block"), DOC_BLOCKS, ids=[f"{n}-{i + 1}" for n, i, _ in DOC_BLOCKS])
def test_docs_python_block_runs(name: str, index: int, block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each python block of docs/ runs as written, from the repository root."""
    monkeypatch.chdir(ROOT)
    exec(compile(block, f"docs/{name} block {index + 1}", "exec"), {"__name__": "docs"})


def test_the_quickstart_output_is_what_the_command_prints() -> None:
    """The README's quickstart shows the founding log's status as the command prints it today."""
    from click.testing import CliRunner

    from negotiation.cli import cli

    quickstart = _section(README, "Quickstart")
    shown = quickstart.split("```text\n", 1)[1].split("```", 1)[0]
    result = CliRunner().invoke(
        cli, ["status", str(ROOT / "events/security-guarantees-2021.jsonl"), "--as-of", "2022-02-02"]
    )
    assert result.exit_code == 0
    assert result.stdout == shown
