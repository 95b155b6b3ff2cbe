"""PPO for RLHF: the KL-penalised reward, GAE, and the clipped policy and value losses.

The recipe of Ziegler et al. 2019 and Ouyang et al. 2022 (InstructGPT): sample a response
from the policy, score it with the reward model, and treat every response token as one
action of an episode whose reward is

    r_t = -kl_coef * KL_t(pi || ref)          at every response token
          + score                             added at the last response token only

The KL term keeps the policy near the reference (SFT) model, so the reward model is not
exploited far outside the data it was trained on. Advantages come from GAE over those
per-token rewards with a learned value head, and the policy is updated with PPO's clipped
surrogate (Schulman et al. 2017).

Conventions: all per-token tensors are (B, T) and line up with `logprobs.token_logprobs`
(entry t is about token t + 1); `mask` is 1 on response tokens, 0 on prompt and padding.
Log-probs are per token, never summed: each token is one action.
"""

from __future__ import annotations

from typing import Callable

import torch

from minialign.logprobs import masked_mean, masked_whiten


def _check_shape(name: str, x: torch.Tensor, expected: tuple[int, ...], what: str) -> None:
    """Raise a ValueError naming `name` when x does not have shape `expected` (described by `what`)."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {what} = {tuple(expected)}, got {tuple(x.shape)}")


# ---------------------------------------------------------------------------------------------
# KL estimators (Schulman 2020, "Approximating KL divergence")
# With tokens sampled from pi and log_ratio = logp - ref_logp = log pi/ref, each estimator's
# expectation under pi is (k1, k3 exactly; k2 approximately) KL(pi || ref).


def _kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    # log pi/ref: unbiased, but a single sample can be negative
    return logp - ref_logp


def _kl_k2(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    # 0.5 (log pi/ref)^2: biased, low variance, always >= 0
    return 0.5 * (logp - ref_logp) ** 2


def _kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    # (r - 1) - log r with r = ref/pi: unbiased and always >= 0, since log r <= r - 1
    log_r = ref_logp - logp
    return torch.exp(log_r) - log_r - 1


KL_ESTIMATORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "k1": _kl_k1,
    "k2": _kl_k2,
    "k3": _kl_k3,
}


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "k1") -> torch.Tensor:
    """Per-token estimate of KL(pi || ref) from tokens sampled from pi.

        k1 = logp - ref_logp
        k2 = 0.5 * (logp - ref_logp)^2
        k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1      (>= 0)

    Args:
        logp: (...) log pi(token) of the sampled tokens, per token (not summed).
        ref_logp: (...) log ref(token) of the same tokens, same shape.
        kind: "k1", "k2" or "k3".
    Returns:
        (...) same shape as logp. Mask and average it yourself.

    The sign matters: k1 is log pi - log ref. The reverse, log ref - log pi, estimates
    -KL(pi || ref), and a penalty built on it would *reward* drifting away from ref.
    """
    if kind not in KL_ESTIMATORS:
        raise ValueError(f"kind must be one of {sorted(KL_ESTIMATORS)}, got {kind!r}")
    _check_shape("ref_logp", ref_logp, logp.shape, "logp.shape")
    return KL_ESTIMATORS[kind](logp, ref_logp)


# ---------------------------------------------------------------------------------------------
# Rewards and advantages


@torch.no_grad()
def per_token_rewards(
    score: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, kl_coef: float
) -> torch.Tensor:
    """The RLHF reward of each token (Ziegler et al. 2019 sec. 2.2, Ouyang et al. 2022 eq. 2):

        rewards[b, t] = -kl_coef * kl[b, t] * mask[b, t]  +  score[b] * [t == last real t of row b]

    Args:
        score: (B,) reward-model score of each whole response.
        kl: (B, T) per-token KL estimate (see `kl_estimate`).
        mask: (B, T) 1 on response tokens.
        kl_coef: weight of the KL penalty (beta in the papers).
    Returns:
        (B, T) rewards, 0 on prompt and padding. Computed without gradient: rewards are targets.

    The score goes on the last *real* token: on position T-1 it would land on padding for
    every row shorter than the batch, and GAE would never credit it to the response.
    """
    B, T = mask.shape
    _check_shape("score", score, (B,), "(B,)")
    _check_shape("kl", kl, (B, T), "mask.shape (B, T)")
    real = mask > 0
    if not real.any(dim=1).all():
        empty = (~real.any(dim=1)).nonzero().flatten().tolist()
        raise ValueError(f"mask has rows with no response token (rows {empty}); the score has nowhere to go")
    positions = torch.arange(T, device=mask.device).expand(B, T)  # (B, T)
    last = torch.where(real, positions, -1).max(dim=1).values  # (B,) index of the last real token
    rewards = -kl_coef * kl * mask.to(kl.dtype)  # (B, T)
    rewards[torch.arange(B, device=mask.device), last] += score.to(rewards.dtype)
    return rewards


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
        rewards: (B, T) per-token rewards (see `per_token_rewards`).
        values: (B, T) value-head outputs V(s_t) of the rollout.
        mask: (B, T) 1 on response tokens, which must be contiguous within each row.
        gamma: discount; 1 in RLHF, as the episode is a single short response.
        lam: GAE's bias-variance trade-off (0 = one-step TD, 1 = Monte Carlo).
    Returns:
        advantages (B, T) and returns (B, T), 0 where mask is 0. Computed without gradient:
        both are targets, not quantities to differentiate through.
    """
    _check_shape("values", values, rewards.shape, "rewards.shape (B, T)")
    _check_shape("mask", mask, rewards.shape, "rewards.shape (B, T)")
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
    _check_shape("old_logp", old_logp, logp.shape, "logp.shape (B, T)")
    _check_shape("advantages", advantages, logp.shape, "logp.shape (B, T)")
    _check_shape("mask", mask, logp.shape, "logp.shape (B, T)")
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
    _check_shape("old_values", old_values, values.shape, "values.shape (B, T)")
    _check_shape("returns", returns, values.shape, "values.shape (B, T)")
    _check_shape("mask", mask, values.shape, "values.shape (B, T)")
    old_values = old_values.detach()
    returns = returns.detach()
    values_clipped = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)  # (B, T)
    error = (values - returns) ** 2  # (B, T)
    error_clipped = (values_clipped - returns) ** 2  # (B, T)
    loss = 0.5 * masked_mean(torch.maximum(error, error_clipped), mask)
    with torch.no_grad():
        stats = {"value/clipfrac": masked_mean((error_clipped > error).to(values.dtype), mask).item()}
    return loss, stats


# ---------------------------------------------------------------------------------------------
# KL coefficient controllers (Ziegler et al. 2019, sec. 2.2)


class FixedKLController:
    """A constant KL coefficient, with the same interface as `AdaptiveKLController`."""

    def __init__(self, kl_coef: float):
        if kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {kl_coef}")
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """Steer the KL coefficient so that the observed KL(pi || ref) tracks `target`:

        e     = clip(current_kl / target - 1, -0.2, 0.2)
        value = value * (1 + e * n_steps / horizon)

    Too much KL raises the penalty, too little lowers it. The clip keeps one noisy KL
    measurement from moving the coefficient by more than 20% of n_steps / horizon.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: float):
        if init_kl_coef < 0:
            raise ValueError(f"init_kl_coef must be >= 0, got {init_kl_coef}")
        if target <= 0:
            raise ValueError(f"target must be > 0, got {target}")
        if horizon <= 0:
            raise ValueError(f"horizon must be > 0, got {horizon}")
        self.value = float(init_kl_coef)
        self.target = float(target)
        self.horizon = float(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Adjust `value` after n_steps samples (or batches) whose mean KL was current_kl."""
        proportional_error = min(max(float(current_kl) / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon


# --- training loop ---
