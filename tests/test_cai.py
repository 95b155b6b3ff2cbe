"""Constitutional AI and RLAIF: the constitution, the critique -> revise loop, the AI judge."""

import dataclasses
import math
import random
import re

import pytest
import torch
import torch.nn as nn

from minialign import cai, redteam, rlaif, rollout, tokenizer
from minialign.dpo import DPOConfig
from minialign.model import GPT, GPTConfig
from minialign.preferences import PreferencePair
from minialign.train import LoopConfig
from minialign.world import PRINCIPLES


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@pytest.fixture(scope="module")
def tok(world) -> tokenizer.Tokenizer:
    # a small BPE trained in a fraction of a second; the judge's answer must be in its training text
    rng = random.Random(0)
    texts = world.corpus_documents(300) + [p.text for p in world.train_pool]
    texts += [world.respond(p, s, rng) for p in world.train_pool for s in world.STYLES[p.kind]]
    texts += [t for _ in range(50) for _, t in world.revision_demo(rng)]
    texts += ["The answer is A.", "The answer is B.", "(A) (B)"] * 200
    return tokenizer.train(texts, vocab_size=512)


# --- the constitution -----------------------------------------------------------------------------
def test_default_constitution_is_the_worlds_principles():
    c = cai.default_constitution()
    assert c.names == list(PRINCIPLES)
    assert (c["harm"].critique_request, c["harm"].revision_request) == PRINCIPLES["harm"]


def test_empty_constitution_rejected():
    with pytest.raises(ValueError, match="at least one principle"):
        cai.Constitution(())


@pytest.mark.parametrize("critique, revision, bad", [("", "Revise it.", "critique_request"),
                                                     ("Critique it.", "   ", "revision_request"),
                                                     (None, "Revise it.", "critique_request"),
                                                     ("Critique it.", 3, "revision_request")])
def test_empty_or_non_string_request_rejected_naming_the_field(critique, revision, bad):
    with pytest.raises(ValueError, match=f"'p'.*{bad}"):
        cai.Principle("p", critique, revision)


def test_duplicate_principle_names_rejected():
    p = cai.Principle("harm", "Critique: harmful?", "Revise: harmless.")
    q = cai.Principle("harm", "Critique: dangerous?", "Revise: safe.")
    with pytest.raises(ValueError, match=r"duplicates \['harm'\]"):
        cai.Constitution((p, q))


def test_constitution_from_dict_rejects_a_bare_string():
    with pytest.raises(ValueError, match="critique_request, revision_request"):
        cai.Constitution.from_dict({"harm": "Critique: is it harmful?"})


def test_sample_principle_cycles_through_all_before_repeating():
    c = cai.default_constitution()
    rng = random.Random(0)
    used: list[str] = []
    for _ in range(2 * len(c)):
        used.append(cai.sample_principle(c, rng, used).name)
    assert sorted(used[:4]) == sorted(c.names) and sorted(used[4:]) == sorted(c.names)


# --- one step, and the loop around a fake model ---------------------------------------------------
PRINCIPLE = cai.Principle("harm", "Critique: is the response harmful?", "Revise: rewrite it to be harmless.")


def test_step_asks_critique_then_revision_with_the_critique_in_context():
    calls = []

    def generate(turns):
        calls.append(list(turns))
        return ["It explains a crime.", "I can't help with that."][len(calls) - 1]

    out = cai.critique_revise_step(generate, "How do I rob a shop?", "Grab the cash.", PRINCIPLE)
    first = [("user", "How do I rob a shop?"), ("assistant", "Grab the cash."), ("user", PRINCIPLE.critique_request)]
    assert calls == [first, first + [("assistant", "It explains a crime."), ("user", PRINCIPLE.revision_request)]]
    assert out["critique"] == "It explains a crime." and out["revision"] == "I can't help with that."


class FakeModel:
    """Batched generate that critiques and revises by rule: 'critique of X' and 'X+', so each
    transcript's text records which response every round saw."""

    def __init__(self):
        self.calls: list[list[list[tuple[str, str]]]] = []

    def __call__(self, conversations):
        self.calls.append([list(c) for c in conversations])
        out = []
        for turns in conversations:
            if len(turns) == 3:  # [prompt, response, critique request]
                out.append(f"critique of {turns[1][1]}")
            else:  # [..., critique, revision request]
                out.append(turns[1][1] + "+")
        return out


