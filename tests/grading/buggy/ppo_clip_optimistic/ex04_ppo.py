"""Pitfall: the clip taken the wrong way round. The min of the negated terms (an optimistic
bound) lets the policy keep gaining by pushing the ratio far past 1 + clip_eps."""

import torch
from grading.adapters import load_solution

from minialign.logprobs import masked_mean

CAUGHT_BY = ["test_ppo_policy_loss_hand_value", "test_ppo_clipped_tokens_get_no_gradient"]

_solution = load_solution("ex04_ppo")
kl_estimate = _solution.kl_estimate
compute_gae = _solution.compute_gae


def ppo_policy_loss(logp, old_logp, advantages, mask, clip_eps=0.2):
    ratio = torch.exp(logp - old_logp.detach())
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return masked_mean(torch.minimum(unclipped, clipped), mask)  # BUG: torch.maximum
