"""Pitfall: the naive log(1 - exp(x)). -inf for a near-certain response in float32, and 0
instead of a tiny negative number far from 0."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_log1mexp_near_zero_pitfall_naive_formula", "test_log1mexp_far_from_zero_keeps_digits",
             "test_orpo_log_odds_near_certain_response"]

average_logprobs = load_solution("ex06_orpo").average_logprobs


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 - torch.exp(x))  # BUG: cancels near 0, rounds far from 0


def orpo_log_odds(chosen_avg_logps: torch.Tensor, rejected_avg_logps: torch.Tensor) -> torch.Tensor:
    return (chosen_avg_logps - log1mexp(chosen_avg_logps)) - (rejected_avg_logps - log1mexp(rejected_avg_logps))
