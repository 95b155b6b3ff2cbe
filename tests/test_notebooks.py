"""The lesson notebooks, checked without running them (nbval runs them: `make test`).

English and Chinese notebooks are built from one source per lesson (`notebooks/build.py`), so the
code a learner runs is the same in both languages; these tests keep it that way.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from minialign import quiz

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LANGS = ("en", "zh")


def _load_builder():
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


build = _load_builder()


def _notebooks(lang: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((NOTEBOOKS / lang).glob("*.ipynb"))}


EN, ZH = _notebooks("en"), _notebooks("zh")
ALL = [(lang, name, nb) for lang, books in (("en", EN), ("zh", ZH)) for name, nb in books.items()]
IDS = [f"{lang}/{name}" for lang, name, _ in ALL]


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _code(nb: dict, shared_only: bool = True) -> list[str]:
    return [
        _source(c) for c in nb["cells"]
        if c["cell_type"] == "code" and not (shared_only and build.LANG_TAG in c["metadata"].get("tags", []))
    ]


def _glossary() -> dict[str, str]:
    """English spelling (lower case) -> Chinese term, from the table in TERMINOLOGY.md."""
    terms = {}
    for line in (NOTEBOOKS / "TERMINOLOGY.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or cells[0] in ("English", "---"):
            continue
        for spelling in cells[0].split(" / "):
            terms[spelling.strip().lower()] = cells[1]
    return terms


def test_there_are_lessons_in_both_languages():
    assert EN and ZH
    lessons = sorted(p.stem for p in (NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))
    assert sorted(EN) == lessons and sorted(ZH) == lessons, "every lesson source has its notebook in each language"


def test_every_english_notebook_has_a_chinese_twin():
    assert sorted(EN) == sorted(ZH)


def test_notebooks_are_up_to_date_with_their_sources():
    # a notebook edited by hand (or a source edited without rebuilding) drifts from its twin
    assert build.check() == []


def test_building_twice_gives_identical_files():
    assert build.build_all() == build.build_all()


@pytest.mark.parametrize("name", sorted(EN))
def test_code_cells_are_identical_in_both_languages(name):
    assert _code(EN[name]) == _code(ZH[name])


@pytest.mark.parametrize("name", sorted(EN))
def test_language_specific_cells_differ_only_in_the_language_code(name):
    en = [c for c in _code(EN[name], shared_only=False) if c not in _code(EN[name])]
    zh = [c for c in _code(ZH[name], shared_only=False) if c not in _code(ZH[name])]
    assert len(en) == len(zh) <= 2, "keep language-specific code to the quiz call"
    assert [c.replace('"en"', '"zh"') for c in en] == zh


@pytest.mark.parametrize("lang,name,nb", ALL, ids=IDS)
def test_outputs_are_stored_only_for_checked_cells(lang, name, nb):
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if build.CHECK_MARK in _source(cell):
            # nbval compares only outputs of cells that carry an execution count
            assert cell["outputs"] and cell["execution_count"] is not None, _source(cell)[:80]
        else:
            assert cell["outputs"] == [] and cell["execution_count"] is None, _source(cell)[:80]


@pytest.mark.parametrize("lang,name,nb", ALL, ids=IDS)
def test_no_absolute_paths(lang, name, nb):
    text = json.dumps(nb, ensure_ascii=False)
    assert not re.search(r"/work/|/home/|/tmp/|/Users/|[A-Z]:\\\\", text)


@pytest.mark.parametrize("lang,name,nb", ALL, ids=IDS)
def test_kernel_is_python3(lang, name, nb):
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("lang,name,nb", ALL, ids=IDS)
def test_every_lesson_ends_with_its_quiz(lang, name, nb):
    last = nb["cells"][-1]
    assert last["cell_type"] == "code"
    assert re.search(rf'quiz\.ask\("{name[:2]}", lang="{lang}"\)', _source(last)), _source(last)


@pytest.mark.parametrize("name", sorted(EN))
def test_every_lesson_is_a_lesson_of_the_quiz_bank(name):
    assert name in {lesson.slug for lesson in quiz.load_lessons()}


@pytest.mark.parametrize("lang,name,nb", ALL, ids=IDS)
def test_relative_links_point_to_existing_files(lang, name, nb):
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for link in re.findall(r"\]\(([^)\s]+)\)", _source(cell)):
            if "://" not in link and not link.startswith("#"):
                assert (NOTEBOOKS / lang / link.split("#")[0]).exists(), f"{link} in {lang}/{name}"


def test_glossary_lists_each_english_term_once():
    lines = [line for line in (NOTEBOOKS / "TERMINOLOGY.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("|") and not line.startswith(("| English", "| ---"))]
    spellings = [s.strip().lower() for line in lines for s in line.strip("|").split("|")[0].split(" / ")]
    assert len(spellings) == len(set(spellings)) > 50


# a Chinese term glossed with its English original: 奖励模型（reward model）
_GLOSS = re.compile(r"([\u4e00-\u9fff])[（(]([A-Za-z][A-Za-z0-9 ,.'’/–-]*)[）)]")


@pytest.mark.parametrize("name", sorted(ZH))
def test_chinese_glosses_use_the_glossary_terms(name):
    glossary = _glossary()
    for cell in ZH[name]["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = _source(cell)
        for m in _GLOSS.finditer(text):
            english = m.group(2).strip()
            assert english.lower() in glossary, f"({english}) is not in notebooks/TERMINOLOGY.md"
            zh_term = glossary[english.lower()]
            before = text[: m.start(1) + 1]
            assert before.endswith(zh_term), (f"{name}: '{before[-12:]}（{english}）' "
                                              f"should read '{zh_term}（{english}）'")


def test_the_gloss_check_catches_a_wrong_chinese_term():
    # the check above must be able to fail: 过度拒绝 is not the glossary's term for over-refusal
    glossary = _glossary()
    m = _GLOSS.search("这是过度拒绝（over-refusal）。")
    assert m and not "这是过度拒绝".endswith(glossary[m.group(2).lower()])


# --- the builder's own rules -------------------------------------------------------------------
def _parse(tmp_path: Path, text: str):
    path = tmp_path / "07_demo.py"
    path.write_text(text, encoding="utf-8")
    return build.parse(path)


def test_builder_pairs_english_and_chinese_markdown_into_one_cell(tmp_path):
    lesson = _parse(tmp_path, "# %% [markdown] en\n# Hello\n# %% [markdown] zh\n# 你好\n# %%\nx = 1\n")
    en, zh = build.notebook(lesson, "en"), build.notebook(lesson, "zh")
    assert [c.source for c in en.cells] == ["Hello", "x = 1"]
    assert [c.source for c in zh.cells] == ["你好", "x = 1"]
    assert [c.id for c in en.cells] == [c.id for c in zh.cells] == ["l07-c000", "l07-c001"]


def test_builder_rejects_english_markdown_without_its_chinese_twin(tmp_path):
    with pytest.raises(build.SourceError, match="twin"):
        _parse(tmp_path, "# %% [markdown] en\n# Hello\n# %%\nx = 1\n")


def test_builder_rejects_language_specific_code_that_differs_beyond_the_language(tmp_path):
    with pytest.raises(build.SourceError, match="language code"):
        _parse(tmp_path, '# %% [code] en\nask(lang="en")\n# %% [code] zh\nask(lang="zh", extra=1)\n')


def test_builder_requires_the_output_of_a_checked_cell(tmp_path):
    with pytest.raises(build.SourceError, match="output"):
        _parse(tmp_path, "# %%\n# NBVAL_CHECK_OUTPUT\nprint(1)\n")
    lesson = _parse(tmp_path, "# %%\n# NBVAL_CHECK_OUTPUT\nprint(1)\n# %% [output]\n# 1\n")
    cell = build.notebook(lesson, "en").cells[0]
    assert cell.outputs[0].text == "1\n" and cell.execution_count == 1


def test_builder_rejects_a_checked_cell_whose_output_is_a_placeholder(tmp_path):
    # a checked cell must store the output it really prints, not a reminder to fill it in
    with pytest.raises(build.SourceError, match="refresh-outputs"):
        _parse(tmp_path, "# %%\n# NBVAL_CHECK_OUTPUT\nprint(1)\n"
                         "# %% [output]\n# (filled in by build.py --refresh-outputs)\n")


def test_lesson_times_sum_the_cells_of_each_notebook(tmp_path):
    from minialign.results_page import lesson_times  # what `report --lesson-times nb.xml` reads

    xml = tmp_path / "nb.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="notebooks.en.00_why_alignment.ipynb" name="Cell 0" time="1.5" />'
        '<testcase classname="notebooks.en.00_why_alignment.ipynb" name="Cell 1" time="0.25" />'
        '<testcase classname="notebooks.zh.01_pretraining.ipynb" name="Cell 0" time="2.0" />'
        '</testsuite></testsuites>')
    assert lesson_times(str(xml)) == {"notebooks/en/00_why_alignment.ipynb": 1.75,
                                            "notebooks/zh/01_pretraining.ipynb": 2.0}


def _notebook_conftest():
    spec = importlib.util.spec_from_file_location("notebook_conftest", NOTEBOOKS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_run_sums_each_lessons_phases_and_flags_those_over_three_minutes():
    hook = _notebook_conftest()

    class Report:  # the fields of a pytest TestReport the hook reads
        def __init__(self, nodeid, duration):
            self.nodeid, self.duration = nodeid, duration

    hook.pytest_sessionstart(None)
    for nodeid, seconds in [("notebooks/en/00_why_alignment.ipynb::Cell 0", 1.5),
                            ("notebooks/en/00_why_alignment.ipynb::Cell 0", 0.25),  # its teardown
                            ("notebooks/zh/01_pretraining.ipynb::Cell 3", 200.0),
                            ("tests/test_notebooks.py::test_x", 9.0)]:  # not a notebook: left out
        hook.pytest_runtest_logreport(Report(nodeid, seconds))
    assert hook._seconds == {"notebooks/en/00_why_alignment.ipynb": 1.75, "notebooks/zh/01_pretraining.ipynb": 200.0}
    lines = hook.lesson_lines(hook._seconds)
    assert lines[0].split() == ["notebooks/en/00_why_alignment.ipynb", "1.8", "s"]  # under 3 minutes: no flag
    assert lines[1].split() == ["notebooks/zh/01_pretraining.ipynb", "200.0", "s", "OVER", "3", "MIN"]
    assert lines[2].split()[:3] == ["total", "201.8", "s"] and "(1 lesson over 3 min)" in lines[2]
