"""Stages are trained once, cached, and reused; a stage trained with other settings is not."""

import dataclasses

import torch

from minialign import rollout
from minialign.stages import Stages, get_preset


def test_tiny_pipeline_trains_caches_and_reloads(tmp_path):
    s1 = Stages("tiny", seed=0, cache=tmp_path)
    sft = s1.get("sft")
    assert s1.path("base").exists() and s1.path("sft").exists()
    assert s1.metrics("sft").rows
    # a new Stages object loads from disk: identical weights, no retraining
    s2 = Stages("tiny", seed=0, cache=tmp_path)
    mtime = s2.path("sft").stat().st_mtime
    again = s2.get("sft")
    assert s2.path("sft").stat().st_mtime == mtime
    assert all(torch.equal(a, b) for a, b in zip(sft.state_dict().values(), again.state_dict().values()))


def test_changed_stage_config_retrains_instead_of_reusing(tmp_path):
    Stages("tiny", seed=0, cache=tmp_path).get("base")
    preset = get_preset("tiny")
    preset.stage_configs["base"] = dataclasses.replace(preset.stage_configs["base"], n_docs=500)
    s = Stages(preset, seed=0, cache=tmp_path)
    assert not s.is_cached("base")
    s.get("base")
    assert s.is_cached("base")


def test_same_seed_same_generations(tmp_path):
    outs = []
    for _ in range(2):
        s = Stages("tiny", seed=1, cache=tmp_path)
        g = torch.Generator().manual_seed(0)
        outs.append(rollout.generate(s.get("base"), s.tokenizer, ["What is 2 plus 2?"] * 3, max_new_tokens=8, generator=g).responses)
    assert outs[0] == outs[1]


def test_a_prompt_longer_than_the_context_is_refused(tmp_path):
    import pytest

    s = Stages("tiny", seed=0, cache=tmp_path)
    with pytest.raises(ValueError, match="block_size"):
        rollout.generate(s.get("base"), s.tokenizer, ["plus " * 200])