def test_loop_bookkeeping_rounds_critique_the_latest_revision():
    c = cai.default_constitution()
    fake = FakeModel()
    ts = cai.critique_revise_with(fake, ["p0", "p1"], ["r0", "r1"], c, rounds=3, seed=0)
    assert len(fake.calls) == 6  # a critique batch and a revision batch per round, both transcripts in each
    assert all(len(batch) == 2 for batch in fake.calls)
    for t, r in zip(ts, ["r0", "r1"]):
        assert t.response == r and len(t.rounds) == 3 and not t.stopped
        # round k critiques the revision of round k-1 (the response itself in round 0)
        assert [x.critique for x in t.rounds] == [f"critique of {r}", f"critique of {r}+", f"critique of {r}++"]
        assert [x.revision for x in t.rounds] == [r + "+", r + "++", r + "+++"]
        assert t.final == r + "+++"
        assert len(set(t.principles)) == 3  # no principle repeats within a cycle
    # the request sent in each round is that round's principle's
    for k in range(3):
        sent = [conv[2][1] for conv in fake.calls[2 * k]]
        assert sent == [c[t.principles[k]].critique_request for t in ts]
        sent = [conv[4][1] for conv in fake.calls[2 * k + 1]]
        assert sent == [c[t.principles[k]].revision_request for t in ts]
    # the transcript can show each round as the 6 turns of an SFT demonstration
    assert ts[0].turns(1)[1] == ("assistant", "r0+") and ts[0].turns(1)[-1] == ("assistant", "r0++")


def test_zero_rounds_keeps_the_response_and_calls_nothing():
    fake = FakeModel()
    ts = cai.critique_revise_with(fake, ["p"], ["r"], cai.default_constitution(), rounds=0)
    assert fake.calls == [] and ts[0].final == "r" and ts[0].rounds == []


def test_principle_draws_are_seeded():
    c = cai.default_constitution()
    runs = [[t.principles for t in cai.critique_revise_with(FakeModel(), ["p"] * 5, ["r"] * 5, c, 2, seed=3)]
            for _ in range(2)]
    assert runs[0] == runs[1]


def words(turns) -> int:
    """A stand-in token count: one per word, plus one per turn marker."""
    return sum(len(text.split()) + 1 for _, text in turns)


SHORT = cai.Constitution((cai.Principle("short", "Critique?", "Revise?"),))


def growing(conversations):
    """Critiques are 'c'; each revision adds three words, so every round needs more room."""
    return ["c" if len(turns) == 3 else turns[1][1] + " w w w" for turns in conversations]


def test_overlong_transcript_raises_clear_error():
    # words: round 1 asks 6 then 10; round 2 asks 9 then 13, which leaves 16 - 13 = 3 < min_room 4
    with pytest.raises(ValueError, match=r"transcript 0 .*round 2: .*revision takes 13 tokens.*block_size=16"
                                         r".*on_overflow='stop'"):
        cai.critique_revise_with(growing, ["p"], ["r"], SHORT, rounds=3, count_tokens=words, block_size=16,
                                 min_room=4)


def test_overlong_transcript_stops_only_itself_with_on_overflow_stop():
    ts = cai.critique_revise_with(growing, ["p", "p"], ["r", "r r r r r r r r"], SHORT, rounds=3,
                                  count_tokens=words, block_size=16, min_room=4, on_overflow="stop")
    # the short one stops in round 2 (keeps round 1), the long one before its first critique
    assert ts[0].stopped.startswith("round 2") and len(ts[0].rounds) == 1 and ts[0].final == "r w w w"
    assert ts[1].stopped.startswith("round 1") and ts[1].rounds == [] and ts[1].final == "r r r r r r r r"


def test_transcripts_that_fit_run_every_round():
    ts = cai.critique_revise_with(growing, ["p"], ["r"], SHORT, rounds=3, count_tokens=words, block_size=40)
    assert len(ts[0].rounds) == 3 and not ts[0].stopped


def test_critique_revise_with_a_model_checks_the_block_before_generating(tok):
    # a real (untrained) GPT with a 32-token context: the prompt + response alone fill it
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=1, n_embd=8))
    long = "What is the capital of France? Tell me the capital of France, please, right now."
    with pytest.raises(ValueError, match="block_size=32"):
        cai.critique_revise(model, tok, [long], responses=["The capital is Paris, the city of lights."])


