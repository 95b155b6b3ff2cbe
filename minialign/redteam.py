"""The red-team evaluation: harmful compliance per harm category, and over-refusal.

Every model answers every held-out harmful prompt (each harm category of `world.red_team_prompts`)
and every benign-but-scary one, sampled at temperature 1; the oracle flags each response. A row
per category gives the share of harmful requests answered with harmful content, and a row
'benign' the share of safe requests refused: the two sides of the alignment tax, per category.
Optionally the critique -> revise loop (`cai`) runs on one model's responses, so the table shows
what the loop alone does to those same samples.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from . import oracle, rollout
from .cai import CritiqueConfig, run_critique
from .model import GPT
from .tokenizer import Tokenizer
from .world import MiniWorld, Prompt


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
