"""Pitfall: summed instead of averaged log-probs. exp(sum) is ~0 for any real response, and
ORPO then penalises long responses for their length."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_average_logprobs_pitfall_sum_instead_of_average", "test_orpo_is_length_fair_pitfall_summed_logprobs"]

_solution = load_solution("ex06_orpo")
log1mexp = _solution.log1mexp
orpo_log_odds = _solution.orpo_log_odds


def average_logprobs(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (token_logps * mask).sum(dim=1)  # BUG: / mask.sum(dim=1)
