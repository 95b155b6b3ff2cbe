"""The lecture demo: train (or load) every stage, evaluate every model the same way, and
write a report an instructor can project.

    python -m minialign pipeline [--preset cpu|gpu] [--seed N] [--out DIR] [--lang en|zh]

Each stage is cached as soon as it is trained (atomically), so an interrupted run continues
from the last finished stage; evaluation rows are cached the same way.
"""

from __future__ import annotations

import json
import math
import platform
import resource
import shlex
import sys
import time
from pathlib import Path

import torch

from . import __version__, evalstats, evaluate, plots, rollout
from .report import results_tables
from .results_page import load_runs
from .stages import ORDER, POLICIES, STAGES, Stages
from .train import MetricsLog, atomic_write_text

EXAMPLE_PROMPTS = 6

TEXT = {
    "en": {
        "title": "minialign: every alignment method on one toy world",
        "setup": "Setup",
        "command": "command", "preset": "preset", "seed": "seed", "device": "device",
        "versions": "versions", "elapsed": "total time", "memory": "peak memory (RSS)",
        "table": "Evaluation",
        "table_note": (
            "Every model answers every distinct held-out prompt of both splits several times, sampled at temperature 1 "
            "with the same seeds for every model, judged by the oracle; records.jsonl holds every response and its "
            "score. New phrasings: tasks post-training covers, worded as it never words them (new tasks, tasks only "
            "the pretraining corpus contains, where the world has them). Harmful compliance weighs every harmful task "
            "the same, over-refusal every benign-but-scary task. Against SFT, sample j is paired with SFT's sample j: "
            "W / T / L counts those pairs, win rate counts ties one half, fixed is the share of SFT's answers below "
            "the oracle's best that the model beats, broken the share of SFT's best answers it makes worse, headroom "
            "captured is (R - R_SFT) / (R_max - R_SFT). Intervals: 95%, bootstrap over prompts. KL is per token "
            "against the SFT model on the model's own first sample. The dpo and rlaif_dpo rows are DPO plus alpha "
            "times the NLL of the chosen response (RPO; alpha = DPOConfig.nll_weight), not plain DPO; lesson 5 shows "
            "plain DPO beside it."
        ),
        "train_s": "training time (s)",
        "stages": "Stages", "stage": "stage", "status": "status", "trained": "trained now",
        "cached": "loaded from cache",
        "curves": "Training curves", "comparison": "Comparison", "examples": "Example responses (greedy)",
        "prompt": "prompt", "extras": "Stage diagnostics",
        "reading": "How to read this",
        "reading_text": (
            "Compare every row with SFT: preference methods (PPO, DPO, ORPO, RLAIF-DPO) should raise the oracle "
            "reward and the win rate and cut harmful compliance, without raising over-refusal (the alignment tax); "
            "GRPO targets arithmetic accuracy; SL-CAI learns from its own critiques and revisions. KL says how far "
            "each method moved from SFT to get there. The oracle is a stand-in for people: a number here is what "
            "the oracle rewards, which is not everything we want."
        ),
    },
    "zh": {
        "title": "minialign：同一个玩具世界上的全部对齐方法",
        "setup": "运行设置",
        "command": "命令", "preset": "预设", "seed": "随机种子", "device": "设备",
        "versions": "版本", "elapsed": "总耗时", "memory": "内存峰值（RSS）",
        "table": "评估结果",
        "table_note": (
            "每个模型对两个留出（held-out）划分中每个互不相同的提示各采样若干次，温度为 1，所有模型使用相同的随机种子，"
            "由预言机（oracle）打分；records.jsonl 记录了每个回答及其得分。新措辞：后训练数据覆盖的任务，"
            "换成它从未用过的说法（世界提供新任务划分时，还有新任务：只有预训练语料里出现过的任务）。"
            "有害顺从率（harmful compliance）中每个有害任务权重相同，过度拒答率（over-refusal）"
            "中每个听起来危险但无害的任务权重相同。与 SFT 比较时，第 j 个样本与 SFT 的第 j 个样本配对：胜 / 平 / "
            "负统计这些配对，胜率（win rate）把平局计一半；“修好”是 SFT 未达预言机最高分的回答中被该模型超过的比例，"
            "“改坏”是 SFT 已达最高分的回答中被该模型变差的比例；提升空间占比为 (R - R_SFT) / (R_max - R_SFT)。"
            "区间为对提示做自助法（bootstrap）得到的 95% 区间。KL 是模型在自己的第一个样本上相对 SFT "
            "模型的逐词元（per-token）KL 散度。dpo 和 rlaif_dpo 两行是 DPO 加上 alpha 倍优选回答的负对数似然（RPO；"
            "alpha = DPOConfig.nll_weight），不是纯 DPO；第 5 课把纯 DPO 与之并列展示。"
        ),
        "train_s": "训练时间（秒）",
        "stages": "各阶段", "stage": "阶段", "status": "状态", "trained": "本次训练", "cached": "从缓存加载",
        "curves": "训练曲线", "comparison": "对比图", "examples": "回答示例（贪心解码）",
        "prompt": "提示", "extras": "各阶段诊断指标",
        "reading": "如何解读",
        "reading_text": (
            "每一行都和 SFT 比较：偏好方法（PPO、DPO、ORPO、RLAIF-DPO）应当提高预言机奖励和胜率、降低有害顺从率，"
            "同时不提高过度拒答率（即对齐税，alignment tax）；GRPO 的目标是算术准确率；SL-CAI "
            "从模型自己的批评与修改中学习。KL 表示每种方法为此离开 SFT 模型有多远。预言机只是人类标注者的替身："
            "这里的数字是预言机所奖励的东西，并不等于我们想要的全部。"
        ),
    },
}


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


