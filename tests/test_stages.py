"""Stages are trained once, cached, and reused; a stage trained with other settings is not."""

import dataclasses

import pytest
import torch

from minialign import rollout
from minialign.stages import Stages, get_preset


def test_tiny_pipeline_trains_caches_and_reloads(tiny_trained, tiny_cache):
    s1 = tiny_trained  # trained base and SFT once per session, from an empty cache
    sft = s1.get("sft")
    assert s1.path("base").exists() and s1.path("sft").exists()
    assert s1.metrics("sft").rows
    # a new Stages object loads from disk: identical weights, no retraining
    s2 = Stages("tiny", seed=0, cache=tiny_cache)
    mtime = s2.path("sft").stat().st_mtime
    again = s2.get("sft")
    assert s2.path("sft").stat().st_mtime == mtime
    assert all(torch.equal(a, b) for a, b in zip(sft.state_dict().values(), again.state_dict().values()))


@pytest.mark.slow
def test_changed_stage_config_retrains_instead_of_reusing(tiny_cache):
    assert Stages("tiny", seed=0, cache=tiny_cache).is_cached("base")
    preset = get_preset("tiny")
    preset.stage_configs["base"] = dataclasses.replace(preset.stage_configs["base"], n_docs=500)
    s = Stages(preset, seed=0, cache=tiny_cache)
    assert not s.is_cached("base")
    s.get("base")
    assert s.is_cached("base")


def test_same_seed_same_generations(tiny_trained, tiny_cache):
    outs = []
    for s in (tiny_trained, Stages("tiny", seed=0, cache=tiny_cache)):  # as trained, then reloaded
        g = torch.Generator().manual_seed(0)
        out = rollout.generate(s.get("base"), s.tokenizer, ["What is 2 plus 2?"] * 3, max_new_tokens=8, generator=g)
        outs.append(out.responses)
    assert outs[0] == outs[1]


def test_a_prompt_longer_than_the_context_is_refused(tiny_trained):
    from minialign.model import GPT

    s = tiny_trained  # its tokenizer; an untrained model of the tiny preset's shape refuses as well
    with pytest.raises(ValueError, match="block_size"):
        rollout.generate(GPT(s.model_config), s.tokenizer, ["plus " * 200])


