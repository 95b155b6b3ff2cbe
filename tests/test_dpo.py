"""DPO and its variants on hand-worked pairs.

The running example (beta = 0.1, log-probs summed over the response):
    policy chosen -5, policy rejected -7, reference chosen -6, reference rejected -6
    delta = (-5 - -6) - (-7 - -6) = 1 - (-1) = 2,   beta * delta = 0.2
"""

import math

import pytest
import torch

from minialign.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_metrics

BETA = 0.1


def running_example(requires_grad: bool = False) -> tuple[torch.Tensor, ...]:
    values = (-5.0, -7.0, -6.0, -6.0)  # policy chosen, policy rejected, ref chosen, ref rejected
    return tuple(torch.tensor([v], dtype=torch.float64, requires_grad=requires_grad) for v in values)


def neg_log_sigmoid(z: float) -> float:
    """-log sigmoid(z) = log(1 + e^-z), in plain Python."""
    return math.log1p(math.exp(-z))


def test_loss_types_exported():
    assert set(DPO_LOSS_TYPES) == {"sigmoid", "ipo", "hinge", "robust"}


def test_sigmoid_loss_hand_value():
    losses, _, _ = dpo_loss(*running_example(), beta=BETA)
    # -log sigmoid(0.2) = log(1 + e^-0.2) = 0.598139
    assert losses.shape == (1,)
    assert losses.item() == pytest.approx(neg_log_sigmoid(0.2), abs=1e-12)
    assert losses.item() == pytest.approx(0.598139, abs=1e-6)


def test_sigmoid_loss_with_zero_label_smoothing_is_plain_sigmoid():
    # several pairs, beta = 0.5: loss_i = log(1 + exp(-0.5 * delta_i))
    pc = torch.tensor([-3.0, -10.0, -1.0], dtype=torch.float64)
    pr = torch.tensor([-4.0, -2.0, -1.0], dtype=torch.float64)
    rc = torch.tensor([-3.5, -9.0, -2.0], dtype=torch.float64)
    rr = torch.tensor([-3.0, -3.0, -0.5], dtype=torch.float64)
    # delta = (0.5 - -1.0, -1.0 - 1.0, 1.0 - -0.5) = (1.5, -2.0, 1.5)
    expected = [neg_log_sigmoid(0.5 * d) for d in (1.5, -2.0, 1.5)]
    losses, _, _ = dpo_loss(pc, pr, rc, rr, beta=0.5, label_smoothing=0.0)
    assert losses.tolist() == pytest.approx(expected, abs=1e-12)


def test_conservative_dpo_label_smoothing_hand_value():
    losses, _, _ = dpo_loss(*running_example(), beta=BETA, label_smoothing=0.1)
    # 0.9 * log(1 + e^-0.2) + 0.1 * log(1 + e^0.2) = 0.9 * 0.598139 + 0.1 * 0.798139 = 0.618139
    expected = 0.9 * neg_log_sigmoid(0.2) + 0.1 * neg_log_sigmoid(-0.2)
    assert losses.item() == pytest.approx(expected, abs=1e-12)
    assert losses.item() == pytest.approx(0.618139, abs=1e-6)


def test_ipo_loss_hand_value_on_average_logps():
    # per-token averages: delta = (-0.5 - -0.6) - (-0.9 - -0.6) = 0.1 + 0.3 = 0.4
    # beta = 0.5 -> target 1 / (2 * 0.5) = 1; loss = (0.4 - 1)^2 = 0.36
    pc, pr, rc, rr = (torch.tensor([v], dtype=torch.float64) for v in (-0.5, -0.9, -0.6, -0.6))
    losses, _, _ = dpo_loss(pc, pr, rc, rr, beta=0.5, loss_type="ipo")
    assert losses.item() == pytest.approx(0.36, abs=1e-12)


def test_ipo_loss_target_is_one_over_two_beta_not_zero():
    # running example, beta = 0.1: target 5, loss = (2 - 5)^2 = 9. Even a pair already
    # ranked correctly is pulled towards the target margin: IPO is a regression, not a classifier.
    losses, _, _ = dpo_loss(*running_example(), beta=BETA, loss_type="ipo")
    assert losses.item() == pytest.approx(9.0, abs=1e-12)


