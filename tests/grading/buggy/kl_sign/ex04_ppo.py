"""Pitfall: KL sign. k1 = ref_logp - logp estimates -KL(pi || ref); a penalty built on it rewards
the policy for drifting away from the reference."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_kl_k1_pitfall_sign"]

_solution = load_solution("ex04_ppo")
compute_gae = _solution.compute_gae
ppo_policy_loss = _solution.ppo_policy_loss


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "k1") -> torch.Tensor:
    if kind == "k1":
        return ref_logp - logp  # BUG: logp - ref_logp
    return _solution.kl_estimate(logp, ref_logp, kind)
