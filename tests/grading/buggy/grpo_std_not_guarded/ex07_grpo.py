"""Pitfall: the std is not guarded. A group whose completions all got the same reward (all
right, or all wrong) has std 0, and 0 / 0 fills its advantages with NaN."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_group_advantages_of_a_zero_spread_group_are_zero_pitfall_std_not_guarded"]

grpo_loss = load_solution("ex07_grpo").grpo_loss


@torch.no_grad()
def group_advantages(rewards, group_size, eps=1e-4):
    grouped = rewards.float().reshape(-1, group_size)
    return ((grouped - grouped.mean(1, keepdim=True)) / grouped.std(1, keepdim=True)).reshape(-1)  # BUG: no eps
