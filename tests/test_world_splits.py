"""MiniWorld's two held-out splits: large enough to measure, and unseen by every post-training source.

"new_tasks" must occur in no post-training data at all: no SFT demonstration, preference pair,
RL prompt, critique transcript or judge demonstration. These tests build each source the way the
stages do and scan its text for the new tasks (every phrasing of their prompts, the harmful
how-tos, the benign answers, the advice questions, the sums' sentences) and for the exact prompt
texts of the new-phrasings split.
"""

import random
import re
from collections import Counter

import pytest

from minialign import cai, data, grpo, preferences, rlaif
from minialign.tokenizer import ASSISTANT, END, USER
from minialign.tokenizer import train as train_tokenizer
from minialign.world import ADVICE, BENIGN, EVAL_SPLITS, HARM_CATEGORIES, HARMFUL, KINDS, SPLITS, MiniWorld, WorldConfig

BLOCK = 128


@pytest.fixture(scope="module", params=[0, 1])
def world(request):
    return MiniWorld(WorldConfig(seed=request.param))


@pytest.fixture(scope="module")
def tok(world):
    texts = world.corpus_documents(3000) + [p.text for p in world.prompts("eval")]
    return train_tokenizer(texts, vocab_size=512)


def test_held_out_splits_are_large_and_distinct(world):
    held = world.prompts("eval")
    texts = [p.text for p in held]
    assert len(texts) >= 600 and len(set(texts)) == len(texts)
    kinds = Counter(p.kind for p in held)
    minimum = {"factual": 120, "arithmetic": 100, "harmful": 120, "benign": 100, "advice": 60}
    assert all(kinds[k] >= n for k, n in minimum.items()), kinds
    assert len({p.category for p in held if p.kind == "harmful"}) >= 8
    # every split has every kind, and no prompt text is in two splits
    seen: set[str] = set()
    for name in SPLITS:
        pool = {p.text for p in world.prompts(name)}
        assert not pool & seen
        seen |= pool
        assert {p.kind for p in world.prompts(name)} == set(KINDS), name
    assert world.prompts("eval") == sorted(world.eval_split("new_phrasings") + world.eval_split("new_tasks"),
                                           key=lambda p: (p.kind, p.topic, p.text))


def test_new_phrasings_cover_training_tasks_and_new_tasks_do_not(world):
    train_tasks = {(p.kind, p.topic) for p in world.prompts("train")}
    assert {(p.kind, p.topic) for p in world.eval_split("new_phrasings")} <= train_tasks
    assert not {(p.kind, p.topic) for p in world.eval_split("new_tasks")} & train_tasks
    assert {(p.kind, p.topic) for p in world.eval_split("new_tasks")} == set(world.new_tasks)
    # every harm category has tasks on both sides
    for cat in HARM_CATEGORIES:
        assert any(p.category == cat for p in world.prompts("train", "harmful"))
        assert any(p.category == cat for p in world.eval_split("new_tasks") if p.kind == "harmful")


def test_pretraining_corpus_contains_the_new_tasks(world):
    corpus = " ".join(world.corpus_documents(12000))
    for kind, topic in world.new_tasks:
        if kind == "harmful":
            assert HARMFUL[topic][2] in corpus, topic
        elif kind == "benign":
            assert BENIGN[topic][1] in corpus, topic
        elif kind == "advice":
            assert ADVICE[topic][0] in corpus, topic


def test_split_names_are_checked(world):
    with pytest.raises(ValueError, match="split"):
        world.prompts("test")
    with pytest.raises(ValueError, match="held-out split"):
        world.eval_split("train")
    assert [p for name in EVAL_SPLITS for p in world.eval_split(name)] == [
        p for name in EVAL_SPLITS for p in world.prompts(name)]