def test_hinge_loss_hand_value_and_zero_past_the_margin():
    # row 0: delta = 2, relu(1 - 0.2) = 0.8
    # row 1: policy rejected -25 -> delta = 1 - (-19) = 20, relu(1 - 2) = 0
    pc = torch.tensor([-5.0, -5.0], dtype=torch.float64)
    pr = torch.tensor([-7.0, -25.0], dtype=torch.float64)
    ref = torch.tensor([-6.0, -6.0], dtype=torch.float64)
    losses, _, _ = dpo_loss(pc, pr, ref, ref.clone(), beta=BETA, loss_type="hinge")
    assert losses.tolist() == pytest.approx([0.8, 0.0], abs=1e-12)


def test_robust_loss_hand_value():
    losses, _, _ = dpo_loss(*running_example(), beta=BETA, loss_type="robust", label_smoothing=0.1)
    # (0.9 * log(1 + e^-0.2) - 0.1 * log(1 + e^0.2)) / (1 - 0.2)
    # = (0.538325 - 0.079814) / 0.8 = 0.573139
    expected = (0.9 * neg_log_sigmoid(0.2) - 0.1 * neg_log_sigmoid(-0.2)) / 0.8
    assert losses.item() == pytest.approx(expected, abs=1e-12)
    assert losses.item() == pytest.approx(0.573139, abs=1e-6)


def test_robust_loss_differs_from_conservative_dpo_sign_of_flipped_term():
    # cDPO adds the flipped-label term, robust DPO subtracts it (and rescales): 0.618 vs 0.573
    robust, _, _ = dpo_loss(*running_example(), beta=BETA, loss_type="robust", label_smoothing=0.1)
    cdpo, _, _ = dpo_loss(*running_example(), beta=BETA, loss_type="sigmoid", label_smoothing=0.1)
    assert abs(robust.item() - cdpo.item()) > 0.04


def test_robust_loss_at_zero_eps_reduces_to_sigmoid():
    g = torch.Generator().manual_seed(0)
    inputs = [-10 * torch.rand(5, generator=g, dtype=torch.float64) for _ in range(4)]
    robust, _, _ = dpo_loss(*inputs, beta=0.3, loss_type="robust", label_smoothing=0.0)
    sigmoid, _, _ = dpo_loss(*inputs, beta=0.3, loss_type="sigmoid")
    torch.testing.assert_close(robust, sigmoid)


def test_rewards_are_beta_times_log_ratio_and_detached():
    pc, pr, rc, rr = running_example(requires_grad=True)
    _, chosen_rewards, rejected_rewards = dpo_loss(pc, pr, rc, rr, beta=BETA)
    # chosen 0.1 * (-5 - -6) = 0.1; rejected 0.1 * (-7 - -6) = -0.1
    assert chosen_rewards.item() == pytest.approx(0.1, abs=1e-12)
    assert rejected_rewards.item() == pytest.approx(-0.1, abs=1e-12)
    # metrics must not keep the graph alive or receive gradient
    assert not chosen_rewards.requires_grad
    assert not rejected_rewards.requires_grad


def test_gradient_sign_raising_chosen_logp_lowers_sigmoid_loss():
    pc, pr, rc, rr = running_example(requires_grad=True)
    losses, _, _ = dpo_loss(pc, pr, rc, rr, beta=BETA)
    losses.sum().backward()
    # d loss / d pc = -beta * sigmoid(-beta * delta) = -0.1 * sigmoid(-0.2) = -0.0450166
    assert pc.grad.item() < 0
    assert pr.grad.item() > 0
    assert pc.grad.item() == pytest.approx(-0.1 / (1 + math.exp(0.2)), abs=1e-12)


def test_no_gradient_flows_into_reference_logps_reference_not_frozen_pitfall():
    pc, pr, rc, rr = running_example(requires_grad=True)
    losses, _, _ = dpo_loss(pc, pr, rc, rr, beta=BETA)
    losses.sum().backward()
    assert rc.grad is None and rr.grad is None
    assert pc.grad is not None


def test_swapping_chosen_and_rejected_negates_delta():
    pc, pr, rc, rr = running_example()
    losses, chosen_rewards, rejected_rewards = dpo_loss(pr, pc, rr, rc, beta=BETA)
    # delta = -2: -log sigmoid(-0.2) = log(1 + e^0.2) = 0.798139
    assert losses.item() == pytest.approx(neg_log_sigmoid(-0.2), abs=1e-12)
    assert losses.item() == pytest.approx(0.798139, abs=1e-6)
    assert chosen_rewards.item() == pytest.approx(-0.1, abs=1e-12)
    assert rejected_rewards.item() == pytest.approx(0.1, abs=1e-12)


