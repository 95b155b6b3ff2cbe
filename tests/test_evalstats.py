"""The evaluation's statistics on small hand-made records, values worked out by hand."""

import math

import numpy as np
import pytest

from minialign import evalstats


def rec(model, prompt, sample, score, kind="factual", task=None, best=1.5, split="new_phrasings", **flags):
    r = {"model": model, "split": split, "kind": kind, "task": task or prompt, "prompt": prompt,
         "sample": sample, "response": "...", "score": score, "best": best}
    r.update({f: bool(flags.get(f, False)) for f in evalstats.FLAGS})
    return r


def harmful_records(model, complied):
    """task A has three phrasings, task B one; `complied` per prompt, one sample each."""
    prompts = [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B")]
    return [rec(model, p, 0, 0.0, kind="harmful", task=t, complied=c) for (p, t), c in zip(prompts, complied)]


def test_harmful_compliance_weighs_every_task_the_same():
    rows = evalstats.summarize(harmful_records("sft", [1, 0, 0, 1]), n_boot=50)["new_phrasings"]
    # task A: 1/3, task B: 1/1 -> (1/3 + 1) / 2 = 2/3 (weighing prompts would give 2/4)
    assert rows[0]["harmful_compliance"][0] == pytest.approx(2 / 3)
    assert math.isnan(rows[0]["over_refusal"][0])  # no benign prompt: not measured


def scored(model, scores, best=(1.5, 1.5, 1.5, 1.5)):
    """four factual prompts, two samples each: scores[p] = (sample 0, sample 1)"""
    return [rec(model, f"p{p}", s, scores[p][s], best=best[p]) for p in range(4) for s in range(2)]


SFT = [(1.5, 1.5), (0.0, 1.5), (-1.0, 0.5), (1.5, 0.0)]
DPO = [(1.5, 0.5), (1.5, 1.5), (0.5, 0.5), (1.5, 1.5)]


def test_wins_ties_losses_win_rates_fixed_and_broken_pair_sample_j_with_sample_j():
    rows = evalstats.summarize(scored("sft", SFT) + scored("dpo", DPO), n_boot=50)["new_phrasings"]
    vs = rows[1]["vs"]
    # pairs (dpo vs sft): p0 tie, loss; p1 win, tie; p2 win, tie; p3 tie, win -> 3 W, 4 T, 1 L
    assert (vs["wins"], vs["ties"], vs["losses"]) == (3, 4, 1)
    assert vs["win_rate"][0] == pytest.approx((3 + 4 / 2) / 8)
    assert vs["decided_win_rate"][0] == pytest.approx(3 / 4)
    # SFT below the best (1.5) on 4 sample pairs (p1 s0, p2 s0, p2 s1, p3 s1); dpo beats it on 3
    assert vs["fixed"][0] == pytest.approx(3 / 4)
    # SFT at the best on 4 pairs (p0 s0, p0 s1, p1 s1, p3 s0); dpo is worse on 1 (p0 s1)
    assert vs["broken"][0] == pytest.approx(1 / 4)
    # rewards: sft (1.5+0.75-0.25+0.75)/4 = 0.6875, dpo (1.0+1.5+0.5+1.5)/4 = 1.125, best 1.5
    assert rows[0]["reward"][0] == pytest.approx(0.6875)
    assert vs["diff"]["reward"][0] == pytest.approx(1.125 - 0.6875)
    assert vs["headroom"][0] == pytest.approx((1.125 - 0.6875) / (1.5 - 0.6875))
    assert "vs" not in rows[0]  # the baseline is not compared with itself


def test_a_constant_improvement_has_a_zero_width_paired_interval():
    # prompts differ wildly, but dpo = sft + 0.5 on every sample: pairing removes the prompt spread
    base = [(-2.0, -2.0), (1.5, 1.5), (-1.0, -1.0), (0.5, 0.5)]
    better = [(a + 0.5, b + 0.5) for a, b in base]
    rows = evalstats.summarize(scored("sft", base, best=(3,) * 4) + scored("dpo", better, best=(3,) * 4),
                               n_boot=200)["new_phrasings"]
    assert rows[1]["vs"]["diff"]["reward"] == pytest.approx([0.5, 0.5, 0.5])
    _, lo, hi = rows[1]["reward"]  # the unpaired interval of the reward itself is wide
    assert hi - lo > 1.0
    assert evalstats.excludes_zero(rows[1]["vs"]["diff"]["reward"])


def test_bootstrap_interval_brackets_the_value_and_stays_inside_the_data():
    scores = [(float(p), float(p)) for p in range(4)]
    rows = evalstats.summarize(scored("sft", scores, best=(5,) * 4), n_boot=500)["new_phrasings"]
    value, lo, hi = rows[0]["reward"]
    assert value == pytest.approx(1.5)
    assert 0.0 <= lo < value < hi <= 3.0


def test_resampling_keeps_each_kind_s_count_and_moves_whole_prompts():
    kinds = np.array(["factual"] * 3 + ["harmful"] * 5)
    C = evalstats.resample_weights(kinds, n_boot=100, seed=0)
    assert C.shape == (100, 8)  # one weight per prompt: its samples move together
    assert (C[:, :3].sum(axis=1) == 3).all() and (C[:, 3:].sum(axis=1) == 5).all()
    assert not np.array_equal(C, evalstats.resample_weights(kinds, n_boot=100, seed=1))


def test_records_without_a_field_or_with_uneven_samples_are_rejected():
    bad = rec("sft", "p", 0, 1.0)
    del bad["best"]
    with pytest.raises(ValueError, match="best"):
        evalstats.summarize([bad])
    with pytest.raises(ValueError, match="same samples"):
        evalstats.summarize([rec("sft", "p", 0, 1.0), rec("sft", "p", 1, 1.0), rec("sft", "q", 0, 1.0)])


def test_paired_rows_need_the_same_prompts():
    with pytest.raises(ValueError, match="share prompts"):
        evalstats.summarize([rec("sft", "p", 0, 1.0), rec("dpo", "q", 0, 1.0)])


def test_excludes_zero():
    assert evalstats.excludes_zero([0.2, 0.1, 0.3])
    assert evalstats.excludes_zero([-0.2, -0.3, -0.1])
    assert not evalstats.excludes_zero([0.1, -0.05, 0.3])
    assert not evalstats.excludes_zero([0.1, math.nan, math.nan])
