"""Reward model: a GPT trunk with a scalar head, trained on preference pairs (Bradley-Terry).

The reward of a (prompt, response) is read at the *last real token*: under a causal mask it is
the only position that has seen the whole sequence. Reading it at the last column of the batch
instead ("pooling on padding") scores a padding token: the reward of a right-padded row then
depends on how much padding its batch happened to need.

The loss is the pairwise Bradley-Terry likelihood (Ouyang et al. 2022, InstructGPT eq. 1):

    loss = -E[ log sigmoid(r(x, y_chosen) - r(x, y_rejected)) ]

optionally with a margin that asks for a larger gap on clearer preferences (Touvron et al. 2023,
Llama 2 eq. 2): -log sigmoid(r_c - r_r - m).

Shapes: B = batch, T = time (tokens), C = n_embd.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from minialign.checks import check_batch_vectors
from minialign.data import ChatBatch, batches_of, pad
from minialign.model import GPT
from minialign.preferences import PreferencePair, collate_pairs, encode_pair, make_pairs, stack_batches
from minialign.tokenizer import Tokenizer
from minialign.train import LoopConfig, MetricsLog, run_loop
from minialign.world import MiniWorld


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B,) long: the largest index t with attention_mask[b, t] == 1, for every row b.

    Works for right padding (the index is the row's length - 1) and for left padding (the
    index is T - 1) alike, because it looks for the last real token instead of counting them.

    Args:
        attention_mask: (B, T), 1 (or True) for real tokens, 0 for padding.
    Raises:
        ValueError: if the mask is not (B, T) or a row has no real token.
    """
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (B, T), got shape {tuple(attention_mask.shape)}")
    T = attention_mask.shape[1]
    positions = torch.arange(T, device=attention_mask.device).expand_as(attention_mask)  # (B, T)
    # padding gets index -1, so the max over the row is the last real token (or -1 if none)
    index = torch.where(attention_mask.bool(), positions, -1).max(dim=1).values  # (B,)
    empty = (index < 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"attention_mask rows {empty} have no real token; a reward needs at least one")
    return index


