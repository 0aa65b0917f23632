"""Figures: the stage machine drawn with matplotlib as SVG, PNG or PDF, through the library and
``negotiation diagram --format``; written whole or not at all, the same bytes every time."""

from __future__ import annotations

import builtins
import html
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from negotiation import Stage, figures
from negotiation.cli import cli
from negotiation.errors import NegotiationError
from negotiation.figures import LAYOUT, NEUTRAL_LABEL, diagram_labels, draw_diagram

pytest.importorskip("matplotlib")

MAGIC = {"svg": (b"<?xml", b"<svg"), "png": (b"\x89PNG\r\n\x1a\n",), "pdf": (b"%PDF-",)}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The default diagram in each format, and the full one as SVG: drawn once for the module.

    The PNG and the PDF are drawn through the command: the PNG's format comes from its suffix,
    the PDF's from --format, over a suffix that names none.
    """
    folder = tmp_path_factory.mktemp("figures")
    paths = {"svg": folder / "stages.svg", "png": folder / "stages.png", "pdf": folder / "stages.out"}
    draw_diagram(paths["svg"])
    assert run("diagram", "-o", str(paths["png"])) == (0, "", "")
    assert run("diagram", "--format", "pdf", "-o", str(paths["pdf"])) == (0, "", "")
    paths["full"] = folder / "full.svg"
    draw_diagram(paths["full"], full=True)
    return paths


def _svg_texts(path: Path) -> list[str]:
    """The text of every ``<text>`` element (SVG written with svg.fonttype 'none' keeps text as text)."""
    svg = path.read_text(encoding="utf-8")
    return [html.unescape(t) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg, flags=re.S)]


@pytest.mark.extended
@pytest.mark.parametrize("kind", list(MAGIC))
def test_each_format_starts_with_its_magic_bytes(drawn: dict[str, Path], kind: str) -> None:
    """SVG, PNG and PDF: the file is what its suffix says, of a plausible size, and no temporary file is left."""
    data = drawn[kind].read_bytes()
    assert data.startswith(MAGIC[kind]), data[:20]
    assert 10_000 < len(data) < 2_000_000
    assert not [p for p in drawn[kind].parent.iterdir() if p.name.startswith(".")]


def test_svg_names_every_stage_and_labels_every_arrow(drawn: dict[str, Path]) -> None:
    """Every stage's name and every (source, destination) pair's label is in the SVG as text."""
    texts = _svg_texts(drawn["svg"])
    joined = "\n".join(texts)
    for stage in Stage:
        assert stage.value in texts, stage
    for pair, label in diagram_labels().items():
        for line in label.splitlines():
            assert line in joined, (pair, line)
    assert "negotiation stages" in texts
    assert any("recorded in every stage and change none" in t for t in texts)


def test_labels_cover_every_transition() -> None:
    """One label per (source, destination) pair of the table; each names the types that take it."""
    labels = diagram_labels(full=True)
    for (stage, kind), branches in figures.TABLE.items():
        for _, dest in branches:
            label = labels[(stage, stage if dest is None else dest)]
            assert (NEUTRAL_LABEL if kind in figures.NEUTRAL_TYPES else kind) in label.replace("\n", " ")
    assert "TalksResumed*" in labels[(Stage.SUSPENDED, Stage.TALKS)]  # only under a condition
    assert labels[(Stage.IDLE, Stage.EXPLORATION)] == NEUTRAL_LABEL


def test_full_draws_more_labels(drawn: dict[str, Path]) -> None:
    """--full adds the neutral self-loops: more arrows, more text, and no note about them."""
    assert len(diagram_labels(full=True)) > len(diagram_labels())
    short, full = _svg_texts(drawn["svg"]), _svg_texts(drawn["full"])
    assert len(full) > len(short)
    assert sum(t == NEUTRAL_LABEL for t in full) > sum(t == NEUTRAL_LABEL for t in short)
    assert not any("change none" in t for t in full)


def test_png_is_not_blank(drawn: dict[str, Path]) -> None:
    """The PNG reads back as an image with something drawn on it."""
    from matplotlib.image import imread

    pixels = imread(drawn["png"])
    assert pixels.ndim == 3
    assert pixels.shape[0] > 300
    assert pixels.shape[1] > 600
    assert float(pixels[..., :3].var()) > 0.001


def test_svg_is_the_same_bytes_twice(drawn: dict[str, Path], tmp_path: Path) -> None:
    """No date, no random ids: drawing again gives the same file."""
    again = tmp_path / "again.svg"
    draw_diagram(again)
    assert again.read_bytes() == drawn["svg"].read_bytes()


def test_every_stage_has_a_position() -> None:
    """A new stage cannot vanish from the picture: LAYOUT places every stage, and one missing stops the drawing."""
    assert set(LAYOUT) == set(Stage)


def test_a_stage_without_a_position_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing with a stage missing from LAYOUT fails naming it, and writes nothing."""
    monkeypatch.setattr(figures, "LAYOUT", {s: p for s, p in LAYOUT.items() if s != Stage.LAPSED})
    with pytest.raises(LookupError, match=r"no position for the stage.*lapsed"):
        draw_diagram(tmp_path / "x.svg")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_draw_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while the file is written leaves neither the file nor a temporary one; an old file stays."""
    from matplotlib.figure import Figure

    def broken(self: Figure, handle: Any, **_: Any) -> None:
        handle.write(b"<?xml half a picture")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        draw_diagram(tmp_path / "new.svg")
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.png"
    old.write_bytes(b"the old picture")
    code, _, _ = run("diagram", "-o", str(old))
    assert code == 1
    assert old.read_bytes() == b"the old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]


def test_library_format_errors(tmp_path: Path) -> None:
    """The library names an unknown format, or a suffix that names none."""
    with pytest.raises(NegotiationError, match="cannot tell the format"):
        draw_diagram(tmp_path / "stages.gif")
    with pytest.raises(NegotiationError, match="unknown figure format 'gif'"):
        draw_diagram(tmp_path / "stages.svg", format="gif")
    assert list(tmp_path.iterdir()) == []


# -- the command -------------------------------------------------------------------------------


def test_cli_infers_the_format_from_the_suffix(drawn: dict[str, Path], tmp_path: Path) -> None:
    """-o FILE.png without --format writes a PNG; --format wins over the suffix; .mmd is Mermaid text."""
    assert drawn["png"].read_bytes().startswith(MAGIC["png"][0])
    assert drawn["pdf"].read_bytes().startswith(b"%PDF-")
    code, _, _ = run("diagram", "--full", "-o", str(tmp_path / "stages.mmd"))
    assert code == 0
    assert (tmp_path / "stages.mmd").read_text(encoding="utf-8") == run("diagram", "--full")[1]


def test_cli_default_is_still_mermaid_on_stdout() -> None:
    """Without options, and with --format mermaid, diagram prints the Mermaid text as before."""
    code, out, _ = run("diagram")
    assert code == 0
    assert "stateDiagram-v2" in out
    assert run("diagram", "--format", "mermaid") == (0, out, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "png"), "--format png draws a picture: name the file to write it to with -o/--output FILE"),
        (("--format", "svg", "-o", "-"), "--format svg draws a picture"),
        (("-o", "stages.gif"), "cannot tell the format from the file name 'stages.gif'"),
        (("-o", "stages"), "cannot tell the format from the file name 'stages'"),
        (("--format", "gif", "-o", "stages.gif"), "'gif' is not one of 'mermaid', 'svg', 'png', 'pdf'"),
    ],
    ids=["picture-to-stdout", "picture-to-dash", "unknown-suffix", "no-suffix", "unknown-format"],
)
def test_cli_usage_errors(args: tuple[str, ...], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A picture to the terminal, or a format nobody can tell: a usage error (exit 2), nothing written."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run("diagram", *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_cli_unwritable_output_is_one_line(tmp_path: Path) -> None:
    """A folder that does not exist: one Error line naming the file, exit 1."""
    target = tmp_path / "missing" / "stages.svg"
    code, out, err = run("diagram", "-o", str(target))
    assert code == 1
    assert out == ""
    assert err == f"Error: {target}: cannot write there: No such file or directory\n"


def test_cli_without_matplotlib_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib missing: one Error line naming the charts extra, exit 1, no traceback, no file."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # ``import matplotlib`` now raises ImportError
    code, out, err = run("diagram", "-o", str(tmp_path / "stages.svg"))
    assert code == 1
    assert out == ""
    assert err.startswith("Error: drawing figures needs matplotlib")
    assert err.endswith("install it with: pip install 'negotiation[charts]'\n")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    assert run("diagram")[0] == 0  # the Mermaid text needs no matplotlib


def test_missing_matplotlib_through_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same error when the import itself fails (matplotlib not installed at all)."""
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(NegotiationError, match=r"pip install 'negotiation\[charts\]'"):
        figures.require_matplotlib()