NOISE_FLOOR = evalstats.NOISE_FLOOR
NOISE_SAMPLE_OFFSET = 500
"""its samples use the seeds of samples 500, 501, ... (`evaluate.sample_seed`)"""


def eval_prompt_splits(stages: Stages) -> dict[str, list]:
    """The prompts the pipeline evaluates: every held-out split, all of it on the cpu preset."""
    return {split: evaluate.balanced_subset(prompts, stages.preset.eval_prompts_per_split)
            for split, prompts in evaluate.eval_splits(stages.world).items()}


def model_records(stages: Stages, name: str) -> dict:
    """{"records": [...], "kl": {split: KL to SFT}} of one stage (or of NOISE_FLOOR), with
    `preset.eval_samples` samples per prompt of `eval_prompt_splits`, cached next to its
    checkpoint: the pipeline and the demos share them."""
    noise = name == NOISE_FLOOR
    stage = "sft" if noise else name
    splits = eval_prompt_splits(stages)

    def compute() -> dict:
        records, kl = evaluate.sample_records(
            stages.get(stage), name, stages.tokenizer, stages.world, splits, stages.preset.eval_samples,
            seed=stages.seed, ref_model=None if stage == "sft" else stages.get("sft"),
            sample_offset=NOISE_SAMPLE_OFFSET if noise else 0)
        if stage == "sft":
            kl = {split: 0.0 for split in kl}
        return {"records": records, "kl": kl}

    key = {"stage": stages.identity(stage), "sft": stages.identity("sft"), "samples": stages.preset.eval_samples,
           "prompts": {split: [p.text for p in ps] for split, ps in splits.items()}, "noise": noise, "v": 3}
    return stages.cached_result(f"records-{'noise' if noise else name}", key, compute)


def evaluation(stages: Stages, names: list[str], noise_floor: bool = True,
               n_boot: int = 1000) -> tuple[list[dict], dict, dict]:
    """(records, {model: {split: KL}}, evalstats.summarize of the records) of the policies among
    `names`, plus the noise-floor row when SFT is among them (and `noise_floor`)."""
    models = [n for n in names if n in POLICIES] + ([NOISE_FLOOR] if noise_floor and "sft" in names else [])
    records, kl = [], {}
    for n in models:
        got = model_records(stages, n)
        records += got["records"]
        kl[n] = got["kl"]
    return records, kl, evalstats.summarize(records, baseline="sft", n_boot=n_boot, seed=stages.seed)


def table_rows(summary: dict, kl: dict, records: list[dict], split: str | None = None) -> list[evaluate.EvalRow]:
    """The summary of one split (default the first) as `evaluate.EvalRow`s, for the lessons'
    single-table views (`evaluate.format_table`, `plots.plot_eval_bars`)."""
    split = split or next(iter(summary))
    words: dict[str, list[int]] = {}
    for r in records:
        if r["split"] == split:
            words.setdefault(r["model"], []).append(len(r["response"].split()))
    rows = []
    for s in summary[split]:
        row = evaluate.EvalRow(s["model"], s["n_prompts"], s["reward"][0],
                               kl=kl.get(s["model"], {}).get(split, math.nan))
        for name in evalstats.RATES:
            setattr(row, name, s[name][0])
        vs = s.get("vs")
        if vs:
            row.win_rate, row.decided_win_rate = vs["win_rate"][0], vs["decided_win_rate"][0]
            row.tie_rate = vs["ties"] / (vs["wins"] + vs["ties"] + vs["losses"])
        elif s["model"] == "sft":
            row.win_rate, row.tie_rate = 0.5, 1.0
        row.mean_length = sum(words[s["model"]]) / len(words[s["model"]])
        rows.append(row)
    return rows


