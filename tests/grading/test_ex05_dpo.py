"""Grading lesson 5 (DPO): the sigmoid loss on log-ratios to the reference.

Log-probs are summed over each response. Running example (beta = 0.1):
    policy chosen -5, policy rejected -7, reference chosen -6, reference rejected -6
    delta = (-5 - -6) - (-7 - -6) = 1 - (-1) = 2,  loss = -log sigmoid(0.2) = 0.5981
"""

import torch

from .adapters import check_close, check_grad, exercise, nll, sigmoid

ex = exercise("ex05_dpo")


def v(*values: float, grad: bool = False) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def test_dpo_loss_running_example():
    check_close(
        ex.dpo_loss(v(-5.0), v(-7.0), v(-6.0), v(-6.0), beta=0.1),
        [nll(0.2)],
        "for chosen log-prob -5 and rejected -7 with the reference at -6/-6 and beta 0.1, the loss "
        "-log sigmoid(0.1 * 2)",
        mistakes={
            "the sign is flipped: the loss must fall as the chosen response gains on the rejected one":
                [nll(-0.2)],
            "beta is missing: the loss is -log sigmoid(beta * delta)": [nll(2.0)],
            "that is log sigmoid; the loss is its negative": [-nll(0.2)],
        },
    )


def test_dpo_loss_pitfall_reference_added():
    # pair 0, the running example: delta = 2 -> 0.5981
    # pair 1: policy -5 / -7, reference -4 / -8: delta = (-5 - -4) - (-7 - -8) = -1 - 1 = -2
    #         -> -log sigmoid(-0.2) = 0.7981 (the policy gained less than the reference on y_w)
    # adding the reference instead: (-5 + -4) - (-7 + -8) = 6 -> 0.4375
    # ignoring the reference: -5 - -7 = 2 -> 0.5981
    check_close(
        ex.dpo_loss(v(-5.0, -5.0), v(-7.0, -7.0), v(-6.0, -4.0), v(-6.0, -8.0), beta=0.1),
        [nll(0.2), nll(-0.2)],
        "for two pairs with policy log-probs -5 (chosen) and -7 (rejected), references -6/-6 and "
        "-4/-8, beta 0.1, the per-pair losses",
        mistakes={
            "did you add the reference log-probs instead of subtracting them? delta = (pi_w - ref_w) "
            "- (pi_l - ref_l)": [nll(0.2), nll(0.6)],
            "the reference is ignored: delta uses log pi - log ref for each response": [nll(0.2), nll(0.2)],
            "return one loss per pair, shape (B,), without averaging": [(nll(0.2) + nll(-0.2)) / 2],
        },
    )


def test_dpo_loss_stable_pitfall_log_of_sigmoid():
    # policy strongly prefers the REJECTED response: beta * delta = 1 * (-1000) -> loss 1000
    check_close(
        ex.dpo_loss(v(-1000.0).float(), v(0.0).float(), v(0.0).float(), v(0.0).float(), beta=1.0),
        [1000.0],
        "for chosen log-prob -1000 and rejected 0 (reference 0/0, beta 1, float32), the loss "
        "-log sigmoid(-1000)",
        hint="sigmoid(-1000) underflows to 0 and log(0) = -inf: use F.logsigmoid",
    )


def test_dpo_pitfall_reference_not_frozen():
    # d loss / d policy_chosen = -beta * (1 - sigmoid(beta * delta)) = -0.1 * (1 - sigmoid(0.2))
    # and the reference, a frozen model, gets no gradient at all
    policy_chosen, policy_rejected = v(-5.0, grad=True), v(-7.0, grad=True)
    ref_chosen, ref_rejected = v(-6.0, grad=True), v(-6.0, grad=True)
    ex.dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta=0.1).sum().backward()
    g = 0.1 * (1 - sigmoid(0.2))
    check_grad(policy_chosen, [-g], "for the running example, the gradient of the loss with respect to "
               "the policy's chosen log-prob")
    check_grad(policy_rejected, [g], "for the running example, the gradient with respect to the "
               "policy's rejected log-prob")
    for name, ref in (("chosen", ref_chosen), ("rejected", ref_rejected)):
        if ref.grad is not None and ref.grad.abs().sum() > 0:
            check_grad(ref, [0.0], f"the gradient with respect to the reference's {name} log-prob",
                       hint="the reference model is frozen: detach its log-probs (ref_logps.detach())")
