"""The pipeline's stages: one registry, each stage trained once and cached.

`STAGES` is the registry: one `Stage` entry per stage says how to build it, what it needs, whether
it is a chat model with a row in the table, its default config, its own diagnostics and its
lecture demo. Every other list of stages (the pipeline's order, the table's policies, the demos) is
derived from it, so a new stage is one entry here plus its own module.

`Stages(preset, seed)` hands out the world, the tokenizer and every trained model. A model is
trained on first use and saved under the cache folder (`train.cache_dir()`, overridable with
$MINIALIGN_CACHE); later calls, later lessons and later runs load it in a second. Checkpoints
carry the preset, seed and stage configuration, so a stage trained with other settings is
retrained instead of silently reused. The algorithm modules know nothing of this: each builder
below calls one `train_*` function.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch.nn as nn

from . import cai, demo, diagnostics, dpo, grpo, orpo, ppo, pretrain, reward, rlaif, sft
from .model import GPT, GPTConfig
from .presets import PRESETS, Preset, get_preset
from .settings import apply_settings
from .tokenizer import Tokenizer
from .tokenizer import train as train_tokenizer
from .train import (
    CheckpointError,
    MetricsLog,
    atomic_write_text,
    cache_dir,
    load_checkpoint,
    mixed_precision,
    pick_device,
    save_checkpoint,
    set_seed,
)
from .world import MiniWorld, WorldConfig

__all__ = ["CACHE_VERSION", "ORDER", "POLICIES", "PRESETS", "Preset", "STAGES", "Stage", "Stages", "get_preset"]

CACHE_VERSION = 3
"""bump when a change to the code makes old checkpoints wrong"""


def _key_dict(obj) -> dict:
    """A config dataclass as a dict for the cache key; an `added_field` at its default is left out."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("cache_key") == "unless_default" and f.default is not dataclasses.MISSING \
                and value == f.default:
            continue
        out[f.name] = _key_dict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
    return out


def _fingerprint(obj) -> str:
    def default(o):
        if dataclasses.is_dataclass(o):
            return _key_dict(o)
        return repr(o)

    return hashlib.sha1(json.dumps(obj, default=default, sort_keys=True).encode()).hexdigest()[:12]


class Stages:
    """Cached access to the world, the tokenizer and each trained stage."""

    def __init__(self, preset: str | Preset = "cpu", seed: int = 0, device: str = "auto",
                 cache: str | Path | None = None, retrain: bool | Iterable[str] = False,
                 settings: list[str] | None = None):
        """`retrain`: True trains everything again (tokenizer and cached results included); a list
        of stage names trains those stages and every stage that needs them again. `settings`:
        `stage.field=value` overrides of the preset's stage configs (`settings.apply_settings`)."""
        preset = get_preset(preset) if isinstance(preset, str) else preset
        # every stage's config: the preset's where it names one, else the stage's default
        configs = {name: preset.stage_configs.get(name) or stage.config() for name, stage in STAGES.items()}
        self.preset = apply_settings(dataclasses.replace(preset, stage_configs=configs), settings)
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.seed = seed
        self.device = pick_device(device)
        self.root = Path(cache) if cache is not None else cache_dir()
        self.dir = self.root / f"{self.preset.name}-seed{seed}"
        self.dir.mkdir(parents=True, exist_ok=True)
        if isinstance(retrain, bool):
            self.retrain, self._retrain_stages = retrain, set()
        else:
            wanted = set(retrain)
            unknown = sorted(wanted - set(STAGES))
            if unknown:
                raise ValueError(f"cannot retrain {unknown}: stages are {', '.join(ORDER)}")
            self.retrain, self._retrain_stages = False, _with_dependents(wanted)
        self._trained_now: set[str] = set()
        self._written: set[Path] = set()
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
                try:
                    self._tok = Tokenizer.load(path)
                except Exception as exc:  # a damaged file: the tokenizer trains again in seconds
                    _notice(f"cache: {path} is damaged ({type(exc).__name__}); training the tokenizer again")
            if self._tok is None:
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
        """The config stage `name` trains with (the preset's, with any `--set` applied)."""
        return self.preset.stage_configs[name]

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.pt"

    def identity(self, name: str) -> dict:
        """What a checkpoint of stage `name` must have been trained with to be reused."""
        upstream = {dep: _fingerprint(self.identity(dep)) for dep in STAGES[name].requires}
        return {
            "stage": name, "preset": self.preset.name, "seed": self.seed, "version": CACHE_VERSION,
            "model": self.model_config.to_dict(), "world": _fingerprint(self.world.config),
            "tokenizer": hashlib.sha1(self.tokenizer._tok.to_str().encode()).hexdigest()[:12],
            "stage_config": _fingerprint(self.config_of(name)), "upstream": upstream,
        }

    def is_cached(self, name: str) -> bool:
        """Whether `get(name)` would load the stage instead of training it."""
        if self.retrain or name in self._retrain_stages or not self.path(name).exists():
            return False
        try:
            load_checkpoint(self.path(name), self.identity(name))
            return True
        except ValueError:
            return False

    def get(self, name: str) -> nn.Module:
        """The trained model of stage `name`, loaded from the cache or trained now (in eval mode)."""
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; stages are {', '.join(ORDER)}")
        if name in self._models:
            return self._models[name]
        path = self.path(name)
        if path.exists() and not self.retrain and name not in self._retrain_stages:
            try:
                ckpt = load_checkpoint(path, self.identity(name))
                model = STAGES[name].factory(self)
                model.load_state_dict(ckpt["state_dict"])
                self.timings[name] = ckpt["extra"].get("seconds", float("nan"))
                return self._remember(name, model)
            except CheckpointError as exc:
                if "damaged" in str(exc):  # another config is routine (the stage retrains); damage is news
                    _notice(f"cache: {exc}; training stage {name!r} again")
        for dep in STAGES[name].requires:
            self.get(dep)
        set_seed(self.seed)
        t0 = time.time()
        with mixed_precision(self.device, self.preset.bf16):
            model, log = STAGES[name].build(self)
        seconds = time.time() - t0
        self.timings[name] = seconds
        self._trained_now.add(name)
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
        # a stage trained again in this process makes its old results stale, unless written since
        stale = bool(self._trained_now & _stages_in(key)) and path not in self._written
        if path.exists() and not self.retrain and not stale:
            try:
                return json.loads(path.read_text())
            except ValueError:
                _notice(f"cache: {path} is damaged (not valid JSON); computing it again")
        value = compute()
        atomic_write_text(path, json.dumps(value))
        self._written.add(path)
        return value

    def metrics(self, name: str) -> MetricsLog:
        self.get(name)
        return MetricsLog.load(self.dir / f"{name}.metrics.jsonl")


