"""Lesson 7, GRPO (group relative policy optimisation): exercises.

Fill in the two functions, then run `pytest tests/grading/test_ex07_grpo.py`.
The G completions of one prompt are consecutive rows (N = num_prompts * G). Per-token tensors
are (N, T) and `mask` is 1 on completion tokens. Log-probs are per token, never summed.
You may use `minialign.logprobs.masked_mean(x, mask, dim=None)`.
"""

from __future__ import annotations

import torch

from minialign.logprobs import masked_mean  # noqa: F401  (you may use it)


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

    Hints:
        - `rewards.reshape(-1, group_size)` puts each prompt's completions on one row.
          (`reshape(group_size, -1)` would mix completions of different prompts.)
        - If every completion of a prompt is right, std = 0: guard the division.
    """
    raise NotImplementedError


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

    Hints:
        - `advantages.unsqueeze(1)` is (N, 1) and broadcasts over the tokens.
        - Detach old_logp (a constant of the rollout) and ref_logp (a frozen model).
        - "grpo" weighs every completion the same (a token of a short completion counts more);
          "bnpo" weighs every token the same. `masked_mean(x, mask, dim=1)` is per completion.
    """
    raise NotImplementedError