def pool_last_token(values: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """values[b, last_token_index(attention_mask)[b]] for every row b.

    Args:
        values: (B, T, C) hidden states or (B, T) per-token values.
        attention_mask: (B, T), 1 for real tokens.
    Returns:
        (B, C) or (B,): the entry at each row's last real token.
    """
    if values.dim() not in (2, 3) or values.shape[:2] != attention_mask.shape:
        raise ValueError(
            f"values must be (B, T) or (B, T, C) with (B, T) = attention_mask shape "
            f"{tuple(attention_mask.shape)}, got shape {tuple(values.shape)}"
        )
    index = last_token_index(attention_mask)  # (B,)
    rows = torch.arange(values.shape[0], device=values.device)  # (B,)
    return values[rows, index]  # (B, C) or (B,)


def bradley_terry_loss(
    chosen_rewards: torch.Tensor,
    rejected_rewards: torch.Tensor,
    margin: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Pairwise reward-model loss: mean over pairs of -log sigmoid(r_c - r_r - margin).

    Bradley-Terry says P(chosen > rejected) = sigmoid(r_c - r_r); this is its negative
    log-likelihood (InstructGPT eq. 1). The margin (Llama 2 eq. 2) is 0 when None.

    Args:
        chosen_rewards: (B,) scalar rewards of the preferred responses.
        rejected_rewards: (B,) scalar rewards of the other responses.
        margin: None, a float, or (B,) per-pair margins.
    Returns:
        loss: () mean loss over the B pairs.
        stats: python floats, "accuracy" (`preference_accuracy`: pairs ranked the right way
            round, a tie counting 1/2) and "margin" (the mean reward gap r_c - r_r, without
            the margin argument).
    """
    check_batch_vectors(chosen_rewards=chosen_rewards, rejected_rewards=rejected_rewards)
    logits = chosen_rewards - rejected_rewards  # (B,)
    if margin is not None:
        margin = torch.as_tensor(margin, dtype=logits.dtype, device=logits.device)
        if margin.dim() != 0 and margin.shape != logits.shape:
            raise ValueError(
                f"margin must be a float or have shape (B,) = {tuple(logits.shape)}, got shape {tuple(margin.shape)}"
            )
        logits = logits - margin
    # logsigmoid, not log(sigmoid(.)): sigmoid underflows to 0 for a large negative gap and log(0) = -inf
    loss = -F.logsigmoid(logits).mean()
    chosen, rejected = chosen_rewards.detach(), rejected_rewards.detach()
    return loss, {"accuracy": preference_accuracy(chosen, rejected), "margin": (chosen - rejected).mean().item()}


def preference_accuracy(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor, tie_tol: float = 0.0) -> float:
    """Fraction of pairs the reward model ranks the right way round: r_c > r_r.

    A tie (|r_c - r_r| <= tie_tol) counts 0.5, what a coin flip between the two would score, so
    that a constant reward model has accuracy 0.5 and not 0 or 1.

    Args:
        chosen_rewards, rejected_rewards: (B,) rewards.
        tie_tol: differences this small are ties (0: only exact equality).
    """
    check_batch_vectors(chosen_rewards=chosen_rewards, rejected_rewards=rejected_rewards)
    diff = chosen_rewards - rejected_rewards
    wins = (diff > tie_tol).float() + 0.5 * (diff.abs() <= tie_tol).float()
    return wins.mean().item()


class RewardModel(nn.Module):
    """r(x, y): a GPT trunk and a linear head on the hidden state of the last real token.

    The trunk starts from the SFT model (Ouyang et al. 2022, sec. 3.5: the RM is the SFT model
    with the unembedding layer replaced by a scalar output); the language-model head of the
    trunk is simply not used.
    """

    def __init__(self, gpt: GPT):
        super().__init__()
        self.gpt = gpt
        n_embd = gpt.config.n_embd
        self.head = nn.Linear(n_embd, 1)
        # std 1/sqrt(d_model + 1), as in Ziegler et al. 2019's reward head: the trunk's final
        # LayerNorm makes each hidden coordinate of order 1, so the first rewards are of order 1
        # whatever the width and the sigmoid in the loss starts unsaturated
        nn.init.normal_(self.head.weight, mean=0.0, std=1.0 / math.sqrt(n_embd + 1))
        nn.init.zeros_(self.head.bias)

    @classmethod
    def from_policy(cls, policy: GPT) -> "RewardModel":
        """A reward model whose trunk is a deep copy of `policy`, on the policy's device: training it
        leaves the SFT model as it was."""
        return cls(copy.deepcopy(policy)).to(next(policy.parameters()).device)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B,) scalar rewards of the sequences input_ids (B, T), padding marked 0 in attention_mask (B, T)."""
        h, _ = self.gpt.hidden_states(input_ids, attention_mask)  # (B, T, C)
        return self.head(pool_last_token(h, attention_mask)).squeeze(-1)  # (B,)


# --- training loop ---


@dataclass
class RewardConfig:
    n_pairs: int = 19200
    """training pairs on train-split prompts: 600 steps x 32, one pass, so no pair is seen twice (lesson 3)"""
    n_eval_pairs: int = 500
    """held-out pairs, on prompts of the eval split, for the pairwise accuracy"""
    batch_size: int = 32
    """pairs per step (each step scores 2 * batch_size sequences)"""
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=600, lr=3e-4, warmup_steps=30, weight_decay=0.0,
                                                                min_lr_frac=1.0))
    ("optimiser loop (InstructGPT: one epoch at ~9e-6 for 6B; ours one pass at a constant 3e-4: checking facts and "
     "sums takes hundreds of steps; lesson 3)")
    label_temperature: float = 0.3
    """Bradley-Terry label noise of the training pairs (0 = noiseless; lesson 3)"""
    eval_label_temperature: float = 0.0
    """noise of the held-out labels; 0 measures agreement with the oracle's own ranking"""
    seed: int = 0
    """seeds pair sampling and batch order (held-out pairs use seed + 1)"""