# --- the AI judge -----------------------------------------------------------------------------------
def v(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


def test_soft_label_judge_that_always_says_A_gives_one_half():
    # pure position bias: first order p1 = sigmoid(2) = 0.881, swapped order p(B) = sigmoid(-2) = 0.119
    assert rlaif.judge_soft_label(v(2.0), v(0.0), v(2.0), v(0.0)).item() == pytest.approx(0.5)


def test_soft_label_hand_value_uses_B_in_the_swapped_order():
    # first order (A) 1, (B) 0 -> 0.7311; swapped (A) 0, (B) 0.5, response 1 is (B) -> 0.6225; mean 0.6768
    got = rlaif.judge_soft_label(v(1.0), v(0.0), v(0.0), v(0.5)).item()
    assert got == pytest.approx((sigmoid(1.0) + sigmoid(0.5)) / 2)


def test_soft_labels_of_both_responses_sum_to_one():
    la, lb, la_s, lb_s = v(1.0, -0.3), v(0.0, 0.4), v(0.0, 2.0), v(0.5, 1.0)
    total = rlaif.judge_soft_label(la, lb, la_s, lb_s) + rlaif.judge_soft_label(la_s, lb_s, la, lb)
    assert torch.allclose(total, torch.ones(2, dtype=torch.float64))


class FakeJudge(nn.Module):
    """Reads the judge prompt back as text: +quality to the option whose response contains 'good',
    +bias to (A) whatever it shows. Same logits at every position (only the last one is read)."""

    def __init__(self, tok, quality: float, bias: float):
        super().__init__()
        self.tok, self.quality, self.bias = tok, quality, bias
        self.config = GPTConfig(vocab_size=tok.vocab_size, block_size=128)
        self.dummy = nn.Parameter(torch.zeros(1))
        self.a_id, self.b_id = rlaif.option_token_ids(tok)

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.tok.vocab_size)
        for i, row in enumerate(idx.tolist()):
            a, b = re.search(r"\(A\)(.*)\(B\)(.*)\?", self.tok.decode(row)).groups()
            logits[i, :, self.a_id] = self.bias + self.quality * ("good" in a)
            logits[i, :, self.b_id] = self.quality * ("good" in b)
        return logits


def test_option_tokens_are_single_tokens_after_the_answer_prefix(tok):
    a, b = rlaif.option_token_ids(tok)
    assert tok.decode([a]) == " A" and tok.decode([b]) == " B"


def test_judge_probs_cancels_position_bias(tok):
    judge = FakeJudge(tok, quality=0.0, bias=3.0)
    p = rlaif.judge_probs(judge, tok, ["How do I crack an egg?"] * 2, ["It is fine.", "Tap it."], ["Tap it.", "Hmm."])
    assert torch.allclose(p, torch.full((2,), 0.5))


def test_judge_probs_hand_value_and_complement(tok):
    judge = FakeJudge(tok, quality=2.0, bias=1.0)
    # first order: (A) good 2+1, (B) bad 0 -> sigmoid(3); swapped: (A) bad 1, (B) good 2 -> p(B) = sigmoid(1)
    p = rlaif.judge_probs(judge, tok, "Q?", "a good answer.", "a bad answer.")
    assert p.item() == pytest.approx((sigmoid(3.0) + sigmoid(1.0)) / 2, abs=1e-6)
    q = rlaif.judge_probs(judge, tok, "Q?", "a bad answer.", "a good answer.")
    assert (p + q).item() == pytest.approx(1.0, abs=1e-6)


def test_judge_asks_each_distinct_question_once(tok):
    class Counting(FakeJudge):
        rows = 0

        def forward(self, idx):
            Counting.rows += len(idx)
            return super().forward(idx)

    judge = Counting(tok, quality=2.0, bias=1.0)
    p = rlaif.judge_probs(judge, tok, ["Q?"] * 3, ["good.", "bad.", "good."], ["bad.", "good.", "bad."])
    assert Counting.rows == 2  # one question, in its two orders
    assert p[0] == p[2] and (p[0] + p[1]).item() == pytest.approx(1.0)


def test_judge_reads_the_last_real_token_not_the_padding(tok):
    # rows of different lengths in one batch: a judge biased only at the last real position
    class LastOnly(FakeJudge):
        def forward(self, idx):
            logits = super().forward(idx)
            real = (idx != self.tok.pad_id).sum(dim=1)
            keep = torch.zeros_like(logits)
            keep[torch.arange(len(idx)), real - 1] = logits[torch.arange(len(idx)), real - 1]
            return keep

    judge = LastOnly(tok, quality=2.0, bias=0.0)
    p = rlaif.judge_probs(judge, tok, ["Q?", "A much longer question about eggs and bowls?"],
                        ["good.", "good."], ["bad.", "bad."])
    assert torch.allclose(p, torch.full((2,), sigmoid(2.0)))


def test_agreement_counts_an_undecided_label_as_a_miss():
    p = torch.tensor([0.9, 0.2, 0.5, 0.4])
    first = torch.tensor([True, False, True, True])
    assert rlaif.agreement(p, first) == pytest.approx(2 / 4)


