"""Model sizes and training budgets: the `cpu` preset (the course's default, a laptop), `tiny`
(the tests: trains in seconds, learns little) and `gpu` (a larger model, bfloat16 on CUDA).

A preset names the model's shape and, per stage, the config that differs from that stage's
default (`stages.STAGES[name].config`); `python -m minialign ... --set stage.field=value` changes
one field on top of it (`settings.apply_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import cai, dpo, grpo, orpo, ppo, pretrain, reward, rlaif, sft
from .model import GPTConfig
from .train import LoopConfig


@dataclass
class Preset:
    name: str
    model: GPTConfig
    """vocab_size is the tokenizer's target size"""
    stage_configs: dict = field(default_factory=dict)
    """stage name -> that stage's config dataclass; a stage not listed trains with its default
    config (`stages.STAGES[name].config()`)"""
    n_eval_prompts: int = 200
    """size of the single-sample evaluation of the lessons (`evaluate.compare`)"""
    eval_samples: int = 2
    """samples per prompt in the pipeline's evaluation (records.jsonl)"""
    eval_prompts_per_split: int | None = None
    """the pipeline evaluates this many prompts of each held-out split (a subset balanced by
    kind, `evaluate.balanced_subset`); None = every prompt"""
    bf16: bool = False
    """train every stage under bfloat16 autocast when the device is CUDA (`train.mixed_precision`)"""


def _cpu() -> Preset:
    # every stage with its config's defaults: those are the values the lessons discuss
    return Preset("cpu", GPTConfig(vocab_size=1024, block_size=128, n_layer=4, n_head=4, n_embd=128))


def _tiny() -> Preset:
    # for tests: trains in seconds, learns little
    return Preset(
        "tiny",
        GPTConfig(vocab_size=512, block_size=128, n_layer=2, n_head=2, n_embd=32),
        {
            "base": pretrain.PretrainConfig(n_docs=600, batch_size=8,
                                            loop=LoopConfig(steps=20, lr=3e-3, warmup_steps=2)),
            "sft": sft.SFTConfig(n_examples=400, batch_size=8, loop=LoopConfig(steps=20, lr=3e-3, warmup_steps=2)),
            "reward": reward.RewardConfig(n_pairs=200, n_eval_pairs=100, batch_size=8,
                                          loop=LoopConfig(steps=10, lr=1e-3, warmup_steps=2)),
            "dpo": dpo.DPOConfig(n_pairs=200, batch_size=8, loop=LoopConfig(steps=10, lr=1e-3, warmup_steps=2)),
            "orpo": orpo.ORPOConfig(n_pairs=200, batch_size=8, loop=LoopConfig(steps=10, lr=1e-3, warmup_steps=2)),
            "sl_cai": cai.SLCAIConfig(critique=cai.CritiqueConfig(max_new_tokens=16), n_per_kind={"harmful": 12},
                                      batch_size=8, loop=LoopConfig(steps=5, lr=1e-3, warmup_steps=1)),
            "judge": rlaif.JudgeConfig(n_labels=200, batch_size=8, loop=LoopConfig(steps=5, lr=1e-3, warmup_steps=1)),
            # RLAIF-DPO runs the 'dpo' stage's pairs and loop on AI labels, without the NLL term
            "rlaif_dpo": rlaif.RLAIFConfig(dpo=dpo.DPOConfig(n_pairs=200, batch_size=8, nll_weight=0.0,
                                                           loop=LoopConfig(steps=10, lr=1e-3, warmup_steps=2))),
            "ppo": ppo.PPOConfig(iterations=2, batch_size=8, minibatch_size=4, ppo_epochs=1, max_new_tokens=8),
            "grpo": grpo.GRPOConfig(iterations=2, prompts_per_iteration=2, group_size=4, max_new_tokens=8),
        },
        n_eval_prompts=40,
        eval_prompts_per_split=30,
    )


def _gpu() -> Preset:
    return Preset(
        "gpu",
        GPTConfig(vocab_size=1024, block_size=128, n_layer=6, n_head=8, n_embd=256),
        {
            "base": pretrain.PretrainConfig(n_docs=40000, batch_size=64,
                                            loop=LoopConfig(steps=3000, lr=1e-3, warmup_steps=100)),
            "sft": sft.SFTConfig(n_examples=40000, batch_size=64,
                                 loop=LoopConfig(steps=1200, lr=3e-4, warmup_steps=50, weight_decay=0.0)),
            "reward": reward.RewardConfig(n_pairs=12000, batch_size=64,
                                          loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20, weight_decay=0.0)),
            "dpo": dpo.DPOConfig(n_pairs=12000, batch_size=64,
                                 loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20, weight_decay=0.0)),
            "orpo": orpo.ORPOConfig(n_pairs=12000, batch_size=64,
                                    loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20, weight_decay=0.0)),
            "sl_cai": cai.SLCAIConfig(n_per_kind={"harmful": 768}, batch_size=64,
                                      loop=LoopConfig(steps=150, lr=1e-4, warmup_steps=10, weight_decay=0.0)),
            "judge": rlaif.JudgeConfig(n_labels=12000, batch_size=64,
                                       loop=LoopConfig(steps=800, lr=3e-4, warmup_steps=20, weight_decay=0.0)),
            # RLAIF-DPO runs the 'dpo' stage's pairs and loop on AI labels, without the NLL term
            "rlaif_dpo": rlaif.RLAIFConfig(dpo=dpo.DPOConfig(n_pairs=12000, batch_size=64, nll_weight=0.0,
                                                           loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20,
                                                                           weight_decay=0.0))),
            # not tuned on a GPU yet: the cpu values with 4x the rollouts per iteration
            "ppo": ppo.PPOConfig(iterations=60, batch_size=256, minibatch_size=64),
            "grpo": grpo.GRPOConfig(iterations=60, prompts_per_iteration=32, group_size=16),
        },
        n_eval_prompts=400,
        eval_samples=4,
        bf16=True,
    )


PRESETS: dict[str, Callable[[], Preset]] = {"cpu": _cpu, "tiny": _tiny, "gpu": _gpu}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()
