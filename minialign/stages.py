"""The pipeline's stages, trained once and cached.

`Stages(preset, seed)` hands out the world, the tokenizer and every trained model. A model is
trained on first use and saved under the cache folder (`train.cache_dir()`, overridable with
$MINIALIGN_CACHE); later calls, later lessons and later runs load it in a second. Checkpoints
carry the preset, seed and stage configuration, so a stage trained with other settings is
retrained instead of silently reused.

Each stage is a builder `fn(stages) -> (model, metrics_log)` registered in `BUILDERS`, with the
stages it needs listed in `REQUIRES`; later issues add stages by adding entries.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from . import cai, dpo, grpo, orpo, ppo, pretrain, reward, rlaif, sft
from .model import GPT, GPTConfig
from .tokenizer import Tokenizer, train as train_tokenizer
from .train import (MetricsLog, atomic_write_text, cache_dir, load_checkpoint, mixed_precision, pick_device,
                    save_checkpoint, set_seed)
from .world import MiniWorld, WorldConfig

CACHE_VERSION = 3
"""bump when a change to the code makes old checkpoints wrong"""


@dataclass
class Preset:
    name: str
    model: GPTConfig
    """vocab_size is the tokenizer's target size"""
    stage_configs: dict = field(default_factory=dict)
    """stage name -> that stage's config dataclass"""
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
    return Preset(
        "cpu",
        GPTConfig(vocab_size=1024, block_size=128, n_layer=4, n_head=4, n_embd=128),
        {"base": pretrain.PretrainConfig(), "sft": sft.SFTConfig(),
         "reward": reward.RewardConfig(), "dpo": dpo.DPOConfig(), "orpo": orpo.ORPOConfig(),
         "sl_cai": cai.SLCAIConfig(), "judge": rlaif.JudgeConfig(), "rlaif_dpo": rlaif.RLAIFConfig(),
         "ppo": ppo.PPOConfig(), "grpo": grpo.GRPOConfig()},
    )


