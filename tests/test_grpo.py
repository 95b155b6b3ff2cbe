"""GRPO's pure functions on hand-worked tensors: group-relative advantages (GRPO, Dr. GRPO)
and the clipped surrogate with its three loss aggregations."""

import math

import pytest
import torch

from minialign.grpo import group_advantages, grpo_loss


def t(*rows):
    """A float tensor from nested lists, to keep the hand-made examples short."""
    return torch.tensor(rows, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# Group-relative advantages


def test_group_advantages_group_scale_hand_values():
    # groups [1, 0] and [0, 1]: mean 0.5, unbiased std sqrt((0.25 + 0.25) / 1) = 0.70711
    adv = group_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), group_size=2)
    a = 0.5 / (math.sqrt(0.5) + 1e-4)
    torch.testing.assert_close(adv, torch.tensor([a, -a, -a, a]))


def test_group_advantages_batch_scale_uses_one_std_for_all_groups():
    # groups [1, 0] and [0, 0]; centred: 0.5, -0.5, 0, 0
    # batch std of [1, 0, 0, 0] (unbiased): mean 0.25, ((0.75)^2 + 3 * 0.25^2) / 3 = 0.25 -> 0.5
    adv = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), group_size=2, scale="batch")
    a = 0.5 / (0.5 + 1e-4)
    torch.testing.assert_close(adv, torch.tensor([a, -a, 0.0, 0.0]))


def test_group_advantages_none_scale_only_centres_dr_grpo():
    adv = group_advantages(torch.tensor([3.0, 1.0, 2.0, 2.0]), group_size=2, scale="none")
    torch.testing.assert_close(adv, torch.tensor([1.0, -1.0, 0.0, 0.0]))


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_zero_spread_group_gives_exact_zeros_not_nan(scale):
    # In float32 the mean of six 0.3s is not exactly 0.3 (off by ~3e-8), and the group std is
    # ~3e-8 instead of 0: a naive (r - mean) / (std + eps) gives about +-1 with eps = 0, and
    # NaN for an exact-zero spread. An all-equal group carries no signal: exactly 0.
    rewards = torch.tensor([0.3] * 6 + [1.0] * 6)
    adv = group_advantages(rewards, group_size=6, scale=scale, eps=0.0)
    assert torch.equal(adv, torch.zeros(12))


def test_group_advantages_group_size_1_gives_zeros_not_nan():
    # torch.std of a single sample is NaN (unbiased: divides by n - 1 = 0)
    adv = group_advantages(torch.tensor([0.0, 1.0, 5.0]), group_size=1)
    assert torch.equal(adv, torch.zeros(3))


def test_group_advantages_groups_are_consecutive_rows():
    # [1, 1, 0, 0] in groups of 2 is two zero-spread groups; interleaved groups would not be
    adv = group_advantages(torch.tensor([1.0, 1.0, 0.0, 0.0]), group_size=2)
    assert torch.equal(adv, torch.zeros(4))


def test_group_advantages_size_not_divisible_raises_naming_both():
    with pytest.raises(ValueError, match=r"N=5.*group_size=2"):
        group_advantages(torch.zeros(5), group_size=2)


def test_group_advantages_unknown_scale_raises():
    with pytest.raises(ValueError, match="scale"):
        group_advantages(torch.zeros(4), group_size=2, scale="max")


# ---------------------------------------------------------------------------------------------
# Loss aggregations, on one 2 x 3 example with unequal lengths
#
# ratio = 1 everywhere (old_logp = logp), beta = 0, so per_token_loss = -A:
#   row 0: A = +1, 3 tokens    -> per-token loss -1, -1, -1
#   row 1: A = -2, 1 token     ->                 2  (then 2 padding tokens)
# grpo:    mean(-3/3, 2/1)   = mean(-1, 2) = 0.5
# bnpo:    (-3 + 2) / 4      = -0.25
# dr_grpo: (-3 + 2) / (2 * L)  = -1/6 for L = 3


def _aggregation_example(loss_type, max_completion_length=None):
    logp = t([-1.0, -2.0, -0.5], [-1.5, -9.0, -9.0])
    advantages = torch.tensor([1.0, -2.0])
    mask = t([1, 1, 1], [1, 0, 0])
    loss, _ = grpo_loss(
        logp, logp.clone(), None, advantages, mask,
        loss_type=loss_type, max_completion_length=max_completion_length,
    )
    return loss.item()


def test_grpo_aggregation_mean_of_per_sequence_means():
    assert _aggregation_example("grpo") == pytest.approx(0.5)


def test_bnpo_aggregation_mean_over_all_tokens_differs_from_grpo():
    assert _aggregation_example("bnpo") == pytest.approx(-0.25)


def test_dr_grpo_aggregation_constant_normaliser():
    assert _aggregation_example("dr_grpo", max_completion_length=3) == pytest.approx(-1 / 6)
    # the normaliser is the constant N * L, not the number of tokens: L = 10 -> -1 / 20
    assert _aggregation_example("dr_grpo", max_completion_length=10) == pytest.approx(-1 / 20)


