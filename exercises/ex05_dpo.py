"""Lesson 5, direct preference optimisation: exercises.

Fill in the function, then run `pytest tests/grading/test_ex05_dpo.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401  (you will need it)


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """Per-pair DPO loss (Rafailov et al. 2023, eq. 7):

        delta = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
        loss  = -log sigmoid(beta * delta)

    Args:
        policy_chosen_logps: (B,) log pi(y_w|x), summed over the response tokens.
        policy_rejected_logps: (B,) log pi(y_l|x), summed.
        ref_chosen_logps: (B,) log ref(y_w|x) under the frozen reference, summed.
        ref_rejected_logps: (B,) log ref(y_l|x), summed.
        beta: > 0, how strongly the policy is held near the reference.
    Returns:
        (B,) per-pair losses (average them yourself).

    Hints:
        - beta * (policy_logps - ref_logps) is the implicit reward of a response: the policy
          is rewarded for what it learned, relative to the reference. SUBTRACT the reference.
        - The reference is frozen: `.detach()` its log-probs so no gradient can reach it.
        - Use F.logsigmoid; log(sigmoid(x)) is -inf once sigmoid(x) underflows to 0.
    """
    raise NotImplementedError
