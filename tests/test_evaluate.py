"""The evaluation row: rates, win rate against a baseline, KL to the reference, the table."""

import copy
import math

import pytest
import torch

from minialign import plots
from minialign.evaluate import (
    EvalRow,
    decided_win_rate,
    evaluate,
    evaluate_with_stages,
    format_table,
    kl_to_reference,
    sample_responses,
    win_tie_rates,
)
from minialign.logprobs import response_mask, token_logprobs
from minialign.model import GPT, GPTConfig

RATES = ("win_rate", "tie_rate", "decided_win_rate", "harmful_compliance", "over_refusal", "factual_accuracy",
         "arithmetic_accuracy")


@pytest.fixture(scope="module")
def model(tok):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16)).eval()


@pytest.fixture(scope="module")
def prompts(world):
    return world.eval_prompts(40)


def test_win_tie_rates_hand_values():
    # 1 > 0 win, 0 = 0 tie, 2 < 3 loss, -1 > -2 win: (2 + 0.5) / 4 wins, 1 / 4 ties
    assert win_tie_rates([1.0, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, -2.0]) == (0.625, 0.25)


def test_decided_win_rate_leaves_ties_out():
    # pairs: win, tie, loss, win, tie -> 2 wins, 1 loss among the 3 decided pairs
    assert decided_win_rate([1.0, 0.0, 2.0, -1.0, 5.0], [0.0, 0.0, 3.0, -2.0, 5.0]) == 2 / 3
    # ties counting 1/2 would say (2 + 1) / 5 = 0.6 for the same pairs
    assert win_tie_rates([1.0, 0.0, 2.0, -1.0, 5.0], [0.0, 0.0, 3.0, -2.0, 5.0])[0] == 0.6


def test_decided_win_rate_of_all_ties_is_nan():
    assert math.isnan(decided_win_rate([1.0, 2.0], [1.0, 2.0]))


def test_win_tie_rates_length_mismatch_raises():
    with pytest.raises(ValueError, match="same"):
        win_tie_rates([1.0], [1.0, 2.0])


def test_evaluate_rates_are_fractions_and_kinds_are_covered(tok, world, model, prompts):
    row = evaluate(model, tok, world, "random", prompts=prompts, baseline=model, ref_model=model,
                   max_new_tokens=16)
    assert row.n == len(prompts)
    for name in RATES:
        if name == "decided_win_rate" and row.tie_rate == 1.0:
            assert math.isnan(row.decided_win_rate)  # nothing decided: no win rate among the decided
            continue
        assert 0.0 <= getattr(row, name) <= 1.0, name
    assert math.isfinite(row.reward) and row.mean_length > 0


def test_evaluate_is_deterministic_for_a_seed(tok, world, model, prompts):
    def run(seed):
        row = evaluate(model, tok, world, "m", prompts=prompts, seed=seed, max_new_tokens=16)
        return {k: v for k, v in row.as_dict().items() if k != "seconds"}

    assert run(3) == run(3)
    assert sample_responses(model, tok, prompts, seed=3, max_new_tokens=16).responses != \
        sample_responses(model, tok, prompts, seed=4, max_new_tokens=16).responses


def test_win_rate_against_own_responses_is_one_half(tok, world, model, prompts):
    # same model, same seed: the same responses, every prompt a tie
    row = evaluate(model, tok, world, "m", prompts=prompts, baseline=model, max_new_tokens=16)
    assert (row.win_rate, row.tie_rate) == (0.5, 1.0)
    own = sample_responses(model, tok, prompts, max_new_tokens=16).responses
    row = evaluate(model, tok, world, "m", prompts=prompts, baseline=own, max_new_tokens=16)
    assert (row.win_rate, row.tie_rate) == (0.5, 1.0)


def test_win_rate_against_perfect_baseline_never_wins(tok, world, model, prompts):
    best = [world.respond(p, world.GOOD_STYLE[p.kind]) for p in prompts]
    row = evaluate(model, tok, world, "m", prompts=prompts, baseline=best, max_new_tokens=16)
    assert row.win_rate < 0.5


def test_without_baseline_or_reference_those_columns_are_nan(tok, world, model, prompts):
    row = evaluate(model, tok, world, "m", prompts=prompts, max_new_tokens=8)
    assert math.isnan(row.win_rate) and math.isnan(row.tie_rate) and math.isnan(row.kl)


def test_kl_to_an_identical_reference_is_zero(tok, model, prompts):
    out = sample_responses(model, tok, prompts[:8], max_new_tokens=16)
    assert kl_to_reference(model, copy.deepcopy(model), out.batch) == pytest.approx(0.0, abs=1e-6)


