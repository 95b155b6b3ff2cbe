"""Lesson 3, reward model: exercises.

Fill in the two functions, then run `pytest tests/grading/test_ex03_reward.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401  (you will need it)


def bradley_terry_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Pairwise reward-model loss, a scalar:

        loss = mean over pairs of -log sigmoid(r_chosen - r_rejected)

    Args:
        chosen_rewards: (B,) rewards of the preferred responses.
        rejected_rewards: (B,) rewards of the other responses.
    Returns:
        () mean loss over the B pairs.

    Hints:
        - Bradley-Terry says P(chosen beats rejected) = sigmoid(r_c - r_r).
        - `torch.log(torch.sigmoid(x))` is -inf for x = -200 in float32;
          `F.logsigmoid(x)` computes the same thing without underflow.
    """
    raise NotImplementedError


def pool_last_token(values: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """values[b, last real token of row b] for every row b (right padding).

    Args:
        values: (B, T) per-token values or (B, T, C) hidden states.
        attention_mask: (B, T) 1 for real tokens, 0 for padding (padding on the right).
    Returns:
        (B,) or (B, C): the entry at each row's last real token.

    Hints:
        - With right padding, the last real token of a row of length n is at index n - 1.
        - `values[:, -1]` reads the last COLUMN, which is padding for every row shorter
          than the batch.
        - `values[torch.arange(B), index]` picks one position per row.
    """
    raise NotImplementedError
