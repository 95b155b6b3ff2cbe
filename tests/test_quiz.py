"""The quiz bank and its checker: every question answerable in both languages, every numeric
answer recomputed here from its own formula, and the three ways of taking a quiz (notebook,
terminal, a class's answer sheet) exercised end to end."""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
from collections import Counter

import jsonschema
import pytest

from minialign import quiz
from minialign.quiz import (
    BANK_SCHEMA,
    Question,
    QuizBankError,
    check_answer,
    load_bank,
    main_cli,
    questions_for,
    score_sheet,
)

BANK = load_bank()
BY_ID = {q.id: q for q in BANK}
CJK = re.compile(r"[\u4e00-\u9fff]")


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def right_reply(q: Question) -> str:
    """What a learner who knows the answer types."""
    return quiz.LETTERS[q.answer] if q.kind == "choice" else repr(q.answer)


def wrong_reply(q: Question) -> str:
    if q.kind == "choice":
        return quiz.LETTERS[(q.answer + 1) % len(q.options["en"])]
    return repr(q.answer + 10 * q.tolerance + 1.0)


# ----------------------------------------------------------------------------- the bank


def test_bank_covers_the_ten_lessons_in_order():
    slugs = [lesson.slug for lesson in quiz.load_lessons()]
    assert [int(s[:2]) for s in slugs] == list(range(10))
    assert slugs[5] == "05_dpo"


@pytest.mark.parametrize("lesson", range(10))
def test_every_lesson_has_at_least_seven_questions_of_both_kinds(lesson):
    kinds = Counter(q.kind for q in questions_for(lesson))
    assert sum(kinds.values()) >= 7
    assert kinds["choice"] >= 2 and kinds["numeric"] >= 2, kinds


@pytest.mark.parametrize("q", BANK, ids=lambda q: q.id)
def test_every_question_has_both_languages_and_an_explanation(q):
    texts = [q.question, q.explanation] + ([q.options] if q.kind == "choice" else [])
    for text in texts:
        assert set(text) == {"en", "zh"}
    for part in (q.question, q.explanation):
        assert part["en"].strip() and part["zh"].strip()
        assert not CJK.search(part["en"]), "Chinese in the English text"
        assert CJK.search(part["zh"]), "the Chinese text is not Chinese"
    if q.kind == "choice":
        assert len(q.options["en"]) == len(q.options["zh"]) >= 2
        assert 0 <= q.answer < len(q.options["en"])
        assert len(set(q.options["en"])) == len(q.options["en"]), "duplicate options"
        assert all(CJK.search(o) for o in q.options["zh"])
    else:
        assert math.isfinite(q.answer) and q.tolerance >= 0


def test_question_ids_are_unique_and_numbered_by_lesson():
    assert len(BY_ID) == len(BANK)
    for lesson in quiz.load_lessons():
        ids = [q.id for q in BANK if q.lesson == lesson.slug]
        assert ids == [f"{lesson.number:02d}-{k}" for k in range(1, len(ids) + 1)]


@pytest.mark.parametrize("lesson", range(10))
def test_right_option_is_not_always_in_the_same_place(lesson):
    # A bank whose answer is always "A" can be passed without reading it.
    positions = {q.answer for q in questions_for(lesson) if q.kind == "choice"}
    assert len(positions) >= 2


# Each numeric answer, recomputed from the question's own statement with plain Python.
def _gae_first(rewards, values, gamma, lam):
    # A_0 = sum_l (gamma*lam)^l delta_l (Schulman et al. 2016, eq. 16), not the backward recursion
    deltas = [rewards[t] + gamma * values[t + 1] - values[t] for t in range(len(rewards))]
    return sum((gamma * lam) ** k * d for k, d in enumerate(deltas))


def _log_odds(avg_logp):
    p = math.exp(avg_logp)
    return math.log(p) - math.log1p(-p)


def _bt_loss(margin):
    return math.log1p(math.exp(-margin))


def _cdpo_loss(z, eps=0.1):
    return (1 - eps) * _bt_loss(z) + eps * _bt_loss(-z)


