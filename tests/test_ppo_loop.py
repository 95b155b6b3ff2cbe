"""Specification of the PPO training loop (minialign.ppo, below `# --- training loop ---`):
masks of a rollout, the first minibatch's ratio, the KL against a frozen reference, the value
targets, and what one iteration may and may not change. A tiny random GPT stands in for the
SFT model: these tests check the plumbing, not that RLHF helps."""

from __future__ import annotations

import copy

import pytest
import torch

from minialign.data import ChatBatch
from minialign.kl_penalty import per_token_rewards
from minialign.logprobs import rollout_response_mask
from minialign.model import GPT, GPTConfig
from minialign.ppo import (
    PolicyWithValueHead,
    PPOConfig,
    collect_experience,
    compute_gae,
    ppo_update,
    train_ppo,
    whiten_advantages,
)
from minialign.reward import RewardModel
from minialign.tokenizer import train as train_tokenizer


@pytest.fixture(scope="module")
def tok(world):
    return train_tokenizer([p.text for p in world.train_pool] + ["The answer is 7."], vocab_size=300)


def tiny_gpt(tok, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16))


def small_cfg(**kw) -> PPOConfig:
    base = dict(iterations=1, batch_size=6, minibatch_size=3, ppo_epochs=1, max_new_tokens=5, lr=1e-2)
    return PPOConfig(**{**base, **kw})


def prompt_texts(world, n: int = 6) -> list[str]:
    # prompts of different lengths, so that the rollout batch has right padding
    pool = world.prompts("train")
    return [pool[i].text for i in range(0, len(pool), len(pool) // n)][:n]


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------


def test_rollout_mask_excludes_prompt_padding_and_tokens_after_end():
    END, PAD = 3, 0
    # row 0: prompt [5, 6, 7], response [8, 9, END], then padding
    # row 1: prompt [5, 6],    response [8, END] and two tokens after END (a sampler that kept
    #        going and padded with END's neighbour): they are not part of the response
    batch = ChatBatch(
        input_ids=torch.tensor([[5, 6, 7, 8, 9, END, PAD], [5, 6, 8, END, 9, 9, PAD]]),
        attention_mask=torch.tensor([[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 0]]),
        prompt_lens=torch.tensor([3, 2]),
    )
    mask = rollout_response_mask(batch, END)
    # shifted: entry t is about token t + 1
    # row 0: tokens 3, 4, 5 (8, 9, END) -> entries 2, 3, 4
    # row 1: tokens 2, 3 (8, END) -> entries 1, 2; tokens 4, 5 come after END
    expected = torch.tensor([[0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]], dtype=torch.float32)
    torch.testing.assert_close(mask, expected)


def test_first_minibatch_ratio_is_one_with_temperature_in_rollout_and_update(world, tok):
    # with temperature 0.7, a loop that divides the logits by it in one place only would
    # start with ratio != 1: every token would look clipped or off-policy before any update
    cfg = small_cfg(temperature=0.7)
    model = PolicyWithValueHead(tiny_gpt(tok))
    ref = tiny_gpt(tok, seed=1)
    rm = RewardModel(tiny_gpt(tok, seed=2))
    exp = collect_experience(model, ref, rm, tok, prompt_texts(world), cfg, torch.Generator().manual_seed(0))
    rewards = per_token_rewards(exp.scores, exp.kl, exp.mask, cfg.kl_coef)
    advantages, returns = compute_gae(rewards, exp.old_values, exp.mask, cfg.gamma, cfg.lam)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    history = ppo_update(model, optimizer, exp, whiten_advantages(advantages, exp.mask), returns, cfg,
                         torch.Generator().manual_seed(0))
    assert len(history) == 2  # 6 responses in minibatches of 3, one epoch
    first = history[0]
    assert first["policy/ratio_mean"] == pytest.approx(1.0, abs=1e-5)
    assert first["policy/approx_kl"] == pytest.approx(0.0, abs=1e-6)  # k3 >= 0 per token: all ratios are 1
    assert first["policy/clipfrac"] == 0.0
    # the second minibatch comes after one Adam step with lr 1e-2: the policy has moved
    assert history[1]["policy/approx_kl"] > 1e-6


def test_kl_is_zero_when_policy_equals_reference(world, tok):
    policy = tiny_gpt(tok)
    ref = copy.deepcopy(policy)
    exp = collect_experience(PolicyWithValueHead(policy), ref, RewardModel(tiny_gpt(tok, seed=2)), tok,
                             prompt_texts(world), small_cfg(), torch.Generator().manual_seed(0))
    assert exp.mask.sum() > 0
    assert torch.equal(exp.kl, torch.zeros_like(exp.kl))
    # and a different reference gives a nonzero KL on response tokens only
    exp2 = collect_experience(PolicyWithValueHead(policy), tiny_gpt(tok, seed=1), RewardModel(tiny_gpt(tok, seed=2)),
                              tok, prompt_texts(world), small_cfg(), torch.Generator().manual_seed(0))
    assert exp2.kl.abs().sum() > 0
    assert torch.equal(exp2.kl * (1 - exp2.mask), torch.zeros_like(exp2.kl))


def test_value_targets_exclude_prompt_and_padding(world, tok):
    cfg = small_cfg()
    exp = collect_experience(PolicyWithValueHead(tiny_gpt(tok)), tiny_gpt(tok, seed=1),
                             RewardModel(tiny_gpt(tok, seed=2)), tok, prompt_texts(world), cfg,
                             torch.Generator().manual_seed(0))
    batch = exp.batch
    assert (batch.attention_mask == 0).any(), "the test needs padded rows"
    # the mask counts exactly the response tokens: seq_len - prompt_len per row
    torch.testing.assert_close(exp.mask.sum(dim=1), (batch.seq_lens - batch.prompt_lens).float())
    rewards = per_token_rewards(exp.scores, exp.kl, exp.mask, cfg.kl_coef)
    # values the head might output on prompt and padding positions must not matter
    noisy_values = exp.old_values + 100.0 * (1 - exp.mask)
    advantages, returns = compute_gae(rewards, noisy_values, exp.mask, cfg.gamma, cfg.lam)
    off = exp.mask == 0
    assert torch.equal(returns[off], torch.zeros_like(returns[off]))
    assert torch.equal(advantages[off], torch.zeros_like(advantages[off]))
    # gamma = 1 and V after the last token = 0: the return at the last response token is its reward
    last = (exp.mask * torch.arange(exp.mask.shape[1])).argmax(dim=1)  # (B,)
    rows = torch.arange(exp.mask.shape[0])
    torch.testing.assert_close(returns[rows, last], rewards[rows, last])


def test_one_iteration_changes_the_policy_but_not_the_reference_or_reward_model(world, tok):
    policy, ref, rm = tiny_gpt(tok), tiny_gpt(tok, seed=1), RewardModel(tiny_gpt(tok, seed=2))
    before_policy, before_ref, before_rm = state(policy), state(ref), state(rm)
    log = train_ppo(policy, ref, rm, tok, world, small_cfg())
    assert not same_state(state(policy), before_policy)
    assert same_state(state(ref), before_ref)
    assert same_state(state(rm), before_rm)
    row = log.rows[0]
    for key in ("score", "oracle", "kl", "kl_coef", "policy/clipfrac", "policy/approx_kl", "value/loss", "entropy"):
        assert key in row and row[key] == row[key], key  # present and not NaN


def test_policy_and_reference_must_be_different_objects(world, tok):
    policy = tiny_gpt(tok)
    with pytest.raises(ValueError, match="same model"):
        train_ppo(policy, policy, RewardModel(tiny_gpt(tok, seed=2)), tok, world, small_cfg())


def test_unfinished_responses_are_logged_and_penalised(world, tok):
    # 2 new tokens: a random tiny model never reaches <|end|>
    rm = RewardModel(tiny_gpt(tok, seed=2))
    runs = {}
    for penalty in (0.0, 5.0):
        runs[penalty] = train_ppo(tiny_gpt(tok), tiny_gpt(tok, seed=1), rm, tok, world,
                                  small_cfg(max_new_tokens=2, missing_eos_penalty=penalty)).rows[0]
    assert runs[0.0]["unfinished"] == 1.0 and runs[5.0]["unfinished"] == 1.0
    # same rollout, same raw score; the penalty lowers every return, so the value loss differs
    assert runs[0.0]["score"] == runs[5.0]["score"]
    assert runs[0.0]["value/loss"] != pytest.approx(runs[5.0]["value/loss"])
    with pytest.raises(ValueError, match="missing_eos_penalty"):
        train_ppo(tiny_gpt(tok), tiny_gpt(tok, seed=1), rm, tok, world, small_cfg(missing_eos_penalty=-1.0))


def test_train_ppo_rejects_a_policy_with_dropout(world, tok):
    torch.manual_seed(0)
    leaky = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16, dropout=0.1))
    with pytest.raises(ValueError, match="dropout"):
        train_ppo(leaky, tiny_gpt(tok, seed=1), RewardModel(tiny_gpt(tok, seed=2)), tok, world, small_cfg())


