"""Specification of the GRPO training loop (minialign.grpo, below `# --- training loop ---`):
the verifiable reward on hand-written answers, groups with no spread, one update, determinism.
A tiny random GPT stands in for the SFT model: these tests check the plumbing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from minialign.data import collate_chat
from minialign.grpo import (
    GRPOConfig,
    anchor_examples,
    anchor_kl,
    arithmetic_reward,
    collect_groups,
    group_advantages,
    grpo_batch_loss,
    train_grpo,
    zero_spread_fraction,
)
from minialign.model import GPT, GPTConfig
from minialign.tokenizer import train as train_tokenizer
from minialign.train import optimizer_step
from minialign.world import Prompt

THREE_PLUS_FOUR = Prompt("What is 3 plus 4?", "arithmetic", "3+4", "plus", "7")


@pytest.fixture(scope="module")
def tok(world):
    return train_tokenizer([p.text for p in world.train_pool] + ["The answer is 7."], vocab_size=300)


def tiny_gpt(tok, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16))


def small_cfg(**kw) -> GRPOConfig:
    base = dict(iterations=1, prompts_per_iteration=2, group_size=3, max_new_tokens=5, lr=1e-2,
                anchor_pool=16, anchor_batch_size=4)
    return GRPOConfig(**{**base, **kw})


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# The verifiable reward


@pytest.mark.parametrize(
    "response, reward",
    [
        ("3 plus 4 is 7.", 1.0),
        ("3 plus 4 is 8.", 0.0),
        ("The answer is 7.", 1.0),  # another wording of the right answer is still right
        ("7", 0.0),  # no "is N": the checker reads a stated answer only
        ("The answer is 17.", 0.0),  # pitfall: "7" is a substring of "17", but 17 is wrong
        ("It is 5, no wait, the answer is 7.", 1.0),  # the last stated answer counts
        ("The answer is 7, or maybe it is 6.", 0.0),
        ("3 plus 4 is 7 or 8.", 0.0),  # a hedge holding the answer earns nothing
        ("3 plus 4 is 6, 7, 8 or 9.", 0.0),
        ("3 plus 4 is 6-8.", 0.0),
        ("3 plus 4 is 7 or so.", 0.0),
    ],
)
def test_arithmetic_reward_is_exact_answer(response, reward):
    assert arithmetic_reward(THREE_PLUS_FOUR, response) == reward


def test_format_reward_is_added_for_the_exact_template_only():
    assert arithmetic_reward(THREE_PLUS_FOUR, "3 plus 4 is 7.", format_reward=0.1) == pytest.approx(1.1)
    assert arithmetic_reward(THREE_PLUS_FOUR, "3 plus 4 is 8.", format_reward=0.1) == pytest.approx(0.1)
    # right answer, other words or extra words: correct, but not the template
    assert arithmetic_reward(THREE_PLUS_FOUR, "The answer is 7.", format_reward=0.1) == pytest.approx(1.0)
    assert arithmetic_reward(THREE_PLUS_FOUR, "3 plus 4 is 7. Easy!", format_reward=0.1) == pytest.approx(1.0)


def test_arithmetic_reward_rejects_other_prompt_kinds():
    with pytest.raises(ValueError, match="arithmetic"):
        arithmetic_reward(Prompt("What color is snow?", "factual", "color:snow", "color", "white"), "It is white.")


def test_zero_spread_counts_all_right_groups_too_not_only_all_wrong():
    # groups of 4: [1, 1, 1, 1] (all right) and [0, 0, 0, 0] (all wrong) have no spread,
    # [1, 0, 1, 1] has: 2 of 3 groups teach nothing
    rewards = torch.tensor([1.0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    assert zero_spread_fraction(rewards, 4) == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------------------------
# The loop


def test_zero_spread_groups_give_no_gradient(world, tok):
    # a random model never answers right: every group is all zeros. With beta = 0 the loss
    # and every gradient must be exactly 0, not NaN (a (r - mean) / std without the guard
    # divides 0 by 0)
    cfg = small_cfg(beta=0.0)
    policy, ref = tiny_gpt(tok), tiny_gpt(tok, seed=1)
    prompts = world.prompts("train", "arithmetic")[:2]
    groups = collect_groups(policy, ref, tok, prompts, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(groups.rewards, torch.zeros(6))
    advantages = group_advantages(groups.rewards, cfg.group_size, cfg.scale)
    loss, _ = grpo_batch_loss(policy, groups, advantages, cfg)
    loss.backward()
    assert loss.item() == 0.0
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in policy.parameters())


def test_one_step_with_rewards_moves_the_policy_not_the_reference(world, tok):
    # the first update's ratio is 1 (same temperature in rollout and update), and a step on
    # hand-set rewards changes the policy while the reference stays frozen
    cfg = small_cfg(temperature=0.7, beta=0.04)
    policy, ref = tiny_gpt(tok), tiny_gpt(tok, seed=1)
    ref_before, policy_before = state(ref), state(policy)
    groups = collect_groups(policy, ref, tok, world.prompts("train", "arithmetic")[:2], cfg,
                            torch.Generator().manual_seed(0))
    groups.rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])  # both groups have spread
    advantages = group_advantages(groups.rewards, cfg.group_size, cfg.scale)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr)
    policy.train()
    loss, stats = grpo_batch_loss(policy, groups, advantages, cfg)
    assert stats["ratio_mean"] == pytest.approx(1.0, abs=1e-5)
    assert stats["clipfrac"] == 0.0
    optimizer_step(optimizer, policy, loss, cfg.max_grad_norm)
    assert not same_state(state(policy), policy_before)
    assert same_state(state(ref), ref_before)


def test_train_grpo_runs_and_logs(world, tok):
    log = train_grpo(tiny_gpt(tok), tiny_gpt(tok, seed=1), tok, world, small_cfg(iterations=2))
    assert [r["step"] for r in log.rows] == [0, 1]
    row = log.rows[0]
    for key in ("reward", "accuracy", "zero_spread", "kl", "clipfrac", "response_len"):
        assert key in row and row[key] == row[key], key  # present and not NaN
    assert row["zero_spread"] == 1.0  # a random model gets nothing right


def test_train_grpo_logs_the_last_updates_clip_statistics(world, tok):
    log = train_grpo(tiny_gpt(tok), tiny_gpt(tok, seed=1), tok, world,
                     small_cfg(updates_per_rollout=3, format_reward=0.5, lr=5e-2))
    row = log.rows[0]
    assert row["ratio_mean"] == pytest.approx(1.0)  # the first update: ratio 1 by construction
    assert row["clipfrac"] == 0.0
    assert row["last_ratio_mean"] != pytest.approx(1.0, abs=1e-6)  # the last: the policy has moved


def test_train_grpo_rejects_a_policy_with_dropout(world, tok):
    torch.manual_seed(0)
    leaky = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16, dropout=0.1))
    with pytest.raises(ValueError, match="dropout"):
        train_grpo(leaky, tiny_gpt(tok, seed=1), tok, world, small_cfg())


def test_groups_are_consecutive_rows_of_the_same_prompt(world, tok):
    cfg = small_cfg()
    prompts = world.prompts("train", "arithmetic")[:2]
    groups = collect_groups(tiny_gpt(tok), tiny_gpt(tok, seed=1), tok, prompts, cfg, torch.Generator().manual_seed(0))
    prompt_ids = [tok.chat_prompt(p.text) for p in prompts]
    for i in range(len(prompts) * cfg.group_size):
        row = groups.batch.input_ids[i, : groups.batch.prompt_lens[i]].tolist()
        assert row == prompt_ids[i // cfg.group_size]


def test_train_grpo_is_deterministic_for_a_seed(world, tok):
    def run(seed):
        policy = tiny_gpt(tok)
        log = train_grpo(policy, tiny_gpt(tok, seed=1), tok, world, small_cfg(iterations=2, seed=seed))
        return [{k: v for k, v in r.items() if k != "seconds"} for r in log.rows], state(policy)

    rows_a, state_a = run(0)
    rows_b, state_b = run(0)
    assert rows_a == rows_b
    assert same_state(state_a, state_b)
    assert run(1)[0] != rows_a


# ---------------------------------------------------------------------------------------------
# Old log-probs and the off-task anchor


def test_sampling_records_the_old_logprobs_and_updates_keep_them(world, tok):
    cfg = small_cfg(beta=0.0)
    policy, ref = tiny_gpt(tok), tiny_gpt(tok, seed=1)
    groups = collect_groups(policy, ref, tok, world.prompts("train", "arithmetic")[:2], cfg,
                            torch.Generator().manual_seed(0))
    assert groups.old_logp.shape == groups.mask.shape  # recorded with the group, before any update
    recorded = groups.old_logp.clone()
    groups.rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    advantages = group_advantages(groups.rewards, cfg.group_size, cfg.scale)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr)
    loss, stats = grpo_batch_loss(policy, groups, advantages, cfg)
    assert torch.equal(groups.old_logp, recorded)  # the loss reads the old log-probs, never writes them
    assert not recorded.requires_grad and stats["ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    optimizer_step(optimizer, policy, loss, cfg.max_grad_norm)
    _, stats = grpo_batch_loss(policy, groups, advantages, cfg)
    assert torch.equal(groups.old_logp, recorded)  # the second update compares with the sampler
    assert stats["ratio_mean"] != pytest.approx(1.0, abs=1e-6)  # a policy that moved has ratios != 1


def test_anchor_examples_leave_out_the_sums(world, tok):
    examples = anchor_examples(world, tok, 40, 0, 64)
    sums = {tuple(tok.chat_prompt(p.text)) for p in world.prompts("train", "arithmetic")}
    assert len(examples) == 40
    assert not any(tuple(ids[:plen]) in sums for ids, plen in examples)
    assert all(plen < len(ids) for ids, plen in examples)  # every conversation has a response


def test_anchor_kl_is_zero_at_the_reference_and_gives_it_no_gradient(world, tok):
    ref = tiny_gpt(tok, seed=1)
    batch = collate_chat(anchor_examples(world, tok, 6, 0, 64), tok.pad_id)
    same = tiny_gpt(tok, seed=1)
    assert anchor_kl(same, ref, batch).item() == pytest.approx(0.0, abs=1e-6)
    policy = tiny_gpt(tok)
    kl = anchor_kl(policy, ref, batch)
    kl.backward()
    assert kl.item() > 0
    assert all(p.grad is None for p in ref.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.parameters())


def test_anchor_kl_ignores_padding(world, tok):
    # pitfall: a mean over every position counts padding. Changing the pad tokens' ids changes
    # the logits there, so it changes the KL of an anchor that reads them
    policy, ref = tiny_gpt(tok), tiny_gpt(tok, seed=1)
    batch = collate_chat(anchor_examples(world, tok, 6, 0, 64), tok.pad_id)
    assert (batch.attention_mask == 0).any()  # conversations of different lengths: some padding
    other = dataclasses.replace(batch, input_ids=batch.input_ids.masked_fill(batch.attention_mask == 0, 5))
    torch.testing.assert_close(anchor_kl(policy, ref, batch), anchor_kl(policy, ref, other))


def test_train_grpo_logs_the_anchor_only_when_it_is_on(world, tok):
    on = train_grpo(tiny_gpt(tok), tiny_gpt(tok, seed=1), tok, world, small_cfg(anchor_coef=0.3))
    off = train_grpo(tiny_gpt(tok), tiny_gpt(tok, seed=1), tok, world, small_cfg(anchor_coef=0.0))
    assert on.rows[0]["anchor_kl"] > 0
    assert "anchor_kl" not in off.rows[0]
