"""Knowledge-check quizzes: a bilingual (English / Chinese) question bank and its checker.

The questions live in ``minialign/data/quiz.json`` (at least seven per lesson); its layout is the
JSON Schema ``minialign/quiz/bank.schema.json``. Two kinds:

- ``choice``: ``options`` per language, ``answer`` is the 0-based index of the right option;
  a learner answers with a letter ("B", "b", "(B)") or, from code, with the index.
- ``numeric``: a small calculation done by hand; ``answer`` is a number and any reply within
  ``tolerance`` of it is right.

Every question carries an explanation, shown after answering: the point of a quiz here is the
*why* (the pitfall, the trade-off), not the letter.

Three ways to take a quiz:

- notebook (never waits for input, so it runs unattended under nbval)::

      from minialign import quiz
      quiz.ask("05")                                  # questions, answers folded away
      quiz.check("05", {"05-1": 0.55, "05-3": "A"})   # right/wrong, explanations, score

- terminal: ``python -m minialign quiz 05 --lang zh`` (one answer per line; answers can be piped);
- a class: ``python -m minialign quiz score-sheet answers.csv`` scores a sheet (see :func:`score_sheet`).

The modules: ``ui`` (every string shown, in both languages), ``bank`` (lessons, questions, the
loader), ``answers`` (reading and checking replies, marking a lesson), ``render`` (notebook, text
and terminal), ``sheet`` (a class's CSV sheet) and ``cli`` (the command line).
"""

from .answers import check, check_answer, parse_answer
from .bank import (
    BANK_SCHEMA,
    DEFAULT_BANK,
    Lesson,
    Question,
    QuizBankError,
    load_bank,
    load_lessons,
    questions_for,
    resolve_lesson,
)
from .cli import main_cli
from .render import ask, reveal, run_terminal_quiz, show_quiz
from .sheet import SHEET_COLUMNS, StudentResult, format_results, score_sheet
from .ui import LANGS, LETTERS, UI

__all__ = [
    "BANK_SCHEMA", "DEFAULT_BANK", "LANGS", "LETTERS", "SHEET_COLUMNS", "UI",
    "Lesson", "Question", "QuizBankError", "StudentResult",
    "ask", "check", "check_answer", "format_results", "load_bank", "load_lessons", "main_cli",
    "parse_answer", "questions_for", "resolve_lesson", "reveal", "run_terminal_quiz", "score_sheet",
    "show_quiz",
]
