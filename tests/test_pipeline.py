"""The lecture pipeline on the tiny preset: report, resumability, both languages."""

import json

import pytest

from minialign import pipeline
from minialign.stages import BUILDERS, Stages


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("out")
    names = [n for n in ("base", "sft", "dpo") if n in BUILDERS]
    result = pipeline.run(Stages("tiny", seed=0, cache=cache), names, out, "en", "test")
    return cache, out, names, result


def test_report_has_the_table_figures_and_setup(tiny_run):
    _, out, names, _ = tiny_run
    report = (out / "report.md").read_text()
    for needle in ("| model |", "| sft |", "seed", "torch", "training_curves.png", "**prompt:"):
        assert needle in report
    assert (out / "training_curves.png").stat().st_size > 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["name"] for r in rows] == [n for n in names if n in pipeline.POLICIES]


def test_sft_row_is_the_baseline_of_the_win_rate(tiny_run):
    rows = {r.name: r for r in tiny_run[3]["rows"]}
    assert rows["sft"].win_rate == 0.5 and rows["sft"].kl == 0.0
    for r in rows.values():
        assert 0.0 <= r.win_rate <= 1.0


def test_second_run_loads_every_stage_from_the_cache(tiny_run, tmp_path, capsys):
    cache, _, names, first = tiny_run
    stages = Stages("tiny", seed=0, cache=cache)
    assert all(stages.is_cached(n) for n in names)
    again = pipeline.run(stages, names, tmp_path, "zh", "test")
    assert ": training" not in capsys.readouterr().out  # each stage says "cached", none "training"
    # json.dumps compares NaN (a metric that does not apply) as equal to NaN
    assert json.dumps([r.as_dict() for r in again["rows"]]) == json.dumps([r.as_dict() for r in first["rows"]])
    assert "评估结果" in (tmp_path / "report.md").read_text()


def test_interrupted_write_leaves_no_half_checkpoint(tiny_run):
    cache = tiny_run[0]
    leftovers = [p.name for p in cache.rglob("*.tmp*")]
    assert leftovers == []
