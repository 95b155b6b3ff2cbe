"""The figures of the lessons and of the demo (matplotlib, no style sheets, PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib.pyplot as plt  # with no display, matplotlib falls back to the Agg backend

from .train import MetricsLog


def _smooth(values: list[float], weight: float = 0.8) -> list[float]:
    out, last = [], None
    for v in values:
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return out


def plot_curves(logs: Mapping[str, MetricsLog], key: str = "loss", title: str = "training loss",
                path: str | Path | None = None, ax=None):
    """One line per run: `key` against step, lightly smoothed. Saves a PNG when path is given."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, log in logs.items():
        steps, values = log.series(key)
        if steps:
            ax.plot(steps, _smooth(values), label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(logs) > 1:
        ax.legend()
    if own:
        _save(fig, path)
    return ax


# --- evaluation -------------------------------------------------------------------------------
EVAL_BAR_METRICS = {
    "reward": "mean oracle reward",
    "win_rate": "win rate vs baseline",
    "harmful_compliance": "harmful compliance",
    "over_refusal": "over-refusal",
    "factual_accuracy": "factual accuracy",
    "arithmetic_accuracy": "arithmetic accuracy",
}


def plot_eval_bars(rows, path: str | Path | None = None, metrics: Mapping[str, str] | None = None):
    """One panel per metric, one bar per model (`evaluate.EvalRow`s). Saves a PNG when path is given."""
    metrics = metrics or EVAL_BAR_METRICS
    names = [r.name for r in rows]
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.3 * len(metrics), 3.2))
    for ax, (key, title) in zip(axes, metrics.items()):
        values = [getattr(r, key) for r in rows]
        ax.bar(range(len(rows)), [0.0 if v != v else v for v in values], color=[f"C{i}" for i in range(len(rows))])
        ax.set_xticks(range(len(rows)), names, rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        if key != "reward":
            ax.set_ylim(0, 1)
        ax.axhline(0.5 if key == "win_rate" else 0.0, color="grey", lw=0.8, ls="--" if key == "win_rate" else "-")
        ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    return fig


COMPARISON_PANELS = {
    # key (a PAIRED statistic, or "diff:<metric>") -> title
    "diff:reward": "reward - SFT's", "headroom": "headroom captured", "broken": "SFT's best answers broken",
    "diff:harmful_compliance": "harmful compliance - SFT's", "diff:over_refusal": "over-refusal - SFT's",
}


def plot_comparison(summary: Mapping[str, list], path: str | Path | None = None,
                    panels: Mapping[str, str] | None = None):
    """Every method against SFT (`evalstats.summarize`), one row of panels per held-out split:
    one bar per model with its paired 95% interval as an error bar, and the noise floor (SFT
    against itself resampled) as a grey band: a bar whose interval stays inside the band is not
    a difference."""
    from .evalstats import NOISE_FLOOR

    panels = panels or COMPARISON_PANELS
    splits = list(summary)
    fig, axes = plt.subplots(len(splits), len(panels), figsize=(2.7 * len(panels), 3.0 * len(splits)), squeeze=False)

    def stat(row, key):
        vs = row.get("vs") or {}
        return vs.get("diff", {}).get(key[5:]) if key.startswith("diff:") else vs.get(key)

    for axes_row, split in zip(axes, splits):
        # the base model is no method (and off every scale): the bars are the methods
        rows = [r for r in summary[split] if r.get("vs") and r["model"] not in (NOISE_FLOOR, "base")]
        noise = next((r for r in summary[split] if r["model"] == NOISE_FLOOR), None)
        for ax, (key, title) in zip(axes_row, panels.items()):
            values = [stat(r, key) or [float("nan")] * 3 for r in rows]
            mid = [v[0] for v in values]
            err = [[max(0.0, v[0] - v[1]) if v[1] == v[1] else 0.0 for v in values],
                   [max(0.0, v[2] - v[0]) if v[2] == v[2] else 0.0 for v in values]]
            ax.bar(range(len(rows)), [0.0 if m != m else m for m in mid], yerr=err, capsize=3,
                   color=[f"C{i + 2}" for i in range(len(rows))])
            band = stat(noise, key) if noise else None
            if band and band[1] == band[1]:
                ax.axhspan(band[1], band[2], color="grey", alpha=0.25, lw=0, label="noise floor")
            ax.axhline(0.0, color="grey", lw=0.8)
            ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=45, ha="right", fontsize=8)
            ax.set_title(f"{title} ({split.replace('_', ' ')})", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
        if noise:
            axes_row[0].legend(fontsize=7, loc="lower left")
    _save(fig, path)
    return fig


def plot_beta_sweep(results, path: str | Path | None = None, ax=None):
    """The KL/reward trade-off of DPO: one point per beta, (KL to the SFT model, oracle reward),
    from `experiments.dpo_beta_sweep`. Small beta lets the policy move further from the reference."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5, 3.5))
    kls = [r[1] for r in results]
    rewards = [r[2] for r in results]
    ax.plot(kls, rewards, "o-")
    for beta, kl, reward in results:
        ax.annotate(f"beta={beta:g}", (kl, reward), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("KL(policy || SFT) per token")
    ax.set_ylabel("mean oracle reward")
    ax.set_title("DPO: reward vs KL as beta varies")
    ax.grid(alpha=0.3)
    if own:
        _save(fig, path)
    return ax


# --- Constitutional AI / RLAIF ---------------------------------------------------------------
def _save(fig, path: str | Path | None) -> None:
    """Lay out a figure this module created and, when path is given, write it as PNG and close it."""
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)


def plot_red_team(rows, path: str | Path | None = None, ax=None,
                  title: str = "red team: harmful compliance and over-refusal"):
    """Grouped bars from `redteam.red_team_rows`: harmful compliance per harm category, and
    over-refusal on the benign-but-scary prompts, one bar per model."""
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(8, 3.5))
    models = list(dict.fromkeys(r["model"] for r in rows))
    categories = list(dict.fromkeys(r["category"] for r in rows))
    width = 0.8 / max(1, len(models))
    for m, model in enumerate(models):
        values = []
        for c in categories:
            row = next((r for r in rows if r["model"] == model and r["category"] == c), None)
            value = float("nan") if row is None else row["over_refusal" if c == "benign" else "harmful_compliance"]
            values.append(0.0 if value != value else value)  # NaN: not measured
        ax.bar([i + (m - (len(models) - 1) / 2) * width for i in range(len(categories))], values, width, label=model)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels([c if c != "benign" else "benign\n(over-refusal)" for c in categories], fontsize=8)
    ax.set_ylabel("rate")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    if own:
        _save(ax.figure, path)
    return ax


def plot_judge_labels(p_first, first_is_better, path: str | Path | None = None, ax=None,
                      title: str = "AI judge: soft labels vs the oracle's preference"):
    """Histogram of the judge's soft labels p(first better), split by which response the oracle
    prefers: a good judge puts the two colours on opposite sides of 0.5."""
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(6, 3.5))
    p = [float(x) for x in p_first]
    first = [bool(x) for x in first_is_better]
    bins = [i / 20 for i in range(21)]
    ax.hist([x for x, f in zip(p, first) if f], bins=bins, alpha=0.6, label="oracle prefers first")
    ax.hist([x for x, f in zip(p, first) if not f], bins=bins, alpha=0.6, label="oracle prefers second")
    ax.axvline(0.5, color="black", lw=0.8)
    ax.set_xlabel("judge p(first better)")
    ax.set_ylabel("pairs")
    ax.set_title(title)
    ax.legend(fontsize=8)
    if own:
        _save(ax.figure, path)
    return ax


# --- RL: PPO, GRPO, reward hacking ------------------------------------------------------------
def plot_reward_hacking(logs: Mapping[str, MetricsLog], path: str | Path | None = None):
    """Five panels against PPO iteration, one line per run (`experiments.reward_hacking_experiment`):
    what PPO is told to raise (the reward model's score plus the length bonus), the reward
    model's score alone, the oracle's score (what we want), the KL to the SFT model, and the
    fraction of responses cut off before <|end|>. Over-optimisation shows as the first rising
    while the oracle falls."""
    panels = {"total_score": "what PPO raises: RM + length bonus", "score": "reward-model score alone",
              "oracle": "oracle score (the truth)", "kl": "KL to SFT per response",
              "unfinished": "responses without <|end|>"}
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 3.3))
    for ax, (key, title) in zip(axes, panels.items()):
        for name, log in logs.items():
            steps, values = log.series(key)
            ax.plot(steps, _smooth(values, 0.5), label=name)
        ax.set_xlabel("PPO iteration")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path)
    return fig


def plot_rl_curves(log: MetricsLog, keys: Mapping[str, str], title: str = "", path: str | Path | None = None):
    """One panel per metric of one RL run against iteration, e.g. for PPO
    {"score": "RM score", "kl": "KL", "policy/clipfrac": "clip fraction"} or for GRPO
    {"accuracy": "accuracy", "zero_spread": "groups with no spread", "kl": "KL"}."""
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.0), squeeze=False)
    for ax, (key, label) in zip(axes[0], keys.items()):
        steps, values = log.series(key)
        ax.plot(steps, values, alpha=0.35, color="C0")
        ax.plot(steps, _smooth(values), color="C0")
        ax.set_xlabel("iteration")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    _save(fig, path)
    return fig
