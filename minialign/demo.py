"""Single-stage demos for lectures: one stage from its cached predecessors, before vs after.

`python -m minialign demo sft` trains (or loads) the base and SFT models and prints their
responses to the same held-out prompts side by side, with the oracle's mean score, and saves
the loss curves. Other stages add themselves to `DEMOS` as they are built.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import torch

from . import oracle, plots, rollout
from .stages import Stages

KIND_ORDER = ("factual", "arithmetic", "harmful", "benign", "advice")


def side_by_side(stages: Stages, before: str, after: str, n_per_kind: int = 2, seed: int = 0,
                 width: int = 44) -> str:
    """A text table: one held-out prompt per line block, `before` and `after` responses side by side."""
    tok = stages.tokenizer
    prompts = []
    for kind in KIND_ORDER:
        prompts += stages.world.prompts("eval", kind)[:n_per_kind]
    texts = [p.text for p in prompts]
    cols = {}
    for name in (before, after):
        g = torch.Generator().manual_seed(seed)
        cols[name] = rollout.generate(stages.get(name), tok, texts, temperature=0.0, generator=g).responses
    lines = [f"{'prompt':<{width}} | {before:<{width}} | {after:<{width}}", "-" * (3 * width + 6)]
    for i, p in enumerate(prompts):
        blocks = [textwrap.wrap(s, width) or [""] for s in (p.text, cols[before][i], cols[after][i])]
        for j in range(max(len(b) for b in blocks)):
            row = [b[j] if j < len(b) else "" for b in blocks]
            lines.append(" | ".join(f"{c:<{width}}" for c in row))
        lines.append("")
    return "\n".join(lines)


def mean_oracle_score(stages: Stages, name: str, n: int | None = None, seed: int = 0,
                      temperature: float = 1.0) -> float:
    """Mean oracle score of a stage's sampled responses to the held-out evaluation prompts."""
    prompts = stages.world.eval_prompts(n or stages.preset.n_eval_prompts)
    g = torch.Generator().manual_seed(seed)
    out = rollout.generate(stages.get(name), stages.tokenizer, [p.text for p in prompts],
                           temperature=temperature, generator=g)
    scores = oracle.score_many(prompts, out.responses)
    return sum(s.total for s in scores) / len(scores)


def demo_sft(stages: Stages, out: Path) -> None:
    t0 = time.time()
    stages.get("sft")
    print(f"base and SFT ready in {time.time() - t0:.1f}s "
          f"(trained: base {stages.timings.get('base', 0):.0f}s, sft {stages.timings.get('sft', 0):.0f}s)\n")
    print(side_by_side(stages, "base", "sft"))
    n = stages.preset.n_eval_prompts
    for name in ("base", "sft"):
        print(f"mean oracle score, {name:>4}, {n} held-out prompts (sampled, T=1): {mean_oracle_score(stages, name):+.3f}")
    path = out / "losses_base_sft.png"
    plots.plot_curves({"pretrain": stages.metrics("base"), "sft": stages.metrics("sft")}, path=path)
    print(f"\nloss curves: {path}")


DEMOS = {"sft": demo_sft}


def main(args) -> int:
    if args.stage not in DEMOS:
        print(f"no demo called {args.stage!r}; choose one of {sorted(DEMOS)}")
        return 2
    stages = Stages(args.preset, seed=args.seed, device=args.device, cache=args.cache, retrain=args.retrain)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    DEMOS[args.stage](stages, out)
    return 0