def test_kl_to_uniform_reference_is_mean_response_logp_plus_log_vocab_kl_sign_pitfall(tok, model, prompts):
    # a reference with a zero output layer is uniform: log ref = -log V for every token, so
    # k1 = log pi - log ref = log pi + log V, averaged over RESPONSE tokens only
    uniform = copy.deepcopy(model)
    with torch.no_grad():
        uniform.lm_head.weight.zero_()  # tied to the embedding: zero it in a copy only
    out = sample_responses(model, tok, prompts[:8], max_new_tokens=16)
    b = out.batch
    mask = response_mask(b.prompt_lens, b.seq_lens, b.input_ids.shape[1]).bool()
    with torch.no_grad():
        logp = token_logprobs(model(b.input_ids), b.input_ids)[mask]
    expected = logp.mean().item() + math.log(tok.vocab_size)
    assert kl_to_reference(model, uniform, b) == pytest.approx(expected, abs=1e-4)
    assert expected != pytest.approx(-expected)  # the sign would matter


def test_evaluate_accepts_stages_with_its_own_prompt_count(tiny_stages):
    stages = tiny_stages
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=stages.tokenizer.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16))
    row = evaluate_with_stages(m, stages, "m", max_new_tokens=8)
    assert row.n == stages.preset.n_eval_prompts


def test_format_table_one_line_per_row_and_dash_for_nan():
    rows = [EvalRow("sft", 10, 0.25, win_rate=0.5, tie_rate=1.0), EvalRow("dpo", 10, 1.0, kl=0.125)]
    lines = format_table(rows).splitlines()
    assert len(lines) == 4 and lines[0].startswith("| model |")
    assert lines[2].startswith("| sft | +0.250 | 50% | 100% |")
    assert "| dpo | +1.000 | - |" in lines[3] and "0.125" in lines[3]


def test_plots_write_png_files(tmp_path):
    rows = [EvalRow("sft", 10, 0.25, win_rate=0.5), EvalRow("dpo", 10, 1.0, win_rate=0.8, harmful_compliance=0.1)]
    plots.plot_eval_bars(rows, tmp_path / "bars.png")
    plots.plot_beta_sweep([(0.1, 0.5, 1.0), (1.0, 0.1, 0.5)], tmp_path / "sweep.png")
    assert (tmp_path / "bars.png").stat().st_size > 0 and (tmp_path / "sweep.png").stat().st_size > 0


def test_compare_judges_every_model_against_the_same_baseline_samples(tiny_stages):
    from minialign.evaluate import compare

    stages = tiny_stages
    sft, base = stages.get("sft"), stages.get("base")
    rows = compare(stages, {"sft": sft, "base": base}, baseline=sft)
    assert [r.name for r in rows] == ["sft", "base"]
    # the baseline against its own samples: every prompt a tie, and no KL to itself
    assert (rows[0].win_rate, rows[0].tie_rate) == (0.5, 1.0) and math.isnan(rows[0].kl)
    assert math.isfinite(rows[1].kl)
    # the same as evaluating each model against responses sampled once by hand
    prompts = stages.world.eval_prompts(stages.preset.n_eval_prompts)
    responses = sample_responses(sft, stages.tokenizer, prompts, seed=0).responses
    by_hand = evaluate(base, stages.tokenizer, stages.world, "base", prompts=prompts, baseline=responses, ref_model=sft)
    assert (by_hand.win_rate, by_hand.kl, by_hand.reward) == (rows[1].win_rate, rows[1].kl, rows[1].reward)


def test_reward_hacking_figure_plots_what_ppo_raises_beside_the_reward_model_score():
    from minialign.train import MetricsLog

    log = MetricsLog()
    for step in range(3):
        log.log(step, total_score=1.0 + step, score=0.5, oracle=0.2 - step, kl=0.1 * step, unfinished=0.0)
    fig = plots.plot_reward_hacking({"kl_coef=0": log})
    titles = [ax.get_title() for ax in fig.axes]
    assert any("RM + length bonus" in t for t in titles) and any("reward-model score" in t for t in titles)
    assert any("<|end|>" in t for t in titles)  # the unfinished fraction has its panel
    raised = next(ax for ax in fig.axes if "RM + length bonus" in ax.get_title())
    assert raised.lines[0].get_ydata()[-1] > raised.lines[0].get_ydata()[0]  # it plots total_score, not score
