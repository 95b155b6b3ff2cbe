"""Pitfall: k3 with the log-ratio reversed. exp(logp - ref) - (logp - ref) - 1 is still >= 0,
but it is not the unbiased estimator of KL(pi || ref) on tokens sampled from pi."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_grpo_loss_k3_penalty"]

_solution = load_solution("ex07_grpo")
group_advantages = _solution.group_advantages


def grpo_loss(logp, old_logp, ref_logp, advantages, mask, clip_eps=0.2, beta=0.0, loss_type="grpo"):
    loss = _solution.grpo_loss(logp, old_logp, None, advantages, mask, clip_eps, 0.0, loss_type)
    if beta != 0.0:
        log_r = logp - ref_logp.detach()  # BUG: ref_logp - logp
        kl = torch.exp(log_r) - log_r - 1
        loss = loss + beta * _solution.LOSS_AGGREGATIONS[loss_type](kl, mask)
    return loss