def test_cached_result_is_computed_once_per_key(tmp_path):
    stages = Stages("tiny", seed=0, cache=tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    assert stages.cached_result("thing", {"a": 1}, compute) == {"value": 1}
    assert stages.cached_result("thing", {"a": 1}, compute) == {"value": 1}  # read back, not computed
    assert Stages("tiny", seed=0, cache=tmp_path).cached_result("thing", {"a": 1}, compute) == {"value": 1}
    assert stages.cached_result("thing", {"a": 2}, compute) == {"value": 2}  # another key: computed again
    assert len(calls) == 2
    assert not list(stages.dir.glob("*.tmp*"))  # written atomically: no temporary file left behind
    again = Stages("tiny", seed=0, cache=tmp_path, retrain=True)
    assert again.cached_result("thing", {"a": 1}, compute) == {"value": 3}  # retrain recomputes


@pytest.mark.slow
def test_beta_sweep_and_hacking_experiment_are_cached(tiny_cache, monkeypatch):
    from minialign import experiments
    from minialign.ppo import PPOConfig

    stages = Stages("tiny", seed=0, cache=tiny_cache)
    sweep = experiments.dpo_beta_sweep(stages, betas=(0.1, 1.0), steps=2)
    cfg = PPOConfig(iterations=2, batch_size=4, minibatch_size=2, ppo_epochs=1, max_new_tokens=6, length_bonus=0.1)
    result = experiments.reward_hacking_experiment(stages, cfg=cfg, n_examples=2)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the result is cached")

    monkeypatch.setattr(experiments, "train_dpo", no_training)
    monkeypatch.setattr(experiments, "train_ppo", no_training)
    fresh = Stages("tiny", seed=0, cache=tiny_cache)
    assert experiments.dpo_beta_sweep(fresh, betas=(0.1, 1.0), steps=2) == sweep
    again = experiments.reward_hacking_experiment(fresh, cfg=cfg, n_examples=2)
    assert again["summary"] == result["summary"] and again["examples"] == result["examples"]
    assert {n: log.rows for n, log in again["logs"].items()} == {n: log.rows for n, log in result["logs"].items()}


@pytest.mark.slow
def test_plain_dpo_row_is_the_stage_without_its_nll_term_and_is_cached(tiny_cache, monkeypatch):
    import dataclasses

    from minialign import experiments

    stages = Stages("tiny", seed=0, cache=tiny_cache)
    seen = []
    real = experiments.train_dpo

    def spy(policy, ref, tok, world, cfg, **kw):
        seen.append(cfg)
        return real(policy, ref, tok, world, cfg, **kw)

    monkeypatch.setattr(experiments, "train_dpo", spy)
    row = experiments.plain_dpo_row(stages)
    assert row.name == "dpo plain (alpha=0)" and row.n == stages.preset.n_eval_prompts
    assert seen == [dataclasses.replace(stages.config_of("dpo"), nll_weight=0.0)]
    assert stages.config_of("dpo").nll_weight > 0  # the stage is RPO, so the two differ

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the row is cached")

    monkeypatch.setattr(experiments, "train_dpo", no_training)
    assert repr(experiments.plain_dpo_row(Stages("tiny", seed=0, cache=tiny_cache))) == repr(row)  # NaN-safe


def test_the_registry_orders_each_stage_after_what_it_needs():
    from minialign.stages import ORDER, POLICIES, STAGES, _training_order

    assert set(ORDER) == set(STAGES)
    for name in ORDER:
        for need in STAGES[name].requires:
            assert ORDER.index(need) < ORDER.index(name), (need, name)
    assert "reward" not in POLICIES and "judge" not in POLICIES and {"sft", "dpo", "ppo"} <= set(POLICIES)
    # the order is derived: entries listed before what they need are moved after it
    import dataclasses

    late = {"b": dataclasses.replace(STAGES["sft"], name="b", requires=("a",)),
            "a": dataclasses.replace(STAGES["base"], name="a")}
    assert _training_order(late) == ("a", "b")
    import pytest

    cycle = {"a": dataclasses.replace(STAGES["base"], name="a", requires=("b",)),
             "b": dataclasses.replace(STAGES["base"], name="b", requires=("a",))}
    with pytest.raises(ValueError, match="cycle: a -> b -> a"):
        _training_order(cycle)
    with pytest.raises(ValueError, match="requires 'nope'"):
        _training_order({"a": dataclasses.replace(STAGES["base"], name="a", requires=("nope",))})


def test_every_stage_has_a_config_in_every_preset(tmp_path):
    from minialign.stages import PRESETS, STAGES

    for preset in PRESETS:
        s = Stages(preset, seed=0, cache=tmp_path)
        for name, stage in STAGES.items():
            assert type(s.config_of(name)) is type(stage.config()), (preset, name)
    # the cpu preset trains every stage with its config's defaults
    cpu = Stages("cpu", seed=0, cache=tmp_path)
    assert all(cpu.config_of(n) == stage.config() for n, stage in STAGES.items())


def test_an_added_field_at_its_default_leaves_the_cache_key_unchanged():
    from dataclasses import dataclass

    from minialign.stages import _fingerprint
    from minialign.train import added_field

    @dataclass
    class Before:
        lr: float = 1e-3

    @dataclass
    class After:
        lr: float = 1e-3
        lora_rank: int = added_field(0)

    assert _fingerprint(After()) == _fingerprint(Before())
    assert _fingerprint(After(lora_rank=8)) != _fingerprint(Before())
    assert _fingerprint(After(lr=2e-3)) != _fingerprint(Before())
