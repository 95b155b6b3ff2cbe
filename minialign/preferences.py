"""Preference pairs {prompt, chosen, rejected}: drawn from the oracle, saved and loaded as JSONL.

A human labeller who compares two responses does not always pick the better one; the closer
the two are, the likelier a slip. The Bradley-Terry model (the one reward models and DPO fit)
says exactly that:

    P(a preferred over b) = sigmoid((s_a - s_b) / label_temperature)

with s the oracle's scores. `make_pairs` flips a coin with that probability, so the labels are
noisy where the oracle's preference is weak and almost never where it is strong;
label_temperature = 0 gives noiseless labels.

The JSONL format uses the field names of TRL and the Hugging Face hub (`prompt`, `chosen`,
`rejected`, one JSON object per line), so learners can bring their own pairs; other fields on a
line are kept as metadata.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from . import oracle
from .data import ChatBatch, check_length, pad
from .logprobs import response_mask, sequence_logprobs
from .tokenizer import Tokenizer
from .train import atomic_write_text
from .world import MiniWorld

REQUIRED_FIELDS = ("prompt", "chosen", "rejected")


@dataclass
class PreferencePair:
    prompt: str
    chosen: str
    """the response the labeller preferred"""
    rejected: str
    kind: str = ""
    """MiniWorld prompt kind (factual, arithmetic, harmful, benign, advice); '' for outside data"""
    topic: str = ""
    chosen_score: float | None = None
    """oracle score of the chosen response, where known"""
    rejected_score: float | None = None
    flipped: bool = False
    """the Bradley-Terry coin chose the response the oracle scores lower (label noise)"""
    meta: dict = field(default_factory=dict)
    """any other fields of a loaded JSONL line"""


# --- drawing pairs from the oracle -----------------------------------------------------------
def preference_probability(score_a: float, score_b: float, label_temperature: float) -> float:
    """P(a preferred over b) = sigmoid((s_a - s_b) / label_temperature); a step function at 0."""
    if label_temperature < 0:
        raise ValueError(f"label_temperature must be >= 0, got {label_temperature}")
    gap = score_a - score_b
    if label_temperature == 0:
        return 1.0 if gap > 0 else 0.0 if gap < 0 else 0.5
    z = gap / label_temperature
    # the two forms of the sigmoid, each where exp() cannot overflow
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def make_pairs(world: MiniWorld, n: int, seed: int, split: str = "train",
               label_temperature: float = 0.3) -> list[PreferencePair]:
    """n preference pairs on prompts of `split`, labelled by a Bradley-Terry coin on oracle scores.

    For each sampled prompt, two responses of different world styles (e.g. refuse_redirect vs
    comply) are scored by the oracle; a seeded coin with P(a) = sigmoid((s_a - s_b) / T) picks
    the chosen one. Pairs the oracle scores exactly equal carry no preference and are skipped.
    At the default T = 0.3 about 3% of labels are flipped, nearly all on close pairs.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    pairs: list[PreferencePair] = []
    while len(pairs) < n:
        prompt = world.sample_prompt(rng, split)
        style_a, style_b = rng.sample(world.STYLES[prompt.kind], 2)
        a, b = world.respond(prompt, style_a, rng), world.respond(prompt, style_b, rng)
        score_a, score_b = oracle.score(prompt, a).total, oracle.score(prompt, b).total
        if score_a == score_b:
            continue
        a_wins = rng.random() < preference_probability(score_a, score_b, label_temperature)
        (chosen, s_c), (rejected, s_r) = ((a, score_a), (b, score_b)) if a_wins else ((b, score_b), (a, score_a))
        pairs.append(PreferencePair(prompt.text, chosen, rejected, prompt.kind, prompt.topic, s_c, s_r,
                                    flipped=s_c < s_r))
    return pairs


# --- JSONL ---------------------------------------------------------------------------------
_KNOWN = {f.name for f in fields(PreferencePair)} - {"meta"}


