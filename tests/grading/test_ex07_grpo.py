"""Grading lesson 7 (GRPO): group-relative advantages and the GRPO loss with its aggregations."""

import math
import statistics

import pytest
import torch

from .adapters import check_close, check_grad, check_raises_value_error, exercise

ex = exercise("ex07_grpo")
EPS = 1e-4


def normalised(group: list[float], unbiased: bool = True) -> list[float]:
    """(r - mean) / (std + eps) in plain Python, the expected advantages of one group."""
    mean = statistics.mean(group)
    std = statistics.stdev(group) if unbiased else statistics.pstdev(group)
    return [(r - mean) / (std + EPS) for r in group]


def t(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# group_advantages


def test_group_advantages_hand_values():
    # prompt 0: rewards [0, 1, 2]    mean 1,  std 1             -> [-1, 0, 1]
    # prompt 1: rewards [10, 10, 13] mean 11, std sqrt(6/2) = 1.7321 -> [-0.5773, -0.5773, 1.1547]
    rewards = torch.tensor([0.0, 1.0, 2.0, 10.0, 10.0, 13.0])
    check_close(
        ex.group_advantages(rewards, group_size=3),
        normalised([0, 1, 2]) + normalised([10, 10, 13]),
        "for rewards [0, 1, 2 | 10, 10, 13] in groups of 3, the advantages (r - mean) / (std + eps)",
        mistakes={
            "you used the biased std (unbiased=False); the reference uses torch's default, unbiased std":
                normalised([0, 1, 2], False) + normalised([10, 10, 13], False),
            "you only centred the rewards; divide by the group's std too": [-1, 0, 1, -1, -1, 2],
            "the groups are mixed up: completions of one prompt are CONSECUTIVE rows, use "
            "reshape(-1, group_size)": [a for pair in zip(normalised([0, 2, 10]), normalised([1, 10, 13]))
                                        for a in pair],
        },
    )


def test_group_advantages_of_a_zero_spread_group_are_zero_pitfall_std_not_guarded():
    # prompt 0: every completion right -> std 0 -> advantages 0 (the group teaches nothing)
    # prompt 1: [0, 1, 1, 0] -> mean 0.5, std sqrt(1/3) -> +-0.5 / 0.5774 = +-0.8659
    got = ex.group_advantages(torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0]), group_size=4)
    if isinstance(got, torch.Tensor) and torch.isnan(got).any():
        pytest.fail(
            f"a group where every completion got the same reward gave NaN advantages ({got.tolist()}): "
            f"its std is 0 and 0 / 0 = NaN; divide by (std + eps) so the group's advantages are 0"
        )
    check_close(
        got,
        [0.0, 0.0, 0.0, 0.0] + normalised([0, 1, 1, 0]),
        "for rewards [1, 1, 1, 1 | 0, 1, 1, 0] in groups of 4, the advantages",
    )


# ---------------------------------------------------------------------------------------------
# grpo_loss
#
# Running example: 2 completions, T = 3, mask [[1, 1, 1], [1, 1, 0]], advantages [2, -1],
# ratios [[1.5, 1.0, 0.9], [0.5, 1.1, 2.0 (padding)]], clip_eps 0.2. Per-token loss -min(r A, clip(r) A):
#   row 0 (A =  2): -min(3.0, 2.4) = -2.4,  -2.0,  -min(1.8, 1.8) = -1.8     sum -6.2 over 3 tokens
#   row 1 (A = -1): -min(-0.5, -0.8) = 0.8, -min(-1.1, -1.1) = 1.1           sum  1.9 over 2 tokens
# "grpo": (-6.2 / 3 + 1.9 / 2) / 2 = -0.5583      "bnpo": (-6.2 + 1.9) / 5 = -0.86

GRPO_VALUE = (-6.2 / 3 + 1.9 / 2) / 2
BNPO_VALUE = (-6.2 + 1.9) / 5
WHAT = ("for 2 completions with advantages [2, -1], ratios [[1.5, 1.0, 0.9], [0.5, 1.1]] "
        "(3 and 2 tokens), clip_eps 0.2")


def running_example() -> tuple[torch.Tensor, ...]:
    old_logp = t([-1.0, -2.0, -1.0], [-0.5, -1.5, -2.0])
    logp = old_logp + torch.log(t([1.5, 1.0, 0.9], [0.5, 1.1, 2.0]))
    return logp, old_logp, torch.tensor([2.0, -1.0], dtype=torch.float64), t([1.0, 1.0, 1.0], [1.0, 1.0, 0.0])


