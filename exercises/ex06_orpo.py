"""Lesson 6, ORPO (odds-ratio preference optimisation): exercises.

Fill in the three functions, then run `pytest tests/grading/test_ex06_orpo.py`.
ORPO compares the ODDS of the chosen and rejected responses, odds = P / (1 - P), where P is
the geometric mean of the token probabilities: exp of the per-token AVERAGE log-prob.
"""

from __future__ import annotations

import math  # noqa: F401  (you will need it)

import torch


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, accurate over the whole range (Maechler 2012):

        x > -log 2:   log(-expm1(x))
        x <= -log 2:  log1p(-exp(x))

    Args:
        x: tensor of log-probabilities, all <= 0.
    Returns:
        tensor of the same shape.

    Hints:
        - `torch.log(1 - torch.exp(x))` fails twice: at x = -1e-10 in float32, exp(x) is
          exactly 1.0 and the result is -inf; at x = -50, 1 - exp(x) rounds to 1.0 and the
          result is 0 instead of -1.9e-22.
        - `torch.where(cond, a, b)` picks per element. Clamp each branch's input to its own
          side (x.clamp(min=-log 2) / x.clamp(max=-log 2)) so the unused branch stays finite.
    """
    raise NotImplementedError


def average_logprobs(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token average log-prob of each row's masked tokens:

        avg[b] = sum_t mask[b, t] * token_logps[b, t] / sum_t mask[b, t]

    Args:
        token_logps: (B, T) per-token log-probs.
        mask: (B, T) 1 on response tokens, 0 on prompt and padding.
    Returns:
        (B,) average log-probs, <= 0.

    Hints:
        - Divide by the number of masked tokens of each row, not by T.
        - Why not the sum? exp(sum of 50 log-probs) is ~0 for any real response, and a
          longer response would look worse just for being long.
    """
    raise NotImplementedError


def orpo_log_odds(chosen_avg_logps: torch.Tensor, rejected_avg_logps: torch.Tensor) -> torch.Tensor:
    """Log odds ratio of chosen over rejected (Hong et al. 2024, eq. 7, inside the sigmoid):

        log odds(y) = logp - log(1 - exp(logp)),   logp = per-token average log-prob
        log_odds    = log odds(y_w) - log odds(y_l)

    Args:
        chosen_avg_logps: (B,) per-token AVERAGE log-probs of the chosen responses, < 0.
        rejected_avg_logps: (B,) the same for the rejected responses.
    Returns:
        (B,) log odds ratios; > 0 where the chosen response has the higher odds.

    Hints:
        - Use your `log1mexp` for log(1 - P).
        - This is not DPO's log-ratio: odds(P) = P / (1 - P), not P.
    """
    raise NotImplementedError
