"""Build the lesson notebooks, English and Chinese, from one source per lesson.

    python notebooks/build.py                      # write notebooks/en/*.ipynb and notebooks/zh/*.ipynb
    python notebooks/build.py --check              # exit 1 if a notebook differs from what its source builds
    python notebooks/build.py --refresh-outputs 01 # run lesson 01, store the outputs of its checked cells
                                                   # (several at once: --refresh-outputs 01 02)

A lesson's source, `notebooks/src/NN_slug.py`, is a Python file in "percent" format. A line
starting with `# %%` opens a cell:

    # %%                     code, shared by both languages (the usual case)
    # %% [markdown] en       English markdown; must be followed at once by ...
    # %% [markdown] zh       ... its Chinese version (the two fill one slot of the notebook)
    # %% [markdown]          markdown shared by both languages (an equation, a table)
    # %% [code] en           language-specific code, again an en/zh pair; the two may differ
    # %% [code] zh           only in the language code "en"/"zh" (the quiz call)
    # %% [output]            expected stdout of the code cell just before it (see below)

Markdown lines are comment lines: `# text` gives `text`, a bare `#` an empty line. Lines
before the first `# %%` are a header comment and are not copied.

Outputs: notebooks are stored without outputs, except for code cells that contain the comment
`# NBVAL_CHECK_OUTPUT`. nbval (`pytest --nbval-lax notebooks`) runs every cell and compares only
those cells' output with the stored one, so mark only cells whose printout is the same on every
machine (a token list, a hand-computed number, a table of the oracle's scores), and make such
cells print rather than end with an expression. Their expected stdout lives in the source, in
the `# %% [output]` cell after them; `--refresh-outputs NN` runs the English notebook of lesson
NN (from the stage cache, so set MINIALIGN_CACHE as usual) and rewrites those cells.

The result is deterministic: cell ids are derived from the lesson number and the cell's place,
JSON is written with sorted keys, so building twice gives identical files and `--check` can
tell when someone edited a notebook instead of its source (or forgot to rebuild).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
LANGS = ("en", "zh")
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
LANG_TAG = "lang-specific"
"""cell tag of language-specific code cells (the identical-code test skips them)"""
PLACEHOLDER = "(filled in"
"""an output cell that starts so is a reminder, not an output: the build refuses it"""
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

_MARKER = re.compile(r"^# %%(?:\s+\[(markdown|code|output)\])?(?:\s+(en|zh))?\s*$")
_SOURCE_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+$")


class SourceError(ValueError):
    """A lesson source that does not follow the format (the message names file and line)."""


@dataclass
class Cell:
    kind: str
    """'markdown', 'code' or 'output'"""
    lang: str | None
    """'en', 'zh' or None (shared)"""
    text: str
    line: int
    """line of the `# %%` marker, 1-based (for error messages)"""
    end: int = 0
    """line after the cell's last line, 1-based exclusive (for --refresh-outputs)"""


@dataclass
class Slot:
    """One cell of the built notebook: the same slot in both languages."""

    kind: str
    """'markdown' or 'code'"""
    text: dict[str, str]
    """language -> cell source"""
    lang_specific: bool = False
    output: str | None = None
    """expected stdout of a checked code cell"""
    line: int = 0


@dataclass
class Lesson:
    path: Path
    slots: list[Slot] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.path.stem

    @property
    def number(self) -> str:
        return self.slug[:2]


# --- parsing ---------------------------------------------------------------------------------
def _comment_body(lines: list[str], path: Path, start: int) -> str:
    out = []
    for i, line in enumerate(lines):
        if line == "#":
            out.append("")
        elif line.startswith("# "):
            out.append(line[2:])
        elif line.strip() == "":
            out.append("")
        else:
            raise SourceError(f"{path.name}:{start + i}: markdown and output lines must start with '# ', got {line!r}")
    return "\n".join(out)


