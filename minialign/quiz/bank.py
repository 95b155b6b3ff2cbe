"""The question bank: its lessons and questions, read from ``minialign/data/quiz.json``.

The bank's layout is the JSON Schema ``bank.schema.json`` beside this file; the tests check the
package's bank against it, so the loader here stays thin. It checks only what a schema cannot
say: ids that refer to each other, the same number of options in every language, an answer
index below the number of options, finite numbers. A bank that does not match the schema at all
fails with a QuizBankError that names the question and the schema.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .ui import LANGS, LETTERS, check_lang, format_number, ui_text

DEFAULT_BANK = Path(__file__).resolve().parent.parent / "data" / "quiz.json"
BANK_SCHEMA = Path(__file__).resolve().parent / "bank.schema.json"


@dataclass(frozen=True)
class Lesson:
    """A lesson that has a quiz: its number (0-9), slug ("05_dpo") and title per language."""

    number: int
    slug: str
    title: dict[str, str]


@dataclass(frozen=True)
class Question:
    """One quiz question. Texts are dicts keyed by language ("en", "zh").

    For ``kind == "choice"``, ``answer`` is the 0-based index into ``options[lang]``;
    for ``kind == "numeric"``, ``answer`` is the number and ``tolerance`` the accepted
    absolute error.
    """

    id: str
    lesson: str
    kind: str
    question: dict[str, str]
    explanation: dict[str, str]
    answer: int | float
    options: dict[str, list[str]] | None = None
    tolerance: float | None = None

    @property
    def lesson_number(self) -> int:
        return int(self.lesson[:2])

    def answer_text(self, lang: str = "en") -> str:
        """The right answer as a learner would write it: "B (option text)" or "0.554"."""
        if self.kind == "choice":
            return ui_text(lang, "choice_answer", letter=LETTERS[self.answer], text=self.options[lang][self.answer])
        return format_number(self.answer)

    def render(self, lang: str = "en") -> str:
        """Plain-text question with its options (or the numeric hint), no answer."""
        lines = [f"[{self.id}] {self.question[lang]}"]
        if self.kind == "choice":
            lines += [f"   {LETTERS[i]}. {text}" for i, text in enumerate(self.options[lang])]
            lines.append(ui_text(lang, "choice_hint", first="A", last=LETTERS[len(self.options[lang]) - 1]))
        else:
            lines.append(ui_text(lang, "numeric_hint", tol=format_number(self.tolerance)))
        return "\n".join(lines)


class QuizBankError(ValueError):
    """A malformed question bank; the message names the file and the question id."""


# ----------------------------------------------------------------------------- reading


def _texts(raw: dict) -> dict[str, str]:
    return {lang: raw[lang] for lang in LANGS}


def _choice_fields(raw: dict) -> dict:
    return {"options": {lang: list(raw["options"][lang]) for lang in LANGS}}


def _numeric_fields(raw: dict) -> dict:
    return {"tolerance": float(raw["tolerance"])}


_KIND_FIELDS: dict[str, Callable[[dict], dict]] = {"choice": _choice_fields, "numeric": _numeric_fields}


def _lesson(raw: dict) -> Lesson:
    return Lesson(number=int(raw["id"][:2]), slug=raw["id"], title=_texts(raw["title"]))


def _question(raw: dict) -> Question:
    return Question(
        id=raw["id"],
        lesson=raw["lesson"],
        kind=raw["kind"],
        question=_texts(raw["question"]),
        explanation=_texts(raw["explanation"]),
        answer=raw["answer"],
        **_KIND_FIELDS[raw["kind"]](raw),
    )


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _problems(q: Question, lessons: dict[str, Lesson], seen: set[str]) -> list[str]:
    """What is wrong with a question that its schema cannot see."""
    if q.lesson not in lessons:
        return [f"lesson {q.lesson!r} is not in the bank's lessons"]
    problems = []
    if int(q.id.split("-")[0]) != lessons[q.lesson].number:
        problems.append(f"id {q.id!r} does not start with its lesson's number ({q.lesson})")
    if q.id in seen:
        problems.append("id appears twice")
    if q.kind == "choice":
        counts = {lang: len(q.options[lang]) for lang in LANGS}
        n = counts[LANGS[0]]
        if len(set(counts.values())) != 1:
            problems.append(f"options differ in length between languages: {counts}")
        if not (isinstance(q.answer, int) and not isinstance(q.answer, bool) and 0 <= q.answer < n):
            problems.append(f"answer must be an option index 0..{n - 1}, got {q.answer!r}")
    else:
        if not (_is_real(q.answer) and math.isfinite(q.answer)):
            problems.append(f"answer must be a finite number, got {q.answer!r}")
        if not (math.isfinite(q.tolerance) and q.tolerance >= 0):
            problems.append(f"tolerance must be a finite number >= 0, got {q.tolerance!r}")
    return problems


def _malformed(where: str, error: Exception) -> QuizBankError:
    return QuizBankError(f"{where}: does not have the layout of {BANK_SCHEMA} ({type(error).__name__}: {error})")


def _bank(path: str | Path | None) -> tuple[tuple[Lesson, ...], tuple[Question, ...]]:
    resolved = Path(path or DEFAULT_BANK).resolve()
    return _read_bank(resolved, resolved.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _read_bank(path: Path, mtime_ns: int) -> tuple[tuple[Lesson, ...], tuple[Question, ...]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise QuizBankError(f"{path}: not valid JSON: {error}") from error
    try:
        lessons = [_lesson(raw) for raw in data["lessons"]]
        raw_questions = list(data["questions"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _malformed(str(path), error) from error
    by_slug, numbers_seen = {}, set()
    for lesson in lessons:
        if lesson.number in numbers_seen:
            raise QuizBankError(f"{path}: lesson number {lesson.number:02d} appears twice")
        numbers_seen.add(lesson.number)
        by_slug[lesson.slug] = lesson

    questions, seen = [], set()
    for i, raw in enumerate(raw_questions):
        qid = raw.get("id") if isinstance(raw, dict) else None
        where = f"{path}: question {qid!r}" if isinstance(qid, str) else f"{path}: question #{i}"
        try:
            question = _question(raw)
            problems = _problems(question, by_slug, seen)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise _malformed(where, error) from error
        if problems:
            raise QuizBankError(f"{where}: {'; '.join(problems)}")
        seen.add(question.id)
        questions.append(question)
    return tuple(lessons), tuple(questions)


# ----------------------------------------------------------------------------- looking up


def load_bank(path: str | Path | None = None) -> list[Question]:
    """All questions of a bank (default: the package's).

    Raises QuizBankError (a ValueError) naming the file and the question id when the bank is
    not valid JSON, does not have the schema's layout, or has ids, options or answers that do
    not fit together.
    """
    return list(_bank(path)[1])


def load_lessons(path: str | Path | None = None) -> list[Lesson]:
    """The lessons listed in a bank (default: the package's), in order."""
    return list(_bank(path)[0])


def resolve_lesson(lesson: int | str, path: str | Path | None = None, lang: str = "en") -> Lesson:
    """Find a lesson from 5, "5", "05", "05_dpo" or "dpo"; ValueError listing the lessons
    otherwise."""
    lessons = load_lessons(path)
    number = None
    if isinstance(lesson, numbers.Integral) and not isinstance(lesson, bool):
        number = int(lesson)
    elif isinstance(lesson, str):
        key = lesson.strip().lower()
        if key.isdigit():
            number = int(key)
        for candidate in lessons:
            if key in (candidate.slug, candidate.slug[3:]):
                return candidate
    for candidate in lessons:
        if candidate.number == number:
            return candidate
    known = ", ".join(candidate.slug for candidate in lessons)
    raise ValueError(ui_text(lang, "err_lesson", lesson=lesson, known=known))


def questions_for(lesson: int | str, path: str | Path | None = None) -> list[Question]:
    """The questions of one lesson, in bank order. `lesson` as in :func:`resolve_lesson`."""
    slug = resolve_lesson(lesson, path).slug
    return [q for q in load_bank(path) if q.lesson == slug]


def lesson_quiz(lesson: int | str, lang: str) -> tuple[Lesson, list[Question]]:
    """The lesson and its questions, with errors in the learner's language."""
    info = resolve_lesson(lesson, lang=check_lang(lang))
    return info, questions_for(info.slug)
