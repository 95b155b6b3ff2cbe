"""Direct Preference Optimisation: the policy is its own reward model.

DPO (Rafailov et al. 2023) shows that the RLHF objective "maximise reward, stay close to the
reference in KL" has a closed-form optimum, so the reward can be read off the policy:

    r(x, y) = beta * log(pi(y|x) / ref(y|x))     (implicit reward, up to a per-prompt constant)

A preference pair (y_w chosen, y_l rejected) is then fitted with the Bradley-Terry model on the
difference of implicit rewards, and no reward model or sampling is needed. Every loss below is a
function of one number per pair, the log-ratio margin

    delta = (log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x))     # (B,)

and the variants (IPO, hinge, robust) differ only in what they do with it.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def check_batch_vectors(**tensors: torch.Tensor) -> None:
    """Raise ValueError unless every tensor is 1-D with the same shape (B,)."""
    first_name, first_shape = None, None
    for name, t in tensors.items():
        if t.dim() != 1:
            raise ValueError(f"{name} must have shape (B,), got shape {tuple(t.shape)}")
        if first_shape is None:
            first_name, first_shape = name, t.shape
        elif t.shape != first_shape:
            raise ValueError(
                f"{name} must have the same shape (B,) as {first_name} {tuple(first_shape)}, "
                f"got shape {tuple(t.shape)}"
            )


def _require_no_label_smoothing(loss_type: str, label_smoothing: float) -> None:
    if label_smoothing != 0.0:
        raise ValueError(
            f"label_smoothing must be 0 for loss_type={loss_type!r} (only 'sigmoid' and 'robust' "
            f"model label noise), got {label_smoothing}"
        )


def sigmoid_loss(delta: torch.Tensor, beta: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """DPO loss (Rafailov et al. 2023, eq. 7), optionally conservative (cDPO).

        loss = -(1 - eps) * log sigmoid(beta * delta) - eps * log sigmoid(-beta * delta)

    With eps = label_smoothing = 0 this is the plain Bradley-Terry negative log-likelihood
    that y_w beats y_l. cDPO (Mitchell 2023) assumes each label is flipped with probability eps,
    so it fits the target eps instead of 0: the loss stops pushing once sigmoid(beta*delta) = 1-eps.

    Args:
        delta: (B,) log-ratio margin, from log-probs summed over response tokens.
        beta: strength of the KL constraint to the reference; larger beta = stay closer.
        label_smoothing: eps in [0, 0.5).
    Returns:
        (B,) per-pair losses.
    """
    logits = beta * delta  # (B,)
    # logsigmoid, not log(sigmoid(.)): sigmoid(-40) underflows in float32 and its log is -inf
    return -(1 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)


def ipo_loss(delta: torch.Tensor, beta: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """IPO loss (Azar et al. 2023, eq. 17): loss = (delta - 1 / (2 * beta))^2.

    DPO's sigmoid never reaches 0, so on deterministic preferences it keeps pushing delta to
    infinity and forgets the reference. IPO regresses delta onto a finite target 1/(2 beta)
    instead: here beta acts as a regulariser (smaller beta = larger target margin).

    Args:
        delta: (B,) log-ratio margin from per-token AVERAGED log-probs (the IPO convention,
            so the target does not depend on response length).
        beta: > 0; the target margin is 1 / (2 * beta).
        label_smoothing: must be 0 (IPO has no label-noise variant here).
    Returns:
        (B,) per-pair losses.
    """
    _require_no_label_smoothing("ipo", label_smoothing)
    return (delta - 1 / (2 * beta)) ** 2  # (B,)


def hinge_loss(delta: torch.Tensor, beta: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """Hinge loss (SLiC, Zhao et al. 2023): loss = relu(1 - beta * delta).

    A pair stops contributing once its margin exceeds 1/beta, so well-separated pairs give no
    gradient (unlike the sigmoid loss, which is never exactly 0).

    Args:
        delta: (B,) log-ratio margin, from log-probs summed over response tokens.
        beta: > 0; the margin to reach is 1 / beta.
        label_smoothing: must be 0.
    Returns:
        (B,) per-pair losses.
    """
    _require_no_label_smoothing("hinge", label_smoothing)
    return F.relu(1 - beta * delta)  # (B,)


def robust_loss(delta: torch.Tensor, beta: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """Robust DPO (Chowdhury et al. 2024): an unbiased loss under labels flipped with prob. eps.

        loss = ((1 - eps) * -log sigmoid(beta * delta) + eps * log sigmoid(-beta * delta)) / (1 - 2 eps)

    Unlike cDPO, the wrong-label term enters with a minus sign, so that the expected loss over
    the label noise equals the clean DPO loss; dividing by (1 - 2 eps) undoes the shrinkage.
    At eps = 0 it is the sigmoid loss. Note the loss can be negative for eps > 0.

    Args:
        delta: (B,) log-ratio margin, from log-probs summed over response tokens.
        beta: > 0, as in the sigmoid loss.
        label_smoothing: eps in [0, 0.5), the assumed flip rate.
    Returns:
        (B,) per-pair losses.
    """
    logits = beta * delta  # (B,)
    eps = label_smoothing
    return ((1 - eps) * -F.logsigmoid(logits) + eps * F.logsigmoid(-logits)) / (1 - 2 * eps)


DPO_LOSSES: dict[str, Callable[[torch.Tensor, float, float], torch.Tensor]] = {
    "sigmoid": sigmoid_loss,
    "ipo": ipo_loss,
    "hinge": hinge_loss,
    "robust": robust_loss,
}
DPO_LOSS_TYPES: tuple[str, ...] = tuple(DPO_LOSSES)


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair DPO loss (or a variant) and the implicit rewards of both responses.

        delta          = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
        loss           = DPO_LOSSES[loss_type](delta, beta, label_smoothing)
        chosen_rewards = beta * (policy_chosen - ref_chosen)     (detached: a metric)

    Args:
        policy_chosen_logps: (B,) log pi(y_w|x) under the policy being trained.
        policy_rejected_logps: (B,) log pi(y_l|x) under the policy.
        ref_chosen_logps: (B,) log ref(y_w|x) under the frozen reference.
        ref_rejected_logps: (B,) log ref(y_l|x) under the frozen reference.
            All four are log-probs SUMMED over response tokens for 'sigmoid', 'hinge' and
            'robust' (log pi(y|x) of the whole response, as in the paper); for 'ipo' the caller
            passes per-token AVERAGES instead (see `logprobs.sequence_logprobs(average=True)`).
        beta: > 0, inverse strength of the KL constraint (paper default 0.1).
        loss_type: one of DPO_LOSS_TYPES.
        label_smoothing: eps in [0, 0.5), the assumed label flip rate ('sigmoid', 'robust').
    Returns:
        losses (B,), chosen_rewards (B,), rejected_rewards (B,). Average `losses` yourself.
    """
    check_batch_vectors(
        policy_chosen_logps=policy_chosen_logps,
        policy_rejected_logps=policy_rejected_logps,
        ref_chosen_logps=ref_chosen_logps,
        ref_rejected_logps=ref_rejected_logps,
    )
    if loss_type not in DPO_LOSSES:
        raise ValueError(f"loss_type must be one of {DPO_LOSS_TYPES}, got {loss_type!r}")
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")

    # The reference is a constant of the objective (eq. 7): never let gradient reach it, even if
    # the caller forgot torch.no_grad() or shares parameters between policy and reference.
    chosen_logratios = policy_chosen_logps - ref_chosen_logps.detach()  # (B,)
    rejected_logratios = policy_rejected_logps - ref_rejected_logps.detach()  # (B,)
    delta = chosen_logratios - rejected_logratios  # (B,)

    losses = DPO_LOSSES[loss_type](delta, beta, label_smoothing)  # (B,)
    chosen_rewards = beta * chosen_logratios.detach()  # (B,)
    rejected_rewards = beta * rejected_logratios.detach()  # (B,)
    return losses, chosen_rewards, rejected_rewards


def dpo_metrics(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> dict[str, float]:
    """Batch summaries of the implicit rewards, as logged during DPO training.

    "rewards/accuracy" is the fraction of pairs whose chosen reward is strictly higher (a tie
    counts as wrong); "rewards/margin" the mean of chosen - rejected. Watch both: the margin
    can grow while chosen rewards fall, when the policy pushes y_l down faster than y_w.

    Args:
        chosen_rewards: (B,) beta * log(pi/ref) of the chosen responses.
        rejected_rewards: (B,) the same for the rejected responses.
    """
    check_batch_vectors(chosen_rewards=chosen_rewards, rejected_rewards=rejected_rewards)
    chosen, rejected = chosen_rewards.detach().float(), rejected_rewards.detach().float()
    return {
        "rewards/accuracy": (chosen > rejected).float().mean().item(),
        "rewards/margin": (chosen - rejected).mean().item(),
        "rewards/chosen": chosen.mean().item(),
        "rewards/rejected": rejected.mean().item(),
    }


# --- training loop ---