def _strip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def parse_cells(path: Path) -> list[Cell]:
    """The raw cells of a source file, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    cells: list[Cell] = []
    current: tuple[str, str | None, int] | None = None
    body: list[str] = []

    def close(end: int) -> None:
        if current is None:
            return
        kind, lang, line = current
        if kind == "output":
            # an output's blank lines are part of it: keep everything up to the last comment line
            while body and not body[-1].strip():
                body.pop()
            text = _comment_body(body, path, line + 1)
        else:
            kept = _strip_blank(body)
            text = _comment_body(kept, path, line + 1) if kind == "markdown" else "\n".join(kept)
        cells.append(Cell(kind, lang, text, line, end))

    for number, line in enumerate(lines, start=1):
        if line.startswith("# %%"):
            m = _MARKER.match(line)
            if not m:
                raise SourceError(f"{path.name}:{number}: cannot read the cell marker {line!r}")
            close(number)
            kind = m.group(1) or "code"
            lang = m.group(2)
            if kind == "output" and lang:
                raise SourceError(f"{path.name}:{number}: an output cell is shared, it takes no language")
            current, body = (kind, lang, number), []
        elif current is not None:
            body.append(line.rstrip("\r"))
    close(len(lines) + 1)
    return cells


def parse(path: Path, require_outputs: bool = True) -> Lesson:
    """A lesson: its cells grouped into slots (en/zh pairs become one slot).

    `require_outputs=False` lets checked cells lack their output (--refresh-outputs writes it)."""
    if not _SOURCE_NAME.match(path.stem):
        raise SourceError(f"{path.name}: lesson sources are named NN_slug.py (two digits, lower-case slug)")
    cells = parse_cells(path)
    lesson = Lesson(path)
    i = 0
    while i < len(cells):
        cell = cells[i]
        if cell.kind == "output":
            prev = lesson.slots[-1] if lesson.slots else None
            if prev is None or prev.kind != "code" or prev.output is not None:
                raise SourceError(f"{path.name}:{cell.line}: an output cell must follow a code cell")
            prev.output = cell.text + "\n"
            i += 1
            continue
        if cell.lang is None:
            lesson.slots.append(Slot(cell.kind, {lang: cell.text for lang in LANGS}, line=cell.line))
            i += 1
            continue
        pair = cells[i : i + 2]
        if len(pair) < 2 or [c.lang for c in pair] != list(LANGS) or pair[1].kind != cell.kind:
            raise SourceError(
                f"{path.name}:{cell.line}: a '# %% [{cell.kind}] {cell.lang}' cell must be followed at once "
                f"by its '# %% [{cell.kind}] zh' twin (English first)"
            )
        if cell.kind == "code" and pair[0].text.replace('"en"', '"zh"') != pair[1].text:
            raise SourceError(f"{path.name}:{cell.line}: language-specific code cells may differ only in the "
                              f"language code \"en\" -> \"zh\"; keep everything else in shared cells")
        lesson.slots.append(Slot(cell.kind, {c.lang: c.text for c in pair}, lang_specific=cell.kind == "code",
                                 line=cell.line))
        i += 2
    for slot in lesson.slots:
        checked = slot.kind == "code" and CHECK_MARK in slot.text["en"]
        if checked and require_outputs and (slot.output is None or slot.output.startswith(PLACEHOLDER)):
            raise SourceError(f"{path.name}:{slot.line}: a '{CHECK_MARK}' cell needs a '# %% [output]' cell after it "
                              f"(write it with --refresh-outputs {lesson.number})")
        if slot.output is not None and not checked:
            raise SourceError(f"{path.name}:{slot.line}: only '{CHECK_MARK}' cells keep an output")
        if any(not t.strip() for t in slot.text.values()):
            raise SourceError(f"{path.name}:{slot.line}: empty cell")
    return lesson


# --- building --------------------------------------------------------------------------------
def notebook(lesson: Lesson, lang: str) -> nbformat.NotebookNode:
    """The notebook of `lesson` in `lang`: markdown in that language, the shared code, no
    outputs except those of checked cells."""
    cells = []
    n_code = 0
    for i, slot in enumerate(lesson.slots):
        cell_id = f"l{lesson.number}-c{i:03d}"
        if slot.kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(slot.text[lang], id=cell_id))
            continue
        n_code += 1
        cell = nbformat.v4.new_code_cell(slot.text[lang], id=cell_id)
        if slot.lang_specific:
            cell.metadata["tags"] = [LANG_TAG]
        if slot.output is not None:
            # nbval compares outputs only of cells that have been run: give it an execution count
            cell.execution_count = n_code
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=slot.output)]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        "minialign": {"lesson": lesson.slug, "lang": lang, "source": f"../src/{lesson.path.name}"},
    }
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb).rstrip("\n") + "\n"


def sources() -> list[Path]:
    return sorted(SRC.glob("[0-9][0-9]_*.py"))


def target(lesson: Lesson, lang: str) -> Path:
    return ROOT / lang / f"{lesson.slug}.ipynb"


def build_all() -> dict[Path, str]:
    """Every notebook's path and text, built in memory."""
    out = {}
    for path in sources():
        lesson = parse(path)
        for lang in LANGS:
            out[target(lesson, lang)] = render(notebook(lesson, lang))
    return out