def test_grpo_loss_grpo_aggregation_weighs_completions_equally():
    logp, old_logp, advantages, mask = running_example()
    check_close(
        ex.grpo_loss(logp, old_logp, None, advantages, mask, clip_eps=0.2, loss_type="grpo"),
        GRPO_VALUE,
        f"{WHAT}, the 'grpo' loss (mean over completions of each completion's token mean)",
        mistakes={
            "that is the 'bnpo' value: for 'grpo', average each completion over its own tokens, then "
            "average the completions": BNPO_VALUE,
            "the ratio was not clipped": (-(3.0 + 2.0 + 1.8) / 3 + (0.5 + 1.1) / 2) / 2,
            "the sign is flipped: the loss is the NEGATIVE clipped surrogate": -GRPO_VALUE,
        },
    )


def test_grpo_loss_bnpo_aggregation_weighs_tokens_equally():
    logp, old_logp, advantages, mask = running_example()
    check_close(
        ex.grpo_loss(logp, old_logp, None, advantages, mask, clip_eps=0.2, loss_type="bnpo"),
        BNPO_VALUE,
        f"{WHAT}, the 'bnpo' loss (sum over all completion tokens / their number)",
        mistakes={
            "that is the 'grpo' value: for 'bnpo', every token of the batch weighs the same": GRPO_VALUE,
            "the padding token was counted: apply the mask": (-6.2 + 1.9 + 2.0) / 6,
        },
    )


def test_grpo_loss_k3_penalty():
    # beta 0.1; the reference differs from the policy on one token only: ref - logp = 1 at row 1, token 0
    # k3 = e^1 - 1 - 1 = 0.7183, so row 1's sum becomes 1.9 + 0.1 * 0.7183
    logp, old_logp, advantages, mask = running_example()
    ref_logp = logp.detach().clone()
    ref_logp[1, 0] += 1.0
    k3 = math.e - 2
    check_close(
        ex.grpo_loss(logp, old_logp, ref_logp, advantages, mask, clip_eps=0.2, beta=0.1, loss_type="grpo"),
        (-6.2 / 3 + (1.9 + 0.1 * k3) / 2) / 2,
        f"{WHAT}, beta 0.1 and ref_logp - logp = 1 on the first token of completion 2, the 'grpo' loss",
        mistakes={
            "k3 uses log r = ref_logp - logp (r = ref / pi), not logp - ref_logp":
                (-6.2 / 3 + (1.9 + 0.1 * math.exp(-1)) / 2) / 2,
            "that is k1 (logp - ref_logp); GRPO uses k3 = e^(ref - logp) - (ref - logp) - 1":
                (-6.2 / 3 + (1.9 - 0.1) / 2) / 2,
            "the KL penalty is ADDED to the loss: staying close to the reference is rewarded":
                (-6.2 / 3 + (1.9 - 0.1 * k3) / 2) / 2,
        },
    )


def test_grpo_pitfall_old_logp_not_detached():
    # old_logp is the very tensor logp (first epoch): with the detach, ratio = 1 and
    # d loss / d logp = -A_i / |o_i| / N: row 0 (A = 1, 2 tokens) -1/4, row 1 (A = -1, 1 token) +1/2
    base = t([-1.0, -2.0], [-0.5, -1.5]).requires_grad_()
    logp = base * 1.0
    advantages = torch.tensor([1.0, -1.0], dtype=torch.float64)
    ex.grpo_loss(logp, logp, None, advantages, t([1.0, 1.0], [1.0, 0.0]), loss_type="grpo").backward()
    check_grad(
        base,
        [[-0.25, -0.25], [0.5, 0.0]],
        "when old_logp is the very tensor logp (first epoch), with advantages [1, -1] and 2 and 1 tokens, "
        "the gradient of the 'grpo' loss with respect to logp",
        mistakes={
            "old_logp is a constant of the rollout: use old_logp.detach() in the ratio, otherwise "
            "logp - old_logp has no gradient": [[0.0, 0.0], [0.0, 0.0]],
            "that is the gradient of the 'bnpo' aggregation: 'grpo' averages each completion over "
            "its own tokens first": [[-1 / 3, -1 / 3], [1 / 3, 0.0]],
        },
    )


def test_grpo_loss_rejects_unknown_loss_type():
    logp, old_logp, advantages, mask = running_example()
    check_raises_value_error(
        lambda: ex.grpo_loss(logp, old_logp, None, advantages, mask, loss_type="grpo_plus"),
        "grpo_loss with loss_type='grpo_plus'",
    )
