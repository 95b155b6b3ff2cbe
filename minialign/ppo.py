"""PPO for RLHF: GAE, the clipped policy and value losses, and the loop that runs them.

The recipe of Ziegler et al. 2019 and Ouyang et al. 2022 (InstructGPT): sample a response
from the policy, score it with the reward model, and treat every response token as one
action of an episode whose reward is

    r_t = -kl_coef * KL_t(pi || ref)          at every response token
          + score                             added at the last response token only

The KL term keeps the policy near the reference (SFT) model, so the reward model is not
exploited far outside the data it was trained on. That reward and the controllers of kl_coef
are in `kl_penalty.py`, the KL estimators in `logprobs.py`. Advantages come from GAE over
those per-token rewards with a learned value head, and the policy is updated with PPO's
clipped surrogate (Schulman et al. 2017).

Conventions: all per-token tensors are (B, T) and line up with `logprobs.token_logprobs`
(entry t is about token t + 1); `mask` is 1 on response tokens, 0 on prompt and padding.
Log-probs are per token, never summed: each token is one action.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch
import torch.nn as nn

from minialign import oracle, rollout
from minialign.checks import check_shape
from minialign.data import ChatBatch
from minialign.kl_penalty import AdaptiveKLController, FixedKLController, per_token_rewards, shape_scores
from minialign.logprobs import (
    entropy_from_logits,
    kl_estimate,
    masked_mean,
    masked_sum,
    masked_whiten,
    rollout_response_mask,
    token_logprobs,
)
from minialign.model import GPT, require_no_dropout
from minialign.tokenizer import Tokenizer
from minialign.train import MetricsLog, ProgressBar, make_optimizer, optimizer_step
from minialign.world import MiniWorld, Prompt

# ---------------------------------------------------------------------------------------------
# Advantages (the per-token rewards they are computed from: `kl_penalty.per_token_rewards`)


@torch.no_grad()
def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16), backwards in time:

        delta_t = r_t + gamma * V_{t+1} * m_{t+1} - V_t
        A_t     = (delta_t + gamma * lam * m_{t+1} * A_{t+1}) * m_t
        R_t     = (A_t + V_t) * m_t                  (the value head's regression target)

    with V_T = A_T = 0. The factor m_{t+1} makes the episode end at the last real token:
    whatever the value head outputs on padding must not leak into the response.
    With gamma = lam = 1, A_t is the reward-to-go minus V_t.

    Args:
        rewards: (B, T) per-token rewards (see `kl_penalty.per_token_rewards`).
        values: (B, T) value-head outputs V(s_t) of the rollout.
        mask: (B, T) 1 on response tokens, which must be contiguous within each row.
        gamma: discount; 1 in RLHF, as the episode is a single short response.
        lam: GAE's bias-variance trade-off (0 = one-step TD, 1 = Monte Carlo).
    Returns:
        advantages (B, T) and returns (B, T), 0 where mask is 0. Computed without gradient:
        both are targets, not quantities to differentiate through.
    """
    check_shape("values", values, rewards.shape, "rewards.shape (B, T)")
    check_shape("mask", mask, rewards.shape, "rewards.shape (B, T)")
    B, T = rewards.shape
    mask = mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)  # (B, T)
    next_value = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)  # V_{t+1} m_{t+1}
    next_advantage = torch.zeros_like(next_value)  # A_{t+1} m_{t+1} (already masked)
    next_mask = torch.zeros_like(next_value)  # m_{t+1}
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,)
        advantages[:, t] = (delta + gamma * lam * next_mask * next_advantage) * mask[:, t]
        next_value = values[:, t] * mask[:, t]
        next_advantage = advantages[:, t]
        next_mask = mask[:, t]
    returns = (advantages + values) * mask  # (B, T)
    return advantages, returns


