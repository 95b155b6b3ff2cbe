"""Single-stage demos for lectures: one stage from its cached predecessors, before vs after.

`python -m minialign demo sft` trains (or loads) the base and SFT models and prints their
responses to the same held-out prompts side by side, with the oracle's mean score, and saves
the loss curves. Each stage names its demo in the registry (`stages.STAGES[name].demo`).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import oracle, plots, rollout

if TYPE_CHECKING:
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


def demo_sft(stages: Stages, name: str, out: Path) -> None:
    """Base vs SFT: the same held-out prompts, the mean oracle score of each, the loss curves."""
    t0 = time.time()
    stages.get("sft")
    print(f"base and SFT ready in {time.time() - t0:.1f}s "
          f"(trained: base {stages.timings.get('base', 0):.0f}s, sft {stages.timings.get('sft', 0):.0f}s)\n")
    print(side_by_side(stages, "base", "sft"))
    n = stages.preset.n_eval_prompts
    for name in ("base", "sft"):
        score = mean_oracle_score(stages, name)
        print(f"mean oracle score, {name:>4}, {n} held-out prompts (sampled, T=1): {score:+.3f}")
    path = out / "losses_base_sft.png"
    plots.plot_curves({"pretrain": stages.metrics("base"), "sft": stages.metrics("sft")}, path=path)
    print(f"\nloss curves: {path}")


def demo_reward(stages: Stages, name: str, out: Path) -> None:
    """The reward model: held-out accuracy and its scores of one prompt's candidate responses."""
    import random

    from . import reward

    rm = stages.get("reward")
    print(f"reward model ready (trained in {stages.timings.get('reward', 0):.0f}s)")
    from .diagnostics import reward_diagnostics

    print(f"held-out pairwise accuracy: {reward_diagnostics(stages)['held-out pairwise accuracy']:.1%}")
    world, tok = stages.world, stages.tokenizer
    rng = random.Random(stages.seed)
    for kind in KIND_ORDER:
        p = world.prompts("eval", kind)[0]
        responses = [world.respond(p, style, rng) for style in world.STYLES[kind]]
        with torch.no_grad():
            scores = reward.score_texts(rm, tok, [p.text] * len(responses), responses).tolist()
        print(f"\n{p.text}")
        for style, r, s in sorted(zip(world.STYLES[kind], responses, scores), key=lambda x: -x[2]):
            print(f"  RM {s:+6.2f}  oracle {oracle.score(p, r).total:+5.2f}  [{style}] {r}")
    path = out / "reward_curves.png"
    plots.plot_curves({"reward": stages.metrics("reward")}, path=path, title="reward model loss")
    print(f"\nloss curve: {path}")


def demo_policy(stages: Stages, stage: str, out: Path) -> None:
    """Before (SFT) vs after (`stage`): the same held-out prompts, the evaluation rows, the curves."""
    from . import evaluate, pipeline

    t0 = time.time()
    stages.get("sft")
    stages.get(stage)
    print(f"{stage} ready in {time.time() - t0:.1f}s (trained in {stages.timings.get(stage, 0):.0f}s)\n")
    print(side_by_side(stages, "sft", stage))
    # the pipeline's evaluation rows, read from the cache where a pipeline or demo made them
    rows = [pipeline.eval_row(stages, n) for n in ("sft", stage)]
    for row in rows:
        row.train_seconds = stages.timings.get(row.name, float("nan"))
    print(evaluate.format_table(rows))
    path = out / f"{stage}_curves.png"
    log = stages.metrics(stage)
    key = "loss" if log.series("loss")[0] else next((k for k in log.rows[0] if k != "step"), "loss")
    plots.plot_curves({stage: log}, key=key, path=path, title=f"{stage}: {key}")
    print(f"\ntraining curve: {path}")


def demos() -> dict[str, str]:
    """{name or alias: stage} of every stage with a demo."""
    from .stages import ORDER, STAGES

    names = {}
    for name in ORDER:
        if STAGES[name].demo is not None:
            names[name] = name
            names.update({alias: name for alias in STAGES[name].aliases})
    return names


def main(args) -> int:
    from .__main__ import stages_from_args
    from .stages import STAGES

    stage = demos().get(args.stage)
    if stage is None:
        print(f"no demo called {args.stage!r}; choose one of {sorted(demos())}")
        return 2
    stages = stages_from_args(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    STAGES[stage].demo(stages, stage, out)
    return 0