def _argmin(f, lo, hi, steps=200):
    # golden-section search: finds the minimiser without knowing the closed form
    g = (math.sqrt(5) - 1) / 2
    for _ in range(steps):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        lo, hi = (lo, b) if f(a) < f(b) else (a, hi)
    return (lo + hi) / 2


_H = 1e-6
EXPECTED = {
    "00-3": sigmoid(1.0 - 2.0),  # P(B preferred) = sigma(s_B - s_A)
    "00-4": math.log(0.8 / 0.2),
    "01-4": -math.log(1 / 512),
    "01-5": math.exp(1.5),
    "01-8": math.exp(2.0 / 0.5) / (math.exp(2.0 / 0.5) + math.exp(0.0 / 0.5)),
    "02-2": sum(1 for j in range(9) if 4 <= j + 1 <= 7),  # predictions whose target is a response token
    "02-3": 4 - 1,
    "02-4": -sum(lp * m for lp, m in zip([-3, -2, -2.5, -0.5, -1, -1.5, -1, -4, -4], [0, 0, 0, 1, 1, 1, 1, 0, 0])) / 4,
    "02-7": (2 * 1.0 + 8 * 0.5) / (2 + 8),
    "03-1": _bt_loss(1.5 - 0.5),
    "03-2": (_bt_loss(1.5 + _H - 0.5) - _bt_loss(1.5 - _H - 0.5)) / (2 * _H),  # finite difference
    "03-5": sum(1.0 if c > r else 0.5 if c == r else 0.0
                for c, r in [(1.0, 0.2), (0.3, 0.9), (2.0, -1.0), (0.5, 0.5)]) / 4,
    "04-1": _gae_first([0.0, 1.0], [0.5, 0.8, 0.0], 1.0, 0.95),
    "04-2": _gae_first([0.0, 1.0], [0.5, 0.8, 0.0], 1.0, 0.95) + 0.5,
    "04-3": (math.exp(-0.5) - 1) - (-0.5),  # rho = pi_ref/pi = e^-0.5
    "04-5": -0.1 * 0.4 + 1.0,
    "04-6": -min(1.5 * -1.0, min(max(1.5, 0.8), 1.2) * -1.0),
    "04-7": 0.1 * (1 + 0.1 * min(max(12 / 6 - 1, -0.2), 0.2)),
    "05-1": _bt_loss(0.1 * ((-10 - -12) - (-15 - -14))),
    "05-2": _bt_loss(0.0),
    "05-7": 0.5 * math.exp(1 / 0.5) / (0.5 * math.exp(1 / 0.5) + 0.5 * math.exp(0 / 0.5)),
    "06-1": _log_odds(-0.5),
    "06-2": 0.5 + 0.1 * _bt_loss(_log_odds(-0.5) - _log_odds(-1.0)),
    "06-5": (3 - 1 / (2 * 0.25)) ** 2,
    "06-7": _argmin(_cdpo_loss, 0.0, 10.0),
    "07-1": (1 - statistics.mean([1, 0, 0, 0])) / statistics.stdev([1, 0, 0, 0]),
    "07-2": 0 - statistics.mean([1, 0, 0, 0]),
    "07-5": (1 / 2) / (1 / 6),
    "08-3": (0.7 + (1 - 0.6)) / 2,
    "08-4": math.exp(-2.0) / (math.exp(-2.0) + math.exp(-2.5)),
    "08-9": 40 / 60,  # flagged and flawed over all flawed
    "09-1": (55 + 20 / 2) / 100,
    "09-2": math.sqrt(0.6 * 0.4 / 100),
    "09-3": statistics.mean([sum([0.2, 0.1, 0.3]), sum([0.5, -0.1])]),
}

# The classic mistake behind each calculation; the tolerance must be tight enough to reject it.
CLASSIC_MISTAKES = {
    "00-3": sigmoid(1.0),  # the probability of the *right* label
    "01-8": sigmoid(2.0),  # temperature ignored
    "02-3": 4,  # off-by-one: the token index instead of the shifted index
    "02-4": 19.5 / 9,  # mean over prompt and padding too
    "02-7": 0.75,  # per-sequence mean
    "03-5": 0.5,  # ties counted as wrong (0.75: as correct)
    "04-1": 0.3,  # lambda ignored (one-step TD)
    "04-3": 0.5,  # k1 instead of k3
    "04-6": 1.2,  # clipped on the wrong side
    "04-7": 0.11,  # error not clipped
    "05-1": _bt_loss(3.0),  # beta forgotten
    "06-2": 0.5,  # odds-ratio term forgotten
    "07-1": 0.75 / math.sqrt(0.75 / 4),  # population std
    "08-9": 40 / 50,  # precision instead of recall
    "09-1": 0.55,  # ties as losses
    "09-3": 1.0 / 5,  # per-token mean
}