def eval_row(stages: Stages, name: str) -> evaluate.EvalRow:
    """The evaluation row of one stage against SFT on the first held-out split, from the cached
    records (`model_records`)."""
    # point values only: the demo's row needs no intervals
    records, kl, summary = evaluation(stages, list(dict.fromkeys(["sft", name])), noise_floor=False, n_boot=1)
    return next(r for r in table_rows(summary, kl, records) if r.name == name)


def run(stages: Stages, names: list[str], out: Path, lang: str = "en", command: str = "") -> dict:
    """Train or load `names`, evaluate the policies, write `out/report.md` and figures."""
    t_start = time.time()
    text = TEXT[lang]
    out.mkdir(parents=True, exist_ok=True)
    status: dict[str, str] = {}
    for i, name in enumerate(names, 1):
        cached = stages.is_cached(name)
        print(f"[{i}/{len(names)}] {name}: {'cached' if cached else 'training'} "
              f"(elapsed {time.time() - t_start:.0f}s)", flush=True)
        stages.get(name)
        status[name] = text["cached"] if cached else text["trained"]

    print(f"evaluating (elapsed {time.time() - t_start:.0f}s)", flush=True)
    records, kl, summary = evaluation(stages, names)
    atomic_write_text(out / "records.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    rows = [r for r in table_rows(summary, kl, records) if r.name != NOISE_FLOOR]
    train_seconds = {n: stages.timings.get(n, math.nan) for n in names}
    for row in rows:
        row.train_seconds = train_seconds.get(row.name, math.nan)
    print(f"stage diagnostics (elapsed {time.time() - t_start:.0f}s)", flush=True)
    extras = {name: values for name in names if (values := _diagnostics(stages, name))}
    if "sl_cai" in names:
        from .diagnostics import cai_transcripts

        transcripts = cai_transcripts(stages)["transcripts"]
        atomic_write_text(out / "cai_transcripts.jsonl", "".join(json.dumps(t) + "\n" for t in transcripts))

    figures = _figures(stages, names, summary, out)
    examples = _examples(stages, [r.name for r in rows])
    elapsed = time.time() - t_start
    report = _report(stages, names, summary, kl, status, extras, figures, examples, lang, command, elapsed)
    atomic_write_text(out / "report.md", report)
    atomic_write_text(out / "results.json", json.dumps(
        {"summary": summary, "kl": kl, "train_seconds": train_seconds, "rows": [r.as_dict() for r in rows],
         "cached_stages": [n for n in names if status[n] == text["cached"]],
         "extras": extras, "elapsed_s": elapsed, "peak_rss_mb": _peak_rss_mb(), "seed": stages.seed,
         "preset": stages.preset.name, "samples_per_prompt": stages.preset.eval_samples}, indent=2))
    print()
    print(results_tables(summary, kl, lang))
    for name, values in extras.items():
        print(f"\n{name}: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in values.items()))
    print(f"\nreport: {out / 'report.md'}  (total {elapsed:.0f}s, peak memory {_peak_rss_mb():.0f} MB)")
    return {"rows": rows, "summary": summary, "kl": kl, "records": records, "extras": extras, "elapsed": elapsed}


def _figures(stages: Stages, names: list[str], summary: dict, out: Path) -> dict[str, str]:
    import matplotlib.pyplot as plt

    figures = {}
    logs = {}
    for n in names:
        path = stages.dir / f"{n}.metrics.jsonl"
        if path.exists():
            logs[n] = MetricsLog.load(path)
    if logs:
        cols = 3
        rows_n = math.ceil(len(logs) / cols)
        fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3 * rows_n), squeeze=False)
        for ax, (n, log) in zip(axes.flat, logs.items()):
            key = "loss" if log.series("loss")[0] else next((k for k in log.rows[0] if k != "step"), "loss")
            plots.plot_curves({n: log}, key=key, title=f"{n}: {key}", ax=ax)
        for ax in list(axes.flat)[len(logs):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(out / "training_curves.png", dpi=110)
        plt.close(fig)
        figures["curves"] = "training_curves.png"
    if summary:
        plots.plot_comparison(summary, out / "comparison.png")
        figures["comparison"] = "comparison.png"
    return figures


def _examples(stages: Stages, names: list[str]) -> list[tuple[str, dict[str, str]]]:
    kinds = ("factual", "arithmetic", "harmful", "benign", "advice", "harmful")
    seen, prompts = set(), []
    for kind in kinds:
        p = next(q for q in stages.world.prompts("eval", kind) if q.text not in seen)
        seen.add(p.text)
        prompts.append(p.text)
    prompts = prompts[:EXAMPLE_PROMPTS]
    answers = {n: rollout.generate(stages.get(n), stages.tokenizer, prompts, temperature=0.0).responses for n in names}
    return [(p, {n: answers[n][i] for n in names}) for i, p in enumerate(prompts)]


def _report(stages, names, summary, kl, status, extras, figures, examples, lang, command, elapsed) -> str:
    text = TEXT[lang]
    versions = f"python {platform.python_version()}, torch {torch.__version__}, minialign {__version__}"
    lines = [
        f"# {text['title']}", "",
        f"## {text['setup']}", "",
        f"- {text['command']}: `{command}`",
        f"- {text['preset']}: `{stages.preset.name}` ({stages.get('sft').num_params():,} parameters)",
        f"- {text['seed']}: {stages.seed}",
        f"- {text['device']}: {stages.device} ({platform.machine()}, {torch.get_num_threads()} threads)",
        f"- {text['versions']}: {versions}",
        f"- {text['elapsed']}: {elapsed:.0f} s; {text['memory']}: {_peak_rss_mb():.0f} MB", "",
        f"## {text['table']}", "",
        text["table_note"], "",
        results_tables(summary, kl, lang), "",
        f"## {text['stages']}", "",
        f"| {text['stage']} | {text['status']} | {text['train_s']} |", "| --- | --- | ---: |",
    ]
    for n in names:
        lines.append(f"| {n} | {status.get(n, '')} | {stages.timings.get(n, math.nan):.1f} |")
    lines.append("")
    if extras:
        lines += [f"## {text['extras']}", ""]
        for n, values in extras.items():
            lines.append(f"- **{n}**: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in values.items()))
        lines.append("")
    if "comparison" in figures:
        lines += [f"## {text['comparison']}", "", f"![comparison]({figures['comparison']})", ""]
    if "curves" in figures:
        lines += [f"## {text['curves']}", "", f"![curves]({figures['curves']})", ""]
    lines += [f"## {text['examples']}", ""]
    for prompt, answers in examples:
        lines += [f"**{text['prompt']}: {prompt}**", ""]
        lines += [f"- `{n}`: {a or '(empty)'}" for n, a in answers.items()]
        lines.append("")
    lines += [f"## {text['reading']}", "", text["reading_text"], ""]
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _diagnostics(stages: Stages, name: str) -> dict:
    """A stage's own numbers (`STAGES[name].diagnostics`), cached next to its checkpoint."""
    fn = STAGES[name].diagnostics
    if fn is None:
        return {}
    key = {"stage": stages.identity(name), "sft": stages.identity("sft"), "v": 2}
    return stages.cached_result(f"diagnostics-{name}", key, lambda: fn(stages))


def main(args) -> int:
    from .__main__ import stages_from_args

    stages = stages_from_args(args)
    names = list(ORDER)
    if args.stages:
        wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in STAGES]
        if unknown:
            print(f"unknown stages {unknown}; stages are {list(ORDER)}")
            return 2
        names = [n for n in names if n in wanted or n in ("base", "sft")]
    if sys.argv[1:]:
        command = "python -m minialign " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    else:
        command = "python -m minialign pipeline"
    torch.manual_seed(args.seed)
    run(stages, names, Path(args.out), args.lang, command)
    return 0


# --- several seeds ---------------------------------------------------------------------------
def summarize(run_dirs: list[str | Path]) -> str:
    """Mean and spread (min to max) of every table column and stage diagnostic over pipeline runs
    (their results.json), e.g. one run per seed: `python -m minialign summary runs/seed0 runs/seed1`."""
    from .evaluate import TABLE_COLUMNS

    results = load_runs(run_dirs, need_summary=False)
    seeds = [r.get("seed") for r in results]
    names = [row["name"] for row in results[0]["rows"]]

    def stat(values: list[float], fmt: str) -> str:
        values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
        if not values:
            return "-"
        mean = sum(values) / len(values)
        if len(values) == 1:
            return fmt.format(mean)
        return f"{fmt.format(mean)} ({fmt.format(min(values))} to {fmt.format(max(values))})"

    table = []
    for name in names:
        rows = [next((row for row in r["rows"] if row["name"] == name), {}) for r in results]
        table.append((name, [stat([row.get(k) for row in rows], fmt) for k, (_, fmt) in TABLE_COLUMNS.items()]))
    lines = [f"{len(results)} runs, seeds {seeds}: mean (min to max)", "", evaluate.markdown_table(table)]
    stages = list(dict.fromkeys(s for r in results for s in r.get("extras", {})))
    for stage in stages:
        keys = list(dict.fromkeys(k for r in results for k in r.get("extras", {}).get(stage, {})))
        if not keys:
            continue
        lines += ["", f"{stage}:"]
        lines += [f"- {k}: {stat([r.get('extras', {}).get(stage, {}).get(k) for r in results], '{:.3f}')}"
                  for k in keys]
    lines += ["", "total time (s): " + stat([r.get("elapsed_s") for r in results], "{:.0f}"),
              "peak memory (MB): " + stat([r.get("peak_rss_mb") for r in results], "{:.0f}")]
    return "\n".join(lines)


def summary_main(args) -> int:
    try:
        print(summarize(args.runs))
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0