def _notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _stages_in(key) -> set[str]:
    """The stage names of every `Stages.identity` inside a cached result's key."""
    if isinstance(key, dict):
        found = {key["stage"]} if isinstance(key.get("stage"), str) and "stage_config" in key else set()
        for v in key.values():
            found |= _stages_in(v)
        return found
    if isinstance(key, (list, tuple)):
        return set().union(*(_stages_in(v) for v in key)) if key else set()
    return set()


def _with_dependents(names: set[str]) -> set[str]:
    """`names` and every stage that needs one of them, directly or through others."""
    out = set(names)
    changed = True
    while changed:
        changed = False
        for stage in STAGES.values():
            if stage.name not in out and out & set(stage.requires):
                out.add(stage.name)
                changed = True
    return out


def _gpt_factory(stages: Stages) -> nn.Module:
    return GPT(stages.model_config)


# --- builders: each trains one stage from the stages it needs ------------------------------------
def _build_base(stages: Stages):
    model = GPT(stages.model_config).to(stages.device)
    log = pretrain.train_pretrain(model, stages.tokenizer, stages.world, stages.config_of("base"))
    return model, log


def _build_sft(stages: Stages):
    model = stages.fresh_copy("base")
    log = sft.train_sft(model, stages.tokenizer, stages.world, stages.config_of("sft"))
    return model, log


def _build_reward(stages: Stages):
    rm = reward.RewardModel.from_policy(stages.get("sft"))
    log = reward.train_reward(rm, stages.tokenizer, stages.world, stages.config_of("reward"))
    return rm, log


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


def _build_ppo(stages: Stages):
    # PPO from the SFT model against the reward model, with the cached SFT model as the frozen reference
    policy = stages.fresh_copy("sft")
    log = ppo.train_ppo(policy, stages.get("sft"), stages.get("reward"), stages.tokenizer, stages.world,
                        stages.config_of("ppo"))
    return policy, log


def _build_grpo(stages: Stages):
    # GRPO from the SFT model on the training sums, with the cached SFT model as the frozen reference
    policy = stages.fresh_copy("sft")
    log = grpo.train_grpo(policy, stages.get("sft"), stages.tokenizer, stages.world, stages.config_of("grpo"))
    return policy, log