def save_jsonl(pairs: Sequence[PreferencePair], path: str | os.PathLike) -> None:
    """One JSON object per line: prompt, chosen, rejected, then the metadata that is set."""
    lines = []
    for p in pairs:
        row = {k: v for k, v in asdict(p).items() if k != "meta" and v not in (None, "")}
        lines.append(json.dumps({**row, **p.meta}))
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def _pair_from_row(row: object, where: str) -> PreferencePair:
    if not isinstance(row, dict):
        raise ValueError(f"{where}: expected a JSON object with fields {REQUIRED_FIELDS}, got {type(row).__name__}")
    for name in REQUIRED_FIELDS:
        if name not in row:
            raise ValueError(f"{where}: missing field {name!r} (each line needs {', '.join(REQUIRED_FIELDS)})")
        if not isinstance(row[name], str):
            raise ValueError(
                f"{where}: field {name!r} must be a string, got {type(row[name]).__name__} "
                "(the conversational list-of-messages format is not supported)"
            )
        if not row[name].strip():
            raise ValueError(f"{where}: field {name!r} is empty")
    known = {k: v for k, v in row.items() if k in _KNOWN}
    meta = {k: v for k, v in row.items() if k not in _KNOWN}
    try:
        return PreferencePair(**known, meta=meta)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def load_jsonl(path: str | os.PathLike, max_tokens: int | None = None,
               tokenizer: Tokenizer | None = None) -> list[PreferencePair]:
    """Read pairs written by `save_jsonl` (or any JSONL with prompt/chosen/rejected strings).

    With a tokenizer and max_tokens (the model's block_size), a pair whose prompt + response
    would not fit the model is an error too. Every error names the line and the problem.
    Blank lines are skipped.
    """
    if (max_tokens is None) != (tokenizer is None):
        raise ValueError("pass max_tokens and tokenizer together (or neither) to check example lengths")
    path = Path(path)
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        pair = _pair_from_row(row, where)
        if tokenizer is not None:
            for name in ("chosen", "rejected"):
                ids, _ = tokenizer.encode_chat(pair.prompt, getattr(pair, name))
                if len(ids) > max_tokens:
                    raise ValueError(
                        f"{where}: over-long example: prompt + {name} is {len(ids)} tokens, "
                        f"more than the model's block_size {max_tokens}"
                    )
        pairs.append(pair)
    return pairs


# --- tensors ---------------------------------------------------------------------------------
def encode_pair(pair: PreferencePair, tok: Tokenizer, block_size: int) -> tuple[list[int], list[int], int]:
    """(chosen ids, rejected ids, prompt_len): both prompt + response + <|end|>, same prompt."""
    chosen, prompt_len = tok.encode_chat(pair.prompt, pair.chosen)
    rejected, _ = tok.encode_chat(pair.prompt, pair.rejected)
    check_length(chosen, block_size, "prompt + chosen response")
    check_length(rejected, block_size, "prompt + rejected response")
    return chosen, rejected, prompt_len


def collate_pairs(encoded: Sequence[tuple[list[int], list[int], int]], pad_id: int) -> tuple[ChatBatch, ChatBatch]:
    """Encoded pairs -> (chosen ChatBatch, rejected ChatBatch), right-padded to ONE common
    length T, so that the two can be stacked (torch.cat) for a single forward pass."""
    seqs = [e[0] for e in encoded] + [e[1] for e in encoded]
    ids, mask = pad(seqs, pad_id)  # (2B, T)
    prompt_lens = torch.tensor([e[2] for e in encoded], dtype=torch.long)  # (B,)
    B = len(encoded)
    return ChatBatch(ids[:B], mask[:B], prompt_lens), ChatBatch(ids[B:], mask[B:], prompt_lens.clone())


def encode_pairs(pairs: Sequence[PreferencePair], tok: Tokenizer, block_size: int) -> tuple[ChatBatch, ChatBatch]:
    """(chosen, rejected) ChatBatches of a list of pairs; row i of each is pair i."""
    if not pairs:
        raise ValueError("pairs is empty")
    return collate_pairs([encode_pair(p, tok, block_size) for p in pairs], tok.pad_id)


def stack_batches(a: ChatBatch, b: ChatBatch) -> ChatBatch:
    """Rows of a then rows of b, as one batch (both padded to the same T, see collate_pairs)."""
    if a.input_ids.shape[1] != b.input_ids.shape[1]:
        raise ValueError(f"batches must have the same length T, got {a.input_ids.shape[1]} and {b.input_ids.shape[1]}")
    return ChatBatch(torch.cat([a.input_ids, b.input_ids]), torch.cat([a.attention_mask, b.attention_mask]),
                     torch.cat([a.prompt_lens, b.prompt_lens]))


def response_logps(model: nn.Module, batch: ChatBatch, average: bool = False) -> torch.Tensor:
    """(B,) log pi(response | prompt) of each row: SUMMED over response tokens (<|end|>
    included), or their per-token AVERAGE when average=True. Prompt and padding never count."""
    # right padding: under the causal mask no real token attends to the padding after it
    logits = model(batch.input_ids)  # (B, T, V)
    mask = response_mask(batch.prompt_lens, batch.seq_lens, batch.input_ids.shape[1])  # (B, T-1)
    return sequence_logprobs(logits, batch.input_ids, mask, average=average)  # (B,)
