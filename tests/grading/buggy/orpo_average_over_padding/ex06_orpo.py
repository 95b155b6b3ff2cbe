"""Pitfall: padding in the average. The masked sum is divided by T, so a short response in a
batch with long ones looks more probable than it is."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_average_logprobs_pitfall_sum_instead_of_average"]

_solution = load_solution("ex06_orpo")
log1mexp = _solution.log1mexp
orpo_log_odds = _solution.orpo_log_odds


def average_logprobs(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (token_logps * mask).mean(dim=1)  # BUG: divides by T, not by mask.sum(dim=1)
