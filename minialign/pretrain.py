"""Pretraining: next-token prediction on the world's web-like corpus.

This is SFT's loss with every token counted (`logprobs.next_token_nll` with a mask of ones):
a base model learns to continue text, whatever the text is, harmful how-tos included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .data import pretraining_tokens, random_blocks
from .logprobs import next_token_nll
from .model import GPT
from .tokenizer import Tokenizer
from .train import LoopConfig, MetricsLog, run_loop
from .world import MiniWorld


def batch_loss(model: GPT, tokens: torch.Tensor) -> tuple[torch.Tensor, dict]:
    logits = model(tokens)
    mask = torch.ones(tokens.shape[0], tokens.shape[1] - 1, device=tokens.device)
    return next_token_nll(logits, tokens, mask), {}


@dataclass
class PretrainConfig:
    n_docs: int = 12000
    """documents in the corpus (about 37 tokens each)"""
    batch_size: int = 32
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=600, lr=3e-3, warmup_steps=30))
    ("optimiser loop (GPT-2 lr 6e-4; ours 3e-3 for 600 steps: the sums are what a tiny model learns last, and later "
     "lessons build on them; lesson 1)")
    seed: int = 0


def train_pretrain(model: GPT, tok: Tokenizer, world: MiniWorld, cfg: PretrainConfig | None = None) -> MetricsLog:
    """Pretrain `model` in place on the world's corpus; returns the metrics log."""
    cfg = cfg or PretrainConfig()
    device = next(model.parameters()).device
    stream = pretraining_tokens(world, tok, cfg.n_docs)
    blocks = (b.to(device) for b in random_blocks(stream, model.config.block_size, cfg.batch_size, cfg.seed))
    return run_loop(model, blocks, batch_loss, cfg.loop, desc="pretrain")
