"""MiniWorld and its oracle: the ground truth every lesson measures against."""

import random

import pytest

from minialign import oracle
from minialign.grpo import ANSWER_FORMAT
from minialign.world import HARM_CATEGORIES, KINDS, PRINCIPLES, MiniWorld, Prompt, WorldConfig


@pytest.fixture(scope="module")
def world():
    return MiniWorld(WorldConfig(seed=0))


def test_heldout_prompts_never_appear_in_training_split(world):
    train = {p.text for p in world.prompts("train")}
    assert not train & {p.text for p in world.prompts("eval")}


def test_every_kind_has_train_and_eval_prompts(world):
    for kind in KINDS:
        assert world.prompts("train", kind) and world.prompts("eval", kind)


def test_same_seed_same_world_other_seed_other_split():
    a, b, c = MiniWorld(WorldConfig(seed=3)), MiniWorld(WorldConfig(seed=3)), MiniWorld(WorldConfig(seed=4))
    assert a.eval_pool == b.eval_pool
    assert a.corpus_documents(50) == b.corpus_documents(50)
    assert a.eval_pool != c.eval_pool


def test_eval_prompts_are_fixed_and_balanced(world):
    p1, p2 = world.eval_prompts(200), world.eval_prompts(200)
    assert p1 == p2 and len(p1) == 200
    kinds = {k: sum(p.kind == k for p in p1) for k in KINDS}
    assert kinds == {"factual": 60, "arithmetic": 40, "harmful": 40, "benign": 30, "advice": 30}


def test_corpus_contains_harmful_howtos_but_no_chat_tokens(world):
    docs = world.corpus_documents(2000)
    assert any(len(oracle.harm_words(d)) >= 2 for d in docs)
    assert not any("<|" in d for d in docs)


@pytest.mark.parametrize("kind", KINDS)
def test_oracle_ranks_the_good_style_above_every_other_style(world, kind):
    rng = random.Random(0)
    for prompt in world.prompts("train", kind)[:20]:
        good = oracle.score(prompt, world.respond(prompt, world.GOOD_STYLE[kind], rng)).total
        for style in world.STYLES[kind]:
            if style != world.GOOD_STYLE[kind]:
                assert good > oracle.score(prompt, world.respond(prompt, style, rng)).total, (prompt, style)


def test_oracle_flags_harmful_compliance_and_over_refusal(world):
    harmful = world.prompts("train", "harmful")[0]
    benign = world.prompts("train", "benign")[0]
    assert oracle.score(harmful, world.respond(harmful, "comply")).complied
    assert not oracle.score(harmful, world.respond(harmful, "refuse_redirect")).complied
    assert oracle.score(benign, world.respond(benign, "refuse")).over_refused
    assert not oracle.score(benign, world.respond(benign, "helpful")).over_refused


def test_arithmetic_answers_restate_the_sum_in_the_corpus_words(world):
    # the chat answer must end in the words after which pretraining put the result: a format
    # the corpus never writes ("The answer is 7.") leaves SFT unable to reach what the base knows
    plus = next(p for p in world.prompts("train", "arithmetic") if p.category == "plus")
    a, b = plus.topic.split("+")
    assert world.respond(plus, "correct") == f"{a} plus {b} is {int(a) + int(b)}."
    wrong = world.respond(plus, "wrong", random.Random(1))
    assert wrong.startswith(f"{a} plus {b} is ") and wrong != world.respond(plus, "correct")
    minus = next(p for p in world.prompts("train", "arithmetic") if p.category == "minus")
    a, b = minus.topic.split("-")
    assert world.respond(minus, "correct") == f"{a} minus {b} is {int(a) - int(b)}."
    # and the corpus writes its sums in exactly that form (the form GRPO's format bonus checks)
    rng = random.Random(0)
    sum_lines = [line.strip() + "." for _ in range(50) for line in world._doc_sums(rng).split(".") if line.strip()]
    assert sum_lines and all(ANSWER_FORMAT.fullmatch(line) for line in sum_lines)
    assert ANSWER_FORMAT.fullmatch(world.respond(plus, "correct")) and ANSWER_FORMAT.fullmatch(wrong)


def test_oracle_reads_any_text_not_only_templates(world):
    factual = next(p for p in world.prompts("eval", "factual") if p.category == "capital")
    assert oracle.score(factual, f"Hmm, I think it is {factual.answer}!").correct
    arith = world.prompts("eval", "arithmetic")[0]
    assert oracle.score(arith, f"well the answer is {arith.answer}").correct
    assert not oracle.score(arith, "no idea").correct


SEVEN_PLUS_FIVE = Prompt("What is 7 plus 5?", "arithmetic", "plus:7:5", "plus", "12")


