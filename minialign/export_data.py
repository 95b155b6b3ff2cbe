"""Export the data a stage trains on, and a run's evaluation records, as JSONL for TRL.

Every line is one example in TRL's *conversational* formats, so TRL renders it through the
chat template that `minialign export` writes next to the model, and the token ids it trains on
are exactly minialign's (`Tokenizer.chat_prompt` + response + <|end|>):

- preference pairs (`reward`, `dpo`, `orpo`; TRL's DPOTrainer, RewardTrainer, ORPO):
    {"prompt": [{"role": "user", "content": ...}],
     "chosen": [{"role": "assistant", "content": ...}],
     "rejected": [{"role": "assistant", "content": ...}],  + kind, topic, chosen_score, ...}
- SFT demonstrations (`sft`; TRL's SFTTrainer, prompt-completion): the loss is on the last
  assistant turn only, as in minialign, so earlier turns of a critique -> revision transcript
  belong to the prompt:
    {"prompt": [{"role": "user", ...}, {"role": "assistant", ...}, ...],
     "completion": [{"role": "assistant", "content": ...}]}
- evaluation records of a pipeline run (records.jsonl): prompt-completion again, with every
  field of the record (model, split, kind, score, complied, ...) kept beside them.

The pairs and demonstrations are drawn by the very functions the stages call (`make_pairs`,
`data.sft_examples`) with the preset's stage config and seed, so they are the same examples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .data import sft_examples
from .preferences import PreferencePair, make_pairs
from .tokenizer import Tokenizer
from .train import atomic_write_text

PAIR_STAGES = ("reward", "dpo", "orpo")
"""stages that train on `make_pairs` pairs (RLAIF's pairs are labelled by the judge model instead)"""
DATA_STAGES = ("sft",) + PAIR_STAGES


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def pair_row(pair: PreferencePair) -> dict:
    """One preference pair in TRL's conversational preference format, metadata after."""
    meta = {"kind": pair.kind, "topic": pair.topic, "chosen_score": pair.chosen_score,
            "rejected_score": pair.rejected_score, "flipped": pair.flipped, **pair.meta}
    return {"prompt": [user(pair.prompt)], "chosen": [assistant(pair.chosen)],
            "rejected": [assistant(pair.rejected)], **{k: v for k, v in meta.items() if v not in (None, "")}}


def chat_turns(ids: Sequence[int], tok: Tokenizer) -> list[dict]:
    """The messages of a chat laid out by `Tokenizer.chat`, read back from its ids: each turn
    opens with <|user|> or <|assistant|>; an assistant turn closes with <|end|>."""
    opens = {tok.user_id: "user", tok.assistant_id: "assistant"}
    turns: list[dict] = []
    piece: list[int] = []
    role = None
    for i in list(ids) + [None]:  # None flushes the last turn
        if i in opens or i is None:
            if role is not None:
                turns.append({"role": role, "content": tok.decode(piece).strip()})
            role, piece = opens.get(i), []
        elif i != tok.end_id:
            piece.append(i)
    return turns


def sft_row(ids: Sequence[int], prompt_len: int, tok: Tokenizer) -> dict:
    """One SFT example (ids, prompt_len) as TRL's conversational prompt-completion."""
    # the prompt's ids end with the <|assistant|> that opens the completion
    prompt = chat_turns(ids[: prompt_len - 1], tok)
    return {"prompt": prompt, "completion": [assistant(tok.decode(ids[prompt_len:]).strip())]}


def record_row(record: dict) -> dict:
    """An evaluation record as prompt-completion, with every other field of the record kept."""
    rest = {k: v for k, v in record.items() if k not in ("prompt", "response")}
    return {"prompt": [user(record["prompt"])], "completion": [assistant(record["response"])], **rest}


def stage_data(stages, stage: str) -> dict[str, list[dict]]:
    """{file name: rows} of the examples stage `stage` trains on (and the reward model's held-out pairs)."""
    cfg = stages.config_of(stage)
    if stage == "sft":
        tok = stages.tokenizer
        examples = sft_examples(stages.world, tok, cfg.n_examples, cfg.seed, stages.model_config.block_size)
        return {"sft_train.jsonl": [sft_row(ids, plen, tok) for ids, plen in examples]}
    if stage in PAIR_STAGES:
        files = {f"{stage}_train.jsonl": [pair_row(p) for p in make_pairs(
            stages.world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)]}
        if stage == "reward":
            # the held-out pairs its eval_accuracy is measured on (reward.train_reward)
            files["reward_eval.jsonl"] = [pair_row(p) for p in make_pairs(
                stages.world, cfg.n_eval_pairs, cfg.seed + 1, "eval", cfg.eval_label_temperature)]
        return files
    raise ValueError(f"no data export for stage {stage!r}; choose one of {list(DATA_STAGES)} or 'records'")


def run_records(run: str | Path) -> list[dict]:
    """The evaluation records of a pipeline run folder (`pipeline --out RUN`), as rows."""
    path = Path(run) / "records.jsonl"
    if not path.exists():
        raise ValueError(f"{path} not found: give the folder of a pipeline run "
                         "(python -m minialign pipeline --out RUN)")
    return [record_row(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(rows: Sequence[dict], path: str | Path) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def main(args) -> int:
    """`python -m minialign export-data WHAT DIR`: a clear line and exit status 2 on bad input."""
    from .__main__ import stages_from_args

    if args.what not in DATA_STAGES + ("records",):
        print(f"unknown data {args.what!r}; choose one of {list(DATA_STAGES) + ['records']}")
        return 2
    try:
        if args.what == "records":
            if args.run is None:
                print("export-data records needs --run RUN, the folder of a pipeline run")
                return 2
            files = {"records.jsonl": run_records(args.run)}
        else:
            files = stage_data(stages_from_args(args), args.what)
    except ValueError as exc:
        print(exc)
        return 2
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        write_jsonl(rows, folder / name)
        print(f"wrote {folder / name}: {len(rows)} rows")
    return 0
