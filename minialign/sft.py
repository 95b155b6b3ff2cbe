"""Supervised fine-tuning (SFT): next-token loss on the response tokens only.

The prompt is given, not generated, so the model is not trained to produce it; padding is
not text at all. Both are masked out. The loss is the mean over the batch's response tokens
(not over the whole padded batch), so padding never changes it; a long answer still weighs
more than a short one, having more tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .data import ChatBatch, batches_of, collate_chat, sft_examples
from .logprobs import next_token_nll, response_mask
from .model import GPT
from .tokenizer import Tokenizer
from .train import LoopConfig, MetricsLog, run_loop
from .world import MiniWorld


def sft_loss(logits: torch.Tensor, input_ids: torch.Tensor,
             loss_mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean negative log-likelihood of the masked next tokens (`logprobs.next_token_nll`).

    Args:
        logits: (B, T, V) model outputs.
        input_ids: (B, T) token ids.
        loss_mask: (B, T-1) shifted mask, 1 where token t+1 is a response token
            (see `logprobs.response_mask`).
    Returns:
        loss: scalar, -sum(mask * log p) / sum(mask), a per-token average over the whole batch.
        stats: {"response_tokens": the number of tokens the average is over}.
    """
    if loss_mask.shape != (input_ids.shape[0], input_ids.shape[1] - 1):
        raise ValueError(
            f"loss_mask must have shape (B, T-1) = {(input_ids.shape[0], input_ids.shape[1] - 1)}, "
            f"got {tuple(loss_mask.shape)}: it is shifted by one, like the log-probs"
        )
    return next_token_nll(logits, input_ids, loss_mask), {"response_tokens": float(loss_mask.sum())}


def batch_loss(model: GPT, batch: ChatBatch) -> tuple[torch.Tensor, dict]:
    """SFT loss of one ChatBatch (the loop's loss_fn)."""
    logits = model(batch.input_ids, attention_mask=None)  # right padding: causal attention never sees it
    mask = response_mask(batch.prompt_lens, batch.seq_lens, batch.input_ids.shape[1])
    return sft_loss(logits, batch.input_ids, mask)


@dataclass
class SFTConfig:
    n_examples: int = 16000
    """demonstrations drawn from the world (single-turn, critique -> revision, judge)"""
    batch_size: int = 32
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=300, lr=1e-3, warmup_steps=20, weight_decay=0.0))
    """SFT from a pretrained model: short, no weight decay, a tenth of the data of pretraining"""
    seed: int = 0


def fine_tune(model: GPT, tok: Tokenizer, examples: list[tuple[list[int], int]], batch_size: int, seed: int,
              loop: LoopConfig, desc: str) -> MetricsLog:
    """Fine-tune `model` in place on chat examples (ids, prompt_len) with the SFT loss; the
    shared loop of SFT, SL-CAI and the feedback model. Returns the metrics log."""
    device = next(model.parameters()).device
    batches = (collate_chat(b, tok.pad_id).to(device) for b in batches_of(examples, batch_size, seed))
    return run_loop(model, batches, batch_loss, loop, desc=desc)


def train_sft(model: GPT, tok: Tokenizer, world: MiniWorld, cfg: SFTConfig | None = None) -> MetricsLog:
    """Fine-tune `model` in place on the world's demonstrations; returns the metrics log."""
    cfg = cfg or SFTConfig()
    examples = sft_examples(world, tok, cfg.n_examples, cfg.seed, model.config.block_size)
    return fine_tune(model, tok, examples, cfg.batch_size, cfg.seed, cfg.loop, "sft")
