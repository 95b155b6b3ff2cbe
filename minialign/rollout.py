"""Sampling responses to chat prompts, in batches, with the KV cache.

Prompts of different lengths are left-padded for generation (so every row's next token is at
the same position), then each row is laid out again right-padded, prompt + response, in the
ChatBatch layout the losses use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .data import ChatBatch, check_length, pad
from .model import GPT
from .tokenizer import Tokenizer


@dataclass
class Rollout:
    batch: ChatBatch
    """prompt + response (+ <|end|> when the model stopped), right-padded"""
    responses: list[str]
    """decoded response text, cut at <|end|>"""
    finished: torch.Tensor
    """(B,) bool: the model produced <|end|> within the token budget"""


@torch.no_grad()
def generate(
    model: GPT,
    tok: Tokenizer,
    prompts: Sequence[str | list[tuple[str, str]]],
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 128,
    use_cache: bool = True,
) -> Rollout:
    """Sample one response per prompt (a user string or a list of chat turns)."""
    model.eval()
    device = next(model.parameters()).device
    prompt_ids = [tok.chat_prompt(p) for p in prompts]
    for ids in prompt_ids:
        check_length(ids, model.config.block_size, "prompt")
    rows: list[list[int]] = []
    plens: list[int] = []
    finished: list[bool] = []
    for start in range(0, len(prompt_ids), batch_size):
        chunk = prompt_ids[start : start + batch_size]
        ids, mask = pad(chunk, tok.pad_id, side="left")
        budget = min(max_new_tokens, model.config.block_size - ids.shape[1])
        out = model.generate(
            ids.to(device), budget, temperature=temperature, top_k=top_k, eos_id=tok.end_id,
            use_cache=use_cache, attention_mask=mask.to(device), pad_id=tok.pad_id, generator=generator,
        ).cpu()
        new = out[:, ids.shape[1] :]
        for p, row in zip(chunk, new.tolist()):
            stop = row.index(tok.end_id) + 1 if tok.end_id in row else len(row)
            response = row[:stop]
            rows.append(p + response)
            plens.append(len(p))
            finished.append(tok.end_id in response)
    input_ids, attention_mask = pad(rows, tok.pad_id, side="right")
    batch = ChatBatch(input_ids, attention_mask, torch.tensor(plens, dtype=torch.long))
    responses = [tok.decode_response(r[pl:]) for r, pl in zip(rows, plens)]
    return Rollout(batch, responses, torch.tensor(finished))
