"""Every string a quiz shows a learner, in English and Chinese, and the helpers that pick one."""

from __future__ import annotations

LANGS = ("en", "zh")
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
        "scored": "{n} student(s), {total} questions (lessons {lessons}).",
        "no_answers": "The sheet has no answers.",
        "need_lesson": "give a lesson (e.g. 05, 5 or 05_dpo) or --list",
        "grade_moved": "a class's sheet is scored with `quiz score-sheet SHEET.csv`; "
        "`python -m minialign grade` scores your exercises",
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
        "scored": "共 {n} 名学生，{total} 道题（课程 {lessons}）。",
        "no_answers": "答题表中没有任何作答。",
        "need_lesson": "请指定课程（如 05、5 或 05_dpo），或使用 --list",
        "grade_moved": "全班的答题表请用 `quiz score-sheet 答题表.csv` 计分；"
        "`python -m minialign grade` 用来给你的练习评分",
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


def check_lang(lang: str) -> str:
    """`lang` itself if it is one of LANGS; ValueError naming the argument otherwise."""
    if lang not in LANGS:
        raise ValueError(UI["en"]["err_lang"].format(langs=", ".join(LANGS), lang=lang))
    return lang


def ui_text(lang: str, key: str, **kwargs) -> str:
    """The string `key` in language `lang`, filled in with `kwargs`."""
    return UI[check_lang(lang)][key].format(**kwargs)


def format_number(x: float) -> str:
    return f"{x:g}"
