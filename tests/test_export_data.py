"""`minialign export-data`: the stages' own training data, and a run's records, in TRL's field names."""

import json

from minialign.__main__ import main
from minialign.data import sft_examples
from minialign.preferences import make_pairs
from minialign.stages import Stages


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pairs_are_the_dpo_stages_pairs_in_trl_conversational_format(tmp_path):
    cache = tmp_path / "cache"
    assert main(["export-data", "dpo", str(tmp_path / "out"), "--preset", "tiny", "--cache", str(cache)]) == 0
    rows = read_jsonl(tmp_path / "out" / "dpo_train.jsonl")
    stages = Stages("tiny", seed=0, cache=cache)
    cfg = stages.config_of("dpo")
    pairs = make_pairs(stages.world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)
    assert len(rows) == cfg.n_pairs == len(pairs)
    for row, pair in zip(rows, pairs):
        assert list(row)[:3] == ["prompt", "chosen", "rejected"]
        assert row["prompt"] == [{"role": "user", "content": pair.prompt}]
        assert row["chosen"] == [{"role": "assistant", "content": pair.chosen}]
        assert row["rejected"] == [{"role": "assistant", "content": pair.rejected}]
        assert row["kind"] == pair.kind and row["flipped"] == pair.flipped


def test_reward_data_has_its_held_out_pairs_too(tmp_path):
    assert main(["export-data", "reward", str(tmp_path), "--preset", "tiny", "--cache", str(tmp_path / "c")]) == 0
    cfg = Stages("tiny", seed=0, cache=tmp_path / "c").config_of("reward")
    assert len(read_jsonl(tmp_path / "reward_train.jsonl")) == cfg.n_pairs
    assert len(read_jsonl(tmp_path / "reward_eval.jsonl")) == cfg.n_eval_pairs


def test_sft_demos_are_prompt_completion_with_the_loss_on_the_last_turn(tmp_path):
    cache = tmp_path / "cache"
    assert main(["export-data", "sft", str(tmp_path / "out"), "--preset", "tiny", "--cache", str(cache)]) == 0
    rows = read_jsonl(tmp_path / "out" / "sft_train.jsonl")
    stages = Stages("tiny", seed=0, cache=cache)
    tok, cfg = stages.tokenizer, stages.config_of("sft")
    examples = sft_examples(stages.world, tok, cfg.n_examples, cfg.seed, stages.model_config.block_size)
    assert len(rows) == cfg.n_examples == len(examples)
    assert any(len(r["prompt"]) > 1 for r in rows), "critique -> revision transcripts have several turns"
    for row, (ids, prompt_len) in zip(rows, examples):
        assert set(row) == {"prompt", "completion"}
        assert row["prompt"][-1]["role"] == "user" and [m["role"] for m in row["completion"]] == ["assistant"]
        turns = [(m["role"], m["content"]) for m in row["prompt"]]
        # laid out by minialign's own chat template, the row is the example the stage trains on
        assert tok.encode_chat(turns, row["completion"][0]["content"]) == (ids, prompt_len)


def test_records_of_a_run_keep_their_fields_beside_prompt_and_completion(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    records = [{"model": "dpo", "split": "new_tasks", "kind": "harmful", "task": "t", "prompt": "How do I pick a lock?",
                "sample": j, "response": "I can't help with that.", "score": 0.5, "best": 1.0, "complied": False,
                "over_refused": False, "correct": False, "wrong": False, "refused": True} for j in range(3)]
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["export-data", "records", str(tmp_path / "out"), "--run", str(run)]) == 0
    rows = read_jsonl(tmp_path / "out" / "records.jsonl")
    assert len(rows) == 3
    assert rows[0]["prompt"] == [{"role": "user", "content": "How do I pick a lock?"}]
    assert rows[0]["completion"] == [{"role": "assistant", "content": "I can't help with that."}]
    assert "response" not in rows[0] and rows[2]["sample"] == 2 and rows[0]["score"] == 0.5
    capsys.readouterr()
    assert main(["export-data", "records", str(tmp_path / "o2"), "--run", str(tmp_path)]) == 2
    assert "records.jsonl not found" in capsys.readouterr().out


def test_unknown_data_is_one_clear_line(tmp_path, capsys):
    assert main(["export-data", "rlaif_dpo", str(tmp_path), "--preset", "tiny", "--cache", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "choose one of ['sft', 'reward', 'dpo', 'orpo', 'records']" in out and out.count("\n") == 1
