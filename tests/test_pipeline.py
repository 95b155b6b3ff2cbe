"""The lecture pipeline on the tiny preset: report, resumability, both languages."""

import json

import pytest

from minialign import pipeline
from minialign.stages import POLICIES, Stages


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, copy_tiny_cache):
    cache = copy_tiny_cache(tmp_path_factory.mktemp("cache"))
    out = tmp_path_factory.mktemp("out")
    names = ["base", "sft", "dpo"]
    result = pipeline.run(Stages("tiny", seed=0, cache=cache), names, out, "en", "test")
    return cache, out, names, result


@pytest.mark.slow
def test_report_has_the_table_figures_and_setup(tiny_run):
    _, out, names, _ = tiny_run
    report = (out / "report.md").read_text()
    for needle in ("| model |", "| sft |", "seed", "torch", "training_curves.png", "**prompt:"):
        assert needle in report
    assert (out / "training_curves.png").stat().st_size > 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["name"] for r in rows] == [n for n in names if n in POLICIES]


@pytest.mark.slow
def test_sft_row_is_the_baseline_of_the_win_rate(tiny_run):
    rows = {r.name: r for r in tiny_run[3]["rows"]}
    assert rows["sft"].win_rate == 0.5 and rows["sft"].kl == 0.0
    for r in rows.values():
        assert 0.0 <= r.win_rate <= 1.0


@pytest.mark.slow
def test_second_run_loads_every_stage_from_the_cache(tiny_run, tmp_path, capsys):
    cache, _, names, first = tiny_run
    stages = Stages("tiny", seed=0, cache=cache)
    assert all(stages.is_cached(n) for n in names)
    again = pipeline.run(stages, names, tmp_path, "zh", "test")
    assert ": training" not in capsys.readouterr().out  # each stage says "cached", none "training"
    # json.dumps compares NaN (a metric that does not apply) as equal to NaN
    assert json.dumps([r.as_dict() for r in again["rows"]]) == json.dumps([r.as_dict() for r in first["rows"]])
    assert "评估结果" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
def test_interrupted_write_leaves_no_half_checkpoint(tiny_run, tiny_stages, monkeypatch):
    cache = tiny_run[0]
    leftovers = [p.name for p in cache.rglob("*.tmp*")]
    assert leftovers == []  # a finished run leaves no temporary file behind
    # a run killed while torch.save is half way through writing the SFT checkpoint again
    import torch

    from minialign.train import save_checkpoint

    path, model = tiny_stages.path("sft"), tiny_stages.get("sft")
    whole = path.read_bytes()

    def killed_half_way(obj, f, *args, **kwargs):
        with open(f, "wb") as out:
            out.write(whole[: len(whole) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, tiny_stages.identity("sft"))
    monkeypatch.undo()
    assert path.read_bytes() == whole  # the half is in a temporary file, never where a reader looks
    assert Stages("tiny", seed=0, cache=tiny_stages.root).is_cached("sft")


def _fake_run(folder, seed, reward, harmful, accuracy):
    folder.mkdir()
    rows = [{"name": "sft", "n": 10, "reward": 0.0, "win_rate": 0.5},
            {"name": "dpo", "n": 10, "reward": reward, "win_rate": 0.75, "harmful_compliance": harmful}]
    (folder / "results.json").write_text(json.dumps({
        "rows": rows, "extras": {"reward": {"held-out pairwise accuracy": accuracy}},
        "elapsed_s": 100.0 + 2 * seed, "peak_rss_mb": 900.0, "seed": seed}))
    return folder


def test_summary_gives_mean_and_range_over_runs(tmp_path):
    runs = [_fake_run(tmp_path / "a", 0, 0.25, 0.0, 0.8), _fake_run(tmp_path / "b", 1, 0.75, 0.5, 0.9)]
    text = pipeline.summarize(runs)
    assert "2 runs, seeds [0, 1]" in text
    dpo = next(line for line in text.splitlines() if line.startswith("| dpo |"))
    # reward: mean of 0.25 and 0.75 is 0.5; harmful compliance: mean of 0% and 50% is 25%
    assert "+0.500 (+0.250 to +0.750)" in dpo and "25% (0% to 50%)" in dpo and "75% (75% to 75%)" in dpo
    assert "- held-out pairwise accuracy: 0.850 (0.800 to 0.900)" in text
    assert "total time (s): 101 (100 to 102)" in text


def test_summary_of_a_folder_without_results_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="pipeline --out"):
        pipeline.summarize([tmp_path])
