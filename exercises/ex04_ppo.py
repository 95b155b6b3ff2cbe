"""Lesson 4, PPO for RLHF: exercises.

Fill in the three functions, then run `pytest tests/grading/test_ex04_ppo.py`.
Per-token tensors are (B, T) and `mask` is 1 on response tokens. Log-probs are per token,
never summed: in RLHF every response token is one action.
You may use `minialign.logprobs.masked_mean(x, mask)` (the mean of x where mask is 1).
"""

from __future__ import annotations

import torch

from minialign.logprobs import masked_mean  # noqa: F401  (you may use it)


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

    Hints:
        - KL(pi || ref) = E_pi[log pi - log ref]: the policy comes first. The other sign
          would make a KL penalty REWARD drifting away from the reference.
        - For k3 write log_r = ref_logp - logp (the log of r = ref / pi).
    """
    raise NotImplementedError


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

    Hints:
        - Loop t from T-1 down to 0, carrying V_{t+1} * m_{t+1}, A_{t+1} and m_{t+1}
          from the previous step (all 0 before the first step).
        - The factor m_{t+1} ends the episode at the last real token: the value head's
          output on the padding after it is meaningless and must not leak into A_t.
    """
    raise NotImplementedError


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

    Hints:
        - old_logp and the advantages are constants of the rollout: `.detach()` them.
          Otherwise, when old_logp comes from the same forward pass as logp, the ratio is
          exp(logp - logp) = 1 for any parameters and its gradient is 0.
        - The paper MAXIMISES min(ratio * A, clip(ratio) * A); the loss is its negative,
          so it takes the max of the negated terms.
    """
    raise NotImplementedError
