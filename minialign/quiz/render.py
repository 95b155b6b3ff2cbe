"""Showing a quiz: in a notebook (HTML with each answer folded away, never waiting for input, so
the lessons run unattended under nbval), as plain text, and as an interactive terminal quiz."""

from __future__ import annotations

import html
import sys
from typing import TextIO

from .answers import is_right, parse_answer
from .bank import Lesson, Question, lesson_quiz
from .ui import check_lang, format_number, ui_text

# ----------------------------------------------------------------------------- notebook and text


def _in_notebook() -> bool:
    """True inside a Jupyter kernel, where rich HTML output is rendered."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _header(lesson: Lesson, n: int, lang: str) -> str:
    return ui_text(lang, "title", number=f"{lesson.number:02d}", index=lesson.number, title=lesson.title[lang], n=n)


def quiz_html(lesson: Lesson, questions: list[Question], lang: str) -> str:
    """A lesson's questions as HTML, each answer and explanation under a "Show answer" toggle."""
    esc = html.escape
    parts = [f"<h4>{esc(_header(lesson, len(questions), lang))}</h4>"]
    for q in questions:
        parts.append(f"<p><b>{esc(q.id)}</b> {esc(q.question[lang])}</p>")
        if q.kind == "choice":
            items = "".join(f"<li>{esc(o)}</li>" for o in q.options[lang])
            parts.append(f'<ol type="A">{items}</ol>')
        else:
            parts.append(f"<p><i>{esc(ui_text(lang, 'numeric_hint', tol=format_number(q.tolerance)))}</i></p>")
        parts.append(
            f"<details><summary>{esc(ui_text(lang, 'reveal_hint'))}</summary>"
            f"<p><b>{esc(ui_text(lang, 'answer', answer=q.answer_text(lang)))}</b></p>"
            f"<p>{esc(q.explanation[lang])}</p></details>"
        )
    return "\n".join(parts)


def show_quiz(lesson: int | str, lang: str = "en", file: TextIO | None = None) -> None:
    """Print a lesson's questions (no answers) as plain text."""
    info, questions = lesson_quiz(lesson, lang)
    out = file or sys.stdout
    print(_header(info, len(questions), lang), file=out)
    for q in questions:
        print("\n" + q.render(lang), file=out)
    print("\n" + ui_text(lang, "check_hint", lesson=f"{info.number:02d}", first_id=questions[0].id), file=out)


def ask(lesson: int | str, lang: str = "en") -> None:
    """Show a lesson's quiz in a notebook, each answer and explanation folded under a
    "Show answer" toggle. Never waits for input. Outside a notebook it prints like show_quiz."""
    check_lang(lang)
    if not _in_notebook():
        show_quiz(lesson, lang)
        return
    from IPython.display import HTML, display

    display(HTML(quiz_html(*lesson_quiz(lesson, lang), lang)))


def reveal(lesson: int | str, lang: str = "en", file: TextIO | None = None) -> None:
    """Print every question of a lesson with its answer and explanation."""
    info, questions = lesson_quiz(lesson, lang)
    out = file or sys.stdout
    print(_header(info, len(questions), lang), file=out)
    for q in questions:
        print("\n" + q.render(lang), file=out)
        print(ui_text(lang, "answer", answer=q.answer_text(lang)), file=out)
        print(ui_text(lang, "why", text=q.explanation[lang]), file=out)


# ----------------------------------------------------------------------------- terminal


def run_terminal_quiz(
    lesson: int | str,
    lang: str = "en",
    input_stream: TextIO | None = None,
    output: TextIO | None = None,
) -> tuple[int, int]:
    """Ask a lesson's questions one by one; returns (score, total).

    Reads one answer per line from `input_stream` (default sys.stdin), so answers can be
    piped in: ``printf 'B\\n0.55\\n' | python -m minialign quiz 05``. An empty line skips the
    question (counted wrong); an unreadable line is refused and the question asked again;
    end of input stops the quiz and counts the remaining questions as wrong.
    """
    info, questions = lesson_quiz(lesson, lang)
    stdin = input_stream if input_stream is not None else sys.stdin
    out = output if output is not None else sys.stdout
    echo = not _is_tty(stdin)  # piped answers are not echoed by a terminal: echo them ourselves
    print(_header(info, len(questions), lang), file=out)
    score = 0
    for i, q in enumerate(questions):
        print("\n" + q.render(lang), file=out)
        while True:
            out.write(ui_text(lang, "prompt"))
            out.flush()
            line = stdin.readline()
            if line == "":  # end of input
                print("\n" + ui_text(lang, "eof", n=len(questions) - i), file=out)
                print(ui_text(lang, "score", score=score, total=len(questions)), file=out)
                return score, len(questions)
            reply = line.strip()
            if echo:
                print(reply, file=out)
            if not reply:
                print(ui_text(lang, "skipped", answer=q.answer_text(lang)), file=out)
                break
            try:
                right = is_right(q, parse_answer(q, reply, lang))
            except ValueError as error:
                print(ui_text(lang, "invalid", error=error), file=out)
                continue
            score += right
            print(ui_text(lang, "correct") if right else ui_text(lang, "wrong", answer=q.answer_text(lang)), file=out)
            break
        print(ui_text(lang, "why", text=q.explanation[lang]), file=out)
    print("\n" + ui_text(lang, "score", score=score, total=len(questions)), file=out)
    return score, len(questions)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
