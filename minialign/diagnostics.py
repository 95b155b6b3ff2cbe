"""The numbers each stage is judged by, beyond the shared evaluation table.

The table (`evaluate.evaluate`) compares every policy on the same 200 prompts. Some claims need
a measurement of their own: the reward model's accuracy on held-out pairs, PPO's score under the
reward model it optimised, GRPO's exact-match accuracy on every held-out sum (and its off-task
check: harmful compliance and over-refusal, OFF_TASK_SAMPLES samples per prompt), what the
critique -> revise loop and SL-CAI do to harmful compliance on the red-team set, and how often the
SFT model, as a judge, agrees with the oracle. Each returns a flat {name: number} dict; the stage
registry names each stage's (`stages.STAGES[name].diagnostics`), and the pipeline prints them in
its report and caches them next to the stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from . import critique_eval, evaluate, grpo, reward, rlaif

if TYPE_CHECKING:
    from .stages import Stages


def reward_diagnostics(stages: Stages) -> dict[str, float]:
    """Held-out pairwise accuracy of the reward model against the oracle's noiseless preference,
    overall and per prompt kind, next to the label-noise ceiling: how often the noisy training
    labels themselves agree with the oracle (a model that learnt the labels perfectly would
    reach about that on pairs like them)."""
    from .preferences import make_pairs

    cfg = stages.config_of("reward")
    rm, tok = stages.get("reward"), stages.tokenizer
    pairs = make_pairs(stages.world, cfg.n_eval_pairs, cfg.seed + 1, "eval", 0.0)  # noiseless: the oracle's order
    train = make_pairs(stages.world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)  # the labels it learnt
    out = {"held-out pairwise accuracy": reward.reward_accuracy(rm, tok, pairs),
           "label-noise ceiling (training labels that agree with the oracle)":
               1 - sum(p.flipped for p in train) / len(train)}
    for kind in sorted({p.kind for p in pairs}):
        out[f"accuracy on {kind} pairs"] = reward.reward_accuracy(rm, tok, [p for p in pairs if p.kind == kind])
        of_kind = [p for p in train if p.kind == kind]
        if of_kind:
            out[f"label-noise ceiling on {kind} pairs"] = 1 - sum(p.flipped for p in of_kind) / len(of_kind)
    return out


def ppo_diagnostics(stages: Stages) -> dict[str, float]:
    """Mean reward-model score of SFT's and PPO's sampled responses to the held-out prompts,
    read from the sampled token ids themselves, as PPO's reward reads them (a response cut by
    the token budget is scored where it stops, not re-tokenised and given an <|end|>)."""
    rm, tok = stages.get("reward"), stages.tokenizer
    prompts = stages.world.eval_prompts(stages.preset.n_eval_prompts)
    out = {}
    for name in ("sft", "ppo"):
        # the evaluation table's samples: same prompts, same seed
        batch = evaluate.sample_responses(stages.get(name), tok, prompts, seed=stages.seed).batch
        with torch.no_grad():
            scores = rm(batch.input_ids, batch.attention_mask)  # (B,) at the last real token
        out[f"reward-model score of {name}"] = scores.mean().item()
    return out


OFF_TASK_SAMPLES = 4
"""samples per held-out harmful and benign prompt in GRPO's off-task check"""


def grpo_diagnostics(stages: Stages) -> dict[str, float]:
    """Exact-match accuracy on the held-out sums of each split, greedy and sampled at T=1
    (4 samples each), with the fraction of those responses whose final answer offers more than
    one number. "new tasks" are sums that no post-training data contains; "new phrasings" are
    training sums asked in a phrasing GRPO never saw.

    And the off-task check: harmful compliance and over-refusal on every held-out harmful and
    benign prompt, OFF_TASK_SAMPLES samples each. GRPO's reward knows only sums, so these should
    not move."""
    out: dict[str, float] = {}
    for split in evaluate.eval_splits(stages.world):
        prompts = stages.world.prompts(split, "arithmetic")
        where = split.replace("_", " ")
        out[f"{where}: held-out sums"] = float(len(prompts))
        for name in ("sft", "grpo"):
            model = stages.get(name)
            greedy = grpo.arithmetic_report(model, stages.tokenizer, prompts)
            sampled = grpo.arithmetic_report(model, stages.tokenizer, prompts, temperature=1.0,
                                             samples_per_prompt=4, seed=stages.seed)
            out[f"{where}: {name} greedy accuracy"] = greedy["accuracy"]
            out[f"{where}: {name} sampled accuracy"] = sampled["accuracy"]
            out[f"{where}: {name} greedy, several candidate numbers"] = greedy["several candidates"]
            out[f"{where}: {name} sampled, several candidate numbers"] = sampled["several candidates"]
    off_task = [p for kind in ("harmful", "benign") for p in stages.world.prompts("eval", kind)
                for _ in range(OFF_TASK_SAMPLES)]
    for name in ("sft", "grpo"):
        # the table's own columns, on the off-task prompts
        row = evaluate.evaluate_with_stages(stages.get(name), stages, name, prompts=off_task, seed=stages.seed)
        out[f"{name} harmful compliance ({OFF_TASK_SAMPLES} samples per held-out prompt)"] = row.harmful_compliance
        out[f"{name} over-refusal ({OFF_TASK_SAMPLES} samples per held-out prompt)"] = row.over_refusal
    return out


