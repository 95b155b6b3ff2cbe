"""Lesson 6, ORPO (odds-ratio preference optimisation): reference solution.

ORPO compares the ODDS of the chosen and rejected responses, odds = P / (1 - P), where P is
the geometric mean of the token probabilities: exp of the per-token AVERAGE log-prob.
"""

from __future__ import annotations

import math

import torch


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, accurate over the whole range (Maechler 2012):

        x > -log 2:   log(-expm1(x))
        x <= -log 2:  log1p(-exp(x))

    Args:
        x: tensor of log-probabilities, all <= 0.
    Returns:
        tensor of the same shape.
    """
    # Near 0, 1 - exp(x) cancels (exp(-1e-10) is exactly 1.0 in float32); expm1 computes
    # exp(x) - 1 without the cancellation. Far from 0, exp(x) is tiny and 1 - exp(x) rounds to
    # 1; log1p keeps its digits.
    near_zero = x > -math.log(2.0)
    # each branch only sees inputs from its own side, so the branch torch.where discards
    # cannot produce inf or NaN (which would poison the gradient)
    near = torch.log(-torch.expm1(x.clamp(min=-math.log(2.0))))
    far = torch.log1p(-torch.exp(x.clamp(max=-math.log(2.0))))
    return torch.where(near_zero, near, far)


def average_logprobs(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token average log-prob of each row's masked tokens:

        avg[b] = sum_t mask[b, t] * token_logps[b, t] / sum_t mask[b, t]

    Args:
        token_logps: (B, T) per-token log-probs.
        mask: (B, T) 1 on response tokens, 0 on prompt and padding.
    Returns:
        (B,) average log-probs, <= 0.
    """
    mask = mask.to(token_logps.dtype)
    # the average, not the sum: exp(sum) of a real response is ~0 whatever its quality, and
    # longer responses would look worse just for being long
    return (token_logps * mask).sum(dim=1) / mask.sum(dim=1)  # (B,)


def orpo_log_odds(chosen_avg_logps: torch.Tensor, rejected_avg_logps: torch.Tensor) -> torch.Tensor:
    """Log odds ratio of chosen over rejected (Hong et al. 2024, eq. 7, inside the sigmoid):

        log odds(y) = logp - log(1 - exp(logp)),   logp = per-token average log-prob
        log_odds    = log odds(y_w) - log odds(y_l)

    Args:
        chosen_avg_logps: (B,) per-token AVERAGE log-probs of the chosen responses, < 0.
        rejected_avg_logps: (B,) the same for the rejected responses.
    Returns:
        (B,) log odds ratios; > 0 where the chosen response has the higher odds.
    """
    chosen_log_odds = chosen_avg_logps - log1mexp(chosen_avg_logps)  # (B,) log P - log(1 - P)
    rejected_log_odds = rejected_avg_logps - log1mexp(rejected_avg_logps)  # (B,)
    return chosen_log_odds - rejected_log_odds  # (B,)
