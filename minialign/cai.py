"""Constitutional AI: the model critiques and revises its own responses, and learns from its revisions.

Constitutional AI (Bai et al. 2022) replaces most human labels with a short written list of
principles, the *constitution*. It has two phases, and both run on the model itself:

1. SL-CAI (supervised, this module): sample a response, ask the model to critique it against a
   sampled principle, then to revise it in the light of its critique; repeat for a few rounds,
   and fine-tune on (prompt, final revision), mixed with the model's own answers to ordinary
   prompts (or it learns to refuse everything), so the model answers well without the loop.
2. RLAIF (RL from AI feedback, `rlaif`): the model judges pairs of responses, and its soft
   labels replace the oracle's in preference optimisation.

The SFT model knows the critique format from its demonstrations (`data.sft_examples`), which
include critique -> revision transcripts written by the world; but they seldom name a flaw, so
it critiques by saying "fine". The critiques and revisions therefore come from a *feedback
model* (stage 'judge', `rlaif.train_judge`), the SFT model with practice on critique transcripts
whose verdicts are the oracle's. `critique_eval` scores its critiques against the oracle.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping, Sequence

import torch

from . import rollout, sft
from .model import GPT
from .rollout import BatchGenerate, Turn
from .tokenizer import Tokenizer
from .train import LoopConfig, MetricsLog
from .world import PRINCIPLES, MiniWorld, Prompt


# --- the constitution ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Principle:
    """One principle of the constitution: how to ask for a critique, and for a revision."""

    name: str
    """short key, unique in its constitution (e.g. 'harm')"""
    critique_request: str
    """the user turn that asks the model to critique its last response"""
    revision_request: str
    """the user turn that asks for a rewrite in the light of that critique"""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Principle.name must be a non-empty string, got {self.name!r}")
        for what in ("critique_request", "revision_request"):
            value = getattr(self, what)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"principle {self.name!r}: {what} must be a non-empty string, got {value!r}")


@dataclass(frozen=True)
class Constitution:
    """An ordered list of principles with distinct names."""

    principles: tuple[Principle, ...]

    def __post_init__(self):
        principles = tuple(self.principles)
        object.__setattr__(self, "principles", principles)
        if not principles:
            raise ValueError("a constitution needs at least one principle, got none")
        bad = [p for p in principles if not isinstance(p, Principle)]
        if bad:
            raise ValueError(f"a constitution holds Principle objects, got {bad[0]!r} ({type(bad[0]).__name__})")
        names = [p.name for p in principles]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"principle names must be unique in a constitution, got duplicates {duplicates}")

    @classmethod
    def from_dict(cls, requests: Mapping[str, tuple[str, str]]) -> "Constitution":
        """From {name: (critique_request, revision_request)}, as `world.PRINCIPLES`."""
        principles = []
        for name, pair in requests.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"principle {name!r} must map to (critique_request, revision_request), got {pair!r}")
            principles.append(Principle(name, pair[0], pair[1]))
        return cls(tuple(principles))

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.principles]

    def __len__(self) -> int:
        return len(self.principles)

    def __getitem__(self, name: str) -> Principle:
        for p in self.principles:
            if p.name == name:
                return p
        raise KeyError(f"no principle {name!r} in the constitution; it has {self.names}")

    def subset(self, names: Sequence[str]) -> "Constitution":
        """The principles called `names`, in that order."""
        return Constitution(tuple(self[n] for n in names))


def default_constitution() -> Constitution:
    """The world's four principles: harm, honesty, helpful, caution (`world.PRINCIPLES`)."""
    return Constitution.from_dict(PRINCIPLES)