def whiten_advantages(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(A - mean) / std over the response tokens of the batch only; padding gives 0.

    A thin name for `logprobs.masked_whiten`: whitening keeps the policy-gradient step size
    independent of the reward scale. Statistics over padding would be dragged towards 0.
    """
    return masked_whiten(advantages, mask)


# ---------------------------------------------------------------------------------------------
# Losses


def ppo_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7), as a loss to minimise:

        ratio = exp(logp - old_logp)
        loss  = masked_mean( max(-A * ratio, -A * clip(ratio, 1 - clip_eps, 1 + clip_eps)) )

    The max of the negated terms is the min of eq. 7: a pessimistic bound, so the policy
    gains nothing by moving its ratio beyond 1 +- clip_eps in the direction A favours.

    Args:
        logp: (B, T) per-token log-probs under the current policy (with gradient).
        old_logp: (B, T) per-token log-probs under the policy that sampled the rollout.
        advantages: (B, T) per-token advantages (usually whitened).
        mask: (B, T) 1 on response tokens. The loss is a mean over masked tokens.
        clip_eps: clip range epsilon.
    Returns:
        loss: scalar.
        stats: python floats:
            "policy/clipfrac": fraction of tokens where the clipped term was strictly larger,
                so the token's gradient is zero;
            "policy/approx_kl": masked mean of k3 = (ratio - 1) - log ratio, an unbiased,
                non-negative estimate of KL(pi_old || pi) on tokens sampled from pi_old;
            "policy/ratio_mean": masked mean of ratio.

    old_logp and advantages are detached here: they are constants of the rollout. A gradient
    through old_logp would cancel the one through logp and leave the ratio's gradient at 0.
    """
    check_shape("old_logp", old_logp, logp.shape, "logp.shape (B, T)")
    check_shape("advantages", advantages, logp.shape, "logp.shape (B, T)")
    check_shape("mask", mask, logp.shape, "logp.shape (B, T)")
    old_logp = old_logp.detach()
    advantages = advantages.detach()
    ratio = torch.exp(logp - old_logp)  # (B, T)
    unclipped = -advantages * ratio  # (B, T)
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)  # (B, T)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        stats = {
            "policy/clipfrac": masked_mean((clipped > unclipped).to(logp.dtype), mask).item(),
            # tokens come from pi_old, so this is KL(pi_old || pi): kl_estimate with roles swapped
            "policy/approx_kl": masked_mean(kl_estimate(old_logp, logp, "k3"), mask).item(),
            "policy/ratio_mean": masked_mean(ratio, mask).item(),
        }
    return loss, stats


def ppo_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped value loss (as in OpenAI baselines' PPO2 and Ziegler et al. 2019's code):

        V_clip = old_V + clip(V - old_V, -clip_eps, clip_eps)
        loss   = 0.5 * masked_mean( max((V - R)^2, (V_clip - R)^2) )

    Like the policy clip, the max is pessimistic: the value head gains nothing by moving more
    than clip_eps away from its rollout-time prediction in one update.

    Args:
        values: (B, T) value-head outputs now (with gradient).
        old_values: (B, T) value-head outputs at rollout time.
        returns: (B, T) targets from `compute_gae`.
        mask: (B, T) 1 on response tokens.
        clip_eps: clip range, in the units of the reward.
    Returns:
        loss: scalar.
        stats: {"value/clipfrac": fraction of tokens where the clipped error was strictly larger}.
    """
    check_shape("old_values", old_values, values.shape, "values.shape (B, T)")
    check_shape("returns", returns, values.shape, "values.shape (B, T)")
    check_shape("mask", mask, values.shape, "values.shape (B, T)")
    old_values = old_values.detach()
    returns = returns.detach()
    values_clipped = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)  # (B, T)
    error = (values - returns) ** 2  # (B, T)
    error_clipped = (values_clipped - returns) ** 2  # (B, T)
    loss = 0.5 * masked_mean(torch.maximum(error, error_clipped), mask)
    with torch.no_grad():
        stats = {"value/clipfrac": masked_mean((error_clipped > error).to(values.dtype), mask).item()}
    return loss, stats


# --- training loop ---
# One iteration, as in Ziegler et al. 2019 and InstructGPT (Ouyang et al. 2022, sec. 3.5):
#   1. rollout:    sample one response per prompt from the policy (KV cache, temperature)
#   2. experience: per-token log-probs of policy and frozen reference, values, RM score
#   3. rewards:    -kl_coef * KL per token, the score on the last token; GAE; whitening
#   4. update:     ppo_epochs passes over shuffled minibatches of the clipped losses
#   5. adapt kl_coef to the KL just measured


@dataclass
class PPOConfig:
    """PPO-RLHF hyperparameters. Paper values are in the docstrings where the tiny model
    needs others: its rollouts are short (a few to 30 tokens) and its batches small, so it
    takes larger steps for fewer iterations than a 1B-parameter model would survive."""

    iterations: int = 60
    """rollout -> update cycles (under a minute on a 2-core CPU for the cpu preset)"""
    batch_size: int = 64
    """prompts per rollout, one response each (InstructGPT: 512)"""
    minibatch_size: int = 32
    """responses per gradient step"""
    ppo_epochs: int = 2
    ("passes over each rollout (Ziegler et al. 2019: 4; ours 2 at lr 1e-4, half the time of 4 at 5e-5 and as good on "
     "the first MiniWorld; lesson 4)")
    lr: float = 1e-4
    """Adam learning rate (Ziegler et al. 2019: 1.41e-5 for 774M parameters; a tiny model tolerates more)"""
    max_grad_norm: float = 1.0
    """global gradient-norm clip"""
    clip_eps: float = 0.2
    """policy ratio clip range (Schulman et al. 2017)"""
    value_clip_eps: float = 0.2
    """value clip range, in units of the (normalised) reward"""
    vf_coef: float = 0.1
    """weight of the value loss: with a shared trunk it also moves the policy's weights, so it stays small"""
    gamma: float = 1.0
    """discount; 1 in RLHF: a response is one short episode and only its end is scored"""
    lam: float = 0.95
    """GAE lambda (Schulman et al. 2016)"""
    temperature: float = 1.0
    """sampling temperature; the update divides the logits by it too, so old and new log-probs agree"""
    max_new_tokens: int = 32
    """response budget; responses that run out of it end without <|end|>"""
    kl_coef: float = 0.2
    ("beta of the per-token KL penalty, or its start value when adaptive (InstructGPT 0.02; ours 0.2: the tiny RM is "
     "easy to over-optimise; lesson 4)")
    kl_controller: Literal["fixed", "adaptive"] = "fixed"
    """'fixed' or 'adaptive' (Ziegler et al. 2019, sec. 2.2)"""
    kl_target: float = 1.0
    """adaptive controller: target KL per response, in nats (Ziegler et al. 2019: 6 for long texts)"""
    kl_horizon: float = 2000.0
    """adaptive controller: responses over which the coefficient may change by a factor of about e^0.2"""
    normalize_score: bool = True
    ("rescale RM scores to mean 0, std 1 on the first rollout (Ziegler et al. 2019), so kl_coef means the same for "
     "any RM (lesson 4)")
    missing_eos_penalty: float = 1.0
    ("subtracted from the normalised score of a response cut off before <|end|> (TRL's name; ours 1.0; 0 = off; "
     "lesson 4)")
    length_bonus: float = 0.0
    ("score added per response token: a deliberately flawed reward for the reward-hacking experiment (Singhal et al. "
     "2023); 0 in real use (lesson 4)")
    seed: int = 0
    """prompt order, sampling and minibatch shuffling"""


