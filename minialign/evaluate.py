"""One evaluation for every stage: a model's sampled answers to a fixed held-out prompt set,
judged by the oracle.

Each model answers the same prompts (one sample each, seeded), and one `EvalRow` records:
- reward: mean oracle score, the quantity every method tries to raise;
- win rate against a baseline (e.g. the SFT model) on the same prompts, judged by the oracle,
  a tie counting half: the "win rate vs SFT" that preference-tuning papers report;
- harmful compliance (harmful prompts answered with harmful content) and over-refusal (safe
  but scary-sounding prompts refused): the two sides of the alignment tax;
- factual and arithmetic accuracy: capability that alignment should not cost;
- KL to the reference, per token, on the model's own samples: how far tuning moved the model;
- mean response length in words (longer is not better: the oracle penalises rambling).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn as nn

from . import oracle, rollout
from .data import ChatBatch
from .logprobs import kl_estimate, response_mask, token_logprobs
from .tokenizer import Tokenizer
from .world import EVAL_SPLITS, MiniWorld, Prompt

if TYPE_CHECKING:
    from .stages import Stages

NAN = float("nan")


@dataclass
class EvalRow:
    name: str
    """the model's name in tables and plots"""
    n: int
    """prompts evaluated"""
    reward: float
    """mean oracle score of the sampled responses"""
    win_rate: float = NAN
    """fraction of prompts where the oracle scores this model's response above the baseline's, ties counting 1/2"""
    tie_rate: float = NAN
    """fraction of prompts where the two responses score the same"""
    decided_win_rate: float = NAN
    """wins / (wins + losses): the win rate among prompts where the two responses score differently"""
    harmful_compliance: float = NAN
    """fraction of harmful prompts answered with harmful content"""
    over_refusal: float = NAN
    """fraction of benign-but-scary prompts refused"""
    factual_accuracy: float = NAN
    """fraction of factual prompts answered right (and nothing wrong said)"""
    arithmetic_accuracy: float = NAN
    """fraction of arithmetic prompts answered right"""
    kl: float = NAN
    """per-token KL(model || reference), k1 estimate on the model's own samples"""
    mean_length: float = NAN
    """mean response length in words"""
    seconds: float = NAN
    """time the evaluation took (sampling included)"""
    train_seconds: float = NAN
    """time the model's own training stage took (the pipeline fills it in; cached stages keep the
    time they took when trained); NaN where unknown"""

    def as_dict(self) -> dict:
        return asdict(self)


# column -> (header, format); the evaluation's own time (seconds) stays out of the table
TABLE_COLUMNS = {
    "reward": ("reward", "{:+.3f}"),
    "win_rate": ("win rate", "{:.0%}"),
    "tie_rate": ("ties", "{:.0%}"),
    "decided_win_rate": ("wins of decided", "{:.0%}"),
    "harmful_compliance": ("harmful compliance", "{:.0%}"),
    "over_refusal": ("over-refusal", "{:.0%}"),
    "factual_accuracy": ("factual acc.", "{:.0%}"),
    "arithmetic_accuracy": ("arithmetic acc.", "{:.0%}"),
    "kl": ("KL to ref", "{:.3f}"),
    "mean_length": ("words", "{:.1f}"),
    "train_seconds": ("training (s)", "{:.0f}"),
}
RATE_FIELDS = ("win_rate", "tie_rate", "decided_win_rate", "harmful_compliance", "over_refusal", "factual_accuracy",
               "arithmetic_accuracy")


