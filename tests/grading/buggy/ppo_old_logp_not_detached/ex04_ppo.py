"""Pitfall: old log-probs not detached. When old_logp comes from the same forward pass as logp,
the ratio exp(logp - old_logp) is 1 whatever the parameters, and the policy gets no gradient."""

import torch
from grading.adapters import load_solution

from minialign.logprobs import masked_mean

CAUGHT_BY = ["test_ppo_pitfall_old_logp_not_detached"]

_solution = load_solution("ex04_ppo")
kl_estimate = _solution.kl_estimate
compute_gae = _solution.compute_gae


def ppo_policy_loss(logp, old_logp, advantages, mask, clip_eps=0.2):
    ratio = torch.exp(logp - old_logp)  # BUG: old_logp.detach()
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return masked_mean(torch.maximum(unclipped, clipped), mask)