def test_every_numeric_question_is_recomputed_here():
    assert {q.id for q in BANK if q.kind == "numeric"} == set(EXPECTED)


@pytest.mark.parametrize("qid", sorted(EXPECTED))
def test_numeric_answer_matches_independent_computation(qid):
    q = BY_ID[qid]
    assert q.answer == pytest.approx(EXPECTED[qid], abs=1e-4)  # the bank stores 4 decimals
    assert check_answer(q, EXPECTED[qid])


@pytest.mark.parametrize("qid", sorted(CLASSIC_MISTAKES))
def test_tolerance_rejects_the_classic_mistake(qid):
    assert not check_answer(BY_ID[qid], CLASSIC_MISTAKES[qid])


# ----------------------------------------------------------------------------- bank validation

# The bank's layout is the JSON Schema beside the loader; what a schema cannot say (ids that refer
# to each other, equal option counts, an index below the option count, finite numbers) the loader
# checks. Each rule has a bank below that breaks it and must be refused by one of the two.
SCHEMA = json.loads(BANK_SCHEMA.read_text(encoding="utf-8"))


def schema_problems(bank: object) -> list[str]:
    """Every way `bank` breaks the schema, as 'where: what'; `where` names the question id."""
    problems = []
    for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(bank):
        path = list(error.absolute_path)
        where = "/".join(map(str, path)) or "(top)"
        if path[:1] == ["questions"] and len(path) > 1 and isinstance(bank["questions"][path[1]], dict):
            where += f" (question {bank['questions'][path[1]].get('id')!r})"
        problems.append(f"{where}: {error.message}")
    return problems


def _minimal_bank():
    return {
        "format": 1,
        "lessons": [{"id": "05_dpo", "title": {"en": "DPO", "zh": "直接偏好优化"}}],
        "questions": [
            {
                "id": "05-1", "lesson": "05_dpo", "kind": "choice",
                "question": {"en": "Which?", "zh": "哪个？"},
                "options": {"en": ["a", "b", "c"], "zh": ["甲", "乙", "丙"]},
                "answer": 1,
                "explanation": {"en": "Because.", "zh": "因为。"},
            },
            {
                "id": "05-2", "lesson": "05_dpo", "kind": "numeric",
                "question": {"en": "How much?", "zh": "多少？"},
                "answer": 0.5, "tolerance": 0.01,
                "explanation": {"en": "Because.", "zh": "因为。"},
            },
        ],
    }


def _write(tmp_path, bank):
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(bank, ensure_ascii=False), encoding="utf-8")
    return path


def _edit(path, change):
    """A mutation of the minimal bank: `change(parent, key)` at "questions/0/answer"-style `path`."""
    keys = [int(k) if k.isdigit() else k for k in path.split("/")]

    def mutate(bank):
        parent = bank
        for key in keys[:-1]:
            parent = parent[key]
        change(parent, keys[-1])

    return mutate


def _set(path, value):
    return _edit(path, lambda parent, key: parent.__setitem__(key, value))


def _del(path):
    return _edit(path, lambda parent, key: parent.__delitem__(key))


def _rename(path, new_key):
    return _edit(path, lambda parent, key: parent.__setitem__(new_key, parent.pop(key)))


def _mutated(mutate):
    bank = copy.deepcopy(_minimal_bank())
    return mutate(bank) or bank  # a mutation may return a whole new bank


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_package_bank_matches_the_schema():
    bank = json.loads(quiz.DEFAULT_BANK.read_text(encoding="utf-8"))
    assert schema_problems(bank) == []


