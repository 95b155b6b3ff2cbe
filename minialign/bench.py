"""Speed and memory figures: `python -m minialign bench` writes them as JSON.

Every figure is the median of `repeats` timed runs after one warm-up run, on the preset's
model (random weights: speed does not depend on what the model knows).
- train_tokens_per_s: tokens through one forward + backward + AdamW step
- generate_*: new tokens per second for 128 new tokens, with and without the KV cache
- loss_step_ms: one forward + backward of each method's loss on a batch of the preset's size
- peak_rss_mb: the process's peak resident memory
"""

from __future__ import annotations

import dataclasses
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from . import dpo, grpo, orpo, ppo
from .logprobs import sequence_logprobs, token_logprobs
from .model import GPT
from .reward import RewardModel, bradley_terry_loss
from .sft import sft_loss
from .stages import Stages
from .train import make_optimizer


def median_time(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_generation(model: GPT, prompt_len: int = 8, new_tokens: int = 128, batch: int = 1, repeats: int = 5) -> dict:
    """New tokens per second of greedy generation, with and without the KV cache.

    The model's weights are copied into one whose block holds prompt_len + new_tokens (the
    preset's block of 128 would cut 128 new tokens short); position embeddings past the
    preset's block are random, which changes no timing."""
    need = prompt_len + new_tokens
    if need > model.config.block_size:
        longer = GPT(dataclasses.replace(model.config, block_size=need))
        state = model.state_dict()
        wpe = longer.transformer.wpe.weight.detach().clone()
        wpe[: model.config.block_size] = state["transformer.wpe.weight"]
        state["transformer.wpe.weight"] = wpe
        longer.load_state_dict(state)
        model = longer.eval()
    idx = torch.randint(4, model.config.vocab_size, (batch, prompt_len))
    out = {"batch": batch, "new_tokens": new_tokens}
    for use_cache in (True, False):
        def run():
            generated = model.generate(idx, new_tokens, temperature=0.0, use_cache=use_cache)
            assert generated.shape[1] == prompt_len + new_tokens
        seconds = median_time(run, repeats)
        out["cached" if use_cache else "uncached"] = batch * new_tokens / seconds
    out["speedup"] = out["cached"] / out["uncached"]
    return out


def bench_losses(model: GPT, batch: int = 32, T: int = 48, repeats: int = 5) -> dict:
    V = model.config.vocab_size
    ids = torch.randint(4, V, (batch, T))
    mask = torch.ones(batch, T - 1)
    rm = RewardModel.from_policy(model)
    att = torch.ones(batch, T, dtype=torch.long)

    def fb(loss_fn):
        def run():
            model.zero_grad(set_to_none=True)
            loss_fn().backward()
        return run

    def pair_logps():
        both = sequence_logprobs(model(torch.cat([ids, ids.flip(0)])), torch.cat([ids, ids.flip(0)]),
                                 torch.cat([mask, mask]))
        return both[:batch], both[batch:]

    def sft():
        return sft_loss(model(ids), ids, mask)[0]

    def reward():
        r = rm(torch.cat([ids, ids.flip(0)]), torch.cat([att, att]))
        return bradley_terry_loss(r[:batch], r[batch:])[0]

    def dpo_step():
        c, r = pair_logps()
        return dpo.dpo_loss(c, r, c.detach() - 1, r.detach() + 1)[0].mean()

    def orpo_step():
        c, r = pair_logps()
        n = mask.sum(1)
        return orpo.orpo_loss(-c / n, c / n, r / n)[0]

    def ppo_step():
        lp = token_logprobs(model(ids), ids)
        adv = torch.randn_like(lp)
        return ppo.ppo_policy_loss(lp, lp.detach() + 0.01, adv, mask)[0]

    def grpo_step():
        lp = token_logprobs(model(ids), ids)
        adv = grpo.group_advantages(torch.rand(batch), group_size=8)
        return grpo.grpo_loss(lp, lp.detach(), lp.detach(), adv, mask, beta=0.04)[0]

    losses = {"sft": sft, "reward": reward, "dpo": dpo_step, "orpo": orpo_step, "ppo": ppo_step, "grpo": grpo_step}
    return {name: 1000 * median_time(fb(fn), repeats) for name, fn in losses.items()}


def bench_train(model: GPT, batch: int = 32, T: int = 128, repeats: int = 5) -> float:
    ids = torch.randint(4, model.config.vocab_size, (batch, T))
    opt = make_optimizer(model, 1e-4)

    def step():
        loss = sft_loss(model(ids), ids, torch.ones(batch, T - 1))[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return batch * T / median_time(step, repeats)


def main(args) -> int:
    stages = Stages(args.preset, seed=args.seed, device="cpu" if args.device == "auto" else args.device,
                    cache=args.cache, settings=args.settings)
    torch.manual_seed(args.seed)
    model = GPT(stages.preset.model)
    model.eval()
    results = {
        "preset": stages.preset.name,
        "params": model.num_params(),
        "repeats": args.repeats,
        "device": str(stages.device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"benchmarking the {stages.preset.name} model ({results['params']:,} parameters), "
          f"median of {args.repeats} runs")
    results["train_tokens_per_s"] = bench_train(model, repeats=args.repeats)
    print(f"  training: {results['train_tokens_per_s']:,.0f} tokens/s")
    model.eval()
    results["generate_tokens_per_s"] = []
    for batch in (1, 64):
        with torch.no_grad():
            gen = bench_generation(model, batch=batch, repeats=args.repeats)
        results["generate_tokens_per_s"].append(gen)
        print(f"  generation, batch {batch}, {gen['new_tokens']} new tokens: cached {gen['cached']:,.0f} tok/s, "
              f"uncached {gen['uncached']:,.0f} tok/s, speed-up {gen['speedup']:.1f}x")
    results["loss_step_ms"] = bench_losses(model, repeats=args.repeats)
    print("  loss forward+backward (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in results["loss_step_ms"].items()))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results["peak_rss_mb"] = rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
    print(f"  peak memory: {results['peak_rss_mb']:.0f} MB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")
    return 0
