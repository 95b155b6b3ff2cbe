"""`python -m minialign ...` on the tiny preset: the demos, the pipeline's --stages, summary."""

import pytest

from minialign.__main__ import main


@pytest.mark.slow
def test_demo_of_a_policy_stage_prints_before_and_after(tmp_path, tiny_cache, capsys):
    rc = main(["demo", "dpo", "--preset", "tiny", "--cache", str(tiny_cache), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "| sft |" in out and "| dpo |" in out and "training (s)" in out
    assert (tmp_path / "out" / "dpo_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_demo_aliases_and_unknown_stage(tmp_path, tiny_cache, capsys):
    assert main(["demo", "nonsense", "--preset", "tiny", "--cache", str(tiny_cache)]) == 2
    assert "choose one of" in capsys.readouterr().out
    # 'rm' is the reward model's demo under another name
    assert main(["demo", "rm", "--preset", "tiny", "--cache", str(tiny_cache), "--out", str(tmp_path / "o")]) == 0
    assert "held-out pairwise accuracy: " in capsys.readouterr().out  # the accuracy its docstring promises


@pytest.mark.slow
def test_pipeline_with_a_subset_of_stages_and_an_unknown_one(tmp_path, tiny_cache, capsys):
    out = tmp_path / "run"
    argv = ["pipeline", "--preset", "tiny", "--cache", str(tiny_cache), "--out", str(out), "--stages", "orpo"]
    assert main(argv) == 0
    assert (out / "report.md").exists() and "| orpo |" in (out / "report.md").read_text()
    assert main(["pipeline", "--preset", "tiny", "--cache", str(tiny_cache), "--stages", "orpo,nope"]) == 2
    assert "unknown stages ['nope']" in capsys.readouterr().out
    assert main(["summary", str(out)]) == 0
    assert "1 runs, seeds [0]" in capsys.readouterr().out


def test_summary_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["summary", str(tmp_path)]) == 2
    assert "results.json not found" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_shows_the_pipelines_evaluation_row(tmp_path, tiny_cache, capsys, monkeypatch):
    import json

    from minialign import evaluate

    cache, run = str(tiny_cache), tmp_path / "run"
    assert main(["pipeline", "--preset", "tiny", "--cache", cache, "--out", str(run), "--stages", "orpo"]) == 0
    row = next(r for r in json.loads((run / "results.json").read_text())["rows"] if r["name"] == "orpo")
    capsys.readouterr()

    def no_sampling(*args, **kwargs):
        raise AssertionError("the rows and the SFT baseline are cached: nothing should be sampled for the table")

    monkeypatch.setattr(evaluate, "sample_responses", no_sampling)
    assert main(["demo", "orpo", "--preset", "tiny", "--cache", cache, "--out", str(tmp_path / "o")]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("| orpo |"))
    assert line.split("|")[2].strip() == f"{row['reward']:+.3f}"  # the same row as the pipeline's report
    # ... because it is the pipeline's cached row: a changed cache file is what the demo shows
    from pathlib import Path

    cached = next(Path(cache).glob("tiny-seed0/records-orpo-*.json"))
    data = json.loads(cached.read_text())
    for r in data["records"]:
        r["score"] = 0.123  # every response of orpo now scores 0.123: so must its reward
    cached.write_text(json.dumps(data))
    assert main(["demo", "orpo", "--preset", "tiny", "--cache", cache, "--out", str(tmp_path / "o")]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("| orpo |"))
    assert line.split("|")[2].strip() == "+0.123"