def sample_responses(model: nn.Module, tok: Tokenizer, prompts: Sequence[Prompt], seed: int = 0,
                     temperature: float = 1.0, max_new_tokens: int = 48, batch_size: int = 128) -> rollout.Rollout:
    """One sampled response per prompt; the same seed (and batch size) gives the same responses."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    return rollout.generate(model, tok, [p.text for p in prompts], max_new_tokens=max_new_tokens,
                            temperature=temperature, generator=generator, batch_size=batch_size)


def _wins_ties_losses(scores: Sequence[float], baseline_scores: Sequence[float]) -> tuple[int, int, int]:
    if len(scores) != len(baseline_scores) or not scores:
        raise ValueError(f"need the same, non-zero number of scores, got {len(scores)} and {len(baseline_scores)}")
    wins = sum(s > b for s, b in zip(scores, baseline_scores))
    ties = sum(s == b for s, b in zip(scores, baseline_scores))
    return wins, ties, len(scores) - wins - ties


def decided_win_rate(scores: Sequence[float], baseline_scores: Sequence[float]) -> float:
    """wins / (wins + losses) of paired scores, ties left out; NaN when every pair is a tie.

    When most prompts have one right answer that both models give, ties dominate and the win
    rate with ties counting 1/2 stays near 0.5 however much better a model is where they differ."""
    wins, _, losses = _wins_ties_losses(scores, baseline_scores)
    return wins / (wins + losses) if wins + losses else NAN


def win_tie_rates(scores: Sequence[float], baseline_scores: Sequence[float]) -> tuple[float, float]:
    """(win rate with ties counting 1/2, tie rate) of paired scores."""
    wins, ties, _ = _wins_ties_losses(scores, baseline_scores)
    n = len(scores)
    return (wins + 0.5 * ties) / n, ties / n


@torch.no_grad()
def kl_to_reference(model: nn.Module, ref_model: nn.Module, batch: ChatBatch, chunk: int = 128) -> float:
    """Per-token KL(model || ref), the k1 estimate mean(log pi - log ref) over the response
    tokens of `batch` (samples of `model`, right-padded, <|end|> included), `chunk` rows at a
    time so that the logits of a large batch never sit in memory at once."""
    device = next(model.parameters()).device
    batch = batch.to(device)
    mask = response_mask(batch.prompt_lens, batch.seq_lens, batch.input_ids.shape[1])  # (B, T-1)
    total, tokens = 0.0, 0.0
    for start in range(0, batch.input_ids.shape[0], chunk):
        ids, m = batch.input_ids[start : start + chunk], mask[start : start + chunk]
        logp = token_logprobs(model(ids), ids)  # (b, T-1)
        ref_logp = token_logprobs(ref_model(ids), ids)  # (b, T-1)
        total += (kl_estimate(logp, ref_logp, "k1") * m).sum().item()
        tokens += m.sum().item()
    return total / tokens if tokens else NAN


def _rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else NAN


def evaluate(
    model: nn.Module,
    tok: Tokenizer,
    world: MiniWorld,
    name: str,
    prompts: Sequence[Prompt] | None = None,
    baseline: nn.Module | Sequence[str] | None = None,
    ref_model: nn.Module | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    max_new_tokens: int = 48,
    n_prompts: int = 200,
) -> EvalRow:
    """Sample one response per prompt from `model` and judge them: one row of the results table.

    Args:
        model: the policy to evaluate.
        tok, world: the tokenizer and the world whose oracle judges the responses.
        name: the row's name.
        prompts: the prompt set; default the world's fixed held-out set of `n_prompts`
            prompts (`world.eval_prompts`).
        baseline: a model sampled on the same prompts with the same seed, or its responses
            already sampled (a list of strings, one per prompt: sample a baseline once, reuse
            it for every row). None leaves win_rate and tie_rate NaN.
        ref_model: the reference for the KL column (e.g. the SFT model); None leaves it NaN.
        seed: seeds the sampling; the same seed gives the same row.
        temperature: of the sampling. The KL column estimates KL(pi || ref) only at 1: at other
            temperatures the samples are not drawn from pi.
        n_prompts: size of the default prompt set (ignored when prompts are given).
    """
    t0 = time.time()
    if not isinstance(world, MiniWorld):
        raise ValueError(f"world must be a MiniWorld, got {type(world).__name__}")
    prompts = list(prompts) if prompts is not None else world.eval_prompts(n_prompts)
    out = sample_responses(model, tok, prompts, seed, temperature, max_new_tokens)
    scores = oracle.score_many(prompts, out.responses)
    row = EvalRow(name, len(prompts), sum(s.total for s in scores) / len(scores))

    if baseline is not None:
        if isinstance(baseline, nn.Module):
            baseline = sample_responses(baseline, tok, prompts, seed, temperature, max_new_tokens).responses
        if len(baseline) != len(prompts):
            raise ValueError(f"baseline has {len(baseline)} responses for {len(prompts)} prompts")
        baseline_scores = [s.total for s in oracle.score_many(prompts, list(baseline))]
        row.win_rate, row.tie_rate = win_tie_rates([s.total for s in scores], baseline_scores)
        row.decided_win_rate = decided_win_rate([s.total for s in scores], baseline_scores)

    def of_kind(kind: str, flag: str) -> float:
        return _rate([getattr(s, flag) for p, s in zip(prompts, scores) if p.kind == kind])

    row.harmful_compliance = of_kind("harmful", "complied")
    row.over_refusal = of_kind("benign", "over_refused")
    row.factual_accuracy = of_kind("factual", "correct")
    row.arithmetic_accuracy = of_kind("arithmetic", "correct")
    if ref_model is not None:
        row.kl = kl_to_reference(model, ref_model, out.batch)
    row.mean_length = sum(len(r.split()) for r in out.responses) / len(out.responses)
    row.seconds = time.time() - t0
    return row


def evaluate_with_stages(model: nn.Module, stages: "Stages", name: str, **kwargs) -> EvalRow:
    """`evaluate` with the tokenizer, the world and the held-out prompt count
    (`preset.n_eval_prompts`) of `stages`; other arguments as `evaluate`'s."""
    kwargs.setdefault("n_prompts", stages.preset.n_eval_prompts)
    return evaluate(model, stages.tokenizer, stages.world, name, **kwargs)


# --- the records: several samples per prompt, both held-out splits ----------------------------

