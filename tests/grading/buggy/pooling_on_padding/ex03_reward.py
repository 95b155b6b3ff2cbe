"""Pitfall: pooling on padding. The reward is read at the last column, which is a padding token
for every row shorter than the batch."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_pool_last_token_pitfall_pooling_on_padding", "test_pool_last_token_on_hidden_states"]

bradley_terry_loss = load_solution("ex03_reward").bradley_terry_loss


def pool_last_token(values: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return values[:, -1]  # BUG: the last column, not the last real token