def test_minimal_bank_matches_the_schema_and_loads(tmp_path):
    assert schema_problems(_minimal_bank()) == []
    questions = load_bank(_write(tmp_path, _minimal_bank()))
    assert [q.id for q in questions] == ["05-1", "05-2"]
    assert questions[0].options["zh"][1] == "乙"


def test_bank_and_schema_are_package_data():
    # an installed package (not this checkout) must find both files
    tomllib = pytest.importorskip("tomllib")
    root = quiz.DEFAULT_BANK.parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in (quiz.DEFAULT_BANK, BANK_SCHEMA):
        package = path.parent.relative_to(root)
        declared = {
            pattern
            for name, patterns in package_data.items()
            for pattern in patterns
            if (root / name.replace(".", "/") / pattern).parent == path.parent
        }
        assert any(path.match(pattern) for pattern in declared), f"{path.name} is not package data of {package}"


_TWO_OPTIONS = {"en": ["a", "b"], "zh": ["甲", "乙"]}

# (mutation, fragments that one schema problem must all contain)
SCHEMA_CASES = {
    "top-not-an-object": (lambda b: [b], ["(top)", "is not of type 'object'"]),
    "no-lessons": (_del("lessons"), ["(top)", "'lessons' is a required property"]),
    "empty-lessons": (_set("lessons", []), ["lessons: []"]),
    "lesson-id": (_set("lessons/0/id", "dpo"), ["lessons/0/id", "does not match"]),
    "lesson-title-no-zh": (_del("lessons/0/title/zh"), ["lessons/0/title", "'zh' is a required property"]),
    "lesson-title-empty": (_set("lessons/0/title/en", " "), ["lessons/0/title/en", "does not match"]),
    "questions-not-a-list": (_set("questions", {}), ["questions", "is not of type 'array'"]),
    "question-not-an-object": (_set("questions/1", "05-2"), ["questions/1", "is not of type 'object'"]),
    "no-zh": (_del("questions/0/question/zh"), ["'05-1'", "'zh' is a required property"]),
    "empty-explanation": (_set("questions/1/explanation/en", "  "), ["'05-2'", "explanation/en", "does not match"]),
    "typo-key": (_rename("questions/1/explanation", "explaination"), ["'05-2'", "'explaination' was unexpected"]),
    "no-lesson": (_del("questions/0/lesson"), ["'05-1'", "'lesson' is a required property"]),
    "question-id": (_set("questions/0/id", "5-1"), ["'5-1'", "questions/0/id", "does not match"]),
    "kind": (_set("questions/0/kind", "essay"), ["'05-1'", "kind", "is not one of"]),
    "choice-no-options": (_del("questions/0/options"), ["'05-1'", "'options' is a required property"]),
    "empty-option": (_set("questions/0/options/zh/1", ""), ["'05-1'", "options/zh/1", "does not match"]),
    "option-not-text": (_set("questions/0/options/en/1", 2), ["'05-1'", "options/en/1", "not of type 'string'"]),
    "one-option": (_set("questions/0/options", {"en": ["a"], "zh": ["甲"]}), ["'05-1'", "options/en", "too short"]),
    "27-options": (
        _set("questions/0/options", {lang: [f"o{i}" for i in range(27)] for lang in ("en", "zh")}),
        ["'05-1'", "options/en", "too long"],
    ),
    "bool-answer": (_set("questions/0/answer", True), ["'05-1'", "answer", "True is not of type"]),
    "negative-index": (_set("questions/0/answer", -1), ["'05-1'", "answer", "less than the minimum of 0"]),
    "choice-with-tolerance": (_set("questions/0/tolerance", 0.1),
                              ["'05-1'", "questions/0/tolerance", "should not be valid"]),
    "numeric-answer-text": (_set("questions/1/answer", "half"), ["'05-2'", "answer", "not of type 'number'"]),
    "no-tolerance": (_del("questions/1/tolerance"), ["'05-2'", "'tolerance' is a required property"]),
    "negative-tolerance": (_set("questions/1/tolerance", -0.1), ["'05-2'", "tolerance", "less than the minimum"]),
    "numeric-with-options": (_set("questions/1/options", _TWO_OPTIONS),
                             ["'05-2'", "questions/1/options", "should not be valid"]),
}


