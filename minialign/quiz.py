"""Knowledge-check quizzes: a bilingual (English / Chinese) question bank and its checker.

The questions live in ``minialign/data/quiz.json`` (at least seven per lesson). Two kinds:

- ``choice``: ``options`` per language, ``answer`` is the 0-based index of the right option;
  a learner answers with a letter ("B", "b", "(B)") or, from code, with the index.
- ``numeric``: a small calculation done by hand; ``answer`` is a number and any reply within
  ``tolerance`` of it is right.

Every question carries an explanation, shown after answering: the point of a quiz here is the
*why* (the pitfall, the trade-off), not the letter.

Three ways to take a quiz:

- notebook (never waits for input, so it runs unattended under nbval)::

      from minialign.quiz import ask, check
      ask("05")                             # questions, answers folded away
      check("05", {"05-1": 0.55, "05-3": "A"})   # right/wrong, explanations, score

- terminal: ``python -m minialign quiz 05 --lang zh`` (one answer per line; answers can be piped);
- a class: ``python -m minialign quiz grade answers.csv`` grades a sheet (see :func:`grade_sheet`).
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import math
import numbers
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, NoReturn, TextIO

LANGS = ("en", "zh")
DEFAULT_BANK = Path(__file__).resolve().parent / "data" / "quiz.json"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Every string the quiz runner shows a learner, in both languages.
UI: dict[str, dict[str, str]] = {
    "en": {
        "title": "Quiz {number}: {title} ({n} questions)",
        "choice_hint": "Answer with a letter {first}–{last}.",
        "numeric_hint": "Answer with a number (accepted within ±{tol}).",
        "prompt": "Your answer (Enter to skip): ",
        "invalid": "Not a valid answer: {error} Try again.",
        "invalid_wrong": "Not a valid answer: {error} Counted as wrong; the answer is {answer}.",
        "correct": "Correct.",
        "wrong": "Not quite: the answer is {answer}.",
        "skipped": "Skipped: the answer is {answer}.",
        "unanswered": "Not answered: the answer is {answer}.",
        "why": "Why: {text}",
        "answer": "Answer: {answer}",
        "score": "Score: {score}/{total}",
        "eof": "Input ended: {n} unanswered question(s) counted as wrong.",
        "reveal_hint": "Show answer",
        "check_hint": "Check your answers with check({lesson!r}, {{'{first_id}': ..., ...}}).",
        "list_title": "Lessons with a quiz (run: python -m minialign quiz <lesson> [--lang zh]):",
        "list_row": "{slug:<22} {n:>2} questions  {title}",
        "choice_answer": "{letter} ({text})",
        "col_student": "student",
        "col_score": "score",
        "col_percent": "%",
        "col_missed": "missed",
        "graded": "{n} student(s), {total} questions (lessons {lessons}).",
        "no_answers": "The sheet has no answers.",
        "need_lesson": "give a lesson (e.g. 05, 5 or 05_dpo) or --list",
        # errors
        "err_lang": "lang must be one of {langs}, got {lang!r}",
        "err_lesson": "unknown lesson {lesson!r}; expected one of: {known}",
        "err_letter": "expected a letter {first}–{last}, got {answer!r}.",
        "err_index": "expected an option index 0–{last} or a letter {first}–{last}, got {answer!r}.",
        "err_number": "expected a number (e.g. 0.55 or 3/4), got {answer!r}.",
        "err_row": "{path}, row {row}: {problem}",
        "err_empty_sheet": "empty sheet; expected a header line: student,question_id,answer",
        "err_missing_column": "missing column {column!r}; expected the header student,question_id,answer",
        "err_field_count": "expected {expected} fields like the header, found {found}",
        "err_empty_student": "empty student name",
        "err_unknown_qid": "unknown question id {qid!r} (ids look like 05-3)",
        "err_bad_answer": "cannot read the answer to {qid}: {error}",
        "err_duplicate": "second answer from {student!r} to {qid} (the first is on row {first})",
        "err_unknown_answer_id": "unknown question id {qid!r}; lesson {lesson} has: {known}",
        "err_too_many": "{n} answers given but lesson {lesson} has {total} questions",
        "err_answers_type": "answers must be a dict {{question_id: answer}} or a list in question order, got {got}",
    },
    "zh": {
        "title": "第 {index} 课测验：{title}（共 {n} 题）",
        "choice_hint": "请用字母 {first}–{last} 作答。",
        "numeric_hint": "请填写一个数（误差 ±{tol} 以内算对）。",
        "prompt": "你的答案（直接回车跳过）：",
        "invalid": "无效的答案：{error}请重新输入。",
        "invalid_wrong": "无效的答案：{error}按答错计，正确答案是 {answer}。",
        "correct": "回答正确。",
        "wrong": "不对，正确答案是 {answer}。",
        "skipped": "已跳过，正确答案是 {answer}。",
        "unanswered": "未作答，正确答案是 {answer}。",
        "why": "解析：{text}",
        "answer": "答案：{answer}",
        "score": "得分：{score}/{total}",
        "eof": "输入已结束：{n} 道未作答的题按答错计。",
        "reveal_hint": "查看答案",
        "check_hint": "用 check({lesson!r}, {{'{first_id}': ..., ...}}) 核对你的答案。",
        "list_title": "有测验的课程（运行：python -m minialign quiz <课程> [--lang zh]）：",
        "list_row": "{slug:<22} {n:>2} 题  {title}",
        "choice_answer": "{letter}（{text}）",
        "col_student": "学生",
        "col_score": "得分",
        "col_percent": "正确率",
        "col_missed": "答错的题",
        "graded": "共 {n} 名学生，{total} 道题（课程 {lessons}）。",
        "no_answers": "答题表中没有任何作答。",
        "need_lesson": "请指定课程（如 05、5 或 05_dpo），或使用 --list",
        "err_lang": "lang 必须是 {langs} 之一，收到的是 {lang!r}",
        "err_lesson": "未知的课程 {lesson!r}；可选：{known}",
        "err_letter": "应为字母 {first}–{last}，收到的是 {answer!r}。",
        "err_index": "应为选项下标 0–{last} 或字母 {first}–{last}，收到的是 {answer!r}。",
        "err_number": "应为一个数（如 0.55 或 3/4），收到的是 {answer!r}。",
        "err_row": "{path}，第 {row} 行：{problem}",
        "err_empty_sheet": "答题表为空；第一行应为表头：student,question_id,answer",
        "err_missing_column": "缺少列 {column!r}；表头应为 student,question_id,answer",
        "err_field_count": "应与表头一样有 {expected} 列，实际为 {found} 列",
        "err_empty_student": "学生姓名为空",
        "err_unknown_qid": "未知的题号 {qid!r}（题号形如 05-3）",
        "err_bad_answer": "无法读取第 {qid} 题的答案：{error}",
        "err_duplicate": "{student!r} 对 {qid} 的第二次作答（第一次在第 {first} 行）",
        "err_unknown_answer_id": "未知的题号 {qid!r}；第 {lesson} 课的题号为：{known}",
        "err_too_many": "给出了 {n} 个答案，但第 {lesson} 课只有 {total} 道题",
        "err_answers_type": "answers 应为字典 {{题号: 答案}} 或按题目顺序排列的列表，收到的是 {got}",
    },
}


def _ui(lang: str, key: str, **kwargs) -> str:
    return UI[_check_lang(lang)][key].format(**kwargs)


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(UI["en"]["err_lang"].format(langs=", ".join(LANGS), lang=lang))
    return lang


# ----------------------------------------------------------------------------- the bank


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
            return _ui(lang, "choice_answer", letter=LETTERS[self.answer], text=self.options[lang][self.answer])
        return _format_number(self.answer)

    def render(self, lang: str = "en") -> str:
        """Plain-text question with its options (or the numeric hint), no answer."""
        lines = [f"[{self.id}] {self.question[lang]}"]
        if self.kind == "choice":
            lines += [f"   {LETTERS[i]}. {text}" for i, text in enumerate(self.options[lang])]
            lines.append(_ui(lang, "choice_hint", first="A", last=LETTERS[len(self.options[lang]) - 1]))
        else:
            lines.append(_ui(lang, "numeric_hint", tol=_format_number(self.tolerance)))
        return "\n".join(lines)


class QuizBankError(ValueError):
    """A malformed question bank; the message names the file and the question id."""


_QUESTION_KEYS = {"id", "lesson", "kind", "question", "explanation", "answer", "options", "tolerance"}
_ID_PATTERN = re.compile(r"^(\d{2})-(\d+)$")
_SLUG_PATTERN = re.compile(r"^(\d{2})_[a-z0-9_]+$")


def _texts(raw: object, what: str, fail: Callable[[str], NoReturn]) -> dict[str, str]:
    """A {lang: non-empty text} dict with every language present."""
    if not isinstance(raw, dict):
        fail(f"{what} must be an object with keys {', '.join(LANGS)}")
    for lang in LANGS:
        text = raw.get(lang)
        if not isinstance(text, str) or not text.strip():
            fail(f"{what}[{lang!r}] is missing or empty")
    return {lang: raw[lang] for lang in LANGS}


def _validate_choice(raw: dict, fail: Callable[[str], NoReturn]) -> dict:
    options = raw.get("options")
    if not isinstance(options, dict):
        fail("a choice question needs 'options': {'en': [...], 'zh': [...]}")
    counts = {}
    for lang in LANGS:
        opts = options.get(lang)
        if not isinstance(opts, list) or not all(isinstance(o, str) and o.strip() for o in opts):
            fail(f"options[{lang!r}] must be a list of non-empty strings")
        counts[lang] = len(opts)
    if len(set(counts.values())) != 1:
        fail(f"options differ in length between languages: {counts}")
    n = counts[LANGS[0]]
    if not 2 <= n <= len(LETTERS):
        fail(f"a choice question needs 2 to {len(LETTERS)} options, found {n}")
    answer = raw.get("answer")
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < n:
        fail(f"answer must be an option index 0..{n - 1}, got {answer!r}")
    if "tolerance" in raw:
        fail("'tolerance' is only for numeric questions")
    return {"options": {lang: list(options[lang]) for lang in LANGS}, "answer": answer}


def _validate_numeric(raw: dict, fail: Callable[[str], NoReturn]) -> dict:
    answer, tolerance = raw.get("answer"), raw.get("tolerance")
    if not _is_real(answer) or not math.isfinite(answer):
        fail(f"answer must be a finite number, got {answer!r}")
    if not _is_real(tolerance) or not (math.isfinite(tolerance) and tolerance >= 0):
        fail(f"a numeric question needs 'tolerance' >= 0, got {tolerance!r}")
    if "options" in raw:
        fail("'options' is only for choice questions")
    return {"answer": answer, "tolerance": float(tolerance)}


_KIND_VALIDATORS = {"choice": _validate_choice, "numeric": _validate_numeric}


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _parse_lessons(raw: object, path: Path) -> list[Lesson]:
    def fail(problem: str) -> NoReturn:
        raise QuizBankError(f"{path}: {problem}")

    if not isinstance(raw, list) or not raw:
        fail("'lessons' must be a non-empty list")
    lessons, seen = [], set()
    for i, entry in enumerate(raw):
        slug = entry.get("id") if isinstance(entry, dict) else None
        match = _SLUG_PATTERN.match(slug) if isinstance(slug, str) else None
        if match is None:
            fail(f"lessons[{i}]: id must look like '05_dpo', got {slug!r}")
        number = int(match.group(1))
        if number in seen:
            fail(f"lesson number {number:02d} appears twice")
        seen.add(number)
        title = _texts(entry.get("title"), f"lesson {slug!r}: title", fail)
        lessons.append(Lesson(number=number, slug=slug, title=title))
    return lessons


def _parse_question(raw: object, index: int, lessons: dict[str, Lesson], path: Path) -> Question:
    qid = raw.get("id") if isinstance(raw, dict) else None
    label = f"question {qid!r}" if isinstance(qid, str) else f"question #{index}"

    def fail(problem: str) -> NoReturn:
        raise QuizBankError(f"{path}: {label}: {problem}")

    if not isinstance(raw, dict):
        fail("must be an object")
    unknown = set(raw) - _QUESTION_KEYS
    if unknown:
        fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_QUESTION_KEYS)}")
    match = _ID_PATTERN.match(qid) if isinstance(qid, str) else None
    if match is None:
        fail(f"id must look like '05-3', got {qid!r}")
    lesson = raw.get("lesson")
    if lesson not in lessons:
        fail(f"lesson {lesson!r} is not in the bank's lessons")
    if int(match.group(1)) != lessons[lesson].number:
        fail(f"id {qid!r} does not start with its lesson's number ({lesson})")
    kind = raw.get("kind")
    if kind not in _KIND_VALIDATORS:
        fail(f"kind must be one of {sorted(_KIND_VALIDATORS)}, got {kind!r}")
    fields = _KIND_VALIDATORS[kind](raw, fail)
    return Question(
        id=qid,
        lesson=lesson,
        kind=kind,
        question=_texts(raw.get("question"), "question", fail),
        explanation=_texts(raw.get("explanation"), "explanation", fail),
        **fields,
    )


def _bank(path: str | Path | None) -> tuple[tuple[Lesson, ...], tuple[Question, ...]]:
    resolved = Path(path or DEFAULT_BANK).resolve()
    return _read_bank(resolved, resolved.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _read_bank(path: Path, mtime_ns: int) -> tuple[tuple[Lesson, ...], tuple[Question, ...]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise QuizBankError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise QuizBankError(f"{path}: expected an object with 'lessons' and 'questions'")
    lessons = _parse_lessons(data.get("lessons"), path)
    by_slug = {lesson.slug: lesson for lesson in lessons}
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list):
        raise QuizBankError(f"{path}: 'questions' must be a list")
    questions, seen = [], set()
    for i, raw in enumerate(raw_questions):
        question = _parse_question(raw, i, by_slug, path)
        if question.id in seen:
            raise QuizBankError(f"{path}: question {question.id!r}: id appears twice")
        seen.add(question.id)
        questions.append(question)
    return tuple(lessons), tuple(questions)


def load_bank(path: str | Path | None = None) -> list[Question]:
    """All questions of a bank (default: the package's), validated.

    Raises QuizBankError (a ValueError) naming the file and the question id when a question
    lacks a language, an explanation, a valid answer index or number, or has unknown keys.
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
    raise ValueError(_ui(lang, "err_lesson", lesson=lesson, known=known))


def questions_for(lesson: int | str, path: str | Path | None = None) -> list[Question]:
    """The questions of one lesson, in bank order. `lesson` as in :func:`resolve_lesson`."""
    slug = resolve_lesson(lesson, path).slug
    return [q for q in load_bank(path) if q.lesson == slug]


def _quiz(lesson: int | str, lang: str) -> tuple[Lesson, list[Question]]:
    """The lesson and its questions, with errors in the learner's language."""
    info = resolve_lesson(lesson, lang=_check_lang(lang))
    return info, questions_for(info.slug)


# ----------------------------------------------------------------------------- answers


def _parse_choice(question: Question, answer: object, lang: str) -> int:
    n = len(question.options["en"])
    first, last = "A", LETTERS[n - 1]
    if isinstance(answer, str):
        letter = answer.strip().strip("()[].) ").upper()
        if len(letter) == 1 and letter in LETTERS[:n]:
            return LETTERS.index(letter)
        raise ValueError(_ui(lang, "err_letter", first=first, last=last, answer=answer))
    if isinstance(answer, numbers.Integral) and not isinstance(answer, bool) and 0 <= answer < n:
        return int(answer)
    raise ValueError(_ui(lang, "err_index", first=first, last=last, answer=answer))


def _parse_numeric(question: Question, answer: object, lang: str) -> float:
    value = None
    if _is_real(answer):
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
        raise ValueError(_ui(lang, "err_number", answer=answer))
    return value


def _grade_choice(question: Question, value: int) -> bool:
    return value == question.answer


def _grade_numeric(question: Question, value: float) -> bool:
    # The slack absorbs float noise when a reply sits exactly on the tolerance boundary.
    return abs(value - question.answer) <= question.tolerance + 1e-9


_PARSERS = {"choice": _parse_choice, "numeric": _parse_numeric}
_GRADERS = {"choice": _grade_choice, "numeric": _grade_numeric}


def parse_answer(question: Question, answer: object, lang: str = "en") -> int | float:
    """A reply in canonical form (option index or float); ValueError if it cannot be read."""
    return _PARSERS[question.kind](question, answer, _check_lang(lang))


def check_answer(question: Question, answer: object) -> bool:
    """True if `answer` is right.

    choice: an option index (int) or a letter ("B", "b", "(B)"); numeric: a number or a
    numeric string ("0.55", "−0.27", "3/4"), right when within the question's tolerance.
    Raises ValueError for a reply that is not an answer at all (a letter beyond the options,
    text for a numeric question, NaN, a bool).
    """
    return _GRADERS[question.kind](question, parse_answer(question, answer))


def _format_number(x: float) -> str:
    return f"{x:g}"


# ----------------------------------------------------------------------------- notebook


def _in_notebook() -> bool:
    """True inside a Jupyter kernel, where rich HTML output is rendered."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _header(lesson: Lesson, n: int, lang: str) -> str:
    return _ui(lang, "title", number=f"{lesson.number:02d}", index=lesson.number, title=lesson.title[lang], n=n)


def _quiz_html(lesson: Lesson, questions: list[Question], lang: str) -> str:
    esc = html.escape
    parts = [f"<h4>{esc(_header(lesson, len(questions), lang))}</h4>"]
    for q in questions:
        parts.append(f"<p><b>{esc(q.id)}</b> {esc(q.question[lang])}</p>")
        if q.kind == "choice":
            items = "".join(f"<li>{esc(o)}</li>" for o in q.options[lang])
            parts.append(f'<ol type="A">{items}</ol>')
        else:
            parts.append(f"<p><i>{esc(_ui(lang, 'numeric_hint', tol=_format_number(q.tolerance)))}</i></p>")
        parts.append(
            f"<details><summary>{esc(_ui(lang, 'reveal_hint'))}</summary>"
            f"<p><b>{esc(_ui(lang, 'answer', answer=q.answer_text(lang)))}</b></p>"
            f"<p>{esc(q.explanation[lang])}</p></details>"
        )
    return "\n".join(parts)


def show_quiz(lesson: int | str, lang: str = "en", file: TextIO | None = None) -> None:
    """Print a lesson's questions (no answers) as plain text."""
    info, questions = _quiz(lesson, lang)
    out = file or sys.stdout
    print(_header(info, len(questions), lang), file=out)
    for q in questions:
        print("\n" + q.render(lang), file=out)
    print("\n" + _ui(lang, "check_hint", lesson=f"{info.number:02d}", first_id=questions[0].id), file=out)


def ask(lesson: int | str, lang: str = "en") -> None:
    """Show a lesson's quiz in a notebook, each answer and explanation folded under a
    "Show answer" toggle. Never waits for input. Outside a notebook it prints like show_quiz."""
    _check_lang(lang)
    if not _in_notebook():
        show_quiz(lesson, lang)
        return
    from IPython.display import HTML, display

    display(HTML(_quiz_html(*_quiz(lesson, lang), lang)))


def reveal(lesson: int | str, lang: str = "en", file: TextIO | None = None) -> None:
    """Print every question of a lesson with its answer and explanation."""
    info, questions = _quiz(lesson, lang)
    out = file or sys.stdout
    print(_header(info, len(questions), lang), file=out)
    for q in questions:
        print("\n" + q.render(lang), file=out)
        print(_ui(lang, "answer", answer=q.answer_text(lang)), file=out)
        print(_ui(lang, "why", text=q.explanation[lang]), file=out)


def _answers_by_id(questions: list[Question], answers: dict | list | tuple, lang: str) -> dict[str, object]:
    lesson = questions[0].lesson_number
    if isinstance(answers, dict):
        ids = [q.id for q in questions]
        for qid in answers:
            if qid not in ids:
                raise ValueError(_ui(lang, "err_unknown_answer_id", qid=qid, lesson=lesson, known=", ".join(ids)))
        return dict(answers)
    if isinstance(answers, (list, tuple)):
        if len(answers) > len(questions):
            raise ValueError(_ui(lang, "err_too_many", n=len(answers), lesson=lesson, total=len(questions)))
        return {q.id: a for q, a in zip(questions, answers)}
    raise ValueError(_ui(lang, "err_answers_type", got=type(answers).__name__))


def check(
    lesson: int | str, answers: dict | list | tuple, lang: str = "en", file: TextIO | None = None
) -> tuple[int, int]:
    """Grade a learner's answers to a lesson and print, per question, right or wrong with the
    explanation, then the score. Returns (score, total).

    `answers` is a dict {question_id: answer} ({"05-1": 0.55, "05-3": "A"}) or a list in
    question order; None, a missing entry or an unreadable reply counts as wrong (the reason
    is printed), so a notebook cell never stops on a typo.
    """
    _, questions = _quiz(lesson, lang)
    out = file or sys.stdout
    given = _answers_by_id(questions, answers, lang)
    score = 0
    for q in questions:
        reply = given.get(q.id)
        if reply is None or (isinstance(reply, str) and not reply.strip()):
            verdict = _ui(lang, "unanswered", answer=q.answer_text(lang))
        else:
            try:
                right = _GRADERS[q.kind](q, parse_answer(q, reply, lang))
            except ValueError as error:
                verdict = _ui(lang, "invalid_wrong", error=error, answer=q.answer_text(lang))
                right = False
            else:
                verdict = _ui(lang, "correct") if right else _ui(lang, "wrong", answer=q.answer_text(lang))
            score += right
        print(f"[{q.id}] {verdict}", file=out)
        print("   " + _ui(lang, "why", text=q.explanation[lang]), file=out)
    print(_ui(lang, "score", score=score, total=len(questions)), file=out)
    return score, len(questions)


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
    info, questions = _quiz(lesson, lang)
    stdin = input_stream if input_stream is not None else sys.stdin
    out = output if output is not None else sys.stdout
    echo = not _is_tty(stdin)  # piped answers are not echoed by a terminal: echo them ourselves
    print(_header(info, len(questions), lang), file=out)
    score = 0
    for i, q in enumerate(questions):
        print("\n" + q.render(lang), file=out)
        while True:
            out.write(_ui(lang, "prompt"))
            out.flush()
            line = stdin.readline()
            if line == "":  # end of input
                print("\n" + _ui(lang, "eof", n=len(questions) - i), file=out)
                print(_ui(lang, "score", score=score, total=len(questions)), file=out)
                return score, len(questions)
            reply = line.strip()
            if echo:
                print(reply, file=out)
            if not reply:
                print(_ui(lang, "skipped", answer=q.answer_text(lang)), file=out)
                break
            try:
                right = _GRADERS[q.kind](q, parse_answer(q, reply, lang))
            except ValueError as error:
                print(_ui(lang, "invalid", error=error), file=out)
                continue
            score += right
            print(_ui(lang, "correct") if right else _ui(lang, "wrong", answer=q.answer_text(lang)), file=out)
            break
        print(_ui(lang, "why", text=q.explanation[lang]), file=out)
    print("\n" + _ui(lang, "score", score=score, total=len(questions)), file=out)
    return score, len(questions)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ----------------------------------------------------------------------------- grading a class


@dataclass
class StudentResult:
    """One student's grade on a sheet: `correct` maps every question of the graded lessons
    to True/False (unanswered = False)."""

    student: str
    score: int
    total: int
    correct: dict[str, bool] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.total if self.total else 0.0

    @property
    def missed(self) -> list[str]:
        return [qid for qid, ok in self.correct.items() if not ok]


SHEET_COLUMNS = ("student", "question_id", "answer")


def grade_sheet(csv_path: str | Path, lang: str = "en") -> list[StudentResult]:
    """Grade a class's answers from a CSV sheet in long form, one row per answer::

        student,question_id,answer
        alice,05-1,0.55
        alice,05-3,B
        bob,05-1,0.7

    - the header names the columns (any order, case-insensitive; extra columns are ignored);
    - choice answers are letters, numeric answers numbers ("0.55", "3/4"); an empty answer
      cell means "not answered";
    - a student is graded on every question of every lesson that appears anywhere in the
      sheet, so all students share the same total; questions they did not answer count wrong.

    Returns one StudentResult per student, in order of first appearance. A malformed sheet
    raises ValueError naming the row (row 1 is the header, as in a spreadsheet) and the
    problem: missing column, wrong number of fields, empty student, unknown question id,
    unreadable answer, two answers from one student to one question. Messages follow `lang`.
    """
    _check_lang(lang)
    path = Path(csv_path)
    by_id = {q.id: q for q in load_bank()}

    def fail(row: int, key: str, **kwargs) -> NoReturn:
        raise ValueError(_ui(lang, "err_row", path=path, row=row, problem=_ui(lang, key, **kwargs)))

    answers: dict[str, dict[str, object]] = {}  # student -> {question id: parsed answer or None}
    first_row: dict[tuple[str, str], int] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            fail(1, "err_empty_sheet")
        names = [name.strip().lower() for name in header]
        for column in SHEET_COLUMNS:
            if column not in names:
                fail(1, "err_missing_column", column=column)
        student_col, qid_col, answer_col = (names.index(c) for c in SHEET_COLUMNS)
        for cells in reader:
            row = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(cells) != len(names):
                fail(row, "err_field_count", expected=len(names), found=len(cells))
            student, qid, reply = (cells[i].strip() for i in (student_col, qid_col, answer_col))
            if not student:
                fail(row, "err_empty_student")
            if qid not in by_id:
                fail(row, "err_unknown_qid", qid=qid)
            if (student, qid) in first_row:
                fail(row, "err_duplicate", student=student, qid=qid, first=first_row[student, qid])
            first_row[student, qid] = row
            try:
                parsed = parse_answer(by_id[qid], reply, lang) if reply else None
            except ValueError as error:
                fail(row, "err_bad_answer", qid=qid, error=str(error).rstrip("."))
            answers.setdefault(student, {})[qid] = parsed

    lessons = {by_id[qid].lesson for sheet in answers.values() for qid in sheet}
    quiz = [q for q in by_id.values() if q.lesson in lessons]
    results = []
    for student, sheet in answers.items():
        correct = {
            q.id: sheet.get(q.id) is not None and _GRADERS[q.kind](q, sheet[q.id]) for q in quiz
        }
        results.append(StudentResult(student, sum(correct.values()), len(quiz), correct))
    return results


def _width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_results(results: Iterable[StudentResult], lang: str = "en") -> str:
    """A plain-text table of grade_sheet results: student, score, percent, missed questions."""
    results = list(results)
    head = [_ui(lang, k) for k in ("col_student", "col_score", "col_percent", "col_missed")]
    rows = [[r.student, f"{r.score}/{r.total}", f"{r.percent:.0f}%", ", ".join(r.missed) or "-"] for r in results]
    widths = [max(_width(row[c]) for row in [head, *rows]) for c in range(3)]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in [head, *rows]]
    lines.insert(1, "-" * max(_width(line) for line in lines))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line


