"""Bad input gets one clear line and a non-zero exit, never a traceback; a damaged or stale cache is
trained again, never loaded; `--set stage.field=value` reaches the stage's config; progress in a log
file is plain lines."""

import io
import json

import pytest
import torch

from minialign import stages as stages_module
from minialign.__main__ import main
from minialign.settings import SettingError, apply_settings
from minialign.stages import Stages, get_preset
from minialign.train import CheckpointError, ProgressBar, load_checkpoint


def _exit_line(capsys, argv) -> str:
    """Run the command line, expect exit status 2 without a traceback, return what it printed."""
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    assert rc == 2
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert "Traceback" not in text
    return text


@pytest.mark.parametrize("argv, message", [
    (["pipeline", "--preset", "huge"], "invalid choice: 'huge'"),
    (["pipeline", "--seed", "-1"], "must be a non-negative integer, got -1"),
    (["pipeline", "--seed", "one"], "must be a non-negative integer, got 'one'"),
    (["demo", "dpo", "--device", "gpu"], "unknown device 'gpu'"),
    (["bench", "--repeats", "0"], "must be a positive integer"),
    (["pipeline", "--preset", "tiny", "--set", "ppo.kl=0"], "PPOConfig has no field 'kl'"),
    (["pipeline", "--preset", "tiny", "--set", "ppo.kl_coef=abc"], "--set ppo.kl_coef: 'abc' is not a number"),
    (["pipeline", "--preset", "tiny", "--set", "nope.x=1"], "no stage 'nope'"),
    (["pipeline", "--preset", "tiny", "--set", "ppo.kl_coef"], "expected stage.field=value"),
    (["demo", "dpo", "--preset", "tiny", "--retrain", "sft,nope"], "unknown stages ['nope']"),
])
def test_a_bad_command_line_value_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    text = _exit_line(capsys, argv + ["--cache", str(tmp_path)])
    assert message in text


def test_settings_are_typed_through_the_config_dataclasses():
    preset = get_preset("tiny")
    changed = apply_settings(preset, ["ppo.kl_coef=0", "dpo.loop.lr=3e-4", "rlaif_dpo.dpo.beta=2",
                                      "dpo.loss_type=ipo", "sl_cai.critique.principles=harm"])
    assert changed.stage_configs["ppo"].kl_coef == 0.0 and isinstance(changed.stage_configs["ppo"].kl_coef, float)
    assert changed.stage_configs["dpo"].loop.lr == 3e-4
    assert changed.stage_configs["rlaif_dpo"].dpo.beta == 2.0
    assert changed.stage_configs["dpo"].loss_type == "ipo"  # a bare word is a string
    assert changed.stage_configs["sl_cai"].critique.principles == ("harm",)
    assert preset.stage_configs["ppo"].kl_coef != 0.0  # the preset itself is untouched
    for bad, message in [("ppo.iterations=2.5", "not an integer"), ("ppo.normalize_score=1", "not True or False"),
                         ("dpo.loop=3", "is a group of settings"), ("sl_cai.n_per_kind=3", "is not a dict"),
                         ("grpo.clip_eps_high=high", "is not a")]:
        with pytest.raises(SettingError, match=message):
            apply_settings(preset, [bad])
    assert apply_settings(preset, ["grpo.clip_eps_high=None"]).stage_configs["grpo"].clip_eps_high is None
    assert apply_settings(preset, ["grpo.clip_eps_high=0.28"]).stage_configs["grpo"].clip_eps_high == 0.28


def test_a_setting_changes_the_cache_key_of_the_stage_and_of_what_needs_it(tmp_path):
    plain = Stages("tiny", seed=0, cache=tmp_path)
    changed = Stages("tiny", seed=0, cache=tmp_path, settings=["sft.loop.lr=1e-4"])
    assert changed.config_of("sft").loop.lr == 1e-4
    assert changed.identity("base") == plain.identity("base")
    assert changed.identity("sft") != plain.identity("sft")
    assert changed.identity("dpo") != plain.identity("dpo")  # upstream changed


def _trained(tmp_path):
    s = Stages("tiny", seed=0, cache=tmp_path)
    s.get("sft")
    return s


def test_a_truncated_checkpoint_is_named_and_trained_again(tmp_path, capsys):
    s = _trained(tmp_path)
    before = {k: v.clone() for k, v in s.get("sft").state_dict().items()}
    path = s.path("sft")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{path}.*damaged.*bytes where {len(data)} were written"):
        load_checkpoint(path)
    again = Stages("tiny", seed=0, cache=tmp_path)
    assert not again.is_cached("sft")
    model = again.get("sft")
    assert f"cache: checkpoint {path} is damaged" in capsys.readouterr().err
    assert path.stat().st_size == len(data)  # retrained and written whole
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # same seed, same weights


