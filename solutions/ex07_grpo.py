"""Lesson 7, GRPO (group relative policy optimisation): reference solution.

The G completions of one prompt are consecutive rows (N = num_prompts * G). Per-token tensors
are (N, T) and `mask` is 1 on completion tokens. Log-probs are per token, never summed.
"""

from __future__ import annotations

import torch

from minialign.logprobs import masked_mean


@torch.no_grad()  # advantages are targets: no gradient flows through them
def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """One advantage per completion, relative to the other completions of its prompt
    (Shao et al. 2024, sec. 4.1.2):

        A_i = (r_i - mean(group)) / (std(group) + eps)      std: unbiased (torch's default)

    Args:
        rewards: (N,) one reward per completion; rows i*G .. i*G + G-1 answer prompt i.
        group_size: G, completions per prompt.
        eps: keeps the division finite for a group whose rewards are all equal.
    Returns:
        (N,) advantages. A group whose rewards are all equal gets 0 (never NaN).
    """
    # .float(): verifiable rewards are often 0/1 integers, and torch.std needs floats
    grouped = rewards.float().reshape(-1, group_size)  # (num_prompts, G): one row per prompt
    mean = grouped.mean(dim=1, keepdim=True)  # (num_prompts, 1)
    std = grouped.std(dim=1, keepdim=True)  # (num_prompts, 1)
    # all answers right (or all wrong): std = 0, and 0 / 0 would be NaN. With eps the group's
    # advantages are 0 / eps = 0: the group teaches nothing, as it should.
    return ((grouped - mean) / (std + eps)).reshape(-1)  # (N,)


def _aggregate_grpo(per_token_loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # GRPO (eq. 3): 1/G sum_i 1/|o_i| sum_t -- each completion weighs the same
    return masked_mean(per_token_loss, mask, dim=1).mean()


def _aggregate_bnpo(per_token_loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # every token of the batch weighs the same
    return masked_mean(per_token_loss, mask)


LOSS_AGGREGATIONS = {"grpo": _aggregate_grpo, "bnpo": _aggregate_bnpo}


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
    beta: float = 0.0,
    loss_type: str = "grpo",
) -> torch.Tensor:
    """GRPO's clipped surrogate with a k3 KL penalty (Shao et al. 2024, eq. 3-4), a scalar:

        ratio          = exp(logp - old_logp)
        per_token_loss = -min(ratio * A_i, clip(ratio, 1 - clip_eps, 1 + clip_eps) * A_i)
                         + beta * (exp(ref_logp - logp) - (ref_logp - logp) - 1)
        "grpo": mean over completions of each completion's mean over its tokens
        "bnpo": sum over all completion tokens / number of completion tokens

    Args:
        logp: (N, T) per-token log-probs under the current policy (with gradient).
        old_logp: (N, T) per-token log-probs under the policy that sampled the completions.
        ref_logp: (N, T) per-token log-probs under the frozen reference; None when beta = 0.
        advantages: (N,) one advantage per completion (see `group_advantages`).
        mask: (N, T) 1 on completion tokens.
        clip_eps: clip range.
        beta: weight of the KL penalty.
        loss_type: "grpo" or "bnpo"; anything else is a ValueError.
    Returns:
        () the loss.
    """
    if loss_type not in LOSS_AGGREGATIONS:
        raise ValueError(f"loss_type must be one of {sorted(LOSS_AGGREGATIONS)}, got {loss_type!r}")
    A = advantages.detach().unsqueeze(1)  # (N, 1): every token of completion i gets A_i
    # old_logp is a constant of the rollout; attached, the ratio's gradient would vanish
    ratio = torch.exp(logp - old_logp.detach())  # (N, T)
    surrogate = torch.minimum(ratio * A, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A)  # (N, T)
    per_token_loss = -surrogate  # (N, T)
    if beta != 0.0:
        # k3 estimator of KL(pi || ref) (eq. 4): unbiased and >= 0; the KL goes into the loss,
        # not into the reward as in PPO
        log_r = ref_logp.detach() - logp  # (N, T)
        per_token_loss = per_token_loss + beta * (torch.exp(log_r) - log_r - 1)
    return LOSS_AGGREGATIONS[loss_type](per_token_loss, mask)
