"""Pitfall: groups taken with a stride. reshape(group_size, -1) and statistics over dim 0 put
completions of different prompts in one group."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_group_advantages_hand_values"]

grpo_loss = load_solution("ex07_grpo").grpo_loss


@torch.no_grad()
def group_advantages(rewards, group_size, eps=1e-4):
    grouped = rewards.float().reshape(group_size, -1)  # BUG: reshape(-1, group_size), stats over dim 1
    return ((grouped - grouped.mean(0, keepdim=True)) / (grouped.std(0, keepdim=True) + eps)).reshape(-1)
