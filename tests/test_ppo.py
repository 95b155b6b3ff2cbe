"""PPO's pure functions on hand-worked tensors: KL estimators, per-token rewards, GAE,
whitening, the clipped policy and value losses, the KL controllers."""

import math

import pytest
import torch

from minialign.kl_penalty import AdaptiveKLController, FixedKLController, per_token_rewards, shape_scores
from minialign.logprobs import kl_estimate
from minialign.ppo import compute_gae, ppo_policy_loss, ppo_value_loss, whiten_advantages


def t(*rows):
    """A float tensor from nested lists, to keep the hand-made examples short."""
    return torch.tensor(rows, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# KL estimators


def test_kl_k1_sign_is_logp_minus_ref():
    # pi gives the token e^-1, ref gives it e^-2: pi is more confident, KL contribution > 0.
    # The pitfall ref - logp would give -1.
    assert kl_estimate(t([-1.0]), t([-2.0]), "k1").item() == pytest.approx(1.0)


def test_kl_k2_and_k3_hand_values():
    logp, ref = t([-1.0]), t([-2.0])
    assert kl_estimate(logp, ref, "k2").item() == pytest.approx(0.5)  # 0.5 * 1^2
    # log r = ref - logp = -1: e^-1 - (-1) - 1 = e^-1; swapping the arguments would give e - 2
    assert kl_estimate(logp, ref, "k3").item() == pytest.approx(math.exp(-1))


def test_kl_k3_is_nonnegative_on_random_inputs():
    g = torch.Generator().manual_seed(0)
    logp = -3 * torch.rand(64, 16, generator=g)
    ref = -3 * torch.rand(64, 16, generator=g)
    assert (kl_estimate(logp, ref, "k3") >= 0).all()


@pytest.mark.parametrize("kind", ["k1", "k2", "k3"])
def test_kl_is_zero_when_policy_equals_reference(kind):
    logp = t([-0.5, -1.5, -4.0])
    assert torch.equal(kl_estimate(logp, logp.clone(), kind), torch.zeros(1, 3))


def test_kl_k1_and_k3_expectations_under_pi_equal_exact_kl():
    # pi = (1/2, 1/2), ref = (1/4, 3/4) over two tokens:
    # KL(pi || ref) = 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75) = 0.5 ln 2 + 0.5 ln(2/3)
    pi = torch.tensor([0.5, 0.5])
    ref = torch.tensor([0.25, 0.75])
    exact = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    for kind in ("k1", "k3"):
        expectation = (pi * kl_estimate(pi.log(), ref.log(), kind)).sum().item()
        assert expectation == pytest.approx(exact, rel=1e-5), kind


# The gradient each estimator passes on, computed exactly on a 5-token categorical pi = softmax(theta).
# The two targets are written out from the definitions, independently of kl_estimate.
PI_LOGITS = [0.9, 0.1, -0.2, -0.6, -1.1]
REF_PROBS = [0.1, 0.15, 0.2, 0.25, 0.3]


def _grad(fn) -> torch.Tensor:
    theta = torch.tensor(PI_LOGITS, requires_grad=True)
    fn(theta).backward()
    return theta.grad


def _grad_kl_pi_ref():
    ref = torch.tensor(REF_PROBS)
    return _grad(lambda th: (th.softmax(0) * (th.log_softmax(0) - ref.log())).sum())


def _grad_kl_ref_pi():
    ref = torch.tensor(REF_PROBS)
    return _grad(lambda th: (ref * (ref.log() - th.log_softmax(0))).sum())


def _score_function_gradient(kind):
    """E_pi[f(a) * grad log pi(a)] with f detached: how a per-token reward reaches the policy."""
    ref = torch.tensor(REF_PROBS)

    def objective(th):
        logp = th.log_softmax(0)
        f = kl_estimate(logp.detach(), ref.log(), kind)
        return (logp.exp().detach() * f * logp).sum()
    return _grad(objective)


def _loss_term_gradient(kind):
    """E_pi[grad f(a)], tokens sampled from pi: how a differentiated loss term (GRPO's) reaches it."""
    ref = torch.tensor(REF_PROBS)

    def objective(th):
        logp = th.log_softmax(0)
        return (logp.exp().detach() * kl_estimate(logp, ref.log(), kind)).sum()
    return _grad(objective)


def test_in_a_detached_reward_only_k1_has_the_gradient_of_kl_pi_ref():
    target = _grad_kl_pi_ref()
    assert torch.allclose(_score_function_gradient("k1"), target, atol=1e-6)
    for kind in ("k2", "k3"):
        gap = (_score_function_gradient(kind) - target).abs().max().item()
        assert gap > 1e-2, f"{kind} in a reward should not give grad KL(pi || ref) (gap {gap})"


def test_as_a_loss_term_k2_gives_kl_pi_ref_and_k3_gives_kl_ref_pi():
    assert torch.allclose(_loss_term_gradient("k2"), _grad_kl_pi_ref(), atol=1e-6)
    assert torch.allclose(_loss_term_gradient("k3"), _grad_kl_ref_pi(), atol=1e-6)
    assert (_grad_kl_pi_ref() - _grad_kl_ref_pi()).abs().max().item() > 1e-2  # the two really differ here


def test_ppo_reward_has_no_estimator_switch_and_uses_k1():
    from minialign.ppo import PPOConfig
    assert "kl_estimator" not in PPOConfig.__dataclass_fields__


def test_shape_scores_normalises_then_penalises_only_the_unfinished():
    scores = t(3.0, 1.0, 2.0)
    finished = torch.tensor([True, False, True])
    # (3 - 2)/0.5 = 2, (1 - 2)/0.5 - 1 = -3, (2 - 2)/0.5 = 0
    assert shape_scores(scores, finished, 2.0, 0.5, 1.0).tolist() == pytest.approx([2.0, -3.0, 0.0])
    assert shape_scores(scores, finished, 0.0, 1.0, 0.0).tolist() == pytest.approx([3.0, 1.0, 2.0])  # off


def test_shape_scores_rejects_a_mask_of_the_wrong_shape_or_type():
    with pytest.raises(ValueError, match="finished"):
        shape_scores(t(1.0, 2.0), torch.tensor([True]), 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="bool"):
        shape_scores(t(1.0, 2.0), t(1.0, 0.0), 0.0, 1.0, 1.0)


def test_kl_unknown_kind_raises():
    with pytest.raises(ValueError, match="kind"):
        kl_estimate(t([0.0]), t([0.0]), "k4")


# ---------------------------------------------------------------------------------------------
# Per-token rewards


def test_per_token_rewards_score_at_last_real_token_not_padding_not_T_minus_1():
    score = torch.tensor([2.0, 3.0])
    kl = t([0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8])
    mask = t([0, 1, 1, 0], [0, 1, 1, 1])  # row 0: response ends at t=2, then padding
    rewards = per_token_rewards(score, kl, mask, kl_coef=0.5)
    expected = t(
        [0.0, -0.1, -0.15 + 2.0, 0.0],  # score at t=2, nothing on the prompt or the padding
        [0.0, -0.3, -0.35, -0.4 + 3.0],  # full row: score at t=3
    )
    torch.testing.assert_close(rewards, expected)


def test_per_token_rewards_row_without_response_raises():
    with pytest.raises(ValueError, match="no response token"):
        per_token_rewards(torch.tensor([1.0, 1.0]), torch.zeros(2, 3), t([0, 1, 0], [0, 0, 0]), 0.1)


# ---------------------------------------------------------------------------------------------
# GAE


def test_gae_gamma_1_lam_1_is_reward_to_go_minus_value():
    rewards = t([1.0, 2.0, 3.0])
    values = t([0.5, 1.0, 1.5])
    advantages, returns = compute_gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=1.0)
    # reward-to-go: 6, 5, 3
    torch.testing.assert_close(advantages, t([6 - 0.5, 5 - 1.0, 3 - 1.5]))
    torch.testing.assert_close(returns, t([6.0, 5.0, 3.0]))