@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_schema_refuses_a_malformed_bank_and_names_the_place(case):
    mutate, fragments = SCHEMA_CASES[case]
    problems = schema_problems(_mutated(mutate))
    assert any(all(f in p for f in fragments) for p in problems), problems


def _second_lesson_05(bank):
    bank["lessons"].append({"id": "05_dpo_again", "title": {"en": "DPO", "zh": "直接偏好优化"}})


# What a JSON Schema cannot say: the loader refuses these banks, which the schema lets through.
LOADER_CASES = {
    "lesson-number-twice": (_second_lesson_05, ["lesson number 05", "twice"]),
    "unknown-lesson": (_set("questions/1/lesson", "06_orpo"), ["'05-2'", "'06_orpo' is not in the bank's lessons"]),
    "wrong-lesson-prefix": (_set("questions/1/id", "06-2"), ["'06-2'", "lesson's number"]),
    "duplicate-id": (_set("questions/1/id", "05-1"), ["'05-1'", "twice"]),
    "options-differ": (_edit("questions/0/options/zh", lambda p, k: p[k].pop()), ["'05-1'", "differ in length"]),
    "index-out-of-range": (_set("questions/0/answer", 3), ["'05-1'", "option index 0..2"]),
    "float-index": (_set("questions/0/answer", 1.0), ["'05-1'", "option index 0..2, got 1.0"]),
    "nan-answer": (_set("questions/1/answer", float("nan")), ["'05-2'", "finite number, got nan"]),
    "infinite-answer": (_set("questions/1/answer", float("inf")), ["'05-2'", "finite number, got inf"]),
    "infinite-tolerance": (_set("questions/1/tolerance", float("inf")), ["'05-2'", "tolerance", "inf"]),
}


@pytest.mark.parametrize("case", sorted(LOADER_CASES))
def test_loader_refuses_what_the_schema_cannot_see_and_names_the_question(tmp_path, case):
    mutate, fragments = LOADER_CASES[case]
    bank = _mutated(mutate)
    assert schema_problems(bank) == []  # else the rule belongs in the schema's cases
    with pytest.raises(QuizBankError) as error:
        load_bank(_write(tmp_path, bank))
    assert all(f in str(error.value) for f in fragments), str(error.value)


@pytest.mark.parametrize("case", ["no-zh", "typo-key", "kind", "choice-no-options", "no-tolerance", "no-lessons"])
def test_loader_refuses_a_bank_off_the_schema_without_a_traceback(tmp_path, case):
    mutate, _ = SCHEMA_CASES[case]
    with pytest.raises(QuizBankError, match="bank.schema.json") as error:
        load_bank(_write(tmp_path, _mutated(mutate)))
    qid = "'05-1'" if case in ("no-zh", "kind", "choice-no-options") else "'05-2'" if case != "no-lessons" else ""
    assert qid in str(error.value)


def test_loader_refuses_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "bank.json"
    path.write_text('{"format": 1, "lessons": [', encoding="utf-8")
    with pytest.raises(QuizBankError, match="not valid JSON"):
        load_bank(path)


# ----------------------------------------------------------------------------- lookup and checking


@pytest.mark.parametrize("lesson", [5, "5", "05", "05_dpo", "dpo", " 05 "])
def test_questions_for_accepts_every_spelling_of_a_lesson(lesson):
    ids = [q.id for q in questions_for(lesson)]
    assert ids and all(qid.startswith("05-") for qid in ids)
    assert ids == [q.id for q in questions_for(5)]


@pytest.mark.parametrize("lesson", [10, "10", "dpo2", True, 5.0, None, ""])
def test_unknown_lesson_is_a_value_error_listing_the_lessons(lesson):
    with pytest.raises(ValueError, match="05_dpo"):
        questions_for(lesson)


CHOICE = Question(
    id="05-9", lesson="05_dpo", kind="choice",
    question={"en": "q", "zh": "问"}, explanation={"en": "e", "zh": "解"},
    answer=1, options={"en": ["a", "b", "c", "d"], "zh": ["甲", "乙", "丙", "丁"]},
)
NUMERIC = Question(
    id="05-8", lesson="05_dpo", kind="numeric",
    question={"en": "q", "zh": "问"}, explanation={"en": "e", "zh": "解"},
    answer=0.554, tolerance=0.005,
)