def cai_transcripts(stages: Stages) -> dict:
    """{"transcripts": [...], "loop_records": [...]}: the critique -> revise loop (stage 'sl_cai's
    CritiqueConfig, critiques and revisions by the feedback model, stage 'judge') on every
    evaluation sample of the SFT model, and the critique probe (one round under each principle)
    on its first sample of every prompt. Cached; the pipeline writes the transcripts to
    cai_transcripts.jsonl."""
    from .pipeline import model_records

    cfg = stages.config_of("sl_cai")
    sft_records = model_records(stages, "sft")["records"]
    prompts = {p.text: p for ps in evaluate.eval_splits(stages.world).values() for p in ps}
    key = {"sft": stages.identity("sft"), "judge": stages.identity("judge"), "critique": repr(cfg.critique),
           "prompts": sorted({r["prompt"] for r in sft_records}), "samples": stages.preset.eval_samples,
           "v": critique_eval.TRANSCRIPT_VERSION}

    def compute() -> dict:
        critic, tok = stages.get("judge"), stages.tokenizer
        loop, loop_records = critique_eval.loop_on_records(sft_records, prompts, critic, tok, cfg.critique, stages.seed)
        first_samples = [r for r in sft_records if r["sample"] == 0]
        probe = critique_eval.critique_probe(first_samples, prompts, critic, tok,
                                             max_new_tokens=cfg.critique.max_new_tokens, min_room=cfg.critique.min_room)
        return {"transcripts": probe + loop, "loop_records": loop_records}

    return stages.cached_result("cai-transcripts", key, compute)


def sl_cai_diagnostics(stages: Stages) -> dict[str, float]:
    """What the critique -> revise loop does, measured against the oracle on the evaluation's
    prompts (both held-out splits): per principle, critique precision and recall and what the
    revisions do (`critique_eval.critique_report`), from the probe (every principle on SFT's
    first sample of every prompt) and from the loop itself; and the loop's harmful compliance,
    over-refusal and accuracies next to SFT's on the same samples, weighed as the table weighs
    them. SL-CAI's own row is in the table."""
    from .evalstats import RATES, summarize
    from .pipeline import model_records

    got = cai_transcripts(stages)
    probe = [t for t in got["transcripts"] if t["run"] == "probe"]
    out = {f"probe, {k}": v for k, v in critique_eval.critique_report(probe).items()}
    loop = [t for t in got["transcripts"] if t["run"] == "loop"]
    out.update({f"loop, {k}": v for k, v in critique_eval.critique_report(loop).items()})

    summary = summarize(model_records(stages, "sft")["records"] + got["loop_records"], baseline="sft",
                        n_boot=1, seed=stages.seed)
    for split, rows in summary.items():
        where = split.replace("_", " ")
        for row in rows:
            for metric in ("reward", *RATES):
                out[f"{where}: {row['model']} {metric.replace('_', ' ')}"] = row[metric][0]
    return out


def judge_diagnostics(stages: Stages) -> dict[str, float]:
    """Agreement with the oracle on held-out pairs (both orders) of the SFT model as judge and of
    the feedback model (stage 'judge', which labels RLAIF-DPO's pairs), per prompt kind."""
    sft_report = rlaif.judge_agreement_report(stages.get("sft"), stages.tokenizer, stages.world)
    report = rlaif.judge_agreement_report(stages.get("judge"), stages.tokenizer, stages.world)
    out = {"sft as judge, agreement with the oracle (held-out pairs)": sft_report["all"],
           "judge agreement with the oracle (held-out pairs)": report["all"]}
    out.update({f"judge agreement on {k} pairs": v for k, v in report.items() if k not in ("all", "too_long")})
    return out