def test_gae_hand_computed_gamma_0_9_lam_0_8():
    rewards = t([0.0, 0.0, 1.0])
    values = t([0.5, 0.6, 0.7])
    # gamma * lam = 0.72
    # t=2: delta = 1 + 0 - 0.7 = 0.3                      A_2 = 0.3
    # t=1: delta = 0 + 0.9*0.7 - 0.6 = 0.03               A_1 = 0.03 + 0.72*0.3 = 0.246
    # t=0: delta = 0 + 0.9*0.6 - 0.5 = 0.04               A_0 = 0.04 + 0.72*0.246 = 0.21712
    # returns = A + V = 0.71712, 0.846, 1.0
    advantages, returns = compute_gae(rewards, values, torch.ones(1, 3), gamma=0.9, lam=0.8)
    torch.testing.assert_close(advantages, t([0.21712, 0.246, 0.3]))
    torch.testing.assert_close(returns, t([0.71712, 0.846, 1.0]))


def test_gae_value_after_last_token_does_not_leak():
    # Pitfall: bootstrapping the last real token from V at the padding position.
    rewards = t([0.0, 1.0, 0.0, 0.0])
    values = t([0.2, 0.3, 100.0, 100.0])  # garbage value-head output on padding
    mask = t([1, 1, 0, 0])
    advantages, _ = compute_gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # last real token: A_1 = r_1 - V_1 = 1 - 0.3 (not 1 + 100 - 0.3)
    assert advantages[0, 1].item() == pytest.approx(0.7)
    # A_0 = (0 + 0.3 - 0.2) + 0.95 * 0.7 = 0.765
    assert advantages[0, 0].item() == pytest.approx(0.765)