def _quiz_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minialign quiz",
        description="Take a lesson's quiz in the terminal (answers may be piped, one per line). "
        "Also: `minialign quiz grade SHEET.csv` grades a class.",
    )
    parser.add_argument("lesson", nargs="?", help="lesson number or name: 5, 05 or 05_dpo")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of questions and messages")
    parser.add_argument("--list", action="store_true", help="list the lessons that have a quiz")
    return parser


def _grade_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minialign quiz grade",
        description="Grade a CSV sheet with the header student,question_id,answer (one row per answer).",
    )
    parser.add_argument("sheet", help="path to the CSV sheet")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of the table and messages")
    return parser


def _list_lessons(lang: str) -> None:
    bank = load_bank()
    print(_ui(lang, "list_title"))
    for lesson in load_lessons():
        n = sum(q.lesson == lesson.slug for q in bank)
        print(_ui(lang, "list_row", slug=lesson.slug, n=n, title=lesson.title[lang]))


def _grade_command(args: argparse.Namespace) -> int:
    try:
        results = grade_sheet(args.sheet, args.lang)
    except (ValueError, OSError) as error:
        print(f"minialign quiz grade: {error}", file=sys.stderr)
        return 1
    if not results:
        print(_ui(args.lang, "no_answers"))
        return 0
    print(format_results(results, args.lang))
    lessons = sorted({qid[:2] for qid in results[0].correct})
    print("\n" + _ui(args.lang, "graded", n=len(results), total=results[0].total, lessons=", ".join(lessons)))
    return 0


def main_cli(argv: list[str] | None = None) -> int:
    """`quiz <lesson> [--lang en|zh]`, `quiz --list`, `quiz grade <sheet.csv> [--lang en|zh]`.

    `argv` holds the arguments after "quiz". Returns the exit status (0 ok, 1 bad sheet,
    2 usage error) instead of exiting, so `python -m minialign` can wrap it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["grade"]:
            return _grade_command(_grade_parser().parse_args(argv[1:]))
        parser = _quiz_parser()
        args = parser.parse_args(argv)
        if args.list:
            _list_lessons(args.lang)
            return 0
        if args.lesson is None:
            parser.print_usage(sys.stderr)
            print(f"minialign quiz: {_ui(args.lang, 'need_lesson')}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main_cli())
