"""Reading a learner's reply and checking it: a letter or option index for a choice question, a
number (or "3/4", or "−0.27" with a Unicode minus) for a numeric one; and :func:`check`, which
marks a whole lesson's answers with the explanations, for a notebook cell."""

from __future__ import annotations

import math
import numbers
import sys
from fractions import Fraction
from typing import TextIO

from .bank import Question, lesson_quiz
from .ui import LETTERS, check_lang, ui_text


def _parse_choice(question: Question, answer: object, lang: str) -> int:
    n = len(question.options["en"])
    first, last = "A", LETTERS[n - 1]
    if isinstance(answer, str):
        letter = answer.strip().strip("()[].) ").upper()
        if len(letter) == 1 and letter in LETTERS[:n]:
            return LETTERS.index(letter)
        raise ValueError(ui_text(lang, "err_letter", first=first, last=last, answer=answer))
    if isinstance(answer, numbers.Integral) and not isinstance(answer, bool) and 0 <= answer < n:
        return int(answer)
    raise ValueError(ui_text(lang, "err_index", first=first, last=last, answer=answer))


def _parse_numeric(question: Question, answer: object, lang: str) -> float:
    value = None
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool):
        value = float(answer)
    elif isinstance(answer, str):
        # Learners type "−0.27" (a Unicode minus), "０.５" (full-width digits, which float()
        # already reads) or a fraction "3/4".
        text = answer.strip().replace("−", "-").replace("，", ",")
        try:
            value = float(Fraction(text)) if "/" in text else float(text)
        except (ValueError, ZeroDivisionError):
            value = None
    if value is None or not math.isfinite(value):
        raise ValueError(ui_text(lang, "err_number", answer=answer))
    return value


def _is_right_choice(question: Question, value: int) -> bool:
    return value == question.answer


def _is_right_numeric(question: Question, value: float) -> bool:
    # The slack absorbs float noise when a reply sits exactly on the tolerance boundary.
    return abs(value - question.answer) <= question.tolerance + 1e-9


_PARSERS = {"choice": _parse_choice, "numeric": _parse_numeric}
_IS_RIGHT = {"choice": _is_right_choice, "numeric": _is_right_numeric}


def parse_answer(question: Question, answer: object, lang: str = "en") -> int | float:
    """A reply in canonical form (option index or float); ValueError if it cannot be read."""
    return _PARSERS[question.kind](question, answer, check_lang(lang))


def is_right(question: Question, value: int | float) -> bool:
    """True if a reply already in canonical form (see :func:`parse_answer`) is right."""
    return _IS_RIGHT[question.kind](question, value)


def check_answer(question: Question, answer: object) -> bool:
    """True if `answer` is right.

    choice: an option index (int) or a letter ("B", "b", "(B)"); numeric: a number or a
    numeric string ("0.55", "−0.27", "3/4"), right when within the question's tolerance.
    Raises ValueError for a reply that is not an answer at all (a letter beyond the options,
    text for a numeric question, NaN, a bool).
    """
    return is_right(question, parse_answer(question, answer))


def _answers_by_id(questions: list[Question], answers: dict | list | tuple, lang: str) -> dict[str, object]:
    lesson = questions[0].lesson_number
    if isinstance(answers, dict):
        ids = [q.id for q in questions]
        for qid in answers:
            if qid not in ids:
                raise ValueError(ui_text(lang, "err_unknown_answer_id", qid=qid, lesson=lesson, known=", ".join(ids)))
        return dict(answers)
    if isinstance(answers, (list, tuple)):
        if len(answers) > len(questions):
            raise ValueError(ui_text(lang, "err_too_many", n=len(answers), lesson=lesson, total=len(questions)))
        return {q.id: a for q, a in zip(questions, answers)}
    raise ValueError(ui_text(lang, "err_answers_type", got=type(answers).__name__))


def check(
    lesson: int | str, answers: dict | list | tuple, lang: str = "en", file: TextIO | None = None
) -> tuple[int, int]:
    """Mark a learner's answers to a lesson and print, per question, right or wrong with the
    explanation, then the score. Returns (score, total).

    `answers` is a dict {question_id: answer} ({"05-1": 0.55, "05-3": "A"}) or a list in
    question order; None, a missing entry or an unreadable reply counts as wrong (the reason
    is printed), so a notebook cell never stops on a typo.
    """
    _, questions = lesson_quiz(lesson, lang)
    out = file or sys.stdout
    given = _answers_by_id(questions, answers, lang)
    score = 0
    for q in questions:
        reply = given.get(q.id)
        if reply is None or (isinstance(reply, str) and not reply.strip()):
            verdict = ui_text(lang, "unanswered", answer=q.answer_text(lang))
        else:
            try:
                right = is_right(q, parse_answer(q, reply, lang))
            except ValueError as error:
                verdict = ui_text(lang, "invalid_wrong", error=error, answer=q.answer_text(lang))
                right = False
            else:
                verdict = ui_text(lang, "correct") if right else ui_text(lang, "wrong", answer=q.answer_text(lang))
            score += right
        print(f"[{q.id}] {verdict}", file=out)
        print("   " + ui_text(lang, "why", text=q.explanation[lang]), file=out)
    print(ui_text(lang, "score", score=score, total=len(questions)), file=out)
    return score, len(questions)
