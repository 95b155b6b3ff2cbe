"""ORPO: preference optimisation folded into SFT, with no reference model.

ORPO (Hong et al. 2024) adds to the SFT loss on the chosen response a term that makes the
odds of the chosen response larger than the odds of the rejected one:

    odds(y|x) = P(y|x) / (1 - P(y|x)),   P(y|x) = exp(mean_t log pi(y_t | x, y_<t))

P is the geometric mean of the token probabilities (the per-token AVERAGE log-prob,
exponentiated), so that it is a number in (0, 1) whatever the response length. With the sum
over tokens, P would be ~0 for any real response and the odds would equal P.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from minialign.checks import check_batch_vectors
from minialign.data import ChatBatch, batches_of
from minialign.preferences import PreferencePair, collate_pairs, encode_pair, make_pairs, response_logps
from minialign.tokenizer import Tokenizer
from minialign.train import LoopConfig, MetricsLog, run_loop
from minialign.world import MiniWorld

LOG2 = math.log(2.0)


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, accurate over the whole range (Maechler 2012).

        x > -log 2:  log(-expm1(x))     1 - exp(x) cancels near 0; expm1 does not
        x <= -log 2: log1p(-exp(x))     exp(x) is small; log1p keeps its digits

    Args:
        x: tensor of log-probabilities, all <= 0.
    Returns:
        tensor of the same shape; -inf where x == 0 (a certain event has no complement).
    Raises:
        ValueError if any x > 0 (a probability above 1).

    Naive equivalent: `torch.log(1 - torch.exp(x))`, which is -inf at x = -1e-10 in float32
    and loses all digits near 0 in float64.
    """
    if (x > 0).any():
        raise ValueError(f"x must be <= 0 (a log-probability), got max {x.max().item()}")
    near_zero = x > -LOG2
    # Feed each branch only inputs from its own domain: torch.where sends a zero gradient to
    # the branch it discards, and 0 * inf (log1p(-exp(x)) at x ~ 0) would still make a NaN.
    x_near = x.clamp(min=-LOG2)
    x_far = x.clamp(max=-LOG2)
    return torch.where(near_zero, torch.log(-torch.expm1(x_near)), torch.log1p(-torch.exp(x_far)))


def _log_odds(avg_logps: torch.Tensor, name: str) -> torch.Tensor:
    """log odds(y) = logp - log(1 - exp(logp)) for (B,) per-token average log-probs."""
    if (avg_logps > 0).any():
        raise ValueError(f"{name} must be <= 0 (average log-probs), got max {avg_logps.max().item()}")
    # A response the model is certain of (logp == 0 in float) has infinite odds and an infinite
    # gradient; in floating point logp above -eps is rounding noise, so clamp it there.
    logp = avg_logps.clamp(max=-torch.finfo(avg_logps.dtype).eps)  # (B,)
    return logp - log1mexp(logp)  # (B,)


def orpo_log_odds(chosen_avg_logps: torch.Tensor, rejected_avg_logps: torch.Tensor) -> torch.Tensor:
    """Log odds ratio of chosen over rejected (Hong et al. 2024, eq. 7, inside the sigmoid).

        log_odds = log odds(y_w|x) - log odds(y_l|x),
        log odds(y|x) = logp - log(1 - exp(logp)),   logp = per-token average log-prob

    Args:
        chosen_avg_logps: (B,) log-probs of the chosen response AVERAGED over its tokens, <= 0.
        rejected_avg_logps: (B,) the same for the rejected response.
            Summed log-probs are also <= 0, so they cannot be detected here: pass
            `logprobs.sequence_logprobs(..., average=True)`.
    Returns:
        (B,) log odds ratios; > 0 where the chosen response has the higher odds.
    """
    check_batch_vectors(chosen_avg_logps=chosen_avg_logps, rejected_avg_logps=rejected_avg_logps)
    chosen_log_odds = _log_odds(chosen_avg_logps, "chosen_avg_logps")  # (B,)
    rejected_log_odds = _log_odds(rejected_avg_logps, "rejected_avg_logps")  # (B,)
    return chosen_log_odds - rejected_log_odds  # (B,)