def test_ai_label_pairs_swaps_what_the_judge_rejects_and_keeps_scores_with_responses(tok):
    judge = FakeJudge(tok, quality=2.0, bias=0.5)
    pairs = [PreferencePair("Q?", "a good one.", "a bad one.", "advice", "x", 1.0, -1.0),
             PreferencePair("Q?", "a bad one.", "a good one.", "advice", "x", -1.0, 1.0, flipped=True)]
    labels = rlaif.ai_label_pairs(judge, tok, pairs)
    assert [(q.chosen, q.rejected) for q in labels.pairs] == [("a good one.", "a bad one.")] * 2
    assert [(q.chosen_score, q.rejected_score, q.flipped) for q in labels.pairs] == [(1.0, -1.0, False)] * 2
    assert labels.label_agreement == pytest.approx(0.5)  # it overturns the second (noisy) label
    assert labels.oracle_agreement == pytest.approx(1.0)


def test_ai_label_pairs_drops_pairs_too_long_for_the_judge(tok):
    judge = FakeJudge(tok, quality=2.0, bias=0.0)
    short = len(rlaif.judge_prompt_ids(tok, "Q?", "a good one.", "a bad one.", rlaif.JUDGE_QUESTIONS["helpful"]))
    judge.config = GPTConfig(vocab_size=tok.vocab_size, block_size=short + 5)
    pairs = [PreferencePair("Q?", "a good one.", "a bad one.", "advice", "x", 1.0, -1.0),
             PreferencePair("Q?", "a good one. " * 10, "a bad one.", "advice", "x", 1.0, -1.0)]
    labels = rlaif.ai_label_pairs(judge, tok, pairs)
    assert labels.too_long == 1 and len(labels.pairs) == 1 and labels.p_given[1].isnan()
    assert labels.oracle_agreement == pytest.approx(1.0)  # over the judged pair only


# --- red team ----------------------------------------------------------------------------------------
def test_red_team_rows_per_category(world):
    theft = [p for p in world.prompts("eval", "harmful") if p.category == "theft"][:2]
    benign = world.prompts("eval", "benign")[:2]
    comply = world.respond(theft[0], "comply")
    refuse = world.respond(theft[1], "refuse_redirect")
    rows = redteam.red_team_rows("m", theft + benign, [comply, refuse, "I can't help with that.", "Sure. Here."])
    by = {r["category"]: r for r in rows}
    assert by["theft"]["n"] == 2 and by["theft"]["harmful_compliance"] == pytest.approx(0.5)
    assert by["benign"]["over_refusal"] == pytest.approx(0.5)
    assert math.isnan(by["benign"]["harmful_compliance"]) and math.isnan(by["theft"]["over_refusal"])


# --- the pipelines run end to end (an untrained tiny model: wiring, not quality) --------------------
@pytest.fixture(scope="module")
def tiny_model(tok):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16))


def test_sl_cai_trains_on_final_revisions(tok, world, tiny_model):
    cfg = cai.SLCAIConfig(critique=cai.CritiqueConfig(max_new_tokens=6), n_per_kind={"harmful": 6, "benign": 4},
                          batch_size=4, loop=LoopConfig(steps=2, warmup_steps=0))
    log = cai.train_sl_cai(tiny_model, tok, world, cfg)
    assert log.rows[-1]["transcripts"] == 10  # one per red-team prompt drawn
    assert log.rows[-2]["revision_examples"] >= 1
    assert len(log.series("loss")[0]) == 2


def test_helpful_counts_follow_the_mix():
    counts = cai.helpful_counts(10, {"factual": 0.2, "benign": 0.5, "advice": 0.3})
    assert counts == {"factual": 2, "benign": 5, "advice": 3}
    counts = cai.helpful_counts(7, {"a": 1.0, "b": 1.0, "c": 1.0})
    assert sum(counts.values()) == 7 and sorted(counts.values()) == [2, 2, 3]
    assert cai.helpful_counts(0, {"a": 1.0}) == {"a": 0}
    with pytest.raises(ValueError, match="positive sum"):
        cai.helpful_counts(4, {"a": 0.0})


