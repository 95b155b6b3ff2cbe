"""The benchmark command on the tiny preset: it runs, and writes every figure it promises."""

import argparse
import json

import pytest
import torch

from minialign import bench
from minialign.model import GPT, GPTConfig


def test_generation_bench_runs_past_the_block_and_keeps_the_weights():
    cfg = GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=16)
    model = GPT(cfg).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        out = bench.bench_generation(model, prompt_len=4, new_tokens=20, batch=2, repeats=1)
    assert out["new_tokens"] == 20 and out["batch"] == 2
    assert out["cached"] > 0 and out["uncached"] > 0
    assert out["speedup"] == out["cached"] / out["uncached"]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the bench model is a copy


@pytest.mark.slow
def test_bench_main_writes_json(tmp_path, tiny_cache):
    path = tmp_path / "bench.json"
    args = argparse.Namespace(preset="tiny", seed=0, device="cpu", cache=str(tiny_cache), out=str(path), repeats=1,
                              settings=[])
    assert bench.main(args) == 0
    results = json.loads(path.read_text())
    assert results["train_tokens_per_s"] > 0 and results["peak_rss_mb"] > 0
    assert [g["batch"] for g in results["generate_tokens_per_s"]] == [1, 64]
    assert {"sft", "reward", "dpo", "orpo", "ppo", "grpo"} <= set(results["loss_step_ms"])
