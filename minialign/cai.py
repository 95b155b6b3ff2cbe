"""Constitutional AI and RLAIF: the model critiques, revises and judges itself.

Constitutional AI (Bai et al. 2022) replaces most human labels with a short written list of
principles, the *constitution*. It has two phases, and both run on the model itself:

1. SL-CAI (supervised): sample a response, ask the model to critique it against a sampled
   principle, then to revise it in the light of its critique; repeat for a few rounds, and
   fine-tune on (prompt, final revision), mixed with the model's own answers to ordinary prompts
   (or it learns to refuse everything), so the model answers well without the loop.
2. RLAIF (RL from AI feedback): the model judges pairs of responses ("Which response is more
   helpful? (A) ... (B) ... The answer is"); the normalised probabilities of " A" and " B" are
   a soft preference label. Asking in both orders cancels the judge's position bias. The AI
   labels then replace the oracle's (the human's) in preference optimisation: here DPO, the
   same loop as `dpo.train_dpo`, fed other labels.

The SFT model knows both formats from its demonstrations (`data.sft_examples`), which include
critique -> revision transcripts and judge answers written by the world; but they seldom name a
flaw and hold too few verdicts, so it critiques by saying "fine" and judges near chance. The
critiques, revisions and labels therefore come from a *feedback model* (stage 'judge',
`train_judge`): the SFT model with practice on comparisons asked under each principle and on
critique transcripts whose verdicts are the oracle's. It revises the SFT model's responses for
SL-CAI and labels RLAIF's pairs; `critique_report` scores its critiques against the oracle.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import torch

from . import oracle, rollout, sft
from .data import draw_examples, pad
from .dpo import DPOConfig, train_dpo
from .evalstats import FLAGS
from .model import GPT
from .preferences import PreferencePair, make_pairs
from .tokenizer import Tokenizer
from .train import LoopConfig, MetricsLog
from .world import JUDGE_QUESTIONS, PRINCIPLE_QUESTIONS, PRINCIPLES, MiniWorld, Prompt

Turn = tuple[str, str]
"""(role, text), role 'user' or 'assistant'"""
BatchGenerate = Callable[[list[list[Turn]]], list[str]]
"""the model as the loop sees it: conversations ending with a user turn -> next assistant replies"""


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
    """The model as a BatchGenerate: one sampled reply per conversation (`rollout.generate`).

    Conversations short enough to leave max_new_tokens of room are batched freely; longer ones
    with others of similar length (see `length_buckets`), so none loses budget to padding."""
    limit = model.config.block_size - max_new_tokens

    def generate(conversations: list[list[Turn]]) -> list[str]:
        lengths = [len(tok.chat_prompt(c)) for c in conversations]
        roomy = [i for i, n in enumerate(lengths) if n <= limit]
        tight = [i for i, n in enumerate(lengths) if n > limit]
        groups = [roomy[k : k + 128] for k in range(0, len(roomy), 128)]
        groups += [[tight[j] for j in g] for g in length_buckets([lengths[i] for i in tight], bucket_width)]
        replies = [""] * len(conversations)
        for group in groups:
            out = rollout.generate(model, tok, [conversations[i] for i in group], max_new_tokens=max_new_tokens,
                                   temperature=temperature, generator=generator)
            for i, reply in zip(group, out.responses):
                replies[i] = reply
        return replies

    return generate


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
        model_generate(critic or model, tok, max_new_tokens, temperature, g), prompts, responses, constitution,
        rounds=rounds, seed=seed, count_tokens=lambda turns: len(tok.chat_prompt(turns)),
        block_size=model.config.block_size, min_room=min_room, on_overflow=on_overflow,
    )


@dataclass
class CritiqueConfig:
    """How the critique -> revise loop runs."""

    rounds: int = 2
    """critique -> revise rounds per transcript (Bai et al.: up to 4; ours 2, so both default principles get a turn; lesson 8)"""
    principles: tuple[str, ...] = ("harm", "helpful")
    """principles to sample from, () = the whole constitution (ours: harm and helpful, the two sides the red team measures; lesson 8)"""
    temperature: float = 0.0
    """sampling temperature of critiques and revisions (0 = greedy: a tiny model's best guess)"""
    response_temperature: float = 1.0
    """temperature of the initial responses (as sampled by the evaluation)"""
    max_new_tokens: int = 48
    """token budget of each reply"""
    min_room: int = 8
    """tokens a conversation must leave in the block for the next reply"""
    on_overflow: str = "stop"
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


# --- critiques measured against the oracle ---------------------------------------------------------
FINE_CRITIQUE = "The response is fine."
"""what the critic says when it finds nothing to fix"""
FLAW_CRITIQUES = {name: MiniWorld.FLAW_CRITIQUES[MiniWorld.FLAW_OF[name]] for name in PRINCIPLES}
"""principle -> the sentence that names its flaw (the critic's demonstrations use exactly these)"""


TRANSCRIPT_VERSION = 2
"""bump when the meaning of a field of `transcript_record` changes (cached transcripts are redone)"""


def is_flagged(critique: str, principle: str) -> bool:
    """A critique under `principle` *flags* when it names that principle's flaw: it holds
    FLAW_CRITIQUES[principle] (without the full stop). "The response is fine.", a garbled
    critique, and one that names another principle's flaw do not flag."""
    return FLAW_CRITIQUES[principle].rstrip(".").lower() in critique.lower()


def transcript_record(t: Transcript, prompt: Prompt, split: str = "") -> dict:
    """One line of cai_transcripts.jsonl: the prompt, the response and each round, with the
    oracle's score of the response and of every revision, and the oracle's view (`oracle.flaw`)
    of the response each critique was asked about."""
    rounds, before = [], t.response
    for r in t.rounds:
        rounds.append({"principle": r.principle.name, "critique": r.critique, "flagged": is_flagged(r.critique, r.principle.name),
                       "oracle_flaw": oracle.flaw(r.principle.name, prompt, before), "revision": r.revision,
                       "score_before": oracle.score(prompt, before).total,
                       "revision_score": oracle.score(prompt, r.revision).total})
        before = r.revision
    first, last = oracle.score(prompt, t.response), oracle.score(prompt, t.final)
    return {"prompt": t.prompt, "kind": prompt.kind, "task": prompt.topic, "split": split, "response": t.response,
            "response_score": first.total, "response_flags": _flags(first), "final": t.final,
            "final_score": last.total, "final_flags": _flags(last), "rounds": rounds, "stopped": t.stopped}


def _flags(s: oracle.OracleScore) -> dict[str, bool]:
    """The oracle's flags as an evaluation record holds them (`evalstats.FLAGS`)."""
    return {flag: getattr(s, flag) for flag in FLAGS}


def _rate(hits: int, n: int) -> float:
    return hits / n if n else float("nan")


def critique_report(records: Sequence[dict]) -> dict[str, float]:
    """Critique and revision quality from transcript records (`transcript_record`), per principle:

    - precision: of the critiques that flag, the fraction whose response has the flaw (oracle);
    - recall: of the responses with the flaw, the fraction whose critique flags it;
    - keep after fine: of the rounds whose critique does not flag, the fraction whose revision
      keeps the oracle score of the response it revised (a revision should change nothing);
    - raise after flag: of the rounds whose critique flags, the fraction whose revision scores
      higher than the response it revised.
    Every round of every transcript counts once."""
    by: dict[str, list[dict]] = {}
    for rec in records:
        for r in rec["rounds"]:
            by.setdefault(r["principle"], []).append(r)
    out: dict[str, float] = {}
    for name in sorted(by):
        rs = by[name]
        flagged = [r for r in rs if r["flagged"]]
        flawed = [r for r in rs if r["oracle_flaw"]]
        fine = [r for r in rs if not r["flagged"]]
        out[f"{name}: rounds"] = float(len(rs))
        out[f"{name}: critique precision"] = _rate(sum(r["oracle_flaw"] for r in flagged), len(flagged))
        out[f"{name}: critique recall"] = _rate(sum(r["flagged"] for r in flawed), len(flawed))
        out[f"{name}: keep after fine"] = _rate(sum(abs(r["revision_score"] - r["score_before"]) < 1e-9 for r in fine), len(fine))
        out[f"{name}: raise after flag"] = _rate(sum(r["revision_score"] > r["score_before"] for r in flagged), len(flagged))
    return out


LOOP_MODEL = "sft + loop"
"""the model name of the loop's final responses in the loop's records"""


def _rescored(rec: dict, prompt: Prompt, response: str, model: str) -> dict:
    """An evaluation record (`evaluate.sample_records`) with another response, scored again."""
    sc = oracle.score(prompt, response)
    return {**rec, "model": model, "response": response, "score": sc.total, **_flags(sc)}


def loop_on_records(model_records: Sequence[dict], prompts: Mapping[str, Prompt], critic: GPT, tok: Tokenizer,
                    cfg: CritiqueConfig, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The critique -> revise loop on the evaluation's own samples of a model (its records).

    `critic` critiques and revises every recorded response (`run_critique`, `cfg.rounds` rounds).
    Returns (transcripts, loop_records): one `transcript_record` per record, with run="loop" and
    the record's model, split and sample; and the records again with the final revisions as
    responses, model LOOP_MODEL, so `evalstats.summarize` compares the loop with the model on the
    same prompts and samples."""
    texts = [r["prompt"] for r in model_records]
    transcripts = run_critique(critic, tok, texts, cfg, seed, responses=[r["response"] for r in model_records])
    out_t, out_r = [], []
    for rec, t in zip(model_records, transcripts):
        p = prompts[rec["prompt"]]
        out_t.append({"run": "loop", "model": rec["model"], "sample": rec["sample"], **transcript_record(t, p, rec["split"])})
        out_r.append(_rescored(rec, p, t.final, LOOP_MODEL))
    return out_t, out_r


def critique_probe(model_records: Sequence[dict], prompts: Mapping[str, Prompt], critic: GPT, tok: Tokenizer,
                   constitution: Constitution | None = None, max_new_tokens: int = 48,
                   min_room: int = 8) -> list[dict]:
    """One critique -> revise round under every principle of `constitution` (default: all four)
    on every recorded response: transcript records with run="probe", one per (record, principle).
    `critique_report` of them measures each principle's critiques on the same responses."""
    constitution = constitution or default_constitution()
    out = []
    for principle in constitution.principles:
        # the loop's own batching and overflow rule: a conversation that leaves no room for the
        # next reply stops there, with no round (and so does not count in `critique_report`)
        transcripts = critique_revise_with(
            model_generate(critic, tok, max_new_tokens, 0.0), [r["prompt"] for r in model_records],
            [r["response"] for r in model_records], Constitution((principle,)), rounds=1,
            count_tokens=lambda turns: len(tok.chat_prompt(turns)), block_size=critic.config.block_size,
            min_room=min_room, on_overflow="stop")
        for rec, t in zip(model_records, transcripts):
            out.append({"run": "probe", "model": rec["model"], "sample": rec["sample"],
                        **transcript_record(t, prompts[rec["prompt"]], rec["split"])})
    return out


# --- the critic's demonstrations -----------------------------------------------------------------
def damage(text: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """`text` with one span of 1-4 words replaced by 0-3 random words of `vocabulary`: the kind
    of slip a sampled response makes, so the critic also learns to read imperfect text."""
    words = text.split()
    if not words:
        return text
    i = rng.randrange(len(words))
    j = min(len(words), i + rng.randint(1, 4))
    words[i:j] = [rng.choice(vocabulary) for _ in range(rng.randint(0, 3))]
    return " ".join(words) or text


def critic_transcript(world: MiniWorld, rng: random.Random, flaw_rate: float = 0.5, damage_rate: float = 0.3,
                      vocabulary: Sequence[str] = (), split: str = "train") -> list[Turn]:
    """A critique -> revision demonstration whose verdict is the oracle's (`oracle.flaw`):

        user prompt, assistant response, user critique request of a principle drawn uniformly,
        assistant critique (FLAW_CRITIQUES[principle] if the response has the flaw, else
        FINE_CRITIQUE), user revision request, assistant revision (the world's good response
        if flagged, else the response unchanged, word for word).

    With probability flaw_rate the response has the principle's flaw (where the prompt kind has
    it), else its style is drawn uniformly; with probability damage_rate one span of it is
    garbled (`damage`), and the verdict is the oracle's view of the garbled text."""
    if not 0.0 <= flaw_rate <= 1.0 or not 0.0 <= damage_rate <= 1.0:
        raise ValueError(f"flaw_rate and damage_rate must be in [0, 1], got {flaw_rate} and {damage_rate}")
    prompt = world.sample_prompt(rng, split)
    principle = rng.choice(sorted(PRINCIPLES))
    styles = world.STYLES[prompt.kind]
    flaw_style = world.FLAW_OF[principle]
    style = flaw_style if flaw_style in styles and rng.random() < flaw_rate else rng.choice(styles)
    response = world.respond(prompt, style, rng)
    if vocabulary and rng.random() < damage_rate:
        response = damage(response, rng, vocabulary)
    flagged = oracle.flaw(principle, prompt, response)
    revision = world.respond(prompt, world.GOOD_STYLE[prompt.kind], rng) if flagged else response
    critique_request, revision_request = PRINCIPLES[principle]
    return [("user", prompt.text), ("assistant", response),
            ("user", critique_request), ("assistant", FLAW_CRITIQUES[principle] if flagged else FINE_CRITIQUE),
            ("user", revision_request), ("assistant", revision)]


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
    """helpful examples per revision (Bai et al. mix in helpful samples; ours 2, so revisions alone do not teach refusing; lesson 8)"""
    helpful_mix: dict = field(default_factory=lambda: {"factual": 0.2, "arithmetic": 0.1, "benign": 0.55, "advice": 0.15})
    """prompt kinds of the helpful examples, as proportions (mostly benign-but-scary requests, which a refusal-trained model refuses next; lesson 8)"""
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
    helpful_prompts = sl_cai_prompts(world, helpful_counts(n_helpful, cfg.helpful_mix), cfg.seed + 1) if n_helpful else []
    helpful = helpful_examples(model, tok, helpful_prompts, cfg.helpful_temperature, cfg.critique.max_new_tokens,
                               cfg.seed + 1)
    return revisions + helpful, transcripts, len(revisions)


def train_sl_cai(model: GPT, tok: Tokenizer, world: MiniWorld, cfg: SLCAIConfig | None = None,
                 critic: GPT | None = None) -> tuple[MetricsLog, list[Transcript]]:
    """SL-CAI: `critic` (default: the model itself) critiques and revises the model's responses
    to red-team prompts, the model answers ordinary ones (`sl_cai_examples`), then the model is
    fine-tuned in place on both with the SFT loss and loop (`sft.fine_tune`). Returns (log, transcripts)."""
    cfg = cfg or SLCAIConfig()
    examples, transcripts, n_revisions = sl_cai_examples(model, tok, world, cfg, critic)
    if n_revisions == 0 or len(examples) < cfg.batch_size:
        raise ValueError(f"SL-CAI collected {n_revisions} usable revisions and {len(examples)} examples in all; it needs "
                         f"at least one revision and batch_size={cfg.batch_size} examples: draw more prompts "
                         "(n_per_kind) or allow longer transcripts")
    log = sft.fine_tune(model, tok, examples, cfg.batch_size, cfg.seed, cfg.loop, "sl-cai")
    log.log(0, revision_examples=n_revisions, helpful_examples=len(examples) - n_revisions)
    return log, transcripts


# --- RLAIF: the model as judge --------------------------------------------------------------------
ANSWER_PREFIX = "The answer is"
"""the judge demonstrations answer 'The answer is A.' / 'The answer is B.'"""
OPTIONS = (" A", " B")
"""the tokens the judge chooses between, right after ANSWER_PREFIX"""


def option_token_ids(tok: Tokenizer) -> tuple[int, int]:
    """Token ids of " A" and " B" as they follow ANSWER_PREFIX in a judge answer.

    Raises ValueError when the tokenizer does not keep them as single tokens, since then one
    next-token distribution cannot compare the two options."""
    prefix = tok.encode(" " + ANSWER_PREFIX)
    ids = []
    for option in OPTIONS:
        full = tok.encode(" " + ANSWER_PREFIX + option + ".")
        if full[: len(prefix)] != prefix or len(full) != len(prefix) + 2:
            raise ValueError(f"the tokenizer must split {ANSWER_PREFIX + option + '.'!r} as the prefix, "
                             f"one token {option!r} and '.'; it gives {tok.tokens(' ' + ANSWER_PREFIX + option + '.')}")
        ids.append(full[len(prefix)])
    return ids[0], ids[1]


def judge_soft_label(logit_a_first: torch.Tensor, logit_b_first: torch.Tensor,
                     logit_a_swapped: torch.Tensor, logit_b_swapped: torch.Tensor) -> torch.Tensor:
    """p(response 1 better) from the judge's option logits, asked in both orders.

        first order   (A) = response 1, (B) = response 2:  p1 = softmax(a_first, b_first)[A]
        swapped order (A) = response 2, (B) = response 1:  p2 = softmax(a_swapped, b_swapped)[B]
        p = (p1 + p2) / 2

    Args: four tensors of one shape, (B,) or (): logits of the " A" and " B" tokens.
    Returns: that shape; p(response 2 better) = 1 - p (the label of the pair with the two
        responses exchanged).
    """
    # a softmax over two options is the sigmoid of their logit difference
    p_first = torch.sigmoid(logit_a_first - logit_b_first)
    p_swapped = torch.sigmoid(logit_b_swapped - logit_a_swapped)  # response 1 is shown as (B)
    # a judge that favours a slot adds the same bias in both orders: the average cancels it
    # (Lee et al. 2023, sec. 2.1, describe this procedure; Zheng et al. 2023 measure this position
    # bias in LLM judges)
    return (p_first + p_swapped) / 2


def judge_prompt_ids(tok: Tokenizer, prompt: str, response_a: str, response_b: str, question: str) -> list[int]:
    """The judge's input: the judge question as a user turn, then '<|assistant|> The answer is'."""
    text = MiniWorld.judge_prompt(prompt, response_a, response_b, question)
    return tok.chat_prompt(text) + tok.encode(" " + ANSWER_PREFIX)


@torch.no_grad()
def option_logits(model: GPT, tok: Tokenizer, prompts: Sequence[str], responses_a: Sequence[str],
                  responses_b: Sequence[str], question: str, batch_size: int = 128) -> torch.Tensor:
    """(N, 2) logits of " A" and " B" as the judge's next token, one row per judge prompt."""
    if not len(prompts) == len(responses_a) == len(responses_b):
        raise ValueError(f"prompts, responses_a and responses_b must have the same length N, got "
                         f"{len(prompts)}, {len(responses_a)}, {len(responses_b)}")
    model.eval()
    device = next(model.parameters()).device
    ids_a, ids_b = option_token_ids(tok)
    rows = [judge_prompt_ids(tok, p, a, b, question) for p, a, b in zip(prompts, responses_a, responses_b)]
    block_size = model.config.block_size
    for i, row in enumerate(rows):
        if len(row) > block_size:
            raise ValueError(f"judge prompt {i} ({prompts[i][:40]!r}) has {len(row)} tokens, more than "
                             f"block_size={block_size}; shorten the responses being compared")
    out = torch.zeros(len(rows), 2)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths together: less padding
    for start in range(0, len(rows), batch_size):
        chunk = order[start : start + batch_size]
        ids, mask = pad([rows[i] for i in chunk], tok.pad_id)  # (b, T) right-padded: causal attention never sees it
        logits = model(ids.to(device))  # (b, T, V)
        last = mask.sum(dim=1).to(device) - 1  # (b,) position of each row's last real token
        next_logits = logits[torch.arange(len(chunk), device=device), last]  # (b, V)
        out[chunk] = next_logits[:, [ids_a, ids_b]].float().cpu()  # (b, 2)
    return out


def judge_probs(model: GPT, tok: Tokenizer, prompt: str | Sequence[str], response_a: str | Sequence[str],
                response_b: str | Sequence[str], question: str = JUDGE_QUESTIONS["helpful"],
                batch_size: int = 128) -> torch.Tensor:
    """The model as judge: p(response_a better than response_b), position bias cancelled.

    Asks "{prompt} (A) {a} (B) {b} {question}" and reads the next-token distribution after
    "<|assistant|> The answer is", restricted to " A" and " B"; asks again with a and b swapped
    and averages (`judge_soft_label`). Strings give a 0-d tensor, sequences of N give (N,)."""
    single = isinstance(prompt, str)
    if single:
        prompts, a, b = [prompt], [response_a], [response_b]
    else:
        prompts, a, b = list(prompt), list(response_a), list(response_b)
    if not len(prompts) == len(a) == len(b):
        raise ValueError(f"prompt, response_a and response_b must have the same length N, got "
                         f"{len(prompts)}, {len(a)}, {len(b)}")
    # each distinct question is asked once: (x, b, a) is (x, a, b) with the orders exchanged,
    # and its soft label is exactly 1 - p(x, a, b)
    unique: dict[tuple[str, str, str], int] = {}
    for key in zip(prompts, a, b):
        if key not in unique and (key[0], key[2], key[1]) not in unique:
            unique[key] = len(unique)
    keys = list(unique)
    n = len(keys)
    ua, ub = [k[1] for k in keys], [k[2] for k in keys]
    # both orders in one pass: rows 0..n-1 show (a, b), rows n..2n-1 show (b, a)
    logits = option_logits(model, tok, [k[0] for k in keys] * 2, ua + ub, ub + ua, question, batch_size)  # (2n, 2)
    p_unique = judge_soft_label(logits[:n, 0], logits[:n, 1], logits[n:, 0], logits[n:, 1])  # (n,)
    p = torch.stack([p_unique[unique[k]] if k in unique else 1 - p_unique[unique[(k[0], k[2], k[1])]]
                     for k in zip(prompts, a, b)]) if prompts else torch.zeros(0)  # (N,)
    return p[0] if single else p


def agreement(p_first: torch.Tensor, first_is_better: torch.Tensor) -> float:
    """Fraction of pairs where the judge's side of 0.5 matches the reference preference.

    Args:
        p_first: (N,) soft labels p(first better).
        first_is_better: (N,) bool, the reference label.
    A soft label of exactly 0.5 is no decision, and counts as a disagreement."""
    if p_first.shape != first_is_better.shape or p_first.dim() != 1:
        raise ValueError(f"p_first and first_is_better must both have shape (N,), got "
                         f"{tuple(p_first.shape)} and {tuple(first_is_better.shape)}")
    decided = torch.where(first_is_better.bool(), p_first > 0.5, p_first < 0.5)  # (N,)
    return decided.float().mean().item() if len(decided) else float("nan")


@dataclass
class AILabels:
    """Preference pairs relabelled by the AI judge, and how its labels compare."""

    pairs: list[PreferencePair]
    """chosen = the response the judge prefers (pairs it could not decide or read are dropped)"""
    p_given: torch.Tensor
    """(N,) the judge's p(given chosen better) for every input pair; NaN where the judge
    prompt does not fit the model's block"""
    label_agreement: float
    """fraction of judged pairs where the judge picks the given chosen response"""
    oracle_agreement: float
    """fraction of judged pairs with oracle scores where it picks the higher-scored response"""
    too_long: int = 0
    """pairs whose judge prompt is longer than the block (not judged, dropped)"""


def ai_label_pairs(model: GPT, tok: Tokenizer, pairs: Sequence[PreferencePair],
                   question: str | Sequence[str] = JUDGE_QUESTIONS["helpful"], min_confidence: float = 0.0,
                   batch_size: int = 128) -> AILabels:
    """Relabel preference pairs with the model as judge (RLAIF).

    Each pair's soft label p = judge_probs(prompt, chosen, rejected, its question); `question` is
    one question for every pair, or one per pair (RL-CAI asks each under a principle of its own).
    The judge's chosen response is `chosen` when p > 0.5, else `rejected`, and its meta holds
    "ai_p_chosen" = max(p, 1 - p), the judge's probability for the response it put first. Pairs
    with |p - 0.5| <= min_confidence are too close to call, and pairs whose judge prompt does not
    fit the block cannot be judged: both are dropped. Oracle scores, where a pair has them,
    follow their responses (`flipped` then says the judge chose the response the oracle scores lower)."""
    if not 0.0 <= min_confidence < 0.5:
        raise ValueError(f"min_confidence must be in [0, 0.5), got {min_confidence}")
    questions = [question] * len(pairs) if isinstance(question, str) else list(question)
    if len(questions) != len(pairs):
        raise ValueError(f"got {len(questions)} questions for {len(pairs)} pairs; pass one question or one per pair")
    block_size = model.config.block_size
    fits = [max(len(judge_prompt_ids(tok, q.prompt, a, b, questions[i])) for a, b in
                ((q.chosen, q.rejected), (q.rejected, q.chosen))) <= block_size for i, q in enumerate(pairs)]
    p = torch.full((len(pairs),), float("nan"))
    for asked in sorted(set(questions)):
        judged = [i for i, ok in enumerate(fits) if ok and questions[i] == asked]
        if judged:
            p[judged] = judge_probs(model, tok, [pairs[i].prompt for i in judged], [pairs[i].chosen for i in judged],
                                    [pairs[i].rejected for i in judged], asked, batch_size)
    judged = [i for i, ok in enumerate(fits) if ok]
    relabelled = []
    for i in judged:
        pair, p_chosen = pairs[i], p[i].item()
        if abs(p_chosen - 0.5) <= min_confidence:
            continue
        keep = p_chosen > 0.5
        chosen, rejected = (pair.chosen, pair.rejected) if keep else (pair.rejected, pair.chosen)
        s_c, s_r = (pair.chosen_score, pair.rejected_score) if keep else (pair.rejected_score, pair.chosen_score)
        flipped = s_c is not None and s_r is not None and s_c < s_r
        relabelled.append(dataclasses.replace(pair, chosen=chosen, rejected=rejected, chosen_score=s_c,
                                              rejected_score=s_r, flipped=flipped,
                                              meta={**pair.meta, "ai_p_chosen": max(p_chosen, 1 - p_chosen),
                                                    "ai_question": questions[i]}))
    scored = [i for i in judged if pairs[i].chosen_score is not None and pairs[i].rejected_score is not None
              and pairs[i].chosen_score != pairs[i].rejected_score]
    oracle_first = torch.tensor([pairs[i].chosen_score > pairs[i].rejected_score for i in scored], dtype=torch.bool)
    return AILabels(
        relabelled, p,
        label_agreement=agreement(p[judged], torch.ones(len(judged), dtype=torch.bool)),
        oracle_agreement=agreement(p[scored], oracle_first),
        too_long=len(pairs) - len(judged),
    )


def judge_agreement_report(model: GPT, tok: Tokenizer, world: MiniWorld, n: int = 400, seed: int = 7,
                           question: str = JUDGE_QUESTIONS["helpful"]) -> dict[str, float]:
    """Agreement of the judge with the oracle on held-out pairs (eval split), overall and per kind."""
    pairs = make_pairs(world, n, seed, split="eval", label_temperature=0.0)  # noiseless: the oracle's own preference
    labels = ai_label_pairs(model, tok, pairs, question)
    report = {"all": labels.oracle_agreement, "too_long": float(labels.too_long)}
    for kind in sorted({q.kind for q in pairs}):
        idx = [i for i, q in enumerate(pairs) if q.kind == kind and not labels.p_given[i].isnan()]
        first = torch.tensor([pairs[i].chosen_score > pairs[i].rejected_score for i in idx], dtype=torch.bool)
        report[kind] = agreement(labels.p_given[idx], first)
    return report


@dataclass
class JudgeConfig:
    """The feedback model: the SFT model with practice at critiquing, revising and judging.

    The SFT mix holds a few thousand critique and judge demonstrations among its other examples;
    the SFT model critiques by saying "The response is fine." to almost everything and judges
    held-out pairs little better than a coin (lesson 8 measures both). Bai et al. (2022) and Lee
    et al. (2023) critique and label with a larger model than the one they train; here the same
    small model practises on n_labels world-written demonstrations whose verdicts are the oracle's,
    on train-split prompts only: comparisons asked under a principle of the constitution, and
    critique -> revision transcripts (`critic_transcript`). It writes the loop's critiques and
    revisions (SL-CAI) and RLAIF's labels."""

    n_labels: int = 6000
    """oracle verdicts it learns from, comparisons and critiques together (ours: DPO's n_pairs, so RLAIF and DPO spend equal label budgets; lesson 8)"""
    judge_share: float = 0.5
    """fraction of them that are comparisons; the rest are critique transcripts, each taught as a critique and as a revision (ours 0.5: at 1/3 the judge agreed less with the oracle on held-out pairs)"""
    flaw_rate: float = 0.5
    """probability that a transcript's response has the flaw its principle looks for (ours 0.5: at the SFT mix's rate the critic learnt to say 'fine'; lesson 8)"""
    damage_rate: float = 0.3
    """probability that a transcript's response is garbled in one span (`damage`), like a sampled one"""
    batch_size: int = 32
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=600, lr=1e-3, warmup_steps=10, weight_decay=0.0))
    """about two passes over the examples"""
    seed: int = 0
    """seeds the demonstrations and the batch order"""


def principle_judge_demo(world: MiniWorld, rng: random.Random, split: str = "train") -> tuple[str, str] | None:
    """A comparison under a principle drawn uniformly: (judge prompt asking PRINCIPLE_QUESTIONS[p],
    'The answer is A.' or '... B.'), labelled by `oracle.principle_preference`. None when the two
    responses are within 0.25 of each other under that principle (too close to call)."""
    prompt = world.sample_prompt(rng, split)
    principle = rng.choice(sorted(PRINCIPLES))
    a, b = (world.respond(prompt, style, rng) for style in rng.sample(world.STYLES[prompt.kind], 2))
    ka, kb = (oracle.principle_preference(principle, oracle.score(prompt, r)) for r in (a, b))
    if abs(ka - kb) < 0.25:
        return None
    return world.judge_prompt(prompt.text, a, b, PRINCIPLE_QUESTIONS[principle]), f"The answer is {'A' if ka > kb else 'B'}."


def judge_examples(world: MiniWorld, tok: Tokenizer, n: int, seed: int, block_size: int) -> list[tuple[list[int], int]]:
    """n comparison demonstrations (`principle_judge_demo`) as SFT examples (ids, prompt_len): the
    loss is on 'The answer is X.' only. Pairs too close to call are skipped."""
    return draw_examples(lambda rng: principle_judge_demo(world, rng), tok, n, seed, block_size, "judge demonstrations")


def critic_vocabulary(world: MiniWorld) -> list[str]:
    """The words of every response the world writes to a train-split prompt (what `damage` draws from)."""
    rng = random.Random(0)
    return sorted({w for p in world.prompts("train") for style in world.STYLES[p.kind]
                   for w in world.respond(p, style, rng).split()})


def critic_examples(world: MiniWorld, tok: Tokenizer, n: int, seed: int, block_size: int, flaw_rate: float = 0.5,
                    damage_rate: float = 0.3) -> list[tuple[list[int], int]]:
    """2n SFT examples from n critic transcripts (`critic_transcript`): each teaches its critique
    (the loss on the critique turn) and its revision (the loss on the revision turn)."""
    rng = random.Random(seed)
    vocabulary = critic_vocabulary(world)
    out: list[tuple[list[int], int]] = []
    tries = 0
    while len(out) < 2 * n:
        tries += 1
        if tries > 20 * n + 100:
            raise ValueError(f"could not draw {n} critic transcripts that fit block_size={block_size}")
        turns = critic_transcript(world, rng, flaw_rate, damage_rate, vocabulary)
        pair = [tok.encode_chat(turns[: cut - 1], turns[cut - 1][1]) for cut in (4, 6)]
        if all(len(ids) <= block_size for ids, _ in pair):
            out += pair
    return out


def feedback_examples(world: MiniWorld, tok: Tokenizer, cfg: JudgeConfig, block_size: int) -> list[tuple[list[int], int]]:
    """The feedback model's training set: round(judge_share * n_labels) comparisons and the rest
    critique transcripts (two examples each); n_labels oracle verdicts in all."""
    n_judge = round(cfg.judge_share * cfg.n_labels)
    return (judge_examples(world, tok, n_judge, cfg.seed, block_size)
            + critic_examples(world, tok, cfg.n_labels - n_judge, cfg.seed + 1, block_size, cfg.flaw_rate, cfg.damage_rate))


def train_judge(model: GPT, tok: Tokenizer, world: MiniWorld, cfg: JudgeConfig | None = None) -> MetricsLog:
    """Fine-tune `model` in place into the feedback model (`feedback_examples`, the SFT loss);
    returns the metrics log."""
    cfg = cfg or JudgeConfig()
    examples = feedback_examples(world, tok, cfg, model.config.block_size)
    return sft.fine_tune(model, tok, examples, cfg.batch_size, cfg.seed, cfg.loop, "judge")


LABEL_MODES = ("soft", "hard")
"""how RLAIF feeds the judge's labels to DPO: as soft labels (cDPO with a per-pair eps) or hard"""


@dataclass
class RLAIFConfig:
    """RL-CAI with DPO (Bai et al. 2022, section 4): the pairs oracle-label DPO trains on,
    relabelled by the feedback model (stage 'judge'), each asked under a principle of the
    constitution drawn at random."""

    principles: tuple[str, ...] = ()
    """principles the comparisons are asked under, () = the whole constitution (Bai et al. sample one per comparison)"""
    label_mode: str = "soft"
    """'soft': cDPO with eps_i = 1 - p_i, the judge's doubt about pair i (Bai et al. train on the judge's probabilities); 'hard': chosen = the judge's pick, eps = 0; lesson 8"""
    min_confidence: float = 0.0
    """drop pairs whose soft label is within this of 0.5 (0 keeps every decided pair)"""
    judge_batch_size: int = 128
    """judge prompts per forward pass"""
    dpo: DPOConfig = field(default_factory=lambda: DPOConfig(nll_weight=0.0))
    """the DPO run (n_pairs, label_temperature and seed pick the pairs the judge relabels); no NLL term (paper DPO: an NLL term would imitate responses the judge is unsure of; lesson 8)"""


def rlaif_questions(constitution: Constitution, n: int, seed: int) -> list[str]:
    """n comparison questions, each that of a principle drawn uniformly (`PRINCIPLE_QUESTIONS`)."""
    rng = random.Random(seed)
    return [PRINCIPLE_QUESTIONS[rng.choice(constitution.principles).name] for _ in range(n)]


def soft_label_smoothing(labels: AILabels) -> list[float]:
    """cDPO's eps_i = 1 - p_i for each relabelled pair, p_i the judge's probability for the
    response it chose (so a sure judge gives eps near 0, a doubtful one near 0.5)."""
    return [min(1.0 - q.meta["ai_p_chosen"], 0.4999) for q in labels.pairs]


def train_rlaif_dpo(policy: GPT, ref: GPT, judge: GPT, tok: Tokenizer, world: MiniWorld,
                    cfg: RLAIFConfig | None = None) -> tuple[MetricsLog, AILabels]:
    """RLAIF with DPO: draw the pairs oracle-label DPO would train on, let `judge` relabel them
    (each under a principle drawn from the constitution), and train `policy` in place with the
    shared loop `dpo.train_dpo`, on soft or hard labels. Returns (log, labels)."""
    cfg = cfg or RLAIFConfig()
    if cfg.label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {cfg.label_mode!r}")
    constitution = default_constitution()
    constitution = constitution.subset(cfg.principles) if cfg.principles else constitution
    pairs = make_pairs(world, cfg.dpo.n_pairs, cfg.dpo.seed, "train", cfg.dpo.label_temperature)
    questions = rlaif_questions(constitution, len(pairs), cfg.dpo.seed + 1)  # not make_pairs' own stream
    labels = ai_label_pairs(judge, tok, pairs, questions, cfg.min_confidence, cfg.judge_batch_size)
    eps = soft_label_smoothing(labels) if cfg.label_mode == "soft" else None
    log = train_dpo(policy, ref, tok, world, cfg.dpo, pairs=labels.pairs, label_smoothing=eps)
    return log, labels


# --- red-team report ------------------------------------------------------------------------------
def red_team_set(world: MiniWorld, split: str = "eval") -> list[Prompt]:
    """Harmful prompts of every harm category, then the benign-but-scary prompts (over-refusal probes)."""
    harmful = [p for prompts in world.red_team_prompts(split).values() for p in prompts]
    return harmful + world.prompts(split, "benign")


def red_team_rows(name: str, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[dict]:
    """One row per harm category (harmful compliance: the share of responses that give harmful
    content), one row 'all harmful', and one row 'benign' (over-refusal: the share of safe
    requests refused). Oracle flags; a metric that does not apply to a row is NaN."""
    scores = oracle.score_many(list(prompts), list(responses))
    groups: dict[str, list] = {}
    for p, s in zip(prompts, scores):
        if p.kind == "harmful":
            groups.setdefault(p.category, []).append(s)
            groups.setdefault("all harmful", []).append(s)
        elif p.kind == "benign":
            groups.setdefault("benign", []).append(s)
    nan = float("nan")
    rows = []
    for category in sorted(c for c in groups if c not in ("all harmful", "benign")) + ["all harmful", "benign"]:
        group = groups.get(category, [])
        if not group:
            continue
        harmful = category != "benign"
        rows.append({
            "model": name, "category": category, "n": len(group),
            "harmful_compliance": sum(s.complied for s in group) / len(group) if harmful else nan,
            "over_refusal": nan if harmful else sum(s.over_refused for s in group) / len(group),
        })
    return rows


def red_team_report(models: Mapping[str, GPT], tok: Tokenizer, world: MiniWorld,
                    loop: CritiqueConfig | None = None, loop_on: str = "sft", n_samples: int = 4,
                    seed: int = 0, split: str = "eval", critic: GPT | None = None) -> list[dict]:
    """Red-team rows (`red_team_rows`) for each model's sampled responses (T=1), and for the
    model `loop_on` after the critique -> revise loop on those same responses (critiques and
    revisions by `critic`, default the model itself)."""
    prompts = red_team_set(world, split) * n_samples
    texts = [p.text for p in prompts]
    rows = []
    for name, model in models.items():
        g = torch.Generator().manual_seed(seed)
        responses = rollout.generate(model, tok, texts, temperature=1.0, generator=g).responses
        rows += red_team_rows(name, prompts, responses)
        if loop is not None and name == loop_on:
            transcripts = run_critique(model, tok, texts, loop, seed, responses=responses, critic=critic)
            rows += red_team_rows(f"{name} + critique-revise", prompts, [t.final for t in transcripts])
    return rows


def format_rows(rows: Sequence[dict]) -> str:
    """A plain-text table of red-team rows."""
    head = f"{'model':<24} {'category':<12} {'n':>4} {'harmful compliance':>19} {'over-refusal':>13}"
    lines = [head, "-" * len(head)]
    for r in rows:
        hc = "" if r["harmful_compliance"] != r["harmful_compliance"] else f"{r['harmful_compliance']:.2f}"
        orf = "" if r["over_refusal"] != r["over_refusal"] else f"{r['over_refusal']:.2f}"
        lines.append(f"{r['model']:<24} {r['category']:<12} {r['n']:>4} {hc:>19} {orf:>13}")
    return "\n".join(lines)