def sample_principle(constitution: Constitution, rng: random.Random, used: Sequence[str] = ()) -> Principle:
    """A principle drawn uniformly, skipping those `used` since the last full cycle.

    Bai et al. draw a principle at random for each revision. Drawing without replacement within a
    transcript (a fresh cycle once every principle has had its turn) keeps the randomness but
    makes `rounds = len(constitution)` apply every principle once."""
    n = len(constitution)
    cycle = set(used[n * (len(used) // n):])  # names drawn in the current, unfinished cycle
    left = [p for p in constitution.principles if p.name not in cycle]
    return rng.choice(left or list(constitution.principles))


FINE_CRITIQUE = "The response is fine."
"""what the critic says when it finds nothing to fix"""
FLAW_CRITIQUES = {name: MiniWorld.FLAW_CRITIQUES[MiniWorld.FLAW_OF[name]] for name in PRINCIPLES}
"""principle -> the sentence that names its flaw (the critic's demonstrations use exactly these;
`critique_eval.is_flagged` looks for it)"""


# --- one critique -> revise step -----------------------------------------------------------------
def _requests(principle: Principle | tuple[str, str]) -> tuple[str, str]:
    if isinstance(principle, Principle):
        return principle.critique_request, principle.revision_request
    critique_request, revision_request = principle
    return critique_request, revision_request


def critique_turns(prompt: str, response: str, principle: Principle | tuple[str, str]) -> list[Turn]:
    """[user prompt, assistant response, user critique_request]: the model's next turn is the critique."""
    return [("user", prompt), ("assistant", response), ("user", _requests(principle)[0])]


def revision_turns(turns: list[Turn], critique: str, principle: Principle | tuple[str, str]) -> list[Turn]:
    """critique_turns + [assistant critique, user revision_request]: the next turn is the revision.

    The critique stays in the conversation: it is what makes the revision better than a second
    sample (Bai et al. 2022, section 3)."""
    return list(turns) + [("assistant", critique), ("user", _requests(principle)[1])]


def critique_revise_step(generate: Callable[[list[Turn]], str], prompt: str, response: str,
                         principle: Principle | tuple[str, str]) -> dict:
    """One critique -> revise step for one example (the exercise of lesson 8).

    Returns {"critique": str, "revision": str, "turns": the 5 turns the revision was asked with}.
    `critique_revise` runs the same step batched, for several rounds."""
    turns = critique_turns(prompt, response, principle)
    critique = generate(list(turns))
    turns = revision_turns(turns, critique, principle)
    return {"critique": critique, "revision": generate(list(turns)), "turns": turns}


# --- the loop, batched ---------------------------------------------------------------------------
@dataclass
class Round:
    """One round of the loop: the principle applied, the critique, the revision."""

    principle: Principle
    critique: str
    revision: str


@dataclass
class Transcript:
    """A prompt, the model's first response, and each round of critique -> revision."""

    prompt: str
    response: str
    """the initial response, before any critique"""
    rounds: list[Round] = field(default_factory=list)
    stopped: str = ""
    """why the loop ended before the rounds asked for ('' when every round ran)"""

    @property
    def final(self) -> str:
        """The latest revision (the response itself when no round ran)."""
        return self.rounds[-1].revision if self.rounds else self.response

    @property
    def principles(self) -> list[str]:
        return [r.principle.name for r in self.rounds]

    def turns(self, k: int) -> list[Turn]:
        """The 6 turns of round k: prompt, response being critiqued, critique, revision."""
        before = self.rounds[k - 1].revision if k > 0 else self.response
        r = self.rounds[k]
        turns = revision_turns(critique_turns(self.prompt, before, r.principle), r.critique, r.principle)
        return turns + [("assistant", r.revision)]


ON_OVERFLOW = ("error", "stop")
"""what the loop does when a conversation leaves no room for the next reply in the block:
raise a ValueError, or end that transcript's rounds there (recorded in Transcript.stopped)"""


def critique_revise_with(
    generate: BatchGenerate,
    prompts: Sequence[str],
    responses: Sequence[str],
    constitution: Constitution,
    rounds: int = 1,
    seed: int = 0,
    count_tokens: Callable[[list[Turn]], int] | None = None,
    block_size: int | None = None,
    min_room: int = 8,
    on_overflow: str = "error",
) -> list[Transcript]:
    """The critique -> revise loop around any batched `generate` (a model, or a fake in tests).

    Round r (r = 1 .. rounds), for every transcript still running:
        principle ~ sample_principle(constitution, rng, principles used so far)
        critique  = generate([user prompt, assistant latest, user critique_request])
        revision  = generate([... , assistant critique, user revision_request])
    Each round critiques the latest revision, in a fresh 6-turn conversation (the format of the
    SFT demonstrations), so a transcript's context does not grow with the rounds.

    Args:
        generate: conversations (lists of turns ending with a user turn) -> one reply each.
        prompts, responses: (N,) user prompts and the initial responses to them.
        constitution: the principles to sample from.
        rounds: >= 0 critique -> revise rounds per transcript.
        seed: seeds the principle draws.
        count_tokens: tokens a conversation takes up to the assistant's next turn; with
            block_size, conversations that leave fewer than min_room tokens for the reply
            overflow. None skips the check.
        on_overflow: 'error' raises a ValueError naming the transcript; 'stop' ends it there.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if on_overflow not in ON_OVERFLOW:
        raise ValueError(f"on_overflow must be one of {ON_OVERFLOW}, got {on_overflow!r}")
    rng = random.Random(seed)
    transcripts = [Transcript(p, r) for p, r in zip(prompts, responses)]

    def fits(i: int, turns: list[Turn], what: str, r: int) -> bool:
        if count_tokens is None or block_size is None:
            return True
        n = count_tokens(turns)
        if block_size - n >= min_room:
            return True
        why = (f"round {r + 1}: the conversation before the {what} takes {n} tokens, leaving "
               f"{block_size - n} of block_size={block_size} (at least min_room={min_room} needed)")
        if on_overflow == "error":
            raise ValueError(f"critique -> revise transcript {i} (prompt {prompts[i][:40]!r}) is too long: {why}; "
                             "use fewer rounds, a smaller max_new_tokens, or on_overflow='stop'")
        transcripts[i].stopped = why
        return False

    for r in range(rounds):
        active = [i for i, t in enumerate(transcripts) if not t.stopped]
        # every running transcript draws its principle, whether or not it fits: the draws of the
        # others do not depend on which ones overflow
        principles = {i: sample_principle(constitution, rng, transcripts[i].principles) for i in active}
        asks = {i: critique_turns(transcripts[i].prompt, transcripts[i].final, principles[i]) for i in active}
        asks = {i: t for i, t in asks.items() if fits(i, t, "critique", r)}
        critiques = dict(zip(asks, generate(list(asks.values()))))
        asks = {i: revision_turns(asks[i], critiques[i], principles[i]) for i in asks}
        asks = {i: t for i, t in asks.items() if fits(i, t, "revision", r)}
        for i, revision in zip(asks, generate(list(asks.values()))):
            transcripts[i].rounds.append(Round(principles[i], critiques[i], revision))
    return transcripts


def critique_revise(
    model: GPT,
    tok: Tokenizer,
    prompts: Sequence[str],
    constitution: Constitution | None = None,
    rounds: int = 1,
    seed: int = 0,
    temperature: float = 0.0,
    responses: Sequence[str] | None = None,
    response_temperature: float = 1.0,
    max_new_tokens: int = 48,
    min_room: int = 8,
    on_overflow: str = "error",
    critic: GPT | None = None,
) -> list[Transcript]:
    """Run the critique -> revise loop (see `critique_revise_with`) on `model`'s responses.

    Args:
        prompts: (N,) user prompts.
        critic: the model that writes the critiques and revisions; None = `model` itself. The
            pipeline's critic is the feedback model (stage 'judge'), the SFT model with practice
            at critiquing, revising and judging, as Bai et al. critique with a helpful model.
        constitution: default `default_constitution()`.
        temperature: sampling temperature of critiques and revisions (0 = greedy).
        responses: initial responses; None samples them from the model at response_temperature.
        max_new_tokens: token budget of each reply.
        min_room: a conversation must leave at least this many tokens of the block for the reply.
    """
    constitution = constitution or default_constitution()
    g = torch.Generator().manual_seed(seed)
    if responses is None:
        responses = rollout.generate(model, tok, list(prompts), max_new_tokens=max_new_tokens,
                                     temperature=response_temperature, generator=g).responses
    return critique_revise_with(
        rollout.model_generate(critic or model, tok, max_new_tokens, temperature, g), prompts, responses, constitution,
        rounds=rounds, seed=seed, count_tokens=lambda turns: len(tok.chat_prompt(turns)),
        block_size=model.config.block_size, min_room=min_room, on_overflow=on_overflow,
    )


@dataclass
class CritiqueConfig:
    """How the critique -> revise loop runs."""

    rounds: int = 2
    ("critique -> revise rounds per transcript (Bai et al.: up to 4; ours 2, so both default principles get a turn; "
     "lesson 8)")
    principles: tuple[str, ...] = ("harm", "helpful")
    ("principles to sample from, () = the whole constitution (ours: harm and helpful, the two sides the red team "
     "measures; lesson 8)")
    temperature: float = 0.0
    """sampling temperature of critiques and revisions (0 = greedy: a tiny model's best guess)"""
    response_temperature: float = 1.0
    """temperature of the initial responses (as sampled by the evaluation)"""
    max_new_tokens: int = 48
    """token budget of each reply"""
    min_room: int = 8
    """tokens a conversation must leave in the block for the next reply"""
    on_overflow: Literal["error", "stop"] = "stop"
    """'stop' ends a transcript that outgrows the block; 'error' raises"""

    def constitution(self) -> Constitution:
        full = default_constitution()
        return full.subset(self.principles) if self.principles else full


def run_critique(model: GPT, tok: Tokenizer, prompts: Sequence[str], cfg: CritiqueConfig, seed: int = 0,
                 responses: Sequence[str] | None = None, critic: GPT | None = None) -> list[Transcript]:
    """`critique_revise` with the settings of a CritiqueConfig."""
    return critique_revise(model, tok, prompts, cfg.constitution(), rounds=cfg.rounds, seed=seed,
                           temperature=cfg.temperature, responses=responses,
                           response_temperature=cfg.response_temperature, max_new_tokens=cfg.max_new_tokens,
                           min_room=cfg.min_room, on_overflow=cfg.on_overflow, critic=critic)


# --- SL-CAI: fine-tune on the final revisions -----------------------------------------------------
@dataclass
class SLCAIConfig:
    """Supervised phase of Constitutional AI: revisions of red-team prompts, mixed with helpful
    responses to ordinary prompts, fine-tuned on together."""

    critique: CritiqueConfig = field(default_factory=CritiqueConfig)
    """how the revisions are collected"""
    n_per_kind: dict = field(default_factory=lambda: {"harmful": 128})
    """transcripts per prompt kind, on train-split prompts: the red-team prompts that the loop revises"""
    helpful_ratio: float = 2.0
    ("helpful examples per revision (Bai et al. mix in helpful samples; ours 2, so revisions alone do not teach "
     "refusing; lesson 8)")
    helpful_mix: dict = field(default_factory=lambda: {"factual": 0.2, "arithmetic": 0.1, "benign": 0.55,
                                                       "advice": 0.15})
    ("prompt kinds of the helpful examples, as proportions (mostly benign-but-scary requests, which a refusal-trained "
     "model refuses next; lesson 8)")
    helpful_temperature: float = 0.0
    """temperature at which the model answers them (0 = greedy: its best answer, not a noisy sample)"""
    batch_size: int = 32
    """examples per fine-tuning step"""
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=40, lr=3e-4, warmup_steps=5, weight_decay=0.0))
    """a short, gentle fine-tune: the SFT model already knows the answers' format"""
    seed: int = 0
    """seeds the prompt draws, the loop's samples and the batch order"""


def sl_cai_prompts(world: MiniWorld, n_per_kind: Mapping[str, int], seed: int = 0) -> list[Prompt]:
    """Train-split prompts drawn with replacement, n_per_kind[kind] of each kind."""
    rng = random.Random(seed)
    out = []
    for kind, n in n_per_kind.items():
        pool = world.prompts("train", kind)
        out += [rng.choice(pool) for _ in range(n)]
    return out


def helpful_counts(n: int, mix: Mapping[str, float]) -> dict[str, int]:
    """n split over the kinds of `mix` in proportion to its weights (largest remainders: the
    counts sum to n exactly)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"mix needs non-negative weights with a positive sum, got {dict(mix)}")
    total = sum(mix.values())
    exact = {k: n * w / total for k, w in mix.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def revision_examples(transcripts: Sequence[Transcript], tok: Tokenizer,
                      block_size: int) -> list[tuple[list[int], int]]:
    """SFT examples (ids, prompt_len) of (prompt, final revision), for transcripts with a revision.

    The critique is not part of the example: the point of SL-CAI is a model that answers like its
    own revisions straight away, without the loop."""
    out = []
    for t in transcripts:
        if not t.rounds or not t.final.strip():
            continue
        ids, plen = tok.encode_chat(t.prompt, t.final)
        if len(ids) <= block_size:
            out.append((ids, plen))
    return out


def helpful_examples(model: GPT, tok: Tokenizer, prompts: Sequence[Prompt], temperature: float = 0.0,
                     max_new_tokens: int = 48, seed: int = 0) -> list[tuple[list[int], int]]:
    """SFT examples (ids, prompt_len) of (prompt, the model's own answer), for ordinary prompts.

    The model answers before any fine-tuning, as the helpful model of Bai et al. does; empty
    answers and examples longer than the block are dropped."""
    if not prompts:
        return []
    g = torch.Generator().manual_seed(seed)
    responses = rollout.generate(model, tok, [p.text for p in prompts], max_new_tokens=max_new_tokens,
                                 temperature=temperature, generator=g).responses
    out = []
    for p, r in zip(prompts, responses):
        if not r.strip():
            continue
        ids, plen = tok.encode_chat(p.text, r)
        if len(ids) <= model.config.block_size:
            out.append((ids, plen))
    return out


def sl_cai_examples(model: GPT, tok: Tokenizer, world: MiniWorld, cfg: SLCAIConfig,
                    critic: GPT | None = None) -> tuple[list[tuple[list[int], int]], list[Transcript], int]:
    """The SL-CAI training set: (examples, transcripts, n_revisions).

    examples = the final revisions of the loop on the n_per_kind prompts (`revision_examples`;
    the responses are `model`'s, the critiques and revisions `critic`'s, default `model`),
    then round(helpful_ratio * n_revisions) helpful examples (`helpful_examples`) on train-split
    prompts of the kinds of helpful_mix, in its proportions."""
    prompts = sl_cai_prompts(world, cfg.n_per_kind, cfg.seed)
    transcripts = run_critique(model, tok, [p.text for p in prompts], cfg.critique, cfg.seed, critic=critic)
    revisions = revision_examples(transcripts, tok, model.config.block_size)
    n_helpful = round(cfg.helpful_ratio * len(revisions))
    helpful_prompts = (sl_cai_prompts(world, helpful_counts(n_helpful, cfg.helpful_mix), cfg.seed + 1)
                       if n_helpful else [])
    helpful = helpful_examples(model, tok, helpful_prompts, cfg.helpful_temperature, cfg.critique.max_new_tokens,
                               cfg.seed + 1)
    return revisions + helpful, transcripts, len(revisions)


def train_sl_cai(model: GPT, tok: Tokenizer, world: MiniWorld, cfg: SLCAIConfig | None = None,
                 critic: GPT | None = None) -> MetricsLog:
    """SL-CAI: `critic` (default: the model itself) critiques and revises the model's responses
    to red-team prompts, the model answers ordinary ones (`sl_cai_examples`), then the model is
    fine-tuned in place on both with the SFT loss and loop (`sft.fine_tune`). Returns the metrics log,
    whose last row counts the examples and the transcripts (and those stopped early for lack of room)."""
    cfg = cfg or SLCAIConfig()
    examples, transcripts, n_revisions = sl_cai_examples(model, tok, world, cfg, critic)
    if n_revisions == 0 or len(examples) < cfg.batch_size:
        raise ValueError(f"SL-CAI collected {n_revisions} usable revisions and {len(examples)} examples in all; "
                         f"it needs at least one revision and batch_size={cfg.batch_size} examples: draw more prompts "
                         "(n_per_kind) or allow longer transcripts")
    log = sft.fine_tune(model, tok, examples, cfg.batch_size, cfg.seed, cfg.loop, "sl-cai")
    log.log(0, revision_examples=n_revisions, helpful_examples=len(examples) - n_revisions)
    log.log(0, transcripts=len(transcripts), stopped_early=sum(bool(t.stopped) for t in transcripts))
    return log
