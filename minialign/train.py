"""What every training loop shares: seeding, device, optimiser, schedule, clipping, progress,
metrics and atomic checkpoints. The algorithm files keep only what is theirs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
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


def optimizer_step(optimizer: torch.optim.Optimizer, model: nn.Module, loss: torch.Tensor,
                   max_grad_norm: float) -> float:
    """backward, clip the global gradient norm, step; returns the norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm) if max_grad_norm > 0 else torch.tensor(0.0)
    optimizer.step()
    return float(norm)


class ProgressBar:
    """Progress of a loop, with the running loss, that fits where it runs:

    - in Jupyter, a widget, and in a terminal, a bar redrawn in place (both `tqdm.auto`);
    - in a log file or a pipe, a plain line every tenth of the way and at the end, so a piped
      run's log stays readable instead of holding every redraw of a bar in one line.

    Set MINIALIGN_QUIET=1 to silence it (the test suite does)."""

    def __init__(self, total: int, desc: str = "", every: float = 0.5, stream=None):
        self.total, self.desc = total, desc
        self.stream = stream or sys.stderr
        self.quiet = os.environ.get("MINIALIGN_QUIET", "") not in ("", "0")
        self.n, self.start, self.next_line = 0, time.time(), 0.1
        self.postfix = ""
        self.bar = None
        if not self.quiet and (_in_notebook() or _is_terminal(self.stream)):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, mininterval=every, file=None if _in_notebook() else self.stream,
                            dynamic_ncols=True)

    def update(self, n: int = 1, **metrics: float) -> None:
        self.n += n
        if metrics:
            self.postfix = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        if self.quiet:
            return
        if self.bar is not None:
            if metrics:
                self.bar.set_postfix_str(self.postfix, refresh=False)
            self.bar.update(n)
        elif self.n >= self.next_line * self.total and self.n < self.total:
            self._line()
            while self.next_line * self.total <= self.n:
                self.next_line += 0.1

    def _line(self) -> None:
        elapsed = time.time() - self.start
        frac = self.n / max(1, self.total)
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        self.stream.write(f"{self.desc} {self.n}/{self.total} ({frac:.0%}) {elapsed:.1f}s eta {eta:.0f}s "
                          f"{self.postfix}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            self._line()


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where tqdm.auto draws a widget)."""
    shell = sys.modules.get("IPython")
    try:
        return shell is not None and type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:
        return False


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


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


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, or trained with another config."""


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sum")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, model: nn.Module, config: dict, **extra) -> None:
    """Write {config, state_dict, extra} atomically: a temporary file, then a rename, so a
    run killed mid-write never leaves half a checkpoint where a reader would find it. Beside it,
    `<file>.sum` holds its size and SHA-256, so a file damaged later is recognised on loading."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": config, "state_dict": state, "extra": extra}, tmp)
    atomic_write_text(_sidecar(path), json.dumps({"bytes": tmp.stat().st_size, "sha256": _digest(tmp)}))
    os.replace(tmp, path)


def check_file(path: str | os.PathLike) -> None:
    """Raise CheckpointError when `path` differs from the size and hash written beside it
    (a truncated copy, a disk error, an edit). A file without a `.sum` is not checked."""
    path = Path(path)
    sidecar = _sidecar(path)
    if not sidecar.exists():
        return
    try:
        expected = json.loads(sidecar.read_text())
        size, digest = int(expected["bytes"]), str(expected["sha256"])
    except (ValueError, KeyError, TypeError):
        return  # a damaged .sum says nothing about the checkpoint: torch.load still checks it
    actual = path.stat().st_size
    if actual != size:
        raise CheckpointError(f"checkpoint {path} is damaged: {actual} bytes where {size} were written "
                              f"(truncated or overwritten)")
    if _digest(path) != digest:
        raise CheckpointError(f"checkpoint {path} is damaged: its SHA-256 differs from the one written with it")


def load_checkpoint(path: str | os.PathLike, expected_config: dict | None = None) -> dict:
    """Load a checkpoint with `weights_only=True` (no pickled code runs) and check its config.

    Raises CheckpointError (a ValueError) when the file is damaged (its size or hash differs from
    `<file>.sum`, or torch cannot read it), and when it was trained with another config, naming the
    fields that differ: loading it anyway would fail later with a far less helpful message."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    check_file(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, I/O error: all mean the file is unusable
        raise CheckpointError(f"checkpoint {path} is damaged: torch.load failed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else 'no message'})") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path} is not a minialign checkpoint (no config/state_dict)")
    if expected_config is not None:
        diff = {k: (ckpt["config"].get(k), v) for k, v in expected_config.items() if ckpt["config"].get(k) != v}
        if diff:
            fields = ", ".join(f"{k}: checkpoint {a!r} vs expected {b!r}" for k, (a, b) in diff.items())
            raise CheckpointError(
                f"checkpoint {path} was trained with another config ({fields}); "
                "use the matching preset or delete the checkpoint to retrain"
            )
    return ckpt


def added_field(default, **kwargs):
    """A config field added after stages were cached: at its default it stays out of the cache key.

    A checkpoint is reused only when its stage config's fingerprint matches (`Stages.identity`).
    A new option whose default keeps the old behaviour (LoRA off, the package's own losses) would
    change every fingerprint and retrain every stage for nothing; declared with `added_field`, it
    enters the fingerprint only when set to something else.
    """
    return field(default=default, metadata={"cache_key": "unless_default"}, **kwargs)


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