def test_gae_padding_gives_zero_advantage_and_return():
    rewards = t([0.0, 1.0, 5.0, 5.0], [0.0, 0.0, 0.0, 1.0])  # garbage rewards on row 0's padding
    values = t([0.2, 0.3, 100.0, 100.0], [0.1, 0.2, 0.3, 0.4])
    mask = t([1, 1, 0, 0], [1, 1, 1, 1])
    advantages, returns = compute_gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert torch.equal(advantages[0, 2:], torch.zeros(2))
    assert torch.equal(returns[0, 2:], torch.zeros(2))
    # row 0 ignores its padding: reward-to-go 1, 1 minus V
    torch.testing.assert_close(advantages[0, :2], torch.tensor([0.8, 0.7]))
    # row 1 is unaffected by row 0: reward-to-go 1 everywhere, minus V
    torch.testing.assert_close(advantages[1], torch.tensor([0.9, 0.8, 0.7, 0.6]))


def test_gae_returns_targets_without_gradient():
    values = t([0.5, 0.6]).requires_grad_()
    advantages, returns = compute_gae(t([0.0, 1.0]), values, torch.ones(1, 2))
    assert not advantages.requires_grad and not returns.requires_grad


def test_gae_shape_mismatch_names_argument():
    with pytest.raises(ValueError, match="values"):
        compute_gae(torch.zeros(2, 3), torch.zeros(2, 4), torch.ones(2, 3))


# ---------------------------------------------------------------------------------------------
# Whitening


def test_whiten_advantages_ignores_padding():
    # real tokens 1, 3: mean 2, (biased) std 1 -> -1, 1; padding 100 must not move the stats
    whitened = whiten_advantages(t([1.0, 3.0, 100.0]), t([1, 1, 0]))
    torch.testing.assert_close(whitened, t([-1.0, 1.0, 0.0]))


