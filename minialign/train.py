"""What every training loop shares: seeding, device, optimiser, schedule, clipping, progress,
metrics and atomic checkpoints. The algorithm files keep only what is theirs."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch so a run is repeatable on the CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then the CPU."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def mixed_precision(device: torch.device | str, bf16: bool):
    """A context in which forward passes run in bfloat16 on CUDA (`torch.autocast`), or a
    do-nothing context elsewhere and when bf16 is False.

    Parameters, optimizer state and gradients stay float32: autocast only casts the inputs of
    matrix multiplications, and keeps softmax, log-softmax and reductions in float32. bfloat16 has
    float32's exponent range, so unlike float16 it needs no loss scaling."""
    if bf16 and torch.device(device).type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cache_dir() -> Path:
    """Where trained stages are kept: $MINIALIGN_CACHE, else ~/.cache/minialign."""
    root = os.environ.get("MINIALIGN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "minialign"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.1, betas=(0.9, 0.95)) -> torch.optim.AdamW:
    """AdamW; weight decay only on matrices (not on biases, LayerNorm gains or nothing 1-D),
    as GPT-2 style training does."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def lr_at(step: int, total_steps: int, lr: float, warmup_steps: int = 0, min_lr_frac: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to min_lr_frac * lr at total_steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return lr * (min_lr_frac + (1 - min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def optimizer_step(optimizer: torch.optim.Optimizer, model: nn.Module, loss: torch.Tensor, max_grad_norm: float) -> float:
    """backward, clip the global gradient norm, step; returns the norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm) if max_grad_norm > 0 else torch.tensor(0.0)
    optimizer.step()
    return float(norm)


class ProgressBar:
    """A one-line progress bar with the running loss, on stderr (no dependency).

    Set MINIALIGN_QUIET=1 to silence it (the test suite does)."""

    def __init__(self, total: int, desc: str = "", every: float = 0.5, stream=None):
        self.total, self.desc, self.every = total, desc, every
        self.stream = stream or sys.stderr
        self.quiet = os.environ.get("MINIALIGN_QUIET", "") not in ("", "0")
        self.n, self.start, self.last = 0, time.time(), 0.0
        self.postfix = ""

    def update(self, n: int = 1, **metrics: float) -> None:
        self.n += n
        if metrics:
            self.postfix = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        now = time.time()
        if not self.quiet and (now - self.last >= self.every or self.n >= self.total):
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = self.n / max(1, self.total)
        bar = "#" * int(24 * frac) + "." * (24 - int(24 * frac))
        elapsed = now - self.start
        eta = elapsed / max(frac, 1e-9) - elapsed if frac > 0 else 0.0
        self.stream.write(f"\r{self.desc:<8} [{bar}] {self.n}/{self.total} {elapsed:5.1f}s eta {eta:4.0f}s {self.postfix}")
        self.stream.flush()

    def close(self) -> None:
        if not self.quiet:
            self._draw(time.time())
            self.stream.write("\n")
            self.stream.flush()


class MetricsLog:
    """Rows of metrics, one per logged step, written as JSON lines."""

    def __init__(self):
        self.rows: list[dict] = []

    def log(self, step: int, **metrics: float) -> None:
        self.rows.append({"step": step, **{k: float(v) for k, v in metrics.items()}})

    def series(self, key: str) -> tuple[list[int], list[float]]:
        rows = [r for r in self.rows if key in r]
        return [r["step"] for r in rows], [r[key] for r in rows]

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in self.rows))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MetricsLog":
        log = cls()
        log.rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        return log


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, config: dict, **extra) -> None:
    """Write {config, state_dict, extra} atomically: a temporary file, then a rename, so a
    run killed mid-write never leaves half a checkpoint where a reader would find it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": config, "state_dict": state, "extra": extra}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, expected_config: dict | None = None) -> dict:
    """Load a checkpoint with `weights_only=True` (no pickled code runs) and check its config.

    Raises ValueError naming the fields that differ when the checkpoint was trained with
    another config: loading it anyway would fail later with a far less helpful message."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise ValueError(f"{path} is not a minialign checkpoint (no config/state_dict)")
    if expected_config is not None:
        diff = {k: (ckpt["config"].get(k), v) for k, v in expected_config.items() if ckpt["config"].get(k) != v}
        if diff:
            fields = ", ".join(f"{k}: checkpoint {a!r} vs expected {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"checkpoint {path} was trained with another config ({fields}); "
                "use the matching preset or delete the checkpoint to retrain"
            )
    return ckpt


@dataclass
class LoopConfig:
    steps: int = 100
    """optimiser steps"""
    lr: float = 1e-3
    """peak learning rate"""
    warmup_steps: int = 10
    """linear warm-up steps before cosine decay"""
    min_lr_frac: float = 0.1
    """final learning rate as a fraction of lr"""
    weight_decay: float = 0.1
    """AdamW weight decay on matrices"""
    max_grad_norm: float = 1.0
    """global gradient-norm clip (0 disables)"""
    log_every: int = 10
    """steps between metric rows"""


def run_loop(
    model: nn.Module,
    batches: Iterator,
    loss_fn: Callable[[nn.Module, object], tuple[torch.Tensor, dict]],
    cfg: LoopConfig,
    desc: str = "train",
    trainable: nn.Module | None = None,
) -> MetricsLog:
    """The supervised loop that SFT, pretraining, reward modelling, DPO and ORPO share:
    `loss, metrics = loss_fn(model, batch)`, then one clipped AdamW step, with a schedule,
    a progress bar and a metrics log. `trainable` (default: model) is what the optimiser updates."""
    trainable = trainable or model
    optimizer = make_optimizer(trainable, cfg.lr, cfg.weight_decay)
    log = MetricsLog()
    bar = ProgressBar(cfg.steps, desc)
    model.train()
    running = None
    for step in range(cfg.steps):
        set_lr(optimizer, lr_at(step, cfg.steps, cfg.lr, cfg.warmup_steps, cfg.min_lr_frac))
        loss, metrics = loss_fn(model, next(batches))
        grad_norm = optimizer_step(optimizer, trainable, loss, cfg.max_grad_norm)
        value = float(loss.detach())
        running = value if running is None else 0.95 * running + 0.05 * value
        bar.update(loss=running)
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            log.log(step, loss=value, grad_norm=grad_norm, lr=optimizer.param_groups[0]["lr"], **metrics)
    bar.close()
    model.eval()
    return log
