"""Grading lesson 4 (PPO): KL estimators, GAE, the clipped policy loss."""

import math

import torch

from .adapters import check_close, check_grad, check_raises_value_error, exercise

ex = exercise("ex04_ppo")


def t(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# kl_estimate


def test_kl_k1_pitfall_sign():
    # k1 = logp - ref_logp = [-1 - -1.5, -2 - -1] = [0.5, -1]
    check_close(
        ex.kl_estimate(t([-1.0, -2.0]), t([-1.5, -1.0]), "k1"),
        [[0.5, -1.0]],
        "for policy log-probs [-1, -2] and reference log-probs [-1.5, -1], k1",
        mistakes={
            "the sign is flipped: KL(pi || ref) averages log pi - log ref; the reverse would make "
            "the penalty reward drifting away from the reference": [[-0.5, 1.0]],
        },
    )


def test_kl_k3_hand_value():
    # log r = ref - logp = [-0.5, 1]; k3 = e^log_r - log_r - 1 = [0.1065, 0.7183]
    expected = [[math.exp(-0.5) + 0.5 - 1, math.exp(1.0) - 1.0 - 1]]
    check_close(
        ex.kl_estimate(t([-1.0, -2.0]), t([-1.5, -1.0]), "k3"),
        expected,
        "for policy log-probs [-1, -2] and reference log-probs [-1.5, -1], k3 = e^(ref - logp) - (ref - logp) - 1",
        mistakes={
            "you used log r = logp - ref; k3 uses r = ref / pi, so log r = ref_logp - logp": [
                [math.exp(0.5) - 0.5 - 1, math.exp(-1.0) + 1.0 - 1]],
        },
    )


def test_kl_k3_is_never_negative():
    g = torch.Generator().manual_seed(0)
    logp, ref = -3 * torch.rand(8, 16, generator=g), -3 * torch.rand(8, 16, generator=g)
    k3 = ex.kl_estimate(logp, ref, "k3")
    # (-1e-6: exp(x) - x - 1 may round a hair below 0 in float32 when x is tiny)
    assert (k3 >= -1e-6).all(), (f"k3 must be >= 0 for every token (log r <= r - 1); "
                                 f"its minimum was {k3.min().item():.4f}")


def test_kl_estimate_rejects_unknown_kind():
    check_raises_value_error(lambda: ex.kl_estimate(t([-1.0]), t([-1.0]), "k7"), "kl_estimate with kind='k7'")


# ---------------------------------------------------------------------------------------------
# compute_gae


def test_gae_discounting_hand_values():
    # one row, every token real: rewards [1, 0, 2], values [0.5, 1, 0.5], gamma 0.9, lam 0.8
    #   t=2: delta = 2 - 0.5 = 1.5                  A2 = 1.5
    #   t=1: delta = 0 + 0.9 * 0.5 - 1 = -0.55      A1 = -0.55 + 0.72 * 1.5 = 0.53
    #   t=0: delta = 1 + 0.9 * 1 - 0.5 = 1.4        A0 = 1.4 + 0.72 * 0.53 = 1.7816
    # returns = A + V = [2.2816, 1.53, 2.0]
    advantages, returns = ex.compute_gae(t([1.0, 0.0, 2.0]), t([0.5, 1.0, 0.5]), t([1.0, 1.0, 1.0]), gamma=0.9, lam=0.8)
    what = "for rewards [1, 0, 2], values [0.5, 1, 0.5], gamma 0.9 and lam 0.8"
    check_close(
        advantages,
        [[1.7816, 0.53, 1.5]],
        f"{what}, the advantages",
        hint="A_t = delta_t + gamma * lam * A_{t+1}, with delta_t = r_t + gamma * V_{t+1} - V_t",
        mistakes={
            "the recursion must use gamma * lam, not lam alone": [[1.92, 0.65, 1.5]],
            "the recursion must use gamma * lam, not gamma alone": [[2.12, 0.8, 1.5]],
        },
    )
    check_close(returns, [[2.2816, 1.53, 2.0]], f"{what}, the returns (advantages + values)")


def test_gae_pitfall_value_leaks_past_last_token():
    # prompt, 2 response tokens, padding: mask [0, 1, 1, 0], rewards [0, 0, 1, 0],
    # values [0.5, 0.2, 0.4, 9.0] (9.0 is the value head's output on PADDING), gamma 1, lam 0.5
    #   t=2: the episode ends here, so delta = 1 - 0.4 = 0.6          A2 = 0.6
    #   t=1: delta = 0 + 0.4 - 0.2 = 0.2                              A1 = 0.2 + 0.5 * 0.6 = 0.5
    #   prompt and padding: A = 0.                  returns = (A + V) * mask = [0, 0.7, 1.0, 0]
    advantages, returns = ex.compute_gae(
        t([0.0, 0.0, 1.0, 0.0]), t([0.5, 0.2, 0.4, 9.0]), t([0.0, 1.0, 1.0, 0.0]), gamma=1.0, lam=0.5
    )
    what = ("for a prompt token, two response tokens and a padding token (mask [0, 1, 1, 0]), rewards "
            "[0, 0, 1, 0], values [0.5, 0.2, 0.4, 9.0], gamma 1 and lam 0.5")
    check_close(
        advantages,
        [[0.0, 0.5, 0.6, 0.0]],
        f"{what}, the advantages",
        mistakes={
            "the value 9.0 the head gave the PADDING token leaked into the last response token: "
            "multiply V_{t+1} by m_{t+1}, the episode ends at the last real token": [[0.0, 5.0, 9.6, 0.0]],
            "the prompt token got an advantage: multiply A_t by m_t": [[-0.05, 0.5, 0.6, 0.0]],
        },
    )
    check_close(returns, [[0.0, 0.7, 1.0, 0.0]], f"{what}, the returns (A + V) * mask")


# ---------------------------------------------------------------------------------------------
# ppo_policy_loss


def test_ppo_policy_loss_hand_value():
    # ratios [1.5, 0.5, 1.1, 3.0 (padding)], advantages [1, 1, -2, 5 (padding)], clip_eps 0.2
    #   t0: max(-1.5, -1.2) = -1.2    (clipped: no credit beyond 1.2)
    #   t1: max(-0.5, -0.8) = -0.5
    #   t2: max( 2.2,  2.2) =  2.2
    # mean over the 3 response tokens: (-1.2 - 0.5 + 2.2) / 3 = 0.1667
    old_logp = t([-1.0, -2.0, -1.5, -0.5])
    logp = old_logp + torch.log(t([1.5, 0.5, 1.1, 3.0]))
    loss = ex.ppo_policy_loss(logp, old_logp, t([1.0, 1.0, -2.0, 5.0]), t([1.0, 1.0, 1.0, 0.0]), clip_eps=0.2)
    check_close(
        loss,
        0.5 / 3,
        "for ratios [1.5, 0.5, 1.1] with advantages [1, 1, -2] (and a padding token), clip_eps 0.2, "
        "the loss mean(max(-A * ratio, -A * clip(ratio)))",
        mistakes={
            "you took the min of the negated terms: the loss is max(-A * ratio, -A * clip(ratio)), the "
            "pessimistic bound": -0.1 / 3,
            "the ratio was not clipped": 0.2 / 3,
            "the sign is flipped: minimising this loss must increase ratio * A": -0.5 / 3,
            "you divided by every token, padding included: average over the mask": 0.5 / 4,
            "the padding token was counted: apply the mask": (0.5 - 6.0) / 4,
        },
    )


def test_ppo_pitfall_old_logp_not_detached():
    # First epoch: old_logp comes from the same forward pass as logp (same tensor, in the graph).
    # With old_logp detached, ratio = 1 and d loss / d logp_t = -A_t / (number of response tokens):
    # A = [1, -1, 2 (padding)] -> gradient [-1/2, 1/2, 0]. Without the detach, ratio = exp(logp -
    # logp) is constant and the gradient is 0.
    base = t([-1.0, -2.0, -0.5]).requires_grad_()
    logp = base * 1.0
    loss = ex.ppo_policy_loss(logp, logp, t([1.0, -1.0, 2.0]), t([1.0, 1.0, 0.0]), clip_eps=0.2)
    loss.backward()
    check_grad(
        base,
        [[-0.5, 0.5, 0.0]],
        "when old_logp is the very tensor logp (first epoch), with advantages [1, -1] on two response "
        "tokens, the gradient of the loss with respect to logp",
        mistakes={
            "old_logp is a constant of the rollout: use old_logp.detach() in the ratio, otherwise "
            "logp - old_logp has no gradient": [[0.0, 0.0, 0.0]],
            "the padding token got a gradient: apply the mask": [[-1 / 3, 1 / 3, -2 / 3]],
        },
    )


def test_ppo_clipped_tokens_get_no_gradient():
    # t0: ratio 1.5, A = 1 -> clipped at 1.2, gradient 0
    # t1: ratio 0.5, A = 1 -> the unclipped term -A * ratio is the max: gradient -A * ratio / 2 = -0.25
    old_logp = t([-1.0, -1.0])
    base = (old_logp + torch.log(t([1.5, 0.5]))).requires_grad_()
    ex.ppo_policy_loss(base, old_logp, t([1.0, 1.0]), t([1.0, 1.0]), clip_eps=0.2).backward()
    check_grad(
        base,
        [[0.0, -0.25]],
        "for ratios [1.5, 0.5] with advantages [1, 1] and clip_eps 0.2, the gradient with respect to logp",
        hint="a token whose ratio is already past 1 + clip_eps in the direction A favours gets no gradient",
    )
