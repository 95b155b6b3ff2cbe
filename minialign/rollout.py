"""Sampling responses to chat prompts, in batches, with the KV cache.

Prompts of different lengths are left-padded for generation (so every row's next token is at
the same position), then each row is laid out again right-padded, prompt + response, in the
ChatBatch layout the losses use. `model_generate` wraps `generate` as a plain function from
conversations to replies, batching conversations of similar length together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .data import ChatBatch, check_length, pad
from .model import GPT
from .tokenizer import Tokenizer

Turn = tuple[str, str]
"""(role, text), role 'user' or 'assistant'"""
BatchGenerate = Callable[[list[list[Turn]]], list[str]]
"""a model as a function: conversations ending with a user turn -> next assistant replies"""


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
    prompts: Sequence[str | list[Turn]],
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


def length_buckets(lengths: Sequence[int], width: int = 8, max_size: int = 128) -> list[list[int]]:
    """Indices grouped so that lengths within a group differ by at most `width` (and at most
    max_size per group), shortest first.

    A batch of left-padded prompts shares one token budget, block_size minus its longest prompt,
    so a short prompt batched with a long one would lose the difference."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and lengths[i] - lengths[groups[-1][0]] <= width and len(groups[-1]) < max_size:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def model_generate(model: GPT, tok: Tokenizer, max_new_tokens: int = 48, temperature: float = 0.0,
                   generator: torch.Generator | None = None, bucket_width: int = 8) -> BatchGenerate:
    """The model as a BatchGenerate: one sampled reply per conversation (`generate`).

    Conversations short enough to leave max_new_tokens of room are batched freely; longer ones
    with others of similar length (see `length_buckets`), so none loses budget to padding."""
    limit = model.config.block_size - max_new_tokens

    def generate_replies(conversations: list[list[Turn]]) -> list[str]:
        lengths = [len(tok.chat_prompt(c)) for c in conversations]
        roomy = [i for i, n in enumerate(lengths) if n <= limit]
        tight = [i for i, n in enumerate(lengths) if n > limit]
        groups = [roomy[k : k + 128] for k in range(0, len(roomy), 128)]
        groups += [[tight[j] for j in g] for g in length_buckets([lengths[i] for i in tight], bucket_width)]
        replies = [""] * len(conversations)
        for group in groups:
            out = generate(model, tok, [conversations[i] for i in group], max_new_tokens=max_new_tokens,
                           temperature=temperature, generator=generator)
            for i, reply in zip(group, out.responses):
                replies[i] = reply
        return replies

    return generate_replies