def eval_splits(world: MiniWorld) -> dict[str, list[Prompt]]:
    """{split name: its distinct held-out prompts}, for each of `world.EVAL_SPLITS`, in order."""
    return {name: world.eval_split(name) for name in EVAL_SPLITS}


def balanced_subset(prompts: Sequence[Prompt], n: int | None) -> list[Prompt]:
    """`n` of `prompts` (all when n is None or larger), taken in turn from each kind, in order:
    the same subset every time, with the kinds as balanced as the pool allows."""
    if n is None or n >= len(prompts):
        return list(prompts)
    by_kind: dict[str, list[Prompt]] = {}
    for p in prompts:
        by_kind.setdefault(p.kind, []).append(p)
    out: list[Prompt] = []
    while len(out) < n:
        for kind in sorted(by_kind):
            if by_kind[kind] and len(out) < n:
                out.append(by_kind[kind].pop(0))
    return out


def best_score(world: MiniWorld, prompt: Prompt) -> float:
    """The highest oracle score of any response the world writes to `prompt` (every style, a few
    draws of its wording): the ceiling that headroom and "fixed / broken" measure against."""
    import random

    return max(oracle.score(prompt, world.respond(prompt, style, random.Random(i))).total
               for style in world.STYLES[prompt.kind] for i in range(3))


EVAL_BATCH = 256
"""prompts sampled at once by `sample_records` (larger batches amortise Python's per-step cost)"""


def sample_seed(seed: int, sample: int) -> int:
    """The sampling seed of sample `sample` in a run of seed `seed`: the same for every model."""
    return 1000 * seed + sample


def sample_records(model: nn.Module, name: str, tok: Tokenizer, world: MiniWorld,
                   splits: dict[str, Sequence[Prompt]], n_samples: int, seed: int = 0,
                   ref_model: nn.Module | None = None, temperature: float = 1.0,
                   max_new_tokens: int = 48, sample_offset: int = 0) -> tuple[list[dict], dict[str, float]]:
    """`n_samples` sampled responses of `model` to every prompt of every split, judged by the
    oracle: one record per (prompt, sample) with the fields of `evalstats.RECORD_FIELDS`.

    Sample j uses the seed `sample_seed(seed, sample_offset + j)` for every model, so that
    sample j of one model pairs with sample j of another. Returns (records, {split: KL}),
    the KL per token to `ref_model` on sample 0 (NaN without a reference)."""
    records: list[dict] = []
    kl: dict[str, float] = {}
    for split, prompts in splits.items():
        best = [best_score(world, p) for p in prompts]
        for j in range(n_samples):
            out = sample_responses(model, tok, prompts, sample_seed(seed, sample_offset + j), temperature,
                                   max_new_tokens, batch_size=EVAL_BATCH)
            if j == 0:
                kl[split] = kl_to_reference(model, ref_model, out.batch) if ref_model is not None else NAN
            for p, b, response in zip(prompts, best, out.responses):
                s = oracle.score(p, response)
                records.append({"model": name, "split": split, "kind": p.kind, "task": p.topic, "prompt": p.text,
                                "sample": j, "response": response, "score": s.total, "best": b,
                                "complied": s.complied, "over_refused": s.over_refused, "correct": s.correct,
                                "wrong": s.wrong, "refused": s.refused})
    return records, kl


def markdown_table(rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The evaluation table's frame: a header of TABLE_COLUMNS, then (model name, one cell per
    column) per row."""
    header = "| model | " + " | ".join(h for h, _ in TABLE_COLUMNS.values()) + " |"
    rule = "| --- | " + " | ".join("---:" for _ in TABLE_COLUMNS) + " |"
    return "\n".join([header, rule, *("| " + name + " | " + " | ".join(cells) + " |" for name, cells in rows)])


def format_table(rows: Sequence[EvalRow]) -> str:
    """A Markdown table, one row per model; NaN (not measured) shows as a dash."""
    def cell(value: float, fmt: str) -> str:
        return "-" if isinstance(value, float) and math.isnan(value) else fmt.format(value)

    return markdown_table([(r.name, [cell(getattr(r, k), f) for k, (_, f) in TABLE_COLUMNS.items()]) for r in rows])


def compare(stages: "Stages", models: dict[str, nn.Module], baseline: nn.Module, seed: int = 0) -> list[EvalRow]:
    """One row per model on the stages' held-out prompts (`world.eval_prompts`), all judged
    against the same responses of `baseline` (sampled once, with `seed`), with KL to `baseline`;
    a model that is the baseline itself gets no KL.

    E.g. compare(stages, {"sft": sft, "dpo": dpo}, baseline=sft): the win rates are against SFT."""
    prompts = stages.world.eval_prompts(stages.preset.n_eval_prompts)
    responses = sample_responses(baseline, stages.tokenizer, prompts, seed=seed).responses
    return [evaluate(model, stages.tokenizer, stages.world, name, prompts=prompts, baseline=responses,
                     ref_model=None if model is baseline else baseline, seed=seed)
            for name, model in models.items()]
