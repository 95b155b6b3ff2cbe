"""ORPO: the stable log(1 - e^x), log odds ratios on average log-probs, and the loss.

Expected values come from plain Python, independently of the torch code:
    log1mexp(x) = ln(1 - e^x) evaluated with 50-digit `decimal` arithmetic (no cancellation)
    log odds(p) = p - log1mexp(p)
"""

import math
from decimal import Decimal, localcontext

import pytest
import torch

from minialign.orpo import log1mexp, orpo_log_odds, orpo_loss


def py_log1mexp(x: float) -> float:
    # 50 significant digits: 1 - e^x keeps ~40 of them even at x = -1e-10, and ln(1 - 2e-9)
    # keeps its relative accuracy at x = -20 (where math.log(-math.expm1(x)) loses 8 digits)
    with localcontext() as ctx:
        ctx.prec = 50
        return float((1 - Decimal(x).exp()).ln())


def py_log_odds(p: float) -> float:
    return p - py_log1mexp(p)


def f64(value: float) -> torch.Tensor:
    """A batch of one, in float64."""
    return torch.tensor([value], dtype=torch.float64)


def neg_log_sigmoid(z: float) -> float:
    return math.log1p(math.exp(-z))


POINTS = [-1e-10, -1e-3, -0.5, -20.0, -1000.0]


@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_log1mexp_accurate_across_range(dtype, rel):
    # log1mexp(-1e-10) = log(1e-10) = -23.0259 (1 - e^x cancels to 0 in float32 when done naively)
    # log1mexp(-20) = log(1 - 2.06e-9) = -2.06e-9 (relative accuracy needs log1p)
    # log1mexp(-1000) = -e^-1000 = 0 to double precision
    out = log1mexp(torch.tensor(POINTS, dtype=dtype))
    assert torch.isfinite(out).all()
    for got, x in zip(out.tolist(), POINTS):
        assert got == pytest.approx(py_log1mexp(x), rel=rel, abs=1e-30)


@pytest.mark.parametrize("x", [-1e-8, -100.0, -1e4])
def test_log1mexp_finite_at_both_ends(x):
    for dtype in (torch.float32, torch.float64):
        assert torch.isfinite(log1mexp(torch.tensor([x], dtype=dtype))).all()


def test_log1mexp_of_zero_is_minus_inf():
    # P = 1: the complement has probability 0
    assert log1mexp(torch.tensor([0.0])).item() == -math.inf


