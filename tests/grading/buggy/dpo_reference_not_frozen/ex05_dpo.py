"""Pitfall: the reference is not frozen. Its log-probs enter the loss undetached, so a caller who
forgot torch.no_grad() (or shares weights) trains the reference away from itself."""

import torch
import torch.nn.functional as F

CAUGHT_BY = ["test_dpo_pitfall_reference_not_frozen"]


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    delta = (policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps)  # BUG: no detach
    return -F.logsigmoid(beta * delta)
