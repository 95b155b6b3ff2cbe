"""Pitfall: old log-probs not detached in the GRPO loss. With a single update per batch old_logp
is logp itself, and the ratio exp(logp - old_logp) then carries no gradient."""

import torch
from grading.adapters import load_solution

from minialign.logprobs import masked_mean

CAUGHT_BY = ["test_grpo_pitfall_old_logp_not_detached"]

_solution = load_solution("ex07_grpo")
group_advantages = _solution.group_advantages


def grpo_loss(logp, old_logp, ref_logp, advantages, mask, clip_eps=0.2, beta=0.0, loss_type="grpo"):
    if loss_type not in _solution.LOSS_AGGREGATIONS:
        raise ValueError(loss_type)
    A = advantages.unsqueeze(1)
    ratio = torch.exp(logp - old_logp)  # BUG: old_logp.detach()
    per_token_loss = -torch.minimum(ratio * A, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A)
    if beta != 0.0:
        log_r = ref_logp.detach() - logp
        per_token_loss = per_token_loss + beta * (torch.exp(log_r) - log_r - 1)
    return _solution.LOSS_AGGREGATIONS[loss_type](per_token_loss, mask)