KL_CONTROLLERS: dict[str, Callable[[PPOConfig], FixedKLController | AdaptiveKLController]] = {
    "fixed": lambda cfg: FixedKLController(cfg.kl_coef),
    "adaptive": lambda cfg: AdaptiveKLController(cfg.kl_coef, cfg.kl_target, cfg.kl_horizon),
}


class PolicyWithValueHead(nn.Module):
    """The policy GPT and a scalar value head reading the same final hidden states.

    A shared trunk costs one forward pass for both; the price is that the value loss moves the
    policy's weights too, which a small vf_coef keeps in check (InstructGPT instead trains a
    separate value model initialised from the reward model). The head starts at zero, so the
    first value gradients reach the head only, not the trunk."""

    def __init__(self, gpt: GPT):
        super().__init__()
        self.gpt = gpt
        self.value_head = nn.Linear(gpt.config.n_embd, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, T, V), values (B, T)) of right-padded input_ids (B, T)."""
        # right padding: under the causal mask no real token ever attends to the padding after it
        h, _ = self.gpt.hidden_states(input_ids)  # (B, T, C)
        return self.gpt.lm_head(h), self.value_head(h).squeeze(-1)


@dataclass
class Experience:
    """One rollout and everything PPO needs from it; per-token tensors are (B, T-1), shifted
    like `token_logprobs`, and 0 off the mask where noted."""

    batch: ChatBatch
    """prompt + response, right-padded (B, T)"""
    responses: list[str]
    mask: torch.Tensor
    """(B, T-1) 1 on response tokens"""
    old_logp: torch.Tensor
    """(B, T-1) log-probs of the rollout policy, at the sampling temperature"""
    ref_logp: torch.Tensor
    """(B, T-1) log-probs of the frozen reference, at the same temperature"""
    old_values: torch.Tensor
    """(B, T-1) value of the state before each token"""
    kl: torch.Tensor
    """(B, T-1) per-token KL estimate, 0 off the mask"""
    rm_scores: torch.Tensor
    """(B,) reward-model score at the last real token"""
    scores: torch.Tensor
    """(B,) rm_scores (+ length_bonus * response length), before normalisation and the
    missing-<|end|> penalty (`train_ppo` applies both)"""
    finished: torch.Tensor
    """(B,) bool: the response reached <|end|> within max_new_tokens"""


@torch.no_grad()
def collect_experience(
    model: PolicyWithValueHead,
    ref: GPT,
    reward_model: nn.Module,
    tok: Tokenizer,
    prompts: Sequence[str],
    cfg: PPOConfig,
    generator: torch.Generator | None = None,
) -> Experience:
    """Sample one response per prompt and score it: steps 1-2 of the iteration."""
    device = next(model.parameters()).device
    out = rollout.generate(model.gpt, tok, prompts, cfg.max_new_tokens, cfg.temperature, generator=generator)
    batch = out.batch.to(device)
    ids = batch.input_ids  # (B, T)
    mask = rollout_response_mask(batch, tok.end_id)  # (B, T-1)
    logits, values = model(ids)  # (B, T, V), (B, T)
    # the rollout sampled from softmax(logits / temperature): that is the policy whose
    # log-probs the ratio and the KL must use, for the policy and the reference alike
    old_logp = token_logprobs(logits / cfg.temperature, ids)  # (B, T-1)
    ref_logp = token_logprobs(ref(ids) / cfg.temperature, ids)  # (B, T-1)
    # k1, the only estimator whose score-function gradient is that of KL(pi || ref) (see kl_estimate)
    kl = kl_estimate(old_logp, ref_logp, "k1") * mask  # (B, T-1)
    # the value at entry t is V(state before token t + 1), read at position t like the logits
    old_values = values[:, :-1] * mask  # (B, T-1)
    rm_scores = reward_model(ids, batch.attention_mask)  # (B,) read at the last real token
    scores = rm_scores + cfg.length_bonus * mask.sum(dim=1)  # (B,)
    return Experience(batch, out.responses, mask, old_logp, ref_logp, old_values, kl, rm_scores, scores,
                      out.finished.to(device))


def ppo_update(
    model: PolicyWithValueHead,
    optimizer: torch.optim.Optimizer,
    exp: Experience,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    cfg: PPOConfig,
    generator: torch.Generator | None = None,
) -> list[dict[str, float]]:
    """Step 4: cfg.ppo_epochs passes over shuffled minibatches of the rollout.

    Args:
        advantages: (B, T-1) whitened advantages, 0 off the mask.
        returns: (B, T-1) value targets, 0 off the mask.
    Returns:
        one dict of statistics per minibatch step, in order. On the very first one the policy
        has not moved yet, so its ratio is 1 and its approx_kl 0: a check that the update
        computes log-probs exactly as the rollout did (same temperature, same shift, same mask).
    """
    model.train()
    B = exp.batch.input_ids.shape[0]
    device = exp.batch.input_ids.device
    history = []
    for _ in range(cfg.ppo_epochs):
        order = torch.randperm(B, generator=generator).to(device)
        for start in range(0, B, cfg.minibatch_size):
            idx = order[start : start + cfg.minibatch_size]
            ids, mask = exp.batch.input_ids[idx], exp.mask[idx]  # (b, T), (b, T-1)
            logits, values = model(ids)  # (b, T, V), (b, T)
            logits = logits / cfg.temperature  # the distribution the rollout sampled from
            logp = token_logprobs(logits, ids)  # (b, T-1)
            policy_loss, policy_stats = ppo_policy_loss(logp, exp.old_logp[idx], advantages[idx], mask, cfg.clip_eps)
            value_loss, value_stats = ppo_value_loss(
                values[:, :-1], exp.old_values[idx], returns[idx], mask, cfg.value_clip_eps
            )
            loss = policy_loss + cfg.vf_coef * value_loss
            grad_norm = optimizer_step(optimizer, model, loss, cfg.max_grad_norm)
            with torch.no_grad():
                entropy = masked_mean(entropy_from_logits(logits[:, :-1]), mask).item()
            history.append({"policy/loss": policy_loss.item(), "value/loss": value_loss.item(),
                            "entropy": entropy, "grad_norm": grad_norm, **policy_stats, **value_stats})
    model.eval()
    return history


def _check_config(cfg: PPOConfig) -> None:
    if cfg.temperature <= 0:
        raise ValueError(f"temperature must be > 0 (PPO needs a sampling policy), got {cfg.temperature}")
    if not 1 <= cfg.minibatch_size <= cfg.batch_size:
        raise ValueError(f"minibatch_size must be in 1 .. batch_size={cfg.batch_size}, got {cfg.minibatch_size}")
    if cfg.kl_controller not in KL_CONTROLLERS:
        raise ValueError(f"kl_controller must be one of {sorted(KL_CONTROLLERS)}, got {cfg.kl_controller!r}")
    if cfg.missing_eos_penalty < 0:
        raise ValueError(f"missing_eos_penalty must be >= 0 (it is subtracted), got {cfg.missing_eos_penalty}")


def _mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def train_ppo(
    policy: GPT,
    ref: GPT,
    reward_model: nn.Module,
    tok: Tokenizer,
    world: MiniWorld,
    cfg: PPOConfig | None = None,
) -> MetricsLog:
    """RLHF with PPO: train `policy` in place against `reward_model`, kept near `ref`.

    Args:
        policy: the GPT to train (a copy of the SFT model).
        ref: the frozen reference (the SFT model); never updated, only read under no_grad.
        reward_model: (input_ids (B, T), attention_mask (B, T)) -> (B,) scores.
        tok, world: the tokenizer and the world whose training prompts are sampled.
    Returns:
        one metrics row per iteration: score (RM), total_score (what PPO maximises: RM +
        length bonus, before normalisation and the missing-<|end|> penalty), unfinished (the
        fraction of responses without <|end|>), oracle (the world's judge of the same
        responses), kl (per response, summed over tokens), kl_coef, response_len, and the
        update's means of policy/clipfrac, policy/approx_kl, value/loss, entropy, ...
    """
    cfg = cfg or PPOConfig()
    _check_config(cfg)
    require_no_dropout(policy, "PPO")
    if policy is ref:
        raise ValueError("policy and ref are the same model; pass a frozen copy as ref "
                         "(policy = stages.fresh_copy('sft'), ref = stages.get('sft'))")
    device = next(policy.parameters()).device
    model = PolicyWithValueHead(policy).to(device)
    # no weight decay: it would pull the weights towards 0, away from the SFT model the KL anchors to
    optimizer = make_optimizer(model, cfg.lr, weight_decay=0.0)
    kl_ctl = KL_CONTROLLERS[cfg.kl_controller](cfg)
    rng = random.Random(cfg.seed)
    sample_generator = torch.Generator(device=device).manual_seed(cfg.seed)
    shuffle_generator = torch.Generator().manual_seed(cfg.seed)
    score_mean, score_std = 0.0, 1.0
    log = MetricsLog()
    bar = ProgressBar(cfg.iterations, "ppo")
    for it in range(cfg.iterations):
        t0 = time.time()
        prompts: list[Prompt] = [world.sample_prompt(rng) for _ in range(cfg.batch_size)]
        exp = collect_experience(model, ref, reward_model, tok, [p.text for p in prompts], cfg, sample_generator)
        if it == 0 and cfg.normalize_score:
            score_mean, score_std = exp.scores.mean().item(), exp.scores.std().item() + 1e-8
        scores = shape_scores(exp.scores, exp.finished, score_mean, score_std, cfg.missing_eos_penalty)  # (B,)
        rewards = per_token_rewards(scores, exp.kl, exp.mask, kl_ctl.value)  # (B, T-1)
        advantages, returns = compute_gae(rewards, exp.old_values, exp.mask, cfg.gamma, cfg.lam)
        advantages = whiten_advantages(advantages, exp.mask)
        stats = _mean_rows(ppo_update(model, optimizer, exp, advantages, returns, cfg, shuffle_generator))

        kl = masked_sum(exp.kl, exp.mask, dim=1).mean().item()  # per response, as the controller's target
        kl_coef = kl_ctl.value
        kl_ctl.update(kl, cfg.batch_size)
        judged = oracle.score_many(prompts, exp.responses)
        log.log(it, score=exp.rm_scores.mean().item(), total_score=exp.scores.mean().item(),
                oracle=sum(s.total for s in judged) / len(judged), unfinished=(~exp.finished).float().mean().item(),
                kl=kl, kl_coef=kl_coef, response_len=exp.mask.sum(dim=1).mean().item(),
                seconds=time.time() - t0, **stats)
        bar.update(score=exp.rm_scores.mean().item(), kl=kl)
    bar.close()
    policy.eval()
    return log