def pair_rewards(rm: RewardModel, chosen: ChatBatch, rejected: ChatBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen_rewards (B,), rejected_rewards (B,)) from one forward pass over both halves."""
    both = stack_batches(chosen, rejected)  # (2B, T)
    rewards = rm(both.input_ids, both.attention_mask)  # (2B,)
    B = chosen.input_ids.shape[0]
    return rewards[:B], rewards[B:]


def batch_loss(rm: RewardModel, batch: tuple[ChatBatch, ChatBatch]) -> tuple[torch.Tensor, dict]:
    """Bradley-Terry loss of one batch of pairs (the loop's loss_fn), with accuracy and margin."""
    chosen_rewards, rejected_rewards = pair_rewards(rm, *batch)  # (B,), (B,)
    return bradley_terry_loss(chosen_rewards, rejected_rewards)


READOUT_TIE_TOL = 1e-5
"""rewards of one evaluation closer than this are a tie (float rounding between batch rows)"""


@torch.no_grad()
def reward_accuracy(rm: RewardModel, tok: Tokenizer, pairs: Sequence[PreferencePair], batch_size: int = 256) -> float:
    """Fraction of pairs whose chosen response gets the higher reward (a tie counts 0.5)."""
    rm.eval()
    device = next(rm.parameters()).device
    block_size = rm.gpt.config.block_size
    chosen, rejected = [], []
    for start in range(0, len(pairs), batch_size):
        encoded = [encode_pair(p, tok, block_size) for p in pairs[start : start + batch_size]]
        r_c, r_r = pair_rewards(rm, *(b.to(device) for b in collate_pairs(encoded, tok.pad_id)))
        chosen.append(r_c)
        rejected.append(r_r)
    # two rows of one batch holding the same text can differ in the last float bit (the matrix
    # kernels split rows unevenly), so rewards closer than READOUT_TIE_TOL are read as a tie
    return preference_accuracy(torch.cat(chosen), torch.cat(rejected), tie_tol=READOUT_TIE_TOL)


@torch.no_grad()
def score_texts(rm: RewardModel, tok: Tokenizer, prompts: Sequence[str], responses: Sequence[str],
                batch_size: int = 256) -> torch.Tensor:
    """(B,) rewards of prompt i with response i, each laid out as the RM was trained on it
    (chat template, response closed by <|end|>)."""
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
    rm.eval()
    device = next(rm.parameters()).device
    out = []
    for start in range(0, len(prompts), batch_size):
        seqs = [tok.encode_chat(p, r)[0] for p, r in zip(prompts[start : start + batch_size],
                                                        responses[start : start + batch_size])]
        ids, mask = pad(seqs, tok.pad_id)  # (b, T), (b, T)
        out.append(rm(ids.to(device), mask.to(device)).cpu())
    return torch.cat(out) if out else torch.zeros(0)


def train_reward(rm: RewardModel, tok: Tokenizer, world: MiniWorld, cfg: RewardConfig | None = None) -> MetricsLog:
    """Train the reward model `rm` in place on MiniWorld pairs; returns the metrics log, whose
    last row holds `eval_accuracy`: pairwise accuracy on held-out pairs.

    Start it from the SFT model with `RewardModel.from_policy(sft_model)`, a copy that leaves
    the SFT model as it was."""
    cfg = cfg or RewardConfig()
    if not isinstance(rm, RewardModel):
        raise ValueError(f"rm must be a RewardModel (e.g. RewardModel.from_policy(sft_model)), got {type(rm).__name__}")
    device = next(rm.parameters()).device
    rm.requires_grad_(True)  # its trunk may come from a model handed over frozen (e.g. as a reference)
    block_size = rm.gpt.config.block_size
    pairs = make_pairs(world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)
    encoded = [encode_pair(p, tok, block_size) for p in pairs]
    # bucket=1: no length bucketing. Response lengths differ by prompt kind, so length buckets
    # are batches of one kind, and a trunk pulled one kind at a time learns far less (on the first
    # MiniWorld, held-out accuracy 0.73 instead of 0.82 after 60 steps of the cpu preset)
    batches = (tuple(b.to(device) for b in collate_pairs(chunk, tok.pad_id))
               for chunk in batches_of(encoded, cfg.batch_size, cfg.seed, bucket=1))
    log = run_loop(rm, batches, batch_loss, cfg.loop, desc="reward")
    eval_pairs = make_pairs(world, cfg.n_eval_pairs, cfg.seed + 1, "eval", cfg.eval_label_temperature)
    log.log(cfg.loop.steps, eval_accuracy=reward_accuracy(rm, tok, eval_pairs))
    return log