def test_a_corrupt_checkpoint_without_its_sum_file_is_still_recognised(tmp_path, capsys):
    s = _trained(tmp_path)
    path = s.path("sft")
    path.with_name(path.name + ".sum").unlink()  # a cache written before the .sum files existed
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(CheckpointError, match="damaged: torch.load failed"):
        load_checkpoint(path)
    Stages("tiny", seed=0, cache=tmp_path).get("sft")
    assert "is damaged" in capsys.readouterr().err


def test_an_edited_checkpoint_of_the_same_size_fails_its_hash(tmp_path):
    s = _trained(tmp_path)
    path = s.path("sft")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        load_checkpoint(path)


def test_a_cache_of_another_code_version_is_trained_again(tmp_path, monkeypatch):
    _trained(tmp_path)
    monkeypatch.setattr(stages_module, "CACHE_VERSION", stages_module.CACHE_VERSION + 1)
    s = Stages("tiny", seed=0, cache=tmp_path)
    assert not s.is_cached("base") and not s.is_cached("sft")


def test_retrain_named_stages_and_what_needs_them(tmp_path):
    _trained(tmp_path)
    s = Stages("tiny", seed=0, cache=tmp_path, retrain=["sft"])
    assert s.is_cached("base") and not s.is_cached("sft")
    assert {"dpo", "ppo", "judge", "sl_cai", "rlaif_dpo"} <= stages_module._with_dependents({"sft"})
    assert "base" not in stages_module._with_dependents({"sft"})
    mtime = s.path("sft").stat().st_mtime_ns
    s.get("sft")
    assert s.path("sft").stat().st_mtime_ns != mtime


def test_results_of_a_stage_trained_again_are_computed_again(tmp_path):
    _trained(tmp_path)
    key = {"stage": Stages("tiny", seed=0, cache=tmp_path).identity("sft")}
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert Stages("tiny", seed=0, cache=tmp_path).cached_result("thing", key, compute) == 1
    assert Stages("tiny", seed=0, cache=tmp_path).cached_result("thing", key, compute) == 1  # reused
    s = Stages("tiny", seed=0, cache=tmp_path, retrain=["sft"])
    s.get("sft")
    assert s.cached_result("thing", key, compute) == 2  # sft is new: its old result is not reused
    assert s.cached_result("thing", key, compute) == 2  # ... but the new one is, in the same process


def test_a_damaged_cached_result_is_computed_again(tmp_path, capsys):
    s = Stages("tiny", seed=0, cache=tmp_path)
    assert s.cached_result("thing", {"a": 1}, lambda: {"v": 1}) == {"v": 1}
    path = next(tmp_path.glob("tiny-seed0/thing-*.json"))
    path.write_text('{"v": ')
    assert Stages("tiny", seed=0, cache=tmp_path).cached_result("thing", {"a": 1}, lambda: {"v": 2}) == {"v": 2}
    assert "not valid JSON" in capsys.readouterr().err
    assert json.loads(path.read_text()) == {"v": 2}


def test_progress_in_a_log_file_is_plain_lines(monkeypatch):
    monkeypatch.setenv("MINIALIGN_QUIET", "0")
    stream = io.StringIO()  # not a terminal, not a notebook: like `make demo > log`
    bar = ProgressBar(200, "dpo", stream=stream)
    for _ in range(200):
        bar.update(loss=0.5)
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 9 <= len(lines) <= 12  # every tenth of the way, and the end
    assert lines[-1].startswith("dpo 200/200 (100%)") and "loss=0.5" in lines[-1]


def test_choice_fields_name_exactly_the_choices_the_code_accepts():
    import typing

    from minialign import cai, dpo, grpo, ppo, rlaif

    def choices(cls, name):
        return set(typing.get_args(typing.get_type_hints(cls)[name]))

    assert choices(dpo.DPOConfig, "loss_type") == set(dpo.DPO_LOSS_TYPES)
    assert choices(grpo.GRPOConfig, "loss_type") == set(grpo.LOSS_AGGREGATIONS)
    assert choices(grpo.GRPOConfig, "scale") == set(grpo.ADVANTAGE_SCALES)
    assert choices(ppo.PPOConfig, "kl_controller") == set(ppo.KL_CONTROLLERS)
    assert choices(cai.CritiqueConfig, "on_overflow") == set(cai.ON_OVERFLOW)
    assert choices(rlaif.RLAIFConfig, "label_mode") == set(rlaif.LABEL_MODES)
    # so a misspelt choice is refused before anything trains
    with pytest.raises(SettingError, match=r"'adaptiv' is not one of \['fixed', 'adaptive'\]"):
        apply_settings(get_preset("tiny"), ["ppo.kl_controller=adaptiv"])
