"""Scoring a class's quiz answers from a CSV sheet: ``python -m minialign quiz score-sheet SHEET.csv``.

(`python -m minialign grade` is something else: it grades a learner's exercises.)
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, NoReturn

from .answers import is_right, parse_answer
from .bank import load_bank
from .ui import check_lang, ui_text


@dataclass
class StudentResult:
    """One student's score on a sheet: `correct` maps every question of the lessons on the
    sheet to True/False (unanswered = False)."""

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


def score_sheet(csv_path: str | Path, lang: str = "en") -> list[StudentResult]:
    """Score a class's answers from a CSV sheet in long form, one row per answer::

        student,question_id,answer
        alice,05-1,0.55
        alice,05-3,B
        bob,05-1,0.7

    - the header names the columns (any order, case-insensitive; extra columns are ignored);
    - choice answers are letters, numeric answers numbers ("0.55", "3/4"); an empty answer
      cell means "not answered";
    - a student is scored on every question of every lesson that appears anywhere in the
      sheet, so all students share the same total; questions they did not answer count wrong.

    Returns one StudentResult per student, in order of first appearance. A malformed sheet
    raises ValueError naming the row (row 1 is the header, as in a spreadsheet) and the
    problem: missing column, wrong number of fields, empty student, unknown question id,
    unreadable answer, two answers from one student to one question. Messages follow `lang`.
    """
    check_lang(lang)
    path = Path(csv_path)
    by_id = {q.id: q for q in load_bank()}

    def fail(row: int, key: str, **kwargs) -> NoReturn:
        raise ValueError(ui_text(lang, "err_row", path=path, row=row, problem=ui_text(lang, key, **kwargs)))

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
        correct = {q.id: sheet.get(q.id) is not None and is_right(q, sheet[q.id]) for q in quiz}
        results.append(StudentResult(student, sum(correct.values()), len(quiz), correct))
    return results


def _width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_results(results: Iterable[StudentResult], lang: str = "en") -> str:
    """A plain-text table of score_sheet results: student, score, percent, missed questions."""
    results = list(results)
    head = [ui_text(lang, k) for k in ("col_student", "col_score", "col_percent", "col_missed")]
    rows = [[r.student, f"{r.score}/{r.total}", f"{r.percent:.0f}%", ", ".join(r.missed) or "-"] for r in results]
    widths = [max(_width(row[c]) for row in [head, *rows]) for c in range(3)]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in [head, *rows]]
    lines.insert(1, "-" * max(_width(line) for line in lines))
    return "\n".join(lines)