@pytest.mark.parametrize(
    "reply, right",
    [(1, True), ("B", True), ("b", True), (" (B) ", True), ("B.", True), (0, False), ("a", False), ("D", False)],
)
def test_check_answer_choice_by_index_or_letter(reply, right):
    assert check_answer(CHOICE, reply) is right


@pytest.mark.parametrize("reply", ["E", "1", "AB", "", 4, -1, True, 1.0, None])
def test_check_answer_choice_rejects_what_is_not_an_option(reply):
    with pytest.raises(ValueError):
        check_answer(CHOICE, reply)


@pytest.mark.parametrize(
    "reply, right",
    [
        (0.554, True), (0.55, True), ("0.559", True), (0.549, True), ("111/200", True),  # 0.555
        ("−0.554", False), (0.56, False), (1, False), ("１/２", False),  # full-width digits read as 0.5
    ],
)
def test_check_answer_numeric_within_tolerance(reply, right):
    assert check_answer(NUMERIC, reply) is right


def test_check_answer_numeric_tolerance_boundary_is_inclusive():
    assert check_answer(NUMERIC, 0.554 + 0.005)
    assert not check_answer(NUMERIC, 0.554 + 0.0051)


@pytest.mark.parametrize("reply", ["abc", "", "1/0", float("nan"), "inf", True, None, [0.5]])
def test_check_answer_numeric_rejects_non_numbers(reply):
    with pytest.raises(ValueError):
        check_answer(NUMERIC, reply)


def test_unicode_minus_is_read_as_minus():
    q = BY_ID["03-2"]  # answer is negative
    assert check_answer(q, "−0.269") and not check_answer(q, "0.269")


# ----------------------------------------------------------------------------- notebook helpers


class _NoStdin:
    def readline(self, *args):
        raise AssertionError("a notebook function read from stdin: it would hang under nbval")

    read = readline

    def isatty(self):
        return False


def test_notebook_functions_never_read_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", _NoStdin())
    quiz.ask(5)
    quiz.show_quiz(5, "zh")
    quiz.reveal("05")
    quiz.check("05", {})
    assert "05-1" in capsys.readouterr().out


def test_show_quiz_prints_questions_but_not_answers(capsys):
    quiz.show_quiz("05", "zh")
    out = capsys.readouterr().out
    for q in questions_for(5):
        assert q.question["zh"] in out
        assert q.explanation["zh"] not in out


def test_reveal_prints_every_answer_and_explanation(capsys):
    quiz.reveal(3, "en")
    out = capsys.readouterr().out
    for q in questions_for(3):
        assert q.explanation["en"] in out and q.answer_text("en") in out


def test_check_with_dict_marks_and_prints_the_score(capsys):
    questions = questions_for(5)
    answers = {q.id: right_reply(q) for q in questions[:3]}
    answers[questions[3].id] = wrong_reply(questions[3])
    assert quiz.check(5, answers) == (3, len(questions))
    out = capsys.readouterr().out
    assert f"Score: 3/{len(questions)}" in out
    assert questions[3].explanation["en"] in out


def test_check_with_list_in_question_order_and_none_as_unanswered(capsys):
    questions = questions_for(7)
    answers = [right_reply(q) for q in questions]
    answers[0] = None
    assert quiz.check("07_grpo", answers, lang="zh") == (len(questions) - 1, len(questions))
    assert "未作答" in capsys.readouterr().out


def test_check_counts_an_unreadable_reply_as_wrong_without_raising(capsys):
    q = next(q for q in questions_for(5) if q.kind == "choice")
    assert quiz.check(5, {q.id: "Z"}) == (0, len(questions_for(5)))
    assert "Not a valid answer" in capsys.readouterr().out


def test_check_rejects_an_answer_to_a_question_of_another_lesson():
    with pytest.raises(ValueError, match="06-1"):
        quiz.check(5, {"06-1": "A"})


def test_check_rejects_more_answers_than_questions():
    with pytest.raises(ValueError, match="questions"):
        quiz.check(5, ["A"] * 50)


