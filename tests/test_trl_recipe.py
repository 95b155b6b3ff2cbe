"""README's "When you outgrow one machine" recipe, run as written for a couple of steps: the
tiny preset's SFT stage and DPO pairs, exported, then trained on by TRL's DPOTrainer."""

import re
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the TRL recipe needs `trl` (pip install trl); minialign itself does not")

from minialign.__main__ import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def readme_recipe() -> str:
    """The Python block of README.md's section "When you outgrow one machine"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## When you outgrow one machine", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def test_readme_dpo_recipe_runs_on_the_tiny_export(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = str(tmp_path / "cache")
    # the README's commands, on the tiny preset
    assert main(["export", "sft", "hf/sft", "--preset", "tiny", "--cache", cache]) == 0
    assert main(["export-data", "dpo", "data", "--preset", "tiny", "--cache", cache]) == 0
    recipe = readme_recipe()
    # a couple of small steps instead of a full run, on the CPU
    recipe, n = re.subn(r"max_steps=\d+", "max_steps=2", recipe)
    recipe, m = re.subn(r"per_device_train_batch_size=\d+", "per_device_train_batch_size=4", recipe)
    assert n == m == 1, "the recipe's max_steps and batch size moved: update this test"
    scope: dict = {}
    exec(compile(recipe, "README.md recipe", "exec"), scope)
    trainer = scope["trainer"]
    assert trainer.state.global_step == 2
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert all(loss == loss for loss in losses), "a NaN loss"
    assert (tmp_path / "runs" / "trl-dpo" / "config.json").exists()
    # TRL laid the pairs out through the exported chat template: the very ids minialign trains on
    from minialign.preferences import make_pairs
    from minialign.stages import Stages

    stages = Stages("tiny", seed=0, cache=cache)
    cfg = stages.config_of("dpo")
    pairs = make_pairs(stages.world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)
    for row, pair in zip(trainer.train_dataset.select(range(20)), pairs):
        chosen, prompt_len = stages.tokenizer.encode_chat(pair.prompt, pair.chosen)
        assert row["prompt_ids"] == chosen[:prompt_len] and row["chosen_ids"] == chosen[prompt_len:]
        assert row["rejected_ids"] == stages.tokenizer.encode_chat(pair.prompt, pair.rejected)[0][prompt_len:]
