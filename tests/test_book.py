"""`python -m minialign book`: sharing one execution between the languages, the index page, the
options. Nothing here executes a lesson; one slow test runs a three-cell notebook in a kernel."""

from __future__ import annotations

import re

import pytest

nbformat = pytest.importorskip("nbformat")
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

from minialign import book  # noqa: E402
from minialign.__main__ import main  # noqa: E402


def _pair(zh_quiz: str = 'quiz.ask("01", lang="zh")', tag: bool = True):
    """An English and a Chinese notebook: shared code, one language-specific quiz cell."""
    def nb(lang: str, quiz_src: str):
        quiz = new_code_cell(quiz_src)
        if tag:
            quiz.metadata["tags"] = [book.LANG_TAG]
        return new_notebook(cells=[new_markdown_cell(f"# Lesson 1 ({lang})\ntext"), new_code_cell("x = 1\nprint(x)"),
                                   new_markdown_cell(f"more {lang}"), quiz, new_code_cell("x + 1")])

    return nb("en", 'quiz.ask("01", lang="en")'), nb("zh", zh_quiz)


def test_own_cells_are_the_language_specific_ones():
    en, zh = _pair()
    assert book.own_cells(en, zh) == [3]
    same = new_notebook(cells=[new_code_cell("a"), new_markdown_cell("b")])
    assert book.own_cells(same, same) == []


@pytest.mark.parametrize("change", ["untagged", "count", "kind"])
def test_own_cells_refuses_notebooks_that_do_not_line_up(change):
    en, zh = _pair(tag=change != "untagged")
    if change == "count":
        zh.cells.append(new_code_cell("y = 2"))
    elif change == "kind":
        zh.cells[2] = new_code_cell("print('not markdown')")
    assert book.own_cells(en, zh) is None


def test_copy_outputs_fills_every_shared_code_cell_and_leaves_own_ones():
    en, zh = _pair()
    en.cells[1].outputs = [new_output("stream", name="stdout", text="1\n")]
    en.cells[1].execution_count = 1
    en.cells[3].outputs = [new_output("stream", name="stdout", text="english quiz\n")]
    en.cells[4].outputs = [new_output("execute_result", data={"text/plain": "2"}, execution_count=3)]
    en.cells[4].execution_count = 3
    assert book.copy_outputs(en, zh, [3]) == 2  # cells 1 and 4; the quiz cell 3 runs itself
    assert zh.cells[1].outputs[0]["text"] == "1\n" and zh.cells[1].execution_count == 1
    assert zh.cells[4].outputs[0]["data"] == {"text/plain": "2"} and zh.cells[4].execution_count == 3
    assert zh.cells[3].outputs == []
    assert zh.cells[2].source == "more zh"  # markdown untouched
    zh.cells[1].outputs[0]["text"] = "changed"
    assert en.cells[1].outputs[0]["text"] == "1\n"  # a copy, not the same object


def test_every_lesson_pair_shares_its_code_but_the_quiz_call():
    for slug in book.lesson_slugs(None):
        en, zh = (nbformat.read(book.ROOT / "notebooks" / lang / f"{slug}.ipynb", as_version=4) for lang in book.LANGS)
        own = book.own_cells(en, zh)
        assert own, f"{slug}: the Chinese notebook would be executed a second time"
        assert all("quiz." in zh.cells[i].source for i in own), slug


def test_lesson_title_is_the_first_heading():
    en, zh = _pair()
    assert book.lesson_title(en) == "Lesson 1 (en)"
    assert book.lesson_title(new_notebook(cells=[new_code_cell("1")])) == ""