def test_bad_lang_names_the_argument():
    with pytest.raises(ValueError, match="lang"):
        quiz.show_quiz(5, "fr")


def test_ask_in_a_notebook_displays_html_with_folded_answers(monkeypatch):
    display_module = pytest.importorskip("IPython.display")
    shown = []
    monkeypatch.setattr(quiz.render, "_in_notebook", lambda: True)
    monkeypatch.setattr(display_module, "display", shown.append)
    quiz.ask(1, "en")
    (widget,) = shown
    page = widget.data
    assert page.count("<details>") == len(questions_for(1))
    # an option of 01-6 mentions "< and |": it must be escaped, not parsed as a tag
    assert "such as &lt; and |" in page and "such as < and" not in page
    assert questions_for(1)[-1].explanation["en"] in page


# ----------------------------------------------------------------------------- terminal


def _run(lesson, lines, lang="en"):
    out = io.StringIO()
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    result = quiz.run_terminal_quiz(lesson, lang, input_stream=stdin, output=out)
    return result, out.getvalue()


def test_terminal_quiz_all_right_answers_piped_in():
    questions = questions_for(5)
    (score, total), out = _run(5, [right_reply(q) for q in questions])
    assert (score, total) == (len(questions), len(questions))
    assert f"Score: {total}/{total}" in out
    assert out.count("Correct.") == total


def test_terminal_quiz_eof_counts_unanswered_as_wrong():
    questions = questions_for(2)
    (score, total), out = _run(2, [right_reply(q) for q in questions[:2]])
    assert (score, total) == (2, len(questions))
    assert f"{len(questions) - 2} unanswered" in out


def test_terminal_quiz_asks_again_after_an_unreadable_answer():
    q = questions_for(4)[0]
    garbage = "Z" if q.kind == "choice" else "abc"
    (score, _), out = _run(4, [garbage, right_reply(q)])
    assert score == 1
    assert "Not a valid answer" in out


def test_terminal_quiz_blank_line_skips_a_question():
    questions = questions_for(9)
    (score, total), out = _run(9, [""] + [right_reply(q) for q in questions[1:]])
    assert (score, total) == (total - 1, len(questions))
    assert "Skipped" in out


def test_terminal_quiz_wrong_answer_shows_the_right_one_and_why():
    q = questions_for(6)[0]
    (score, _), out = _run(6, [wrong_reply(q)])
    assert score == 0
    assert q.answer_text("en") in out and q.explanation["en"] in out


def test_terminal_quiz_speaks_chinese():
    (_, total), out = _run(1, [], lang="zh")
    assert f"得分：0/{total}" in out and "输入已结束" in out
    assert questions_for(1)[0].question["zh"] in out


