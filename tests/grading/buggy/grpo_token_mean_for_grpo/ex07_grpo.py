"""Pitfall: the aggregations mixed up. 'grpo' computed as one mean over all tokens of the batch
(that is 'bnpo'), so long completions weigh more than the paper's 1/G sum_i 1/|o_i| sum_t."""

from grading.adapters import load_solution

from minialign.logprobs import masked_mean

CAUGHT_BY = ["test_grpo_loss_grpo_aggregation_weighs_completions_equally"]

_solution = load_solution("ex07_grpo")
group_advantages = _solution.group_advantages


def grpo_loss(logp, old_logp, ref_logp, advantages, mask, clip_eps=0.2, beta=0.0, loss_type="grpo"):
    # BUG: the per-completion mean of 'grpo' replaced by the token mean of 'bnpo'
    return _solution.grpo_loss(logp, old_logp, ref_logp, advantages, mask, clip_eps, beta, loss_type="bnpo")