def _build_judge(stages: Stages):
    # the feedback model: the SFT model fine-tuned on comparisons and critiques
    model = stages.fresh_copy("sft")
    log = rlaif.train_judge(model, stages.tokenizer, stages.world, stages.config_of("judge"))
    return model, log


def _build_sl_cai(stages: Stages):
    # the SFT model fine-tuned on the feedback model's revisions of its responses
    model = stages.fresh_copy("sft")
    log = cai.train_sl_cai(model, stages.tokenizer, stages.world, stages.config_of("sl_cai"),
                           critic=stages.get("judge"))
    return model, log


def _build_rlaif_dpo(stages: Stages):
    # DPO from SFT on pairs labelled by the feedback model; as in 'dpo', the reference is a separate copy
    policy, ref = stages.fresh_copy("sft"), stages.fresh_copy("sft")
    log = rlaif.train_rlaif_dpo(policy, ref, stages.get("judge"), stages.tokenizer, stages.world,
                                stages.config_of("rlaif_dpo"))
    return policy, log


# --- the registry -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline."""

    name: str
    build: Callable[[Stages], tuple[nn.Module, MetricsLog]]
    """trains the stage from the stages it needs: fn(stages) -> (model, metrics log)"""
    config: Callable[[], object]
    """its default config (a preset may give another, `presets.Preset.stage_configs`)"""
    requires: tuple[str, ...] = ()
    """the stages it is trained from (their cache keys are part of its own)"""
    policy: bool = True
    """a chat model, with a row in the evaluation table (the reward model is not)"""
    factory: Callable[[Stages], nn.Module] = _gpt_factory
    """an empty model of the stage, to load its weights into"""
    diagnostics: Callable[[Stages], dict[str, float]] | None = None
    """its own numbers beyond the table, `fn(stages) -> {name: number}` (`diagnostics.py`)"""
    demo: Callable[[Stages, str, Path], None] | None = None
    """its lecture demo, `fn(stages, name, out_dir)` (`python -m minialign demo NAME`)"""
    aliases: tuple[str, ...] = ()
    """other names the demo command accepts"""


def _reward_factory(stages: Stages) -> nn.Module:
    return reward.RewardModel(GPT(stages.model_config))


_ENTRIES = [
    Stage("base", _build_base, pretrain.PretrainConfig),
    Stage("sft", _build_sft, sft.SFTConfig, ("base",), demo=demo.demo_sft, aliases=("base",)),
    Stage("reward", _build_reward, reward.RewardConfig, ("sft",), policy=False, factory=_reward_factory,
          diagnostics=diagnostics.reward_diagnostics, demo=demo.demo_reward, aliases=("rm",)),
    Stage("ppo", _build_ppo, ppo.PPOConfig, ("sft", "reward"), diagnostics=diagnostics.ppo_diagnostics,
          demo=demo.demo_policy),
    Stage("dpo", _build_dpo, dpo.DPOConfig, ("sft",), demo=demo.demo_policy),
    Stage("orpo", _build_orpo, orpo.ORPOConfig, ("sft",), demo=demo.demo_policy),
    Stage("grpo", _build_grpo, grpo.GRPOConfig, ("sft",), diagnostics=diagnostics.grpo_diagnostics,
          demo=demo.demo_policy),
    Stage("judge", _build_judge, rlaif.JudgeConfig, ("sft",), policy=False, diagnostics=diagnostics.judge_diagnostics),
    Stage("sl_cai", _build_sl_cai, cai.SLCAIConfig, ("sft", "judge"), diagnostics=diagnostics.sl_cai_diagnostics,
          demo=demo.demo_policy, aliases=("cai",)),
    Stage("rlaif_dpo", _build_rlaif_dpo, rlaif.RLAIFConfig, ("sft", "judge"), demo=demo.demo_policy,
          aliases=("rlaif",)),
]
STAGES: dict[str, Stage] = {s.name: s for s in _ENTRIES}
"""every stage, by name"""


def _training_order(stages: dict[str, Stage]) -> tuple[str, ...]:
    """The stages in the registry's order, each moved after what it requires."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"stages require each other in a cycle: {' -> '.join(path + (name,))}")
        for need in stages[name].requires:
            if need not in stages:
                raise ValueError(f"stage {name!r} requires {need!r}, which is not a stage")
            visit(need, path + (name,))
        order.append(name)

    for name in stages:
        visit(name, ())
    return tuple(order)


ORDER: tuple[str, ...] = _training_order(STAGES)
"""every stage, in an order that trains each one after what it needs"""
POLICIES: tuple[str, ...] = tuple(n for n in ORDER if STAGES[n].policy)
"""the stages that are chat models and get a row in the table"""
