"""Pitfall: reference log-probs added instead of subtracted. With equal references it gives the
right number, which is why the grader must use unequal ones."""

import torch
import torch.nn.functional as F

CAUGHT_BY = ["test_dpo_loss_pitfall_reference_added"]


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    delta = (policy_chosen_logps + ref_chosen_logps) - (policy_rejected_logps + ref_rejected_logps)  # BUG
    return -F.logsigmoid(beta * delta)