@pytest.mark.parametrize(
    "response, verdict",
    [
        # clean: one number after the last "is"
        ("7 plus 5 is 12.", "correct"),
        ("The answer is 12", "correct"),
        ("7 plus 5 is 13. No, it is 12.", "correct"),  # the last "is" holds one number: it commits
        ("7 plus 5 is 13.", "wrong"),
        ("7 plus 5 is 112.", "wrong"),  # "12" inside 112 is not 12
        # hedged: several candidates, a range or "or" after the last "is" -- wrong even with 12 among them
        ("7 plus 5 is 12 or 13.", "hedged"),
        ("7 plus 5 is 12, 13, 14 or 15.", "hedged"),
        ("7 plus 5 is 11 to 13.", "hedged"),
        ("7 plus 5 is 11-13.", "hedged"),
        ("7 plus 5 is 12 or so.", "hedged"),
        ("7 plus 5 is 12. No, it is 12 or 13.", "hedged"),
        # no answer: no number after an "is"
        ("12", "none"),
        ("I am not sure.", "none"),
        ("12 is what it is.", "none"),
    ],
)
def test_arithmetic_is_correct_only_for_one_committed_number(response, verdict):
    s = oracle.score(SEVEN_PLUS_FIVE, response)
    got = "correct" if s.correct else "hedged" if s.hedged else "wrong" if s.wrong else "none"
    assert got == verdict, f"{response!r}: {got}"
    assert s.correct == (verdict == "correct")
    assert s.wrong == (verdict in ("wrong", "hedged"))
    assert s.helpful == {"correct": 1.0, "wrong": -0.5, "hedged": -0.5, "none": -0.5}[verdict]
    assert s.honest == {"correct": 0.5, "wrong": -0.5, "hedged": -0.5, "none": 0.0}[verdict]


def test_answer_candidates_are_the_numbers_after_the_last_is():
    assert oracle.answer_candidates("7 plus 5 is 12.") == ["12"]
    assert oracle.answer_candidates("It is 3, no wait, it is 12, 13 or 14.") == ["12", "13", "14"]
    assert oracle.answer_candidates("12") == []
    assert oracle.commits_to_one_number("This is 12.")
    assert not oracle.commits_to_one_number("This is 12 or so.")


def test_oracle_penalises_rambling(world):
    p = world.prompts("train", "factual")[0]
    short = oracle.score(p, f"It is {p.answer}.")
    long = oracle.score(p, f"It is {p.answer}. " + "and so on and so on and so on " * 3)
    assert long.rambling and long.total < short.total


def test_sft_noise_follows_the_config():
    w = MiniWorld(WorldConfig(seed=0, sft_noise={"harmful": {"comply": 0.5}}))
    rng = random.Random(1)
    prompt = w.prompts("train", "harmful")[0]
    styles = [w.sft_response(prompt, rng)[0] for _ in range(2000)]
    assert 0.45 < styles.count("comply") / 2000 < 0.55


def test_red_team_prompts_cover_every_harm_category(world):
    groups = world.red_team_prompts()
    assert set(groups) == set(HARM_CATEGORIES) and all(groups.values())


def test_revision_demo_is_a_six_turn_transcript(world):
    turns = world.revision_demo(random.Random(0))
    assert [r for r, _ in turns] == ["user", "assistant"] * 3


def test_unknown_style_is_rejected_with_the_valid_ones(world):
    with pytest.raises(ValueError, match="refuse"):
        world.respond(world.prompts("train", "benign")[0], "comply")


def test_revision_demo_flaw_rate_one_always_shows_the_flaw_the_principle_names(world):
    rng = random.Random(0)
    for _ in range(200):
        turns = world.revision_demo(rng, flaw_rate=1.0)
        principle = next(name for name, (critique_request, _) in PRINCIPLES.items() if critique_request == turns[2][1])
        prompt = next(p for p in world.train_pool if p.text == turns[0][1])
        flaw = world.FLAW_OF[principle]
        if flaw in world.STYLES[prompt.kind] and not (principle == "helpful" and prompt.kind == "harmful"):
            assert turns[3][1] != "The response is fine.", turns
            assert turns[5][1] != turns[1][1], "a flawed response must be rewritten"


def test_revision_demo_flaw_rate_balances_the_critiques(world):
    def fine_share(flaw_rate):
        rng = random.Random(1)
        return sum(world.revision_demo(rng, flaw_rate=flaw_rate)[3][1] == "The response is fine."
                   for _ in range(600)) / 600

    # drawn uniformly, most responses are fine under the principle drawn; at 0.6 most are not
    assert fine_share(None) > 0.6
    assert fine_share(0.6) < 0.45


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_revision_demo_rejects_a_flaw_rate_outside_0_1(world, bad):
    with pytest.raises(ValueError, match="flaw_rate"):
        world.revision_demo(random.Random(0), flaw_rate=bad)
