"""Lesson 4, PPO for RLHF: reference solution.

Per-token tensors are (B, T) and `mask` is 1 on response tokens. Log-probs are per token,
never summed: in RLHF every response token is one action.
"""

from __future__ import annotations

import torch

from minialign.logprobs import masked_mean


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "k1") -> torch.Tensor:
    """Per-token estimate of KL(pi || ref) from tokens sampled from pi (Schulman 2020):

        k1 = logp - ref_logp                                   unbiased, can be < 0
        k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1      unbiased, always >= 0

    Args:
        logp: (...) log pi(token) of the sampled tokens.
        ref_logp: (...) log ref(token) of the same tokens.
        kind: "k1" or "k3"; anything else is a ValueError.
    Returns:
        (...) same shape as logp.
    """
    if kind == "k1":
        # log pi/ref: positive where the policy is more sure of its token than the reference
        return logp - ref_logp
    if kind == "k3":
        log_r = ref_logp - logp  # log r, r = ref / pi
        return torch.exp(log_r) - log_r - 1  # (r - 1) - log r >= 0 because log r <= r - 1
    raise ValueError(f"kind must be 'k1' or 'k3', got {kind!r}")


@torch.no_grad()  # advantages and returns are targets: no gradient flows through them
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
        R_t     = (A_t + V_t) * m_t

    with V_T = A_T = 0 past the end.

    Args:
        rewards: (B, T) per-token rewards.
        values: (B, T) value-head outputs V(s_t).
        mask: (B, T) 1 on response tokens (contiguous in each row), 0 on prompt and padding.
        gamma: discount factor.
        lam: GAE's lambda (0 = one-step TD, 1 = Monte Carlo).
    Returns:
        advantages (B, T) and returns (B, T), both 0 where mask is 0.
    """
    B, T = rewards.shape
    mask = mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)  # (B, T)
    next_value = rewards.new_zeros(B)  # V_{t+1} * m_{t+1}
    next_advantage = rewards.new_zeros(B)  # A_{t+1}
    next_mask = rewards.new_zeros(B)  # m_{t+1}
    for t in reversed(range(T)):
        # the episode ends at the last real token: the value head's output on the padding
        # after it (m_{t+1} = 0) must not be bootstrapped into the response
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,)
        advantages[:, t] = (delta + gamma * lam * next_mask * next_advantage) * mask[:, t]
        next_value = values[:, t] * mask[:, t]
        next_advantage = advantages[:, t]
        next_mask = mask[:, t]
    returns = (advantages + values) * mask  # (B, T) the value head's regression target
    return advantages, returns


def ppo_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
) -> torch.Tensor:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7) as a loss to minimise, a scalar:

        ratio = exp(logp - old_logp)
        loss  = masked_mean( max(-A * ratio, -A * clip(ratio, 1 - clip_eps, 1 + clip_eps)) )

    Args:
        logp: (B, T) per-token log-probs under the current policy (with gradient).
        old_logp: (B, T) per-token log-probs under the policy that sampled the rollout.
        advantages: (B, T) per-token advantages.
        mask: (B, T) 1 on response tokens; the loss is a mean over them.
        clip_eps: clip range.
    Returns:
        () the loss.
    """
    # old_logp and the advantages are constants of the rollout. A gradient through old_logp
    # would cancel the one through logp (the ratio would be exp(0) for any parameters).
    ratio = torch.exp(logp - old_logp.detach())  # (B, T)
    advantages = advantages.detach()
    unclipped = -advantages * ratio  # (B, T)
    clipped = -advantages * torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)  # (B, T)
    # max of the negated terms = min of eq. 7: the pessimistic bound, so moving the ratio past
    # 1 +- clip_eps in the direction the advantage favours gains nothing
    return masked_mean(torch.maximum(unclipped, clipped), mask)
