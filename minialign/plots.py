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
        fig.tight_layout()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=120)
            plt.close(fig)
    return ax