def test_sl_cai_mixes_revisions_with_helpful_answers(tok, world, tiny_model):
    cfg = cai.SLCAIConfig(critique=cai.CritiqueConfig(max_new_tokens=6), n_per_kind={"harmful": 6},
                          helpful_ratio=2.0, helpful_mix={"benign": 0.5, "factual": 0.5})
    examples, transcripts, n_revisions = cai.sl_cai_examples(tiny_model, tok, world, cfg)
    assert len(transcripts) == 6 and 0 < n_revisions <= 6
    revisions = cai.revision_examples(transcripts, tok, tiny_model.config.block_size)
    assert examples[:n_revisions] == revisions
    helpful = examples[n_revisions:]
    # 2 helpful examples per revision, on the mix's kinds (an empty answer would be dropped)
    assert 0 < len(helpful) <= 2 * n_revisions
    kinds = {p.text: p.kind for p in world.prompts("train")}
    asked = [kinds.get(tok.decode(ids[1 : plen - 1]).strip()) for ids, plen in helpful]  # <|user|> ... <|assistant|>
    assert set(asked) <= {"benign", "factual"}
    # helpful_ratio=0: revisions only
    only, _, n = cai.sl_cai_examples(tiny_model, tok, world, dataclasses.replace(cfg, helpful_ratio=0.0))
    assert len(only) == n


def test_rlaif_dpo_trains_on_ai_labels(tok, world, tiny_model):
    import copy

    policy = copy.deepcopy(tiny_model)
    cfg = rlaif.RLAIFConfig(dpo=DPOConfig(n_pairs=8, batch_size=4, loop=LoopConfig(steps=2, warmup_steps=0)))
    log = rlaif.train_rlaif_dpo(policy, tiny_model, tiny_model, tok, world, cfg)
    labels = log.rows[-1]
    assert labels["ai_pairs"] <= 8
    assert 0 <= labels["ai_oracle_agreement"] <= 1 and 0 <= labels["ai_label_agreement"] <= 1
    assert len(log.series("loss")[0]) == 2


def test_length_buckets_keep_similar_lengths_together():
    # sorted: 3, 5, 9, 20, 21 -> {3, 5, 9} (9 - 3 <= 6), {20, 21}
    assert rollout.length_buckets([20, 3, 9, 21, 5], width=6) == [[1, 4, 2], [0, 3]]
    assert rollout.length_buckets([1, 1, 1], width=6, max_size=2) == [[0, 1], [2]]


def test_model_generate_keeps_every_reply_in_order(tok, tiny_model):
    # conversations of very different lengths are batched apart but answered in input order
    convs = [[("user", "What is 2 plus 2?")], [("user", "Tell me the capital of France. " * 8)], [("user", "Hi?")]]
    gen = rollout.model_generate(tiny_model, tok, max_new_tokens=4)
    seen = [gen([c])[0] for c in convs]
    assert gen(convs) == seen  # greedy: each reply is the one the conversation gets alone


def test_judge_examples_teach_only_the_verdict(tok, world):
    examples = rlaif.judge_examples(world, tok, n=20, seed=0, block_size=128)
    assert len(examples) == 20
    for ids, prompt_len in examples:
        assert len(ids) <= 128
        # the loss covers the assistant's verdict only: everything before it is the judge prompt
        verdict = tok.decode(ids[prompt_len:]).replace("<|end|>", "").strip()
        assert verdict in ("The answer is A.", "The answer is B."), verdict
        assert "Which response is more" in tok.decode(ids[:prompt_len])
    # both letters occur: the oracle's better response is shown first about half the time
    verdicts = {tok.decode(ids[plen:]) for ids, plen in rlaif.judge_examples(world, tok, n=60, seed=1, block_size=128)}
    assert len({v.strip()[:13] for v in verdicts}) == 1 and len(verdicts) >= 2


def test_judge_examples_that_cannot_fit_raise_clearly(tok, world):
    with pytest.raises(ValueError, match="block_size=4"):
        rlaif.judge_examples(world, tok, n=2, seed=0, block_size=4)


def test_train_judge_moves_the_model_towards_the_verdicts(tok, world, tiny_model):
    import copy

    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    judge = copy.deepcopy(tiny_model)
    cfg = rlaif.JudgeConfig(n_labels=64, batch_size=8, loop=LoopConfig(steps=8, lr=3e-3, warmup_steps=0))
    log = rlaif.train_judge(judge, tok, world, cfg)
    losses = log.series("loss")[1]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    # the copy learned; the model it was copied from is untouched
    assert any(not torch.equal(a, b) for a, b in zip(judge.parameters(), tiny_model.parameters()))
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())


def test_rlaif_stage_labels_with_the_judge_stage():
    from minialign.stages import STAGES

    assert "judge" in STAGES["rlaif_dpo"].requires and STAGES["judge"].requires == ("sft",)
    assert "judge" in STAGES["sl_cai"].requires  # the feedback model writes SL-CAI's critiques too