def test_index_links_lessons_quizzes_exercises_and_results():
    entries = [
        book.IndexEntry(2, "02_sft", {"en": "Lesson 2 · SFT", "zh": "第 2 课"},
                        {"en": "notebooks/en/02_sft.html", "zh": "notebooks/zh/02_sft.html"},
                        {"en": "quiz/02_en.html", "zh": "quiz/02_zh.html"}, "exercises/ex02_sft.py"),
        book.IndexEntry(0, "00_why", {"en": "Why <alignment>"}, {"en": "notebooks/en/00_why.html"}),
    ]
    page = book.index_html(entries, ("en", "zh"), {"Results (English)": "results/RESULTS.html"})
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert hrefs == ["notebooks/en/00_why.html",  # lessons in order, whatever the order given
                     "notebooks/en/02_sft.html", "notebooks/zh/02_sft.html", "quiz/02_en.html", "quiz/02_zh.html",
                     "exercises/ex02_sft.py", "results/RESULTS.html"]
    assert "Why &lt;alignment&gt;" in page and "第 2 课" in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_quiz_pages_hold_every_question_with_its_answer_folded(tmp_path):
    pages = book.write_quiz_pages(tmp_path, ("en", "zh"), {5})
    assert set(pages) == {(5, "en"), (5, "zh")}
    text = (tmp_path / pages[(5, "zh")]).read_text(encoding="utf-8")
    assert "<details>" in text and "05-1" in text


def test_lesson_selection():
    slugs = book.lesson_slugs(None)
    assert len(slugs) >= 10 and slugs == sorted(slugs)
    assert book.lesson_slugs("2,05") == [s for s in slugs if s[:2] in ("02", "05")]
    with pytest.raises(book.BookError, match="lessons are 00"):
        book.lesson_slugs("42")
    with pytest.raises(book.BookError, match="lessons are 00"):  # one unknown among known ones
        book.lesson_slugs("02,42")


@pytest.mark.parametrize("argv, message", [(["--lang", "fr"], "--lang fr"), (["--lessons", "77"], "--lessons 77")])
def test_bad_options_give_one_error_line(argv, message, capsys, tmp_path):
    assert main(["book", "--out", str(tmp_path / "b"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("book: error:") and message in err[0]
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_a_tiny_lesson_runs_once_for_both_languages(tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("nbconvert")
    src = tmp_path / "nb"
    for lang in book.LANGS:
        (src / lang).mkdir(parents=True)
        quiz = new_code_cell(f'print("quiz", "{lang}")')
        quiz.metadata["tags"] = [book.LANG_TAG]
        cells = [new_markdown_cell(f"# Tiny {lang}"), new_code_cell("x = 41\nprint(x + 1)"), quiz,
                 new_code_cell("import matplotlib\nmatplotlib.use('agg')\nfrom IPython.display import Image, display\n"
                               "import io, matplotlib.pyplot as plt\nbuf = io.BytesIO()\n"
                               "plt.plot([1, 2]); plt.savefig(buf, format='png'); display(Image(buf.getvalue()))"),
                 new_code_cell("x" if lang == "en" else "x")]
        nbformat.write(new_notebook(cells=cells), src / lang / "99_tiny.ipynb")
        bad = new_notebook(cells=[new_markdown_cell("# Bad"), new_code_cell("y = 1"), new_code_cell("1 / 0")])
        nbformat.write(bad, src / lang / "98_bad.ipynb")
    out = tmp_path / "out"
    done = book.build_lesson("99_tiny", ("en", "zh"), out, 60, src)
    assert done.error is None and done.how == {"en": "executed", "zh": "outputs of en + 1 own cell"}
    zh = nbformat.read(out / "notebooks" / "zh" / "99_tiny.ipynb", as_version=4)
    assert zh.cells[1].outputs[0]["text"] == "42\n"  # copied from English
    assert zh.cells[2].outputs[0]["text"] == "quiz zh\n"  # run itself
    assert [c.execution_count for c in zh.cells if c.cell_type == "code"] == [1, 2, 3, 4]
    html = (out / "notebooks" / "zh" / "99_tiny.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "quiz zh" in html
    failed = book.build_lesson("98_bad", ("en",), out, 60, src)
    assert failed.error.startswith(f"{src / 'en' / '98_bad.ipynb'}: cell 3 of 3 (`1 / 0`) failed: ZeroDivisionError")
    assert (out / "logs" / "98_bad_en.ipynb").exists()