# ---------------------------------------------------------------------------------------------
# Clipped policy loss


def _policy_loss_one_token(ratio: float, advantage: float, clip_eps: float = 0.2):
    logp = torch.tensor([[math.log(ratio)]], requires_grad=True)
    advantages = torch.tensor([[advantage]])
    loss, stats = ppo_policy_loss(logp, torch.zeros(1, 1), advantages, torch.ones(1, 1), clip_eps)
    loss.backward()
    return loss.item(), logp.grad.item(), stats


def test_policy_loss_positive_advantage_ratio_clipped_at_1_plus_eps():
    # -A * ratio = -1.5, -A * clip(1.5) = -1.2: max is -1.2, and the clipped term has no gradient
    loss, grad, stats = _policy_loss_one_token(ratio=1.5, advantage=1.0)
    assert loss == pytest.approx(-1.2)
    assert grad == 0.0
    assert stats["policy/clipfrac"] == 1.0


def test_policy_loss_negative_advantage_ratio_clipped_at_1_minus_eps():
    # -A * ratio = 0.5, -A * clip(0.5) = 0.8: max is 0.8
    loss, grad, stats = _policy_loss_one_token(ratio=0.5, advantage=-1.0)
    assert loss == pytest.approx(0.8)
    assert grad == 0.0
    assert stats["policy/clipfrac"] == 1.0


def test_policy_loss_is_pessimistic_unclipped_term_when_positive_advantage_and_low_ratio():
    # A > 0, ratio 0.5 < 0.8: -A * ratio = -0.5 > -A * 0.8 = -0.8, so the unclipped term is kept
    # and the gradient pushes the ratio back up: d(-A * exp(logp))/dlogp = -A * ratio = -0.5.
    loss, grad, stats = _policy_loss_one_token(ratio=0.5, advantage=1.0)
    assert loss == pytest.approx(-0.5)
    assert grad == pytest.approx(-0.5)
    assert stats["policy/clipfrac"] == 0.0


def test_policy_loss_clipfrac_and_mean_over_real_tokens_only():
    ratios = t([1.5, 0.5, 0.5, 1.0, 1.5])
    advantages = t([1.0, -1.0, 1.0, 1.0, 1.0])
    mask = t([1, 1, 1, 1, 0])  # the last token (which would be clipped) is padding
    loss, stats = ppo_policy_loss(ratios.log(), torch.zeros(1, 5), advantages, mask)
    # per token: -1.2 (clipped), 0.8 (clipped), -0.5, -1.0; padding ignored
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 0.5 - 1.0) / 4)
    assert stats["policy/clipfrac"] == pytest.approx(2 / 4)
    assert stats["policy/ratio_mean"] == pytest.approx((1.5 + 0.5 + 0.5 + 1.0) / 4)
    # approx_kl: k3 of KL(pi_old || pi) = (ratio - 1) - log ratio, averaged over real tokens
    k3 = [(r - 1) - math.log(r) for r in (1.5, 0.5, 0.5, 1.0)]
    assert stats["policy/approx_kl"] == pytest.approx(sum(k3) / 4, rel=1e-5)
    assert all(isinstance(v, float) for v in stats.values())


def test_policy_loss_old_logprobs_detached_gradient_wrt_logp():
    # Pitfall: without old_logp.detach(), passing old_logp = logp makes ratio = exp(0) a constant
    # and the gradient 0. Detached, d/dlogp of mean(-A * ratio) = -A * ratio / 2 = -A / 2.
    logp = t([-1.0, -2.0]).requires_grad_()
    advantages = t([2.0, -1.0])
    loss, _ = ppo_policy_loss(logp, logp, advantages, torch.ones(1, 2))
    loss.backward()
    torch.testing.assert_close(logp.grad, t([-1.0, 0.5]))


