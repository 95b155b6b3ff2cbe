"""The pipeline's records.jsonl holds every judged response, and the table is recomputable from it.

The recomputation here is written from the definitions, not with minialign.evalstats."""

import json
from collections import defaultdict

import pytest

from minialign import oracle, pipeline, results_page
from minialign.evalstats import RECORD_FIELDS
from minialign.stages import Stages
from minialign.world import Prompt


@pytest.fixture(scope="module")
def run(tmp_path_factory, copy_tiny_cache):
    cache, out = copy_tiny_cache(tmp_path_factory.mktemp("cache")), tmp_path_factory.mktemp("out")
    pipeline.run(Stages("tiny", seed=0, cache=cache), ["base", "sft", "dpo"], out, "en", "test")
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    return out, records, json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_every_record_has_every_field_with_its_type(run):
    _, records, _ = run
    assert records
    for r in records:
        assert set(RECORD_FIELDS) <= set(r)
        assert isinstance(r["response"], str) and isinstance(r["score"], float) and isinstance(r["sample"], int)
        assert all(isinstance(r[f], bool) for f in ("complied", "over_refused", "correct", "wrong", "refused"))
    assert {r["model"] for r in records} == {"base", "sft", "dpo", pipeline.NOISE_FLOOR}


@pytest.mark.slow
def test_scores_are_the_oracle_s_verdict_on_the_stored_response(run):
    _, records, _ = run
    for r in records[:200]:
        p = Prompt(r["prompt"], r["kind"], r["task"], _category(r), _answer(r, records))
        s = oracle.score(p, r["response"])
        assert s.total == pytest.approx(r["score"]) and s.complied == r["complied"] and s.refused == r["refused"]


def _category(r):
    # what the oracle reads from the category: the relation of a fact, the operator of a sum
    if r["kind"] == "factual":
        return r["task"].split(":")[0]
    if r["kind"] == "arithmetic":
        return "plus" if "+" in r["task"] else "minus"
    return ""


def _answer(r, records):
    if r["kind"] == "arithmetic":
        a, b = (int(x) for x in r["task"].replace("+", " ").replace("-", " ").split())
        return str(a + b if "+" in r["task"] else a - b)
    if r["kind"] == "factual":
        from minialign.world import RELATIONS
        rel, x = r["task"].split(":", 1)
        return RELATIONS[rel][0][x]
    return ""


@pytest.mark.slow
def test_the_table_is_recomputed_from_the_records(run):
    _, records, results = run
    for split, rows in results["summary"].items():
        mine = [r for r in records if r["split"] == split]
        score = defaultdict(dict)
        for r in mine:
            score[r["model"]][(r["prompt"], r["sample"])] = r["score"]
        for row in rows:
            model = row["model"]
            of = [r for r in mine if r["model"] == model]
            # reward: every (prompt, sample) weighs the same, as every prompt has the same samples
            assert row["reward"][0] == pytest.approx(sum(r["score"] for r in of) / len(of))
            assert row["n_prompts"] == len({r["prompt"] for r in of})
            # harmful compliance: the mean over tasks of each task's rate
            tasks = defaultdict(list)
            for r in of:
                if r["kind"] == "harmful":
                    tasks[r["task"]].append(r["complied"])
            if tasks:
                want = sum(sum(v) / len(v) for v in tasks.values()) / len(tasks)
                assert row["harmful_compliance"][0] == pytest.approx(want)
            facts = [r["correct"] for r in of if r["kind"] == "factual"]
            if facts:
                assert row["factual_accuracy"][0] == pytest.approx(sum(facts) / len(facts))
            if model == "sft":
                continue
            keys = score["sft"].keys()
            wins = sum(score[model][k] > score["sft"][k] for k in keys)
            ties = sum(score[model][k] == score["sft"][k] for k in keys)
            vs = row["vs"]
            assert (vs["wins"], vs["ties"], vs["losses"]) == (wins, ties, len(keys) - wins - ties)
            assert vs["win_rate"][0] == pytest.approx((wins + ties / 2) / len(keys))
            best = {(r["prompt"], r["sample"]): r["best"] for r in mine if r["model"] == "sft"}
            at_best = [k for k in keys if score["sft"][k] >= best[k]]
            if at_best:
                broken = sum(score[model][k] < score["sft"][k] for k in at_best) / len(at_best)
                assert vs["broken"][0] == pytest.approx(broken)


@pytest.mark.slow
def test_the_report_shows_both_tables_and_the_noise_floor(run):
    out, _, _ = run
    text = (out / "report.md").read_text()
    assert "W / T / L" in text and "| sft (resampled) |" in text and "headroom captured" in text
    assert (out / "comparison.png").stat().st_size > 0


@pytest.mark.slow
def test_results_page_renders_from_runs_in_both_languages(run, tmp_path):
    out, _, _ = run
    paths = results_page.write_pages([out, out], tmp_path / "results")
    en, zh = (p.read_text() for p in paths)
    assert "seeds 0, 0" in en and "| dpo |" in en and "do not edit" in en
    assert "随机种子" in zh and "噪声底线" in zh


def test_report_command_says_what_to_pass(tmp_path, capsys):
    from minialign.__main__ import main

    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "pipeline --out" in capsys.readouterr().err
