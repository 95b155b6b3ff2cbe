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

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from minialign.checks import check_batch_vectors
from minialign.data import batches_of
from minialign.preferences import PreferencePair, collate_pairs, encode_pair, make_pairs, response_logps, stack_batches
from minialign.tokenizer import Tokenizer
from minialign.train import LoopConfig, MetricsLog, run_loop
from minialign.world import MiniWorld


def _require_no_label_smoothing(loss_type: str, label_smoothing: float | torch.Tensor) -> None:
    if isinstance(label_smoothing, torch.Tensor):
        nonzero = bool((label_smoothing != 0).any())
    else:
        nonzero = label_smoothing != 0.0
    if nonzero:
        got = "a per-pair tensor with non-zero values" if isinstance(label_smoothing, torch.Tensor) else label_smoothing
        raise ValueError(
            f"label_smoothing must be 0 for loss_type={loss_type!r} (only 'sigmoid' and 'robust' "
            f"model label noise), got {got}"
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
    label_smoothing: float | torch.Tensor = 0.0,
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
        label_smoothing: eps in [0, 0.5), the assumed label flip rate ('sigmoid', 'robust');
            a (B,) tensor gives each pair its own (soft labels: eps_i = 1 - p_i, p_i the
            labeller's probability that y_w is better).
    Returns:
        losses (B,), chosen_rewards (B,), rejected_rewards (B,). Average `losses` yourself.

    Per-pair losses, where the package's other losses return `(loss, stats)`: the paper's loss
    (eq. 7) is an expectation of one term per pair, each variant is a function of one pair's
    margin, soft labels give each pair its own eps, and lesson 5 checks the pairs one by one.
    `dpo_metrics` turns the implicit rewards into the logged statistics.
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
    if isinstance(label_smoothing, torch.Tensor):
        if label_smoothing.shape != policy_chosen_logps.shape:
            raise ValueError(f"per-pair label_smoothing must have shape {tuple(policy_chosen_logps.shape)} "
                             f"like the log-probs, got {tuple(label_smoothing.shape)}")
        if len(label_smoothing) and not bool(((label_smoothing >= 0) & (label_smoothing < 0.5)).all()):
            raise ValueError(f"per-pair label_smoothing must lie in [0, 0.5), got values from "
                             f"{label_smoothing.min().item()} to {label_smoothing.max().item()}")
        label_smoothing = label_smoothing.to(policy_chosen_logps.dtype)
    elif not 0.0 <= label_smoothing < 0.5:
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

    "rewards/accuracy" is the fraction of pairs whose chosen reward is higher, a tie counting
    1/2 (the convention of `reward.preference_accuracy`; at the start, where policy = ref and
    every reward is 0, it reads 0.5); "rewards/margin" the mean of chosen - rejected. Watch both: the margin
    can grow while chosen rewards fall, when the policy pushes y_l down faster than y_w.

    Args:
        chosen_rewards: (B,) beta * log(pi/ref) of the chosen responses.
        rejected_rewards: (B,) the same for the rejected responses.
    """
    check_batch_vectors(chosen_rewards=chosen_rewards, rejected_rewards=rejected_rewards)
    chosen, rejected = chosen_rewards.detach().float(), rejected_rewards.detach().float()
    return {
        "rewards/accuracy": ((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).mean().item(),
        "rewards/margin": (chosen - rejected).mean().item(),
        "rewards/chosen": chosen.mean().item(),
        "rewards/rejected": rejected.mean().item(),
    }


# --- training loop ---


AVERAGED_LOSS_TYPES = ("ipo",)
"""loss types that take per-token AVERAGED log-probs (the others take sums)"""


@dataclass
class DPOConfig:
    beta: float = 1.0
    ('KL strength (paper 0.1; ours 1.0: at 0.1 the tiny policy drifted to "I am not sure, sorry." on facts it knows '
     "on the first MiniWorld; lesson 5 sweeps it)")
    loss_type: Literal["sigmoid", "ipo", "hinge", "robust"] = "sigmoid"
    """one of DPO_LOSS_TYPES: sigmoid (DPO), ipo, hinge (SLiC), robust"""
    label_smoothing: float = 0.0
    """assumed label flip rate eps for 'sigmoid' (cDPO) and 'robust'"""
    n_pairs: int = 6000
    """training pairs, on prompts of the world's train split (ignored when pairs are given)"""
    batch_size: int = 32
    """pairs per step (each step runs the policy on 2 * batch_size sequences)"""
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=360, lr=2e-4, warmup_steps=5, weight_decay=0.0))
    ("optimiser loop (paper lr 1e-6 for large models; ours 2e-4 for 360 steps, about two passes over the pairs; "
     "lesson 5)")
    label_temperature: float = 0.3
    """Bradley-Terry label noise of the generated pairs (0 = noiseless)"""
    nll_weight: float = 1.0
    ("alpha of the chosen-response NLL term, i.e. RPO (paper DPO 0, Llama 3 0.2; ours 1.0: plain DPO garbled the tiny "
     "policy on the first MiniWorld; lesson 5 shows both)")
    seed: int = 0
    """seeds pair sampling and batch order"""


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block `model` is in eval mode with requires_grad False on every parameter;
    afterwards both are restored, so a model shared with later stages stays trainable."""
    flags = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    model.requires_grad_(False).eval()
    try:
        yield model
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)


@torch.no_grad()
def reference_logps(ref: nn.Module, encoded: Sequence[tuple[list[int], list[int], int]], pad_id: int,
                    average: bool = False, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(ref_chosen_logps (N,), ref_rejected_logps (N,)) of N encoded pairs under the reference,
    once for the whole run: the reference never changes, so neither do these."""
    device = next(ref.parameters()).device
    chosen, rejected = [], []
    for start in range(0, len(encoded), batch_size):
        c, r = collate_pairs(encoded[start : start + batch_size], pad_id)
        logps = response_logps(ref, stack_batches(c, r).to(device), average).cpu()  # (2b,)
        chosen.append(logps[: len(logps) // 2])
        rejected.append(logps[len(logps) // 2 :])
    return torch.cat(chosen), torch.cat(rejected)


def train_dpo(policy: nn.Module, ref: nn.Module, tok: Tokenizer, world: MiniWorld,
              cfg: DPOConfig | None = None, pairs: Sequence[PreferencePair] | None = None,
              label_smoothing: Sequence[float] | None = None) -> MetricsLog:
    """Train `policy` in place with DPO (or a variant) against the frozen reference `ref`.

    The reference's log-probs are computed once, up front, under torch.no_grad and in eval
    mode: it receives no gradient and is never updated. Pairs default to `cfg.n_pairs`
    MiniWorld pairs drawn from the train split; pass your own (e.g. from `load_jsonl`).
    `label_smoothing`, one eps per pair, replaces cfg.label_smoothing (soft labels, as RLAIF's).
    """
    cfg = cfg or DPOConfig()
    if ref is policy:
        raise ValueError("ref must be a separate (frozen) copy of the policy, not the policy itself")
    if cfg.loss_type not in DPO_LOSSES:
        raise ValueError(f"loss_type must be one of {DPO_LOSS_TYPES}, got {cfg.loss_type!r}")
    device = next(policy.parameters()).device
    average = cfg.loss_type in AVERAGED_LOSS_TYPES
    if pairs is None:
        pairs = make_pairs(world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)
    if label_smoothing is not None and len(label_smoothing) != len(pairs):
        raise ValueError(f"label_smoothing needs one eps per pair: got {len(label_smoothing)} for {len(pairs)} pairs")
    encoded = [encode_pair(p, tok, policy.config.block_size) for p in pairs]
    with frozen(ref):
        ref_chosen, ref_rejected = reference_logps(ref, encoded, tok.pad_id, average)  # (N,), (N,)
    eps = torch.tensor(label_smoothing if label_smoothing is not None else [cfg.label_smoothing] * len(pairs),
                       dtype=torch.float32)  # (N,)
    # carry each pair's reference log-probs (and eps) along with its tokens through the shuffling
    examples = [(c, r, plen, ref_chosen[i], ref_rejected[i], eps[i]) for i, (c, r, plen) in enumerate(encoded)]

    def batches():
        # bucket=1: every batch mixes prompt kinds (see reward.train_reward)
        for chunk in batches_of(examples, cfg.batch_size, cfg.seed, bucket=1):
            chosen, rejected = collate_pairs(chunk, tok.pad_id)
            refs = torch.stack([torch.stack([e[3], e[4]]) for e in chunk]).to(device)  # (B, 2)
            batch_eps = torch.stack([e[5] for e in chunk]).to(device)  # (B,)
            yield chosen.to(device), rejected.to(device), refs[:, 0], refs[:, 1], batch_eps

    def loss_fn(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
        chosen, rejected, ref_chosen_logps, ref_rejected_logps, batch_eps = batch
        logps = response_logps(model, stack_batches(chosen, rejected), average)  # (2B,)
        B = chosen.input_ids.shape[0]
        losses, chosen_rewards, rejected_rewards = dpo_loss(
            logps[:B], logps[B:], ref_chosen_logps, ref_rejected_logps,
            beta=cfg.beta, loss_type=cfg.loss_type,
            label_smoothing=batch_eps if label_smoothing is not None else cfg.label_smoothing,
        )
        metrics = dpo_metrics(chosen_rewards, rejected_rewards)
        metrics.update({"logps/chosen": logps[:B].mean().item(), "logps/rejected": logps[B:].mean().item()})
        loss = losses.mean()
        if cfg.nll_weight > 0:
            # per-token NLL of y_w: a summed log-prob divided by the response's token count
            n_tokens = (chosen.seq_lens - chosen.prompt_lens).to(logps.dtype)  # (B,)
            chosen_nll = -(logps[:B] if average else logps[:B] / n_tokens).mean()
            loss = loss + cfg.nll_weight * chosen_nll
            metrics["nll"] = chosen_nll.item()
        return loss, metrics

    return run_loop(policy, batches(), loss_fn, cfg.loop, desc=f"dpo-{cfg.loss_type}")
