"""The command line: ``python -m minialign quiz LESSON [--lang zh]``, ``quiz --list`` and
``quiz score-sheet SHEET.csv``."""

from __future__ import annotations

import argparse
import sys

from .bank import load_bank, load_lessons, resolve_lesson
from .render import run_terminal_quiz
from .sheet import format_results, score_sheet
from .ui import LANGS, ui_text

SCORE_SHEET = "score-sheet"


def _quiz_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minialign quiz",
        description="Take a lesson's quiz in the terminal (answers may be piped, one per line). "
        f"Also: `minialign quiz {SCORE_SHEET} SHEET.csv` scores a class's answers.",
    )
    parser.add_argument("lesson", nargs="?", help="lesson number or name: 5, 05 or 05_dpo")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of questions and messages")
    parser.add_argument("--list", action="store_true", help="list the lessons that have a quiz")
    return parser


def _sheet_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"minialign quiz {SCORE_SHEET}",
        description="Score a class's quiz answers from a CSV sheet with the header "
        "student,question_id,answer (one row per answer).",
    )
    parser.add_argument("sheet", help="path to the CSV sheet")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of the table and messages")
    return parser


def _list_lessons(lang: str) -> None:
    bank = load_bank()
    print(ui_text(lang, "list_title"))
    for lesson in load_lessons():
        n = sum(q.lesson == lesson.slug for q in bank)
        print(ui_text(lang, "list_row", slug=lesson.slug, n=n, title=lesson.title[lang]))


def _score_sheet_command(args: argparse.Namespace) -> int:
    try:
        results = score_sheet(args.sheet, args.lang)
    except (ValueError, OSError) as error:
        print(f"minialign quiz {SCORE_SHEET}: {error}", file=sys.stderr)
        return 1
    if not results:
        print(ui_text(args.lang, "no_answers"))
        return 0
    print(format_results(results, args.lang))
    lessons = sorted({qid[:2] for qid in results[0].correct})
    print("\n" + ui_text(args.lang, "scored", n=len(results), total=results[0].total, lessons=", ".join(lessons)))
    return 0


def main_cli(argv: list[str] | None = None) -> int:
    """`quiz <lesson> [--lang en|zh]`, `quiz --list`, `quiz score-sheet <sheet.csv> [--lang en|zh]`.

    `argv` holds the arguments after "quiz". Returns the exit status (0 ok, 1 bad sheet,
    2 usage error) instead of exiting, so `python -m minialign` can wrap it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["grade"]:  # the old name of score-sheet
        lang = "zh" if {"zh", "--lang=zh"} & set(argv) else "en"
        print(f"minialign quiz: {ui_text(lang, 'grade_moved')}", file=sys.stderr)
        return 2
    try:
        if argv[:1] == [SCORE_SHEET]:
            return _score_sheet_command(_sheet_parser().parse_args(argv[1:]))
        parser = _quiz_parser()
        args = parser.parse_args(argv)
        if args.list:
            _list_lessons(args.lang)
            return 0
        if args.lesson is None:
            parser.print_usage(sys.stderr)
            print(f"minialign quiz: {ui_text(args.lang, 'need_lesson')}", file=sys.stderr)
            return 2
        try:
            resolve_lesson(args.lesson, lang=args.lang)
        except ValueError as error:
            print(f"minialign quiz: {error}", file=sys.stderr)
            return 2
        try:
            run_terminal_quiz(args.lesson, args.lang)
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 130
        return 0
    except SystemExit as exit_:  # argparse's --help and usage errors
        return exit_.code if isinstance(exit_.code, int) else 0