def test_sigmoid_loss_subtracts_reference_logps_kl_sign_pitfall():
    # The reference prefers chosen more than the policy does:
    #   policy chosen -5, rejected -7; reference chosen -4, rejected -8
    #   right: delta = (-5 - -4) - (-7 - -8) = -1 - 1 = -2 -> log(1 + e^0.2)  = 0.798139
    #   ref added by mistake: (-5 + -4) - (-7 + -8) = 6   -> log(1 + e^-0.6) = 0.437488
    #   ref ignored:         -5 - -7 = 2                  -> log(1 + e^-0.2) = 0.598139
    # Although the policy ranks chosen first, it has moved towards rejected relative to the
    # reference, so the loss is above log 2.
    pc, pr, rc, rr = (torch.tensor([v], dtype=torch.float64) for v in (-5.0, -7.0, -4.0, -8.0))
    losses, chosen_rewards, rejected_rewards = dpo_loss(pc, pr, rc, rr, beta=BETA)
    assert losses.item() == pytest.approx(neg_log_sigmoid(-0.2), abs=1e-12)
    assert losses.item() > math.log(2)
    assert chosen_rewards.item() == pytest.approx(-0.1, abs=1e-12)
    assert rejected_rewards.item() == pytest.approx(0.1, abs=1e-12)


def test_shape_mismatch_error_names_argument():
    good = torch.zeros(2)
    with pytest.raises(ValueError, match=r"ref_rejected_logps.*shape"):
        dpo_loss(good, good, good, torch.zeros(3))
    with pytest.raises(ValueError, match=r"policy_chosen_logps.*shape"):
        dpo_loss(torch.zeros(2, 1), good, good, good)  # (B, 1) is not (B,)
    with pytest.raises(ValueError, match=r"policy_rejected_logps.*shape"):
        dpo_loss(good, torch.zeros(()), good, good)


def test_unknown_loss_type_lists_valid_ones():
    x = torch.zeros(2)
    with pytest.raises(ValueError) as info:
        dpo_loss(x, x, x, x, loss_type="kto")
    for name in DPO_LOSS_TYPES:
        assert name in str(info.value)


@pytest.mark.parametrize("beta", [0.0, -0.1])
def test_beta_must_be_positive(beta):
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(x, x, x, x, beta=beta)


@pytest.mark.parametrize("label_smoothing", [-0.1, 0.5, 0.7])
def test_label_smoothing_must_be_in_zero_to_half(label_smoothing):
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(x, x, x, x, loss_type="robust", label_smoothing=label_smoothing)


@pytest.mark.parametrize("loss_type", ["ipo", "hinge"])
def test_label_smoothing_rejected_where_it_has_no_meaning(loss_type):
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(x, x, x, x, loss_type=loss_type, label_smoothing=0.1)


def test_sigmoid_loss_stable_for_large_margins():
    # beta * delta = -1000: log sigmoid underflows if computed as log(sigmoid(.)); the exact
    # loss is log(1 + e^1000) = 1000 (to float precision); +1000 gives log(1 + e^-1000) = 0
    pc = torch.tensor([-10000.0, 0.0])
    pr = torch.tensor([0.0, -10000.0])
    ref = torch.zeros(2)
    losses, _, _ = dpo_loss(pc, pr, ref, ref, beta=BETA)
    assert losses.tolist() == pytest.approx([1000.0, 0.0], abs=1e-3)


def test_dpo_metrics_hand_values_and_a_tie_counts_half():
    chosen = torch.tensor([0.3, -0.1, 0.2])
    rejected = torch.tensor([0.1, 0.2, 0.2])
    metrics = dpo_metrics(chosen, rejected)
    # wins: yes, no, tie (1/2) -> 1.5/3; margins 0.2, -0.3, 0.0 -> mean -0.1/3
    assert metrics["rewards/accuracy"] == pytest.approx(0.5)
    assert metrics["rewards/margin"] == pytest.approx(-0.1 / 3, abs=1e-6)
    assert metrics["rewards/chosen"] == pytest.approx(0.4 / 3, abs=1e-6)
    assert metrics["rewards/rejected"] == pytest.approx(0.5 / 3, abs=1e-6)
    assert all(isinstance(v, float) for v in metrics.values())


def test_dpo_metrics_shape_mismatch():
    with pytest.raises(ValueError, match=r"rejected_rewards.*shape"):
        dpo_metrics(torch.zeros(2), torch.zeros(3))
