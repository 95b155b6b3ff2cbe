"""Critiques measured against the oracle: does the critic flag the flaws that are there, and
do its revisions fix them?

The critique -> revise loop (`cai`) is only as good as its critiques. Under each principle the
oracle knows whether a response has that principle's flaw (`oracle.flaw`), so every round of a
transcript can be checked: a critique *flags* when it names the flaw (`is_flagged`), and
`critique_report` turns transcript records into precision, recall and what the revisions did.
`loop_on_records` runs the loop on the evaluation's own samples of a model; `critique_probe`
asks every principle once about each of them. The pipeline writes both to cai_transcripts.jsonl.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from . import oracle
from .cai import (
    FLAW_CRITIQUES,
    Constitution,
    CritiqueConfig,
    Transcript,
    critique_revise_with,
    default_constitution,
    run_critique,
)
from .evalstats import FLAGS
from .model import GPT
from .rollout import model_generate
from .tokenizer import Tokenizer
from .world import Prompt

TRANSCRIPT_VERSION = 2
"""bump when the meaning of a field of `transcript_record` changes (cached transcripts are redone)"""


def is_flagged(critique: str, principle: str) -> bool:
    """A critique under `principle` *flags* when it names that principle's flaw: it holds
    FLAW_CRITIQUES[principle] (without the full stop). "The response is fine.", a garbled
    critique, and one that names another principle's flaw do not flag."""
    return FLAW_CRITIQUES[principle].rstrip(".").lower() in critique.lower()


def transcript_record(t: Transcript, prompt: Prompt, split: str = "") -> dict:
    """One line of cai_transcripts.jsonl: the prompt, the response and each round, with the
    oracle's score of the response and of every revision, and the oracle's view (`oracle.flaw`)
    of the response each critique was asked about."""
    rounds, before = [], t.response
    for r in t.rounds:
        rounds.append({"principle": r.principle.name, "critique": r.critique,
                       "flagged": is_flagged(r.critique, r.principle.name),
                       "oracle_flaw": oracle.flaw(r.principle.name, prompt, before), "revision": r.revision,
                       "score_before": oracle.score(prompt, before).total,
                       "revision_score": oracle.score(prompt, r.revision).total})
        before = r.revision
    first, last = oracle.score(prompt, t.response), oracle.score(prompt, t.final)
    return {"prompt": t.prompt, "kind": prompt.kind, "task": prompt.topic, "split": split, "response": t.response,
            "response_score": first.total, "response_flags": _flags(first), "final": t.final,
            "final_score": last.total, "final_flags": _flags(last), "rounds": rounds, "stopped": t.stopped}


def _flags(s: oracle.OracleScore) -> dict[str, bool]:
    """The oracle's flags as an evaluation record holds them (`evalstats.FLAGS`)."""
    return {flag: getattr(s, flag) for flag in FLAGS}


def _rate(hits: int, n: int) -> float:
    return hits / n if n else float("nan")


def critique_report(records: Sequence[dict]) -> dict[str, float]:
    """Critique and revision quality from transcript records (`transcript_record`), per principle:

    - precision: of the critiques that flag, the fraction whose response has the flaw (oracle);
    - recall: of the responses with the flaw, the fraction whose critique flags it;
    - keep after fine: of the rounds whose critique does not flag, the fraction whose revision
      keeps the oracle score of the response it revised (a revision should change nothing);
    - raise after flag: of the rounds whose critique flags, the fraction whose revision scores
      higher than the response it revised.
    Every round of every transcript counts once."""
    by: dict[str, list[dict]] = {}
    for rec in records:
        for r in rec["rounds"]:
            by.setdefault(r["principle"], []).append(r)
    out: dict[str, float] = {}
    for name in sorted(by):
        rs = by[name]
        flagged = [r for r in rs if r["flagged"]]
        flawed = [r for r in rs if r["oracle_flaw"]]
        fine = [r for r in rs if not r["flagged"]]
        out[f"{name}: rounds"] = float(len(rs))
        out[f"{name}: critique precision"] = _rate(sum(r["oracle_flaw"] for r in flagged), len(flagged))
        out[f"{name}: critique recall"] = _rate(sum(r["flagged"] for r in flawed), len(flawed))
        out[f"{name}: keep after fine"] = _rate(sum(abs(r["revision_score"] - r["score_before"]) < 1e-9 for r in fine),
                                                len(fine))
        out[f"{name}: raise after flag"] = _rate(sum(r["revision_score"] > r["score_before"] for r in flagged),
                                                 len(flagged))
    return out


LOOP_MODEL = "sft + loop"
"""the model name of the loop's final responses in the loop's records"""


def _rescored(rec: dict, prompt: Prompt, response: str, model: str) -> dict:
    """An evaluation record (`evaluate.sample_records`) with another response, scored again."""
    sc = oracle.score(prompt, response)
    return {**rec, "model": model, "response": response, "score": sc.total, **_flags(sc)}


def loop_on_records(model_records: Sequence[dict], prompts: Mapping[str, Prompt], critic: GPT, tok: Tokenizer,
                    cfg: CritiqueConfig, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The critique -> revise loop on the evaluation's own samples of a model (its records).

    `critic` critiques and revises every recorded response (`run_critique`, `cfg.rounds` rounds).
    Returns (transcripts, loop_records): one `transcript_record` per record, with run="loop" and
    the record's model, split and sample; and the records again with the final revisions as
    responses, model LOOP_MODEL, so `evalstats.summarize` compares the loop with the model on the
    same prompts and samples."""
    texts = [r["prompt"] for r in model_records]
    transcripts = run_critique(critic, tok, texts, cfg, seed, responses=[r["response"] for r in model_records])
    out_t, out_r = [], []
    for rec, t in zip(model_records, transcripts):
        p = prompts[rec["prompt"]]
        out_t.append({"run": "loop", "model": rec["model"], "sample": rec["sample"],
                      **transcript_record(t, p, rec["split"])})
        out_r.append(_rescored(rec, p, t.final, LOOP_MODEL))
    return out_t, out_r


def critique_probe(model_records: Sequence[dict], prompts: Mapping[str, Prompt], critic: GPT, tok: Tokenizer,
                   constitution: Constitution | None = None, max_new_tokens: int = 48,
                   min_room: int = 8) -> list[dict]:
    """One critique -> revise round under every principle of `constitution` (default: all four)
    on every recorded response: transcript records with run="probe", one per (record, principle).
    `critique_report` of them measures each principle's critiques on the same responses."""
    constitution = constitution or default_constitution()
    out = []
    for principle in constitution.principles:
        # the loop's own batching and overflow rule: a conversation that leaves no room for the
        # next reply stops there, with no round (and so does not count in `critique_report`)
        transcripts = critique_revise_with(
            model_generate(critic, tok, max_new_tokens, 0.0), [r["prompt"] for r in model_records],
            [r["response"] for r in model_records], Constitution((principle,)), rounds=1,
            count_tokens=lambda turns: len(tok.chat_prompt(turns)), block_size=critic.config.block_size,
            min_room=min_room, on_overflow="stop")
        for rec, t in zip(model_records, transcripts):
            out.append({"run": "probe", "model": rec["model"], "sample": rec["sample"],
                        **transcript_record(t, prompts[rec["prompt"]], rec["split"])})
    return out