def test_dr_grpo_requires_max_completion_length():
    with pytest.raises(ValueError, match="max_completion_length"):
        _aggregation_example("dr_grpo")


def test_grpo_loss_unknown_loss_type_raises():
    with pytest.raises(ValueError, match="loss_type"):
        _aggregation_example("sum")


# ---------------------------------------------------------------------------------------------
# KL penalty


def test_beta_adds_k3_of_policy_against_reference():
    # A = 0: only the penalty is left. log r = ref - logp = -2 - (-1) = -1:
    # k3 = e^-1 - (-1) - 1 = e^-1 = 0.36788; loss = beta * k3 = 0.1 * 0.36788.
    # (k3 with the arguments swapped would be e - 2 = 0.71828.)
    # d/dlogp beta * k3 = beta * (1 - e^(ref - logp)) = 0.1 * (1 - e^-1); ref gets no gradient.
    logp = t([-1.0]).requires_grad_()
    ref_logp = t([-2.0]).requires_grad_()
    loss, stats = grpo_loss(logp, logp.detach().clone(), ref_logp, torch.zeros(1), torch.ones(1, 1), beta=0.1)
    loss.backward()
    assert loss.item() == pytest.approx(0.1 * math.exp(-1))
    assert stats["kl"] == pytest.approx(math.exp(-1))
    assert logp.grad.item() == pytest.approx(0.1 * (1 - math.exp(-1)))
    assert ref_logp.grad is None


def test_beta_without_reference_raises():
    with pytest.raises(ValueError, match="ref_logp"):
        grpo_loss(torch.zeros(1, 1), torch.zeros(1, 1), None, torch.zeros(1), torch.ones(1, 1), beta=0.1)


# ---------------------------------------------------------------------------------------------
# Clipping


def _clip_example(clip_eps_high):
    # row 0: A = +1, ratio 1.25; row 1: A = -1, ratio 0.7; row 2: A = +1, ratio 0.5; one token each
    ratios = t([1.25], [0.7], [0.5])
    advantages = torch.tensor([1.0, -1.0, 1.0])
    return grpo_loss(
        ratios.log(), torch.zeros(3, 1), None, advantages, torch.ones(3, 1),
        clip_eps=0.2, clip_eps_high=clip_eps_high,
    )


def test_clip_symmetric_by_default():
    # row 0: -min(1.25, 1.2) = -1.2 (clipped high); row 1: -min(-0.7, -0.8) = 0.8 (clipped low);
    # row 2: -min(0.5, 0.8) = -0.5 (pessimistic: the unclipped term, ratio below 1 - eps with A > 0)
    loss, stats = _clip_example(clip_eps_high=None)
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 0.5) / 3)
    assert stats["clipfrac_high"] == pytest.approx(1 / 3)
    assert stats["clipfrac_low"] == pytest.approx(1 / 3)
    assert stats["clipfrac"] == pytest.approx(2 / 3)
    assert stats["ratio_mean"] == pytest.approx((1.25 + 0.7 + 0.5) / 3)


def test_clip_eps_high_widens_only_the_upper_bound():
    # DAPO clip-higher: 1.25 < 1.28 is no longer clipped (-1.25); the lower bound stays 0.8
    loss, stats = _clip_example(clip_eps_high=0.28)
    assert loss.item() == pytest.approx((-1.25 + 0.8 - 0.5) / 3)
    assert stats["clipfrac_high"] == 0.0
    assert stats["clipfrac_low"] == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------------------
# Detaching the rollout's constants


def test_grpo_old_logprobs_detached_gradient_wrt_logp():
    # Pitfall: without old_logp.detach(), old_logp = logp makes ratio = 1 a constant and the
    # gradient 0. Detached, "grpo" aggregation of -A * ratio over 2 tokens, 1 row:
    # d/dlogp_t = -A * ratio / 2 = -2 / 2 = -1 for each token.
    logp = t([-1.0, -3.0]).requires_grad_()
    loss, _ = grpo_loss(logp, logp, None, torch.tensor([2.0]), torch.ones(1, 2))
    loss.backward()
    torch.testing.assert_close(logp.grad, t([-1.0, -1.0]))


def test_grpo_old_logprobs_and_advantages_get_no_gradient():
    logp = t([-1.0, -3.0]).requires_grad_()
    old_logp = t([-1.1, -2.9]).requires_grad_()
    advantages = torch.tensor([2.0], requires_grad=True)
    loss, _ = grpo_loss(logp, old_logp, None, advantages, torch.ones(1, 2))
    loss.backward()
    assert old_logp.grad is None
    assert advantages.grad is None


# ---------------------------------------------------------------------------------------------
# Shapes


def test_grpo_loss_per_token_advantages_rejected():
    with pytest.raises(ValueError, match=r"advantages.*\(N,\)"):
        grpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, torch.zeros(2, 3), torch.ones(2, 3))


def test_grpo_loss_mask_shape_mismatch_names_argument():
    with pytest.raises(ValueError, match="mask"):
        grpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, torch.zeros(2), torch.ones(2, 4))