def test_policy_loss_old_logprobs_and_advantages_get_no_gradient():
    logp = t([-1.0, -2.0]).requires_grad_()
    old_logp = t([-1.1, -1.9]).requires_grad_()
    advantages = t([2.0, -1.0]).requires_grad_()
    loss, _ = ppo_policy_loss(logp, old_logp, advantages, torch.ones(1, 2))
    loss.backward()
    assert old_logp.grad is None
    assert advantages.grad is None
    assert logp.grad is not None


def test_policy_loss_shape_mismatch_names_argument():
    with pytest.raises(ValueError, match="advantages"):
        ppo_policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), torch.ones(2, 3))


# ---------------------------------------------------------------------------------------------
# Clipped value loss


def test_value_loss_clipping_hand_value():
    values = t([1.5, 0.9, 1.5, 50.0])
    old_values = t([1.0, 1.0, 1.0, 0.0])
    returns = t([2.0, 0.0, 1.0, 0.0])
    mask = t([1, 1, 1, 0])  # the last token is padding with a huge error
    # token 0: (1.5-2)^2 = 0.25; V_clip = 1.0 + 0.2 = 1.2, (1.2-2)^2 = 0.64 -> 0.64 (clipped larger)
    # token 1: (0.9-0)^2 = 0.81; V_clip = 1.0 - 0.1 = 0.9 (inside the range)   -> 0.81 (equal, not clipped)
    # token 2: (1.5-1)^2 = 0.25; V_clip = 1.2, (1.2-1)^2 = 0.04                 -> 0.25 (unclipped larger)
    # loss = 0.5 * (0.64 + 0.81 + 0.25) / 3
    loss, stats = ppo_value_loss(values, old_values, returns, mask, clip_eps=0.2)
    assert loss.item() == pytest.approx(0.5 * (0.64 + 0.81 + 0.25) / 3)
    assert stats["value/clipfrac"] == pytest.approx(1 / 3)


def test_value_loss_old_values_and_returns_get_no_gradient():
    values = t([1.5, 0.9]).requires_grad_()
    old_values = t([1.0, 1.0]).requires_grad_()
    returns = t([2.0, 0.0]).requires_grad_()
    loss, _ = ppo_value_loss(values, old_values, returns, torch.ones(1, 2))
    loss.backward()
    assert old_values.grad is None and returns.grad is None
    # token 0 is clipped (no gradient); token 1: d/dV 0.5 * (V - R)^2 / 2 = (0.9 - 0) / 2
    torch.testing.assert_close(values.grad, t([0.0, 0.45]))


# ---------------------------------------------------------------------------------------------
# KL controllers


def test_adaptive_kl_controller_one_update_hand_value():
    ctl = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10000)
    ctl.update(current_kl=6.6, n_steps=256)
    # error = 6.6 / 6 - 1 = 0.1; value = 0.1 * (1 + 0.1 * 256 / 10000) = 0.1 * 1.00256
    assert ctl.value == pytest.approx(0.100256)


def test_adaptive_kl_controller_clips_error_at_0_2():
    high = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    high.update(current_kl=60.0, n_steps=256)  # error 9 -> 0.2
    assert high.value == pytest.approx(0.1 * (1 + 0.2 * 256 / 10000))
    low = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    low.update(current_kl=0.0, n_steps=256)  # error -1 -> -0.2
    assert low.value == pytest.approx(0.1 * (1 - 0.2 * 256 / 10000))


@pytest.mark.parametrize("kwargs", [{"target": 0.0, "horizon": 1.0}, {"target": 1.0, "horizon": 0.0}])
def test_adaptive_kl_controller_rejects_nonpositive_target_or_horizon(kwargs):
    with pytest.raises(ValueError, match="target|horizon"):
        AdaptiveKLController(0.1, **kwargs)


def test_fixed_kl_controller_never_changes():
    ctl = FixedKLController(0.05)
    ctl.update(current_kl=100.0, n_steps=256)
    assert ctl.value == 0.05