# --- the leakage scan --------------------------------------------------------------------------
def _forbidden(world) -> list[str]:
    """Text that marks a new task wherever it occurs."""
    out = [p.text for p in world.eval_split("new_tasks")]
    for kind, topic in world.new_tasks:
        if kind == "harmful":
            out += [HARMFUL[topic][1], HARMFUL[topic][2]]
        elif kind == "benign":
            out += [BENIGN[topic][0], BENIGN[topic][1]]
        elif kind == "advice":
            out += [ADVICE[topic][0]]
        elif kind == "arithmetic":
            a, b = re.split(r"[+-]", topic)
            op = "plus" if "+" in topic else "minus"
            out.append(f"{a} {op} {b} is")
    return out


def _leaks(texts, world) -> list[str]:
    # one pattern per forbidden text, tried only where `in` finds that text: an alternation of all
    # ~400 of them tries each at every position of every text, a minute per world
    patterns = {s: re.compile(r"(?<![\w])" + re.escape(s) + r"(?![\w])") for s in set(_forbidden(world))}
    new_phrasings = {p.text for p in world.eval_split("new_phrasings")}
    bad = []
    for text in texts:
        hits = [m for s, pattern in patterns.items() if s in text for m in [pattern.search(text)] if m]
        if hits:
            hit = min(hits, key=lambda m: (m.start(), -len(m.group(0))))  # the leftmost, then the longest
            bad.append(f"{hit.group(0)!r} in {text!r}")
        # a held-out phrasing may be a substring of a training one ("Quick question. " + it),
        # so user turns are compared whole
        turns = [t.strip() for t in re.split(re.escape(USER) + "|" + re.escape(ASSISTANT) + "|" + re.escape(END), text)]
        bad += [f"new phrasing {t!r}" for t in turns if t in new_phrasings]
    return bad


def _decoded(examples, tok) -> list[str]:
    return [tok.decode(ids, skip_special=False) for ids, _ in examples]


def test_no_post_training_source_contains_a_held_out_prompt(world, tok):
    sources = {
        "sft demonstrations and critique transcripts": _decoded(
            data.sft_examples(world, tok, 4000, seed=1, block_size=BLOCK), tok),
        "critique transcripts that name flaws": _decoded(
            data.sft_examples(world, tok, 1500, seed=2, block_size=BLOCK, mix=(0.0, 1.0, 0.0), flaw_rate=0.6), tok),
        "judge demonstrations": _decoded(rlaif.judge_examples(world, tok, 2000, seed=3, block_size=BLOCK), tok),
        "the feedback model's critique transcripts": _decoded(
            rlaif.critic_examples(world, tok, 1500, seed=7, block_size=BLOCK), tok),
        "grpo anchor conversations": _decoded(grpo.anchor_examples(world, tok, 1000, seed=4, block_size=BLOCK), tok),
        "preference pairs (reward model, DPO, ORPO, RLAIF)": [
            f"{USER} {p.prompt}{ASSISTANT} {p.chosen}{END} {p.rejected}" for p in
            preferences.make_pairs(world, 4000, seed=5, split="train")],
        "ppo prompts": [f"{USER} {world.sample_prompt(random.Random(i)).text}{ASSISTANT}" for i in range(3000)],
        "grpo prompts": [f"{USER} {p.text}{ASSISTANT}" for p in world.prompts("train", "arithmetic")],
        "sl-cai prompts": [f"{USER} {p.text}{ASSISTANT}" for p in
                           cai.sl_cai_prompts(world, {k: 200 for k in KINDS}, seed=6)],
    }
    for name, texts in sources.items():
        assert texts, name
        leaks = _leaks(texts, world)
        assert not leaks, f"{name}: {len(leaks)} leaks, e.g. {leaks[:3]}"


def test_the_scan_finds_a_planted_leak(world, tok):
    harmful = next(p for p in world.eval_split("new_tasks") if p.kind == "harmful")
    phrasing = world.eval_split("new_phrasings")[0]
    assert _leaks([f"{USER} {harmful.text}{ASSISTANT} no{END}"], world)
    assert _leaks([f"{USER} {phrasing.text}{ASSISTANT} no{END}"], world)
    assert _leaks([f"{USER} hi{ASSISTANT} Sure. {HARMFUL[harmful.topic][2]}{END}"], world)
    assert not _leaks([f"{USER} {world.prompts('train')[0].text}{ASSISTANT} no{END}"], world)
