"""Lesson 5, direct preference optimisation: reference solution."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
    """
    # beta * log(pi / ref) is the implicit reward of each response: DPO is Bradley-Terry on
    # implicit rewards. The reference is a constant of the objective, so it gets no gradient.
    chosen_logratios = policy_chosen_logps - ref_chosen_logps.detach()  # (B,)
    rejected_logratios = policy_rejected_logps - ref_rejected_logps.detach()  # (B,)
    delta = chosen_logratios - rejected_logratios  # (B,)
    # logsigmoid, not log(sigmoid(.)): sigmoid(-1000) underflows to 0 and log(0) = -inf
    return -F.logsigmoid(beta * delta)  # (B,)
