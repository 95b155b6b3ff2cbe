"""Pitfall: log(sigmoid(x)) instead of logsigmoid(x). Correct for moderate gaps, but sigmoid
underflows to 0 for a large negative gap and the loss becomes inf."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_bradley_terry_loss_stable_for_large_gaps_pitfall_log_of_sigmoid"]

pool_last_token = load_solution("ex03_reward").pool_last_token


def bradley_terry_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    return -torch.log(torch.sigmoid(chosen_rewards - rejected_rewards)).mean()  # BUG: underflows