def test_log1mexp_rejects_positive_input():
    with pytest.raises(ValueError, match="<= 0"):
        log1mexp(torch.tensor([-0.5, 1e-3]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log1mexp_gradient_finite_no_nan_from_unused_where_branch(dtype):
    # d/dx log(1 - e^x) = -e^x / (1 - e^x) = -1 / expm1(-x). At x = -1e-10 in float32 the
    # log1p(-exp(x)) branch is log1p(-1) = -inf; unclamped, its 0 * inf gradient is NaN.
    x = torch.tensor([-1e-10, -1e-3, -0.5, -20.0, -1e4], dtype=dtype, requires_grad=True)
    log1mexp(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    for got, value in zip(x.grad.tolist()[:4], [-1e-10, -1e-3, -0.5, -20.0]):
        assert got == pytest.approx(-1 / math.expm1(-value), rel=1e-5)


def test_orpo_log_odds_hand_values():
    # row 0: log odds(-0.1) = -0.1 - log(1 - e^-0.1) = -0.1 + 2.352168 = 2.252168
    #        log odds(-0.5) = -0.5 - log(1 - e^-0.5) = -0.5 + 0.932752 = 0.432752 -> 1.819416
    # row 1: log odds(-2.0) = -2 - log(1 - e^-2) = -2 + 0.145413 = -1.854587
    #        log odds(-1.0) = -1 - log(1 - e^-1) = -1 + 0.458675 = -0.541325    -> -1.313262
    chosen = torch.tensor([-0.1, -2.0], dtype=torch.float64)
    rejected = torch.tensor([-0.5, -1.0], dtype=torch.float64)
    log_odds = orpo_log_odds(chosen, rejected)
    expected = [py_log_odds(-0.1) - py_log_odds(-0.5), py_log_odds(-2.0) - py_log_odds(-1.0)]
    assert log_odds.tolist() == pytest.approx(expected, abs=1e-12)
    assert log_odds.tolist() == pytest.approx([1.819416, -1.313262], abs=1e-6)


def test_orpo_log_odds_expects_average_not_summed_logps_pitfall():
    # A 10-token response with -0.1 per token (chosen) vs -0.5 per token (rejected).
    # On averages the log odds ratio is 1.819416 (above). Passing sums (-1, -5) instead gives
    #   log odds(-1) - log odds(-5) = -0.541325 - (-4.993239) = 4.451914,
    # a different loss: the function cannot tell sums from averages, the caller must average.
    averages = orpo_log_odds(f64(-0.1), f64(-0.5))
    sums = orpo_log_odds(f64(-1.0), f64(-5.0))
    assert averages.item() == pytest.approx(py_log_odds(-0.1) - py_log_odds(-0.5), abs=1e-12)
    assert sums.item() == pytest.approx(py_log_odds(-1.0) - py_log_odds(-5.0), abs=1e-12)
    assert sums.item() == pytest.approx(4.451914, abs=1e-6)
    assert abs(sums.item() - averages.item()) > 2


def test_orpo_log_odds_with_summed_logps_depends_on_length():
    # Same per-token quality, 10 vs 20 tokens: sums (-1, -5) vs (-2, -10) give 4.45 vs 8.15,
    # averages give 1.819416 for both lengths. Only averages make long and short pairs comparable.
    ten = orpo_log_odds(f64(-1.0), f64(-5.0))
    twenty = orpo_log_odds(f64(-2.0), f64(-10.0))
    assert twenty.item() == pytest.approx(py_log_odds(-2.0) - py_log_odds(-10.0), abs=1e-12)
    assert twenty.item() - ten.item() > 3


def test_orpo_log_odds_finite_when_model_is_certain():
    # average log-prob exactly 0 (every token has probability 1.0 in float32): the odds are
    # infinite in exact arithmetic; the loss and its gradient must stay finite for training
    chosen = torch.tensor([0.0, -0.5], requires_grad=True)
    rejected = torch.tensor([-0.5, 0.0], requires_grad=True)
    log_odds = orpo_log_odds(chosen, rejected)
    assert torch.isfinite(log_odds).all()
    assert log_odds[0].item() > 10 and log_odds[1].item() < -10
    loss, _ = orpo_loss(-chosen.detach(), chosen, rejected)
    loss.backward()
    assert torch.isfinite(chosen.grad).all() and torch.isfinite(rejected.grad).all()


def test_orpo_log_odds_rejects_positive_logps_naming_argument():
    with pytest.raises(ValueError, match="rejected_avg_logps"):
        orpo_log_odds(torch.tensor([-0.1]), torch.tensor([0.2]))


def test_orpo_log_odds_shape_mismatch():
    with pytest.raises(ValueError, match=r"rejected_avg_logps.*shape"):
        orpo_log_odds(torch.tensor([-0.1, -0.2]), torch.tensor([-0.1]))
    with pytest.raises(ValueError, match=r"chosen_avg_logps.*shape"):
        orpo_log_odds(torch.tensor([[-0.1, -0.2]]), torch.tensor([-0.1, -0.2]))


def test_orpo_loss_hand_value_and_metrics():
    # log odds ratios 1.819416 and -1.313262 (hand values above)
    # OR losses: log(1 + e^-1.819416) = 0.150246, log(1 + e^1.313262) = 1.551445 -> mean 0.850845
    # NLL mean (0.1 + 2.0) / 2 = 1.05; loss = 1.05 + 0.1 * 0.850845 = 1.135085
    chosen = torch.tensor([-0.1, -2.0], dtype=torch.float64)
    rejected = torch.tensor([-0.5, -1.0], dtype=torch.float64)
    chosen_nll = -chosen
    z0 = py_log_odds(-0.1) - py_log_odds(-0.5)
    z1 = py_log_odds(-2.0) - py_log_odds(-1.0)
    or_loss = (neg_log_sigmoid(z0) + neg_log_sigmoid(z1)) / 2
    loss, metrics = orpo_loss(chosen_nll, chosen, rejected, lam=0.1)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(1.05 + 0.1 * or_loss, abs=1e-12)
    assert loss.item() == pytest.approx(1.135085, abs=1e-6)
    assert metrics["nll"] == pytest.approx(1.05, abs=1e-12)
    assert metrics["or_loss"] == pytest.approx(or_loss, abs=1e-12)
    assert metrics["log_odds"] == pytest.approx((z0 + z1) / 2, abs=1e-12)
    assert metrics["odds_ratio_accuracy"] == pytest.approx(0.5)
    assert all(isinstance(v, float) for v in metrics.values())


def test_orpo_loss_with_zero_lam_is_plain_sft():
    chosen = torch.tensor([-0.1, -2.0])
    loss, _ = orpo_loss(torch.tensor([0.3, 0.7]), chosen, torch.tensor([-0.5, -1.0]), lam=0.0)
    assert loss.item() == pytest.approx(0.5)


def test_orpo_gradient_sign_raises_chosen_lowers_rejected():
    chosen = torch.tensor([-0.5, -1.5], dtype=torch.float64, requires_grad=True)
    rejected = torch.tensor([-0.7, -0.4], dtype=torch.float64, requires_grad=True)
    loss, _ = orpo_loss(torch.zeros(2, dtype=torch.float64), chosen, rejected, lam=1.0)
    loss.backward()
    # the NLL input is a constant here, so the gradient is the odds-ratio term alone
    assert (chosen.grad < 0).all()
    assert (rejected.grad > 0).all()


def test_orpo_loss_validates_lam_and_shapes():
    x = torch.tensor([-0.1, -0.2])
    with pytest.raises(ValueError, match="lam"):
        orpo_loss(-x, x, x, lam=-0.1)
    with pytest.raises(ValueError, match=r"rejected_avg_logps.*shape"):
        orpo_loss(-x, x, torch.tensor([-0.1]))