def check() -> list[str]:
    """Problems that make the committed notebooks differ from their sources (empty: up to date)."""
    problems = []
    try:
        built = build_all()
    except SourceError as exc:
        return [str(exc)]
    for path, text in built.items():
        rel = path.relative_to(ROOT)
        if not path.exists():
            problems.append(f"{rel} is missing: run python notebooks/build.py")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{rel} differs from its source: edit notebooks/src/ and run python notebooks/build.py")
    for lang in LANGS:
        for path in sorted((ROOT / lang).glob("*.ipynb")):
            if path not in built:
                problems.append(f"{path.relative_to(ROOT)} has no source in notebooks/src/")
    return problems


def write_all() -> list[Path]:
    written = []
    for path, text in build_all().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


# --- refreshing the outputs of checked cells ------------------------------------------------
def _find_source(lesson: str) -> Path:
    key = lesson.strip()
    key = f"{int(key):02d}" if key.isdigit() else key
    matches = [p for p in sources() if p.stem == key or p.stem[:2] == key]
    if len(matches) != 1:
        raise SystemExit(f"no single lesson source matches {lesson!r} in {SRC}")
    return matches[0]


def refresh_outputs(lesson_name: str, timeout: int = 900) -> Path:
    """Run a lesson's English notebook and store its checked cells' stdout in the source."""
    import os

    from nbclient import NotebookClient

    path = _find_source(lesson_name)
    lesson = parse(path, require_outputs=False)
    nb = notebook(lesson, "en")
    os.environ.setdefault("MINIALIGN_QUIET", "1")
    (ROOT / "en").mkdir(exist_ok=True)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "en")}}).execute()
    captured = {}
    for slot, cell in zip(lesson.slots, nb.cells):
        if slot.kind != "code" or CHECK_MARK not in slot.text["en"]:
            continue
        if any(o.output_type != "stream" or o.name != "stdout" for o in cell.outputs):
            raise SystemExit(f"{path.name}:{slot.line}: a checked cell may only print to stdout "
                             f"(no expression value at its end, no warnings, no figures)")
        text = "".join(o.text for o in cell.outputs)
        if not text.endswith("\n"):
            raise SystemExit(f"{path.name}:{slot.line}: a checked cell's output must end with a newline")
        if any(line != line.rstrip() for line in text.split("\n")):
            raise SystemExit(f"{path.name}:{slot.line}: a checked cell's output has trailing spaces, which "
                             f"editors strip; print stripped lines")
        captured[slot.line] = text[:-1]
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[str] = []
    cells = parse_cells(path)
    out += lines[: cells[0].line - 1] if cells else lines
    for cell in cells:
        chunk = lines[cell.line - 1 : cell.end - 1]
        if cell.kind == "output":
            continue
        out += chunk
        if cell.line in captured:
            while out and not out[-1].strip():
                out.pop()
            out += ["# %% [output]"] + [("# " + s) if s else "#" for s in captured[cell.line].split("\n")] + [""]
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a notebook differs from its source")
    parser.add_argument("--refresh-outputs", metavar="LESSON", nargs="+",
                        help="run lessons (e.g. 01 02) and store their checked cells' outputs in their sources")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    try:
        for lesson in args.refresh_outputs or []:
            print(f"updated {refresh_outputs(lesson).relative_to(ROOT)}")
        for path in write_all():
            print(f"wrote {path.relative_to(ROOT)}")
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