def test_main_cli_quiz_in_a_subprocess_with_answers_on_stdin():
    questions = questions_for(0)
    answers = "".join(right_reply(q) + "\n" for q in questions)
    code = "import sys; from minialign.quiz import main_cli; sys.exit(main_cli(['0','--lang','zh']))"
    proc = subprocess.run(
        [sys.executable, "-c", code], input=answers, capture_output=True, text=True, encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    n = len(questions)
    assert f"得分：{n}/{n}" in proc.stdout
    assert proc.stdout.count("回答正确") == n


def test_main_cli_list_shows_every_lesson(capsys):
    assert main_cli(["--list"]) == 0
    out = capsys.readouterr().out
    for lesson in quiz.load_lessons():
        assert lesson.slug in out and lesson.title["en"] in out


@pytest.mark.parametrize("argv", [["42"], [], ["05", "--lang", "fr"], ["grade"], ["score-sheet"]])
def test_main_cli_usage_errors_return_2_instead_of_exiting(argv, capsys):
    assert main_cli(argv) == 2


@pytest.mark.parametrize("argv, words", [(["grade", "a.csv"], "scores your exercises"),
                                         (["grade", "--lang", "zh"], "练习")])
def test_main_cli_old_quiz_grade_points_to_score_sheet_and_to_the_exercise_grader(argv, words, capsys):
    assert main_cli(argv) == 2
    err = capsys.readouterr().err
    assert "quiz score-sheet" in err and "python -m minialign grade" in err and words in err


# ----------------------------------------------------------------------------- scoring a class sheet


def _sheet(tmp_path, text, name="answers.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_score_sheet_scores_each_student_on_the_whole_lesson(tmp_path):
    questions = questions_for(5)
    n = len(questions)
    rows = ["student,question_id,answer"]
    rows += [f"alice,{q.id},{right_reply(q).lower()}" for q in questions]  # lower-case letters are fine
    rows += [
        f"bob,{questions[0].id},{right_reply(questions[0])}",
        f"bob,{questions[1].id},{wrong_reply(questions[1])}",
        f"bob,{questions[2].id},",  # an empty cell: not answered
    ]
    results = score_sheet(_sheet(tmp_path, "\n".join(rows) + "\n"))
    assert [(r.student, r.score, r.total) for r in results] == [("alice", n, n), ("bob", 1, n)]
    bob = results[1]
    assert bob.missed == [q.id for q in questions[1:]]  # wrong, blank and missing all count wrong
    assert bob.percent == pytest.approx(100 / n)


def test_score_sheet_header_order_extra_columns_bom_and_blank_lines(tmp_path):
    q = questions_for(0)[0]
    text = "\ufeffAnswer,Timestamp,Student,Question_ID\n\n" + f"{right_reply(q)},9:00,carol,{q.id}\n"
    (result,) = score_sheet(_sheet(tmp_path, text))
    assert (result.student, result.score, result.total) == ("carol", 1, len(questions_for(0)))


def test_score_sheet_total_covers_every_lesson_in_the_sheet(tmp_path):
    text = "student,question_id,answer\ndan,00-1,A\neve,03-1,0.3\n"
    results = score_sheet(_sheet(tmp_path, text))
    assert {r.total for r in results} == {len(questions_for(0)) + len(questions_for(3))}


@pytest.mark.parametrize(
    "text, row, fragment",
    [
        ("", 1, "header"),
        ("student,question,answer\nalice,05-1,0.55\n", 1, "question_id"),
        ("student,question_id\nalice,05-1\n", 1, "answer"),
        ("student,question_id,answer\nalice,05-1,0.55\n,05-2,0.69\n", 3, "empty student"),
        ("student,question_id,answer\nalice,05-1,0.55\nalice,99-1,A\n", 3, "99-1"),
        ("student,question_id,answer\nalice,05-1,0.55\n\nalice,05-3,Z\n", 4, "05-3"),
        ("student,question_id,answer\nalice,05-1,half\n", 2, "05-1"),
        ("student,question_id,answer\nalice,05-1,0.55\nalice,05-1,0.56\n", 3, "row 2"),
        ("student,question_id,answer\nalice,05-1\n", 2, "3 fields"),
    ],
    ids=["empty", "missing-qid-column", "missing-answer-column", "empty-student", "unknown-id",
         "bad-letter", "bad-number", "duplicate", "short-row"],
)
def test_malformed_sheet_error_names_the_row(tmp_path, text, row, fragment):
    with pytest.raises(ValueError) as error:
        score_sheet(_sheet(tmp_path, text))
    message = str(error.value)
    assert f"row {row}:" in message and fragment in message


def test_malformed_sheet_error_in_chinese(tmp_path):
    with pytest.raises(ValueError, match="第 3 行"):
        score_sheet(_sheet(tmp_path, "student,question_id,answer\nalice,05-1,0.55\n,05-2,0.69\n"), lang="zh")


def test_main_cli_score_sheet_prints_a_table(tmp_path, capsys):
    q1, q2 = questions_for(5)[:2]
    text = f"student,question_id,answer\n王小明,{q1.id},{right_reply(q1)}\nzoe,{q2.id},{wrong_reply(q2)}\n"
    assert main_cli(["score-sheet", str(_sheet(tmp_path, text)), "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    n = len(questions_for(5))
    assert re.search(rf"王小明\s+1/{n}", out) and re.search(rf"zoe\s+0/{n}", out)
    assert "答错的题" in out


def test_main_cli_score_sheet_reports_a_bad_sheet_with_exit_status_1(tmp_path, capsys):
    assert main_cli(["score-sheet", str(_sheet(tmp_path, "student,answer\n"))]) == 1
    assert "row 1" in capsys.readouterr().err
