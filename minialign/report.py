"""The results tables of one pipeline run, and the number formats every results table uses.

`results_tables` formats one run's `evalstats.summarize` output: the pipeline's report.md and
lesson 9 show it. The results page of several runs (`python -m minialign report`) is
`results_page.py`; the course's targets it checks each run against are `report_targets.py`.
"""

from __future__ import annotations

import math
from typing import Sequence

from . import evalstats

SPLIT_NAMES = {
    "en": {"new_phrasings": "new phrasings", "new_tasks": "new tasks"},
    "zh": {"new_phrasings": "新措辞（new phrasings）", "new_tasks": "新任务（new tasks）"},
}
COLUMNS = {
    # metric -> (English header, Chinese header, is a rate)
    "reward": ("reward", "奖励", False),
    "harmful_compliance": ("harmful compliance", "有害顺从率", True),
    "over_refusal": ("over-refusal", "过度拒答率", True),
    "factual_accuracy": ("factual acc.", "事实准确率", True),
    "arithmetic_accuracy": ("arithmetic acc.", "算术准确率", True),
    "win_rate": ("win rate", "胜率", True),
    "decided_win_rate": ("wins of decided", "非平局胜率", True),
    "headroom": ("headroom captured", "提升空间占比", True),
    "fixed": ("fixed", "修好", True),
    "broken": ("broken", "改坏", True),
}
TEXT = {
    "en": {
        "absolute": "each model, 95% interval over prompts",
        "paired": "against SFT, paired (same prompts, same sampling seeds); * = the 95% interval excludes 0",
        "model": "model", "wtl": "W / T / L", "kl": "KL to SFT", "delta": "Δ",
        "prompts": "{n} distinct prompts, {s} samples each",
        "noise": "The row `sft (resampled)` is the noise floor: SFT against itself with other sampling seeds. "
                 "A method's paired column means something only where it lies outside that row's interval.",
    },
    "zh": {
        "absolute": "各模型，95% 区间（对提示做自助法）",
        "paired": "与 SFT 配对比较（相同提示、相同采样种子）；* 表示 95% 区间不含 0",
        "model": "模型", "wtl": "胜 / 平 / 负", "kl": "相对 SFT 的 KL", "delta": "Δ",
        "prompts": "{n} 个互不相同的提示，每个采样 {s} 次",
        "noise": "`sft (resampled)` 一行是噪声底线（noise floor）：SFT 换一组采样种子后与自己比较。"
                 "某方法的配对列只有落在这一行的区间之外，才说明有变化。",
    },
}


def _pct(x: float, signed: bool = False) -> str:
    """a rate in whole percent, with no '-0'"""
    v = round(100 * x)
    return f"{v:+d}" if signed and v else f"{v:d}"


def _num(x: float, rate: bool, signed: bool = False, fmt: str = "{:.3f}") -> str:
    if not math.isfinite(x):
        return "-"
    if rate:
        return _pct(x, signed) + "%"
    return f"{x:+.3f}" if signed else fmt.format(x)


def interval(iv: Sequence[float], rate: bool, signed: bool = False, star: bool = False) -> str:
    """'22% [15, 30]' or '+0.412 [+0.301, +0.520]', '*' appended when asked and the interval excludes 0."""
    value, lo, hi = iv
    if not math.isfinite(value):
        return "-"
    mark = "*" if star and evalstats.excludes_zero(iv) else ""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return _num(value, rate, signed) + mark
    if rate:
        return f"{_num(value, rate, signed)} [{_pct(lo, signed)}, {_pct(hi, signed)}]{mark}"
    return f"{value:+.3f} [{lo:+.3f}, {hi:+.3f}]{mark}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| --- | " + " | ".join("---:" for _ in header[1:]) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def split_tables(split_rows: list[dict], kl: dict, split: str, lang: str = "en") -> str:
    """The two tables of one split: every model's own numbers, then each against SFT."""
    t = TEXT[lang]
    col = 0 if lang == "en" else 1
    absolute = [[r["model"]] + [interval(r[m], COLUMNS[m][2]) for m in evalstats.METRICS]
                + [f"{kl.get(r['model'], {}).get(split, math.nan):.3f}"] for r in split_rows]
    header = [t["model"]] + [COLUMNS[m][col] for m in evalstats.METRICS] + [t["kl"]]
    paired = []
    for r in split_rows:
        vs = r.get("vs")
        if not vs:
            continue
        paired.append([r["model"], f"{vs['wins']} / {vs['ties']} / {vs['losses']}"]
                      + [interval(vs[m], True) for m in evalstats.PAIRED]
                      + [interval(vs["diff"][m], COLUMNS[m][2], signed=True, star=True) for m in evalstats.METRICS])
    pheader = ([t["model"], t["wtl"]] + [COLUMNS[m][col] for m in evalstats.PAIRED]
               + [f"{t['delta']} {COLUMNS[m][col]}" for m in evalstats.METRICS])
    n = split_rows[0]
    prompts = t["prompts"].format(n=n["n_prompts"], s=n["n_samples"])
    lines = [f"### {SPLIT_NAMES[lang].get(split, split)}: {prompts}", "",
             f"*{t['absolute']}*", "", _table(header, absolute), "",
             f"*{t['paired']}*", "", _table(pheader, paired), "", t["noise"]]
    return "\n".join(lines)


def results_tables(summary: dict, kl: dict, lang: str = "en") -> str:
    """Both splits' tables of one run (`evalstats.summarize` output and the KL per model and split)."""
    return "\n\n".join(split_tables(rows, kl, split, lang) for split, rows in summary.items())
