"""Pitfall: GAE leaks the value past the last real token. V_{t+1} is not multiplied by m_{t+1},
so whatever the value head outputs on the padding is bootstrapped into the last response token."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_gae_pitfall_value_leaks_past_last_token"]

_solution = load_solution("ex04_ppo")
kl_estimate = _solution.kl_estimate
ppo_policy_loss = _solution.ppo_policy_loss


@torch.no_grad()
def compute_gae(rewards, values, mask, gamma=1.0, lam=0.95):
    B, T = rewards.shape
    mask = mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_value = rewards.new_zeros(B)
    next_advantage = rewards.new_zeros(B)
    next_mask = rewards.new_zeros(B)
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantages[:, t] = (delta + gamma * lam * next_mask * next_advantage) * mask[:, t]
        next_value = values[:, t]  # BUG: values[:, t] * mask[:, t]
        next_advantage = advantages[:, t]
        next_mask = mask[:, t]
    return advantages, (advantages + values) * mask