def test_adaptive_controller_raises_kl_coef_when_kl_is_above_target(world, tok):
    # a reference unlike the policy gives a KL far above a tiny target: the coefficient must grow
    cfg = small_cfg(iterations=2, kl_controller="adaptive", kl_coef=0.1, kl_target=1e-3, kl_horizon=6)
    log = train_ppo(tiny_gpt(tok), tiny_gpt(tok, seed=1), RewardModel(tiny_gpt(tok, seed=2)), tok, world, cfg)
    first, second = log.rows[0]["kl_coef"], log.rows[1]["kl_coef"]
    assert first == pytest.approx(0.1)
    # e = clip(kl / target - 1, -0.2, 0.2) = 0.2; 0.1 * (1 + 0.2 * 6 / 6) = 0.12
    assert second == pytest.approx(0.12)


def test_train_ppo_is_deterministic_for_a_seed(world, tok):
    def run(seed):
        policy = tiny_gpt(tok)
        log = train_ppo(policy, tiny_gpt(tok, seed=1), RewardModel(tiny_gpt(tok, seed=2)), tok, world,
                        small_cfg(iterations=2, seed=seed))
        return [{k: v for k, v in r.items() if k != "seconds"} for r in log.rows], state(policy)

    rows_a, state_a = run(0)
    rows_b, state_b = run(0)
    assert rows_a == rows_b
    assert same_state(state_a, state_b)
    rows_c, _ = run(1)
    assert rows_c != rows_a
