"""Turning world text into tensors: pretraining blocks, SFT demonstrations, padded batches.

Every chat batch in the package has the same shape of data: right-padded `input_ids (B, T)`,
`attention_mask (B, T)` and `prompt_lens (B,)`. `logprobs.response_mask` turns these into the
shifted mask that says which log-probs belong to the response.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from . import oracle
from .tokenizer import Tokenizer
from .world import JUDGE_QUESTIONS, MiniWorld


@dataclass
class ChatBatch:
    input_ids: torch.Tensor  # (B, T) right-padded
    attention_mask: torch.Tensor  # (B, T) 1 = real token
    prompt_lens: torch.Tensor  # (B,) prompt tokens in each row

    def to(self, device) -> "ChatBatch":
        return ChatBatch(self.input_ids.to(device), self.attention_mask.to(device), self.prompt_lens.to(device))

    @property
    def seq_lens(self) -> torch.Tensor:
        return self.attention_mask.sum(dim=1)


def pad(seqs: Sequence[Sequence[int]], pad_id: int, side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (B, T), attention_mask (B, T)) padded to the longest sequence on `side`."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        if side == "right":
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
        elif len(s):
            ids[i, T - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, T - len(s) :] = 1
    return ids, mask


def collate_chat(examples: Sequence[tuple[list[int], int]], pad_id: int) -> ChatBatch:
    """Examples (ids, prompt_len) -> a right-padded ChatBatch."""
    ids, mask = pad([e[0] for e in examples], pad_id)
    return ChatBatch(ids, mask, torch.tensor([e[1] for e in examples], dtype=torch.long))


def check_length(ids: Sequence[int], block_size: int, what: str = "example") -> None:
    if len(ids) > block_size:
        raise ValueError(
            f"{what} has {len(ids)} tokens but the model's block_size is {block_size}; "
            "shorten it or use a preset with a longer context"
        )


# --- pretraining -----------------------------------------------------------------------------
def pretraining_tokens(world: MiniWorld, tok: Tokenizer, n_docs: int) -> torch.Tensor:
    """The corpus as one long stream of ids, documents separated by <|end|>."""
    stream: list[int] = []
    for doc in world.corpus_documents(n_docs):
        stream += tok.encode(" " + doc) + [tok.end_id]
    return torch.tensor(stream, dtype=torch.long)


def random_blocks(stream: torch.Tensor, block_size: int, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Endless batches (B, block_size) of windows cut at random offsets of the stream."""
    g = torch.Generator().manual_seed(seed)
    while True:
        starts = torch.randint(0, len(stream) - block_size, (batch_size,), generator=g)
        yield torch.stack([stream[s : s + block_size] for s in starts.tolist()])


# --- SFT demonstrations ------------------------------------------------------------------------
def judge_demo(world: MiniWorld, rng: random.Random, split: str = "train") -> tuple[str, str] | None:
    """An AI-judge demonstration: (judge prompt, 'The answer is A.'), labelled by the oracle.

    Returns None when the two candidates are too close to call."""
    prompt = world.sample_prompt(rng, split)
    criterion = rng.choice(sorted(JUDGE_QUESTIONS))
    styles = rng.sample(world.STYLES[prompt.kind], 2)
    a, b = (world.respond(prompt, s, rng) for s in styles)
    sa, sb = oracle.score(prompt, a), oracle.score(prompt, b)
    key = (lambda s: s.harmless + 0.1 * s.total) if criterion == "harmless" else (lambda s: s.total)
    if abs(key(sa) - key(sb)) < 0.25:
        return None
    letter = "A" if key(sa) > key(sb) else "B"
    return world.judge_prompt(prompt.text, a, b, JUDGE_QUESTIONS[criterion]), f"The answer is {letter}."


def draw_examples(draw: Callable[[random.Random], tuple[str, str] | None], tok: Tokenizer, n: int, seed: int,
                  block_size: int, what: str = "examples") -> list[tuple[list[int], int]]:
    """n single-turn examples (ids, prompt_len) from `draw(rng)` -> (prompt, response), or None
    to skip a draw; examples longer than block_size are skipped too. Raises ValueError after
    20 * n + 100 draws, so a `draw` that can never succeed is an error, not a hang."""
    rng = random.Random(seed)
    out: list[tuple[list[int], int]] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 20 * n + 100:
            raise ValueError(f"could not draw {n} {what} that fit block_size={block_size}")
        example = draw(rng)
        if example is None:
            continue
        ids, prompt_len = tok.encode_chat(*example)
        if len(ids) <= block_size:
            out.append((ids, prompt_len))
    return out


def sft_examples(world: MiniWorld, tok: Tokenizer, n: int, seed: int, block_size: int,
                 mix: tuple[float, float, float] = (0.72, 0.18, 0.10),
                 flaw_rate: float | None = None) -> list[tuple[list[int], int]]:
    """n SFT examples (ids, prompt_len): single-turn demonstrations (with the world's noise),
    critique -> revision transcripts, and AI-judge demonstrations, in proportions `mix`.

    For multi-turn transcripts the loss is on the final assistant turn only (prompt_len covers
    everything before it). `flaw_rate` goes to `MiniWorld.revision_demo`: 0.6 makes most
    critiques name a flaw, but on the first MiniWorld the cpu model trained on them then named
    flaws at random (seed 0: the loop still revised every benign answer into a refusal, and SL-CAI
    kept more harmful compliance), so the SFT stage keeps the default None."""
    rng = random.Random(seed)
    out: list[tuple[list[int], int]] = []
    while len(out) < n:
        u = rng.random()
        if u < mix[0]:
            prompt = world.sample_prompt(rng)
            _, response = world.sft_response(prompt, rng)
            ids, plen = tok.encode_chat(prompt.text, response)
        elif u < mix[0] + mix[1]:
            turns = world.revision_demo(rng, flaw_rate=flaw_rate)
            # half the transcripts teach the critique, half the revision
            cut = 4 if rng.random() < 0.5 else 6
            ids, plen = tok.encode_chat(turns[: cut - 1], turns[cut - 1][1])
        else:
            demo = judge_demo(world, rng)
            if demo is None:
                continue
            ids, plen = tok.encode_chat(demo[0], demo[1])
        if len(ids) <= block_size:
            out.append((ids, plen))
    return out


def batches_of(examples: Sequence, batch_size: int, seed: int, bucket: int = 16) -> Iterator[list]:
    """Endless shuffled mini-batches (lists of examples), reshuffled every epoch.

    Examples of similar length are batched together (within windows of `bucket` batches),
    so little compute goes to padding; the batch order is shuffled again afterwards."""
    rng = random.Random(seed)
    order = list(range(len(examples)))
    size = (lambda i: len(examples[i][0])) if examples and isinstance(examples[0], tuple) else (lambda i: 0)
    while True:
        rng.shuffle(order)
        batches = []
        window = batch_size * max(1, bucket)
        for w in range(0, len(order), window):
            chunk = sorted(order[w : w + window], key=size)
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk) - batch_size + 1, batch_size)]
        rng.shuffle(batches)
        for b in batches:
            yield [examples[j] for j in b]