def _tiny() -> Preset:
    # for tests: trains in seconds, learns little
    from .train import LoopConfig

    return Preset(
        "tiny",
        GPTConfig(vocab_size=512, block_size=128, n_layer=2, n_head=2, n_embd=32),
        {
            "base": pretrain.PretrainConfig(n_docs=600, batch_size=8, loop=LoopConfig(steps=20, lr=3e-3, warmup_steps=2)),
            "sft": sft.SFTConfig(n_examples=400, batch_size=8, loop=LoopConfig(steps=20, lr=3e-3, warmup_steps=2)),
            "reward": reward.RewardConfig(n_pairs=200, n_eval_pairs=100, batch_size=8, loop=LoopConfig(steps=10, lr=1e-3, warmup_steps=2)),
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
    from .train import LoopConfig

    return Preset(
        "gpu",
        GPTConfig(vocab_size=1024, block_size=128, n_layer=6, n_head=8, n_embd=256),
        {
            "base": pretrain.PretrainConfig(n_docs=40000, batch_size=64, loop=LoopConfig(steps=3000, lr=1e-3, warmup_steps=100)),
            "sft": sft.SFTConfig(n_examples=40000, batch_size=64, loop=LoopConfig(steps=1200, lr=3e-4, warmup_steps=50, weight_decay=0.0)),
            "reward": reward.RewardConfig(n_pairs=12000, batch_size=64, loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20, weight_decay=0.0)),
            "dpo": dpo.DPOConfig(n_pairs=12000, batch_size=64, loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20, weight_decay=0.0)),
            "orpo": orpo.ORPOConfig(n_pairs=12000, batch_size=64, loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20, weight_decay=0.0)),
            "sl_cai": cai.SLCAIConfig(n_per_kind={"harmful": 768},
                                      batch_size=64, loop=LoopConfig(steps=150, lr=1e-4, warmup_steps=10, weight_decay=0.0)),
            "judge": rlaif.JudgeConfig(n_labels=12000, batch_size=64, loop=LoopConfig(steps=800, lr=3e-4, warmup_steps=20, weight_decay=0.0)),
            # RLAIF-DPO runs the 'dpo' stage's pairs and loop on AI labels, without the NLL term
            "rlaif_dpo": rlaif.RLAIFConfig(dpo=dpo.DPOConfig(n_pairs=12000, batch_size=64, nll_weight=0.0,
                                                             loop=LoopConfig(steps=300, lr=1e-4, warmup_steps=20, weight_decay=0.0))),
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


def _fingerprint(obj) -> str:
    def default(o):
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        return repr(o)

    return hashlib.sha1(json.dumps(obj, default=default, sort_keys=True).encode()).hexdigest()[:12]


class Stages:
    """Cached access to the world, the tokenizer and each trained stage."""

    def __init__(self, preset: str | Preset = "cpu", seed: int = 0, device: str = "auto",
                 cache: str | Path | None = None, retrain: bool = False):
        self.preset = get_preset(preset) if isinstance(preset, str) else preset
        self.seed = seed
        self.device = pick_device(device)
        self.root = Path(cache) if cache is not None else cache_dir()
        self.dir = self.root / f"{self.preset.name}-seed{seed}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.retrain = retrain
        self.world = MiniWorld(WorldConfig(seed=seed))
        self._tok: Tokenizer | None = None
        self._models: dict[str, nn.Module] = {}
        self.timings: dict[str, float] = {}
        """seconds each stage took to train (from its checkpoint when loaded)"""

    # --- tokenizer ------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Tokenizer:
        if self._tok is None:
            texts = self._tokenizer_texts()
            # the file is named after what it was trained on, so a changed world never reuses it
            key = _fingerprint({"texts": hashlib.sha1("\n".join(texts).encode()).hexdigest(),
                                "vocab": self.preset.model.vocab_size, "version": CACHE_VERSION})
            path = self.dir / f"tokenizer-{key}.json"
            if path.exists() and not self.retrain:
                self._tok = Tokenizer.load(path)
            else:
                self._tok = train_tokenizer(texts, self.preset.model.vocab_size)
                self._tok.save(path)
        return self._tok

    def _tokenizer_texts(self) -> list[str]:
        import random

        w = self.world
        rng = random.Random(self.seed)
        prompts = w.train_pool + w.eval_pool  # vocabulary only: every split uses the same words
        texts = w.corpus_documents(3000)
        texts += [p.text for p in prompts]
        texts += [w.respond(p, s, rng) for p in prompts for s in w.STYLES[p.kind]]
        texts += [t for _ in range(200) for _, t in w.revision_demo(rng)]
        texts += ["The answer is A.", "The answer is B.", "(A) (B)"]
        return texts

    @property
    def model_config(self) -> GPTConfig:
        return dataclasses.replace(self.preset.model, vocab_size=self.tokenizer.vocab_size)

    # --- stages ---------------------------------------------------------------------------
    def config_of(self, name: str):
        return self.preset.stage_configs.get(name)

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.pt"

    def identity(self, name: str) -> dict:
        """What a checkpoint of stage `name` must have been trained with to be reused."""
        upstream = {dep: _fingerprint(self.identity(dep)) for dep in REQUIRES.get(name, ())}
        return {
            "stage": name, "preset": self.preset.name, "seed": self.seed, "version": CACHE_VERSION,
            "model": self.model_config.to_dict(), "world": _fingerprint(self.world.config),
            "tokenizer": hashlib.sha1(self.tokenizer._tok.to_str().encode()).hexdigest()[:12],
            "stage_config": _fingerprint(self.config_of(name)), "upstream": upstream,
        }

    def is_cached(self, name: str) -> bool:
        if not self.path(name).exists():
            return False
        try:
            load_checkpoint(self.path(name), self.identity(name))
            return True
        except ValueError:
            return False

    def get(self, name: str) -> nn.Module:
        """The trained model of stage `name`, loaded from the cache or trained now (in eval mode)."""
        if name not in BUILDERS:
            raise ValueError(f"unknown stage {name!r}; stages are {sorted(BUILDERS)}")
        if name in self._models:
            return self._models[name]
        path = self.path(name)
        if path.exists() and not self.retrain:
            try:
                ckpt = load_checkpoint(path, self.identity(name))
                model = FACTORIES.get(name, _gpt_factory)(self)
                model.load_state_dict(ckpt["state_dict"])
                self.timings[name] = ckpt["extra"].get("seconds", float("nan"))
                return self._remember(name, model)
            except ValueError:
                pass  # trained with other settings: train again below
        for dep in REQUIRES.get(name, ()):
            self.get(dep)
        set_seed(self.seed)
        t0 = time.time()
        with mixed_precision(self.device, self.preset.bf16):
            model, log = BUILDERS[name](self)
        seconds = time.time() - t0
        self.timings[name] = seconds
        log.save(self.dir / f"{name}.metrics.jsonl")
        save_checkpoint(path, model, self.identity(name), seconds=seconds)
        return self._remember(name, model)

    def _remember(self, name: str, model: nn.Module) -> nn.Module:
        model.to(self.device).eval()
        self._models[name] = model
        return model

    def fresh_copy(self, name: str) -> nn.Module:
        """A trainable deep copy of a stage's model (the cached one stays as it is)."""
        return copy.deepcopy(self.get(name))

    def cached_result(self, name: str, key: dict, compute: Callable[[], object]) -> object:
        """A JSON-able result (an evaluation row, a sweep) computed once and kept in the cache.

        `key` says what the result depends on (e.g. {"stage": self.identity("dpo"), "betas": ...}):
        a changed key computes it again under a new file name. Written atomically, so an
        interrupted run never reads half a file back."""
        path = self.dir / f"{name}-{_fingerprint(key)}.json"
        if path.exists() and not self.retrain:
            return json.loads(path.read_text())
        value = compute()
        atomic_write_text(path, json.dumps(value))
        return value

    def metrics(self, name: str) -> MetricsLog:
        self.get(name)
        return MetricsLog.load(self.dir / f"{name}.metrics.jsonl")


def _gpt_factory(stages: Stages) -> nn.Module:
    return GPT(stages.model_config)


def _build_base(stages: Stages):
    model = GPT(stages.model_config).to(stages.device)
    log = pretrain.main(model, stages.tokenizer, stages.world, stages.config_of("base"))
    return model, log


def _build_sft(stages: Stages):
    model = stages.fresh_copy("base")
    log = sft.main(model, stages.tokenizer, stages.world, stages.config_of("sft"))
    return model, log


def _build_reward(stages: Stages):
    return reward.train_reward_model(stages.get("sft"), stages.tokenizer, stages.world, stages.config_of("reward"))


def _build_dpo(stages: Stages):
    # the reference is a separate copy: train_dpo freezes it only while it runs, but the
    # cached SFT model is shared with every later stage
    policy, ref = stages.fresh_copy("sft"), stages.fresh_copy("sft")
    log = dpo.train_dpo(policy, ref, stages.tokenizer, stages.world, stages.config_of("dpo"))
    return policy, log


def _build_orpo(stages: Stages):
    policy = stages.fresh_copy("sft")
    log = orpo.train_orpo(policy, stages.tokenizer, stages.world, stages.config_of("orpo"))
    return policy, log


BUILDERS: dict[str, Callable[[Stages], tuple[nn.Module, MetricsLog]]] = {
    "base": _build_base, "sft": _build_sft, "reward": _build_reward, "dpo": _build_dpo, "orpo": _build_orpo,
    "sl_cai": cai.build_sl_cai, "judge": rlaif.build_judge, "rlaif_dpo": rlaif.build_rlaif_dpo, "ppo": ppo.build_ppo, "grpo": grpo.build_grpo,
}
REQUIRES: dict[str, tuple[str, ...]] = {
    "base": (), "sft": ("base",), "reward": ("sft",), "dpo": ("sft",), "orpo": ("sft",),
    "sl_cai": ("sft", "judge"), "judge": ("sft",), "rlaif_dpo": ("sft", "judge"), "ppo": ("sft", "reward"), "grpo": ("sft",),
}
FACTORIES: dict[str, Callable[[Stages], nn.Module]] = {
    "reward": lambda stages: reward.RewardModel(GPT(stages.model_config)),
}
"""how to build an empty model of a stage before loading its weights (default: a GPT)"""