def orpo_loss(
    chosen_nll: torch.Tensor,
    chosen_avg_logps: torch.Tensor,
    rejected_avg_logps: torch.Tensor,
    lam: float = 0.1,
) -> tuple[torch.Tensor, dict[str, float]]:
    """ORPO objective (Hong et al. 2024, eq. 6-7): SFT on y_w plus lam times the odds-ratio loss.

        loss = mean(chosen_nll) + lam * mean(-log sigmoid(log_odds))

    The first term teaches the chosen response; the second, with no reference model, makes
    it likelier than the rejected one relative to how likely each already is.

    Args:
        chosen_nll: (B,) mean per-token negative log-likelihood of the chosen response
            (usually -chosen_avg_logps from the same forward pass).
        chosen_avg_logps: (B,) per-token average log-probs of the chosen response.
        rejected_avg_logps: (B,) per-token average log-probs of the rejected response.
        lam: >= 0, weight of the odds-ratio term (lam = 0 is plain SFT).
    Returns:
        loss (scalar tensor), metrics {"nll", "or_loss", "log_odds" (batch mean),
        "odds_ratio_accuracy" (fraction of pairs with log_odds > 0, a tie at 0 counting 1/2)} as floats.
    """
    check_batch_vectors(
        chosen_nll=chosen_nll, chosen_avg_logps=chosen_avg_logps, rejected_avg_logps=rejected_avg_logps
    )
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    log_odds = orpo_log_odds(chosen_avg_logps, rejected_avg_logps)  # (B,)
    nll = chosen_nll.mean()
    or_loss = -F.logsigmoid(log_odds).mean()  # eq. 7
    loss = nll + lam * or_loss  # eq. 6
    metrics = {
        "nll": nll.item(),
        "or_loss": or_loss.item(),
        "log_odds": log_odds.mean().item(),
        "odds_ratio_accuracy": ((log_odds > 0).float() + 0.5 * (log_odds == 0).float()).mean().item(),
    }
    return loss, metrics


# --- training loop ---


@dataclass
class ORPOConfig:
    lam: float = 0.6
    ("weight of the odds-ratio term (paper 0.1-0.2; ours 0.6: at 0.1 factual accuracy fell on the first MiniWorld "
     'as the NLL imitated "I am not sure"; lesson 6)')
    n_pairs: int = 6000
    """training pairs, on prompts of the world's train split (ignored when pairs are given)"""
    batch_size: int = 32
    """pairs per step"""
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=360, lr=3e-4, warmup_steps=5, weight_decay=0.0))
    ("optimiser loop (the paper starts from the base model; ours from SFT, so a short run of about two passes over "
     "the pairs; lesson 6)")
    label_temperature: float = 0.3
    """Bradley-Terry label noise of the generated pairs (0 = noiseless)"""
    seed: int = 0
    """seeds pair sampling and batch order"""


def train_orpo(policy: nn.Module, tok: Tokenizer, world: MiniWorld, cfg: ORPOConfig | None = None,
               pairs: Sequence[PreferencePair] | None = None) -> MetricsLog:
    """Train `policy` in place with ORPO; no reference model. Pairs default to `cfg.n_pairs`
    MiniWorld pairs drawn from the train split; pass your own (e.g. from `load_jsonl`)."""
    cfg = cfg or ORPOConfig()
    device = next(policy.parameters()).device
    if pairs is None:
        pairs = make_pairs(world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)
    encoded = [encode_pair(p, tok, policy.config.block_size) for p in pairs]
    # bucket=1: every batch mixes prompt kinds (see reward.train_reward)
    batches = (tuple(b.to(device) for b in collate_pairs(chunk, tok.pad_id))
               for chunk in batches_of(encoded, cfg.batch_size, cfg.seed, bucket=1))

    def loss_fn(model: nn.Module, batch: tuple[ChatBatch, ChatBatch]) -> tuple[torch.Tensor, dict]:
        chosen, rejected = batch
        # one forward each; the chosen pass gives both the NLL (eq. 6) and the odds (eq. 7)
        chosen_avg_logps = response_logps(model, chosen, average=True)  # (B,)
        rejected_avg_logps = response_logps(model, rejected, average=True)  # (B,)
        return orpo_loss(-chosen_avg_logps, chosen_avg_logps, rejected_avg_logps, lam=cfg.lam)

    return run_loop(policy, batches, loss_fn, cfg.loop, desc="orpo")
