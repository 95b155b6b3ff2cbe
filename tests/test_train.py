"""Shared training machinery: schedule, checkpoints, determinism."""

import math

import pytest
import torch

from minialign.model import GPT, GPTConfig
from minialign.train import LoopConfig, load_checkpoint, lr_at, run_loop, save_checkpoint, set_seed

CFG = GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8)


def test_warmup_then_cosine_schedule():
    assert lr_at(0, 100, 1.0, warmup_steps=10) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, warmup_steps=10) == pytest.approx(1.0)
    assert lr_at(10, 100, 1.0, warmup_steps=10, min_lr_frac=0.0) == pytest.approx(1.0)
    # halfway through the decay: cos(pi/2) = 0, so lr = min + (1-min)/2
    assert lr_at(55, 100, 1.0, warmup_steps=10, min_lr_frac=0.2) == pytest.approx(0.6)
    assert lr_at(100, 100, 1.0, warmup_steps=10, min_lr_frac=0.2) == pytest.approx(0.2)


def test_checkpoint_round_trip(tmp_path):
    set_seed(0)
    model = GPT(CFG)
    save_checkpoint(tmp_path / "m.pt", model, CFG.to_dict(), seconds=1.5)
    ckpt = load_checkpoint(tmp_path / "m.pt", CFG.to_dict())
    again = GPT(CFG)
    again.load_state_dict(ckpt["state_dict"])
    idx = torch.randint(0, 16, (2, 8))
    assert torch.equal(model(idx), again(idx)) and ckpt["extra"]["seconds"] == 1.5


def test_checkpoint_from_another_config_is_refused_naming_the_field(tmp_path):
    save_checkpoint(tmp_path / "m.pt", GPT(CFG), CFG.to_dict())
    other = dict(CFG.to_dict(), n_embd=16)
    with pytest.raises(ValueError, match="n_embd"):
        load_checkpoint(tmp_path / "m.pt", other)


def test_checkpoint_write_leaves_no_temporary_file(tmp_path):
    save_checkpoint(tmp_path / "m.pt", GPT(CFG), CFG.to_dict())
    # the checkpoint and its size-and-hash file beside it, no temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "m.pt.sum"]


def test_loading_a_missing_or_foreign_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a minialign checkpoint"):
        load_checkpoint(tmp_path / "x.pt")


def _train_once(seed):
    set_seed(seed)
    model = GPT(CFG)
    g = torch.Generator().manual_seed(seed)
    data = iter([torch.randint(0, 16, (4, 8), generator=g) for _ in range(5)])

    def loss_fn(m, batch):
        logits = m(batch)
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 16), batch[:, 1:].reshape(-1)), {}

    log = run_loop(model, data, loss_fn, LoopConfig(steps=5, lr=1e-2, warmup_steps=1, log_every=1))
    return log, model


def test_same_seed_gives_the_same_numbers_on_cpu():
    (log_a, model_a), (log_b, model_b) = _train_once(0), _train_once(0)
    assert log_a.rows == log_b.rows
    assert all(torch.equal(a, b) for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()))


def test_training_lowers_the_loss_and_logs_every_step():
    log, _ = _train_once(1)
    steps, losses = log.series("loss")
    assert steps == [0, 1, 2, 3, 4] and losses[-1] < losses[0] and all(math.isfinite(x) for x in losses)


def test_mixed_precision_is_a_no_op_on_cpu_and_when_off():
    import contextlib

    from minialign.train import mixed_precision

    assert isinstance(mixed_precision("cpu", bf16=True), contextlib.nullcontext)
    assert isinstance(mixed_precision("cuda", bf16=False), contextlib.nullcontext)
    with mixed_precision("cpu", bf16=True):
        x = torch.ones(2, 2) @ torch.ones(2, 2)
    assert x.dtype == torch.float32


def test_mixed_precision_on_cuda_is_bf16_autocast():
    import warnings

    from minialign.train import mixed_precision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CPU-only build warns that CUDA autocast is unavailable
        ctx = mixed_precision("cuda", bf16=True)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16 and ctx.device == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mixed_precision_runs_matmuls_in_bf16_on_cuda():
    from minialign.train import mixed_precision

    a = torch.ones(4, 4, device="cuda")
    with mixed_precision("cuda", bf16=True):
        assert (a @ a).dtype == torch.bfloat16


def test_only_the_gpu_preset_trains_in_bf16():
    from minialign.stages import get_preset

    assert get_preset("gpu").bf16 and not get_preset("cpu").bf16 and not get_preset("tiny").bf16
