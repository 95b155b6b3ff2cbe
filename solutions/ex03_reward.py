"""Lesson 3, reward model: reference solution.

A reward model reads one scalar per sequence at its last real token and is trained on
preference pairs with the Bradley-Terry loss (InstructGPT eq. 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bradley_terry_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Pairwise reward-model loss, a scalar:

        loss = mean over pairs of -log sigmoid(r_chosen - r_rejected)

    Args:
        chosen_rewards: (B,) rewards of the preferred responses.
        rejected_rewards: (B,) rewards of the other responses.
    Returns:
        () mean loss over the B pairs.
    """
    # Bradley-Terry: P(chosen beats rejected) = sigmoid(r_c - r_r); the loss is its negative
    # log-likelihood. logsigmoid stays finite where log(sigmoid(x)) underflows to log(0) = -inf.
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def pool_last_token(values: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """values[b, last real token of row b] for every row b (right padding).

    Args:
        values: (B, T) per-token values or (B, T, C) hidden states.
        attention_mask: (B, T) 1 for real tokens, 0 for padding (padding on the right).
    Returns:
        (B,) or (B, C): the entry at each row's last real token.
    """
    # Under a causal mask only the last real token has seen the whole sequence; the last
    # column is padding for every row shorter than the batch.
    last = attention_mask.long().sum(dim=1) - 1  # (B,) index of the last real token
    rows = torch.arange(values.shape[0], device=values.device)  # (B,)
    return values[rows, last]  # (B,) or (B, C)
