"""Experiments on cached stages: short training runs that answer one question each, cached
with the stages (`Stages.cached_result`) so that a lesson runs them once.

- Reward hacking (lesson 4): what PPO does to a flawed reward when nothing holds it near the
  SFT model.
- Plain DPO (lessons 5 and 8): the "dpo" stage without its NLL term, as one more table row.
- The beta sweep (lesson 5): how far DPO moves from the reference for each beta.

Reward hacking. A reward model is a learned proxy for what people want, right only near the
responses it was trained on. Optimised hard enough, the policy finds responses the proxy scores
high and people would not: the proxy's score keeps rising while the true quality falls (Gao et
al. 2023, "Scaling laws for reward model overoptimization"). The per-token KL penalty of RLHF is
the leash: the policy may only move as far from the SFT model as the reward gained pays for.

The experiment runs the same short PPO twice from the SFT model, with kl_coef = 0 and with
kl_coef > 0, against a deliberately flawed reward: the reward model's score plus a bonus per
response token (reward models are known to favour length, Singhal et al. 2023, "A long way to
go"). At every iteration it logs what PPO maximises (the flawed score) and what we want (the
oracle, which penalises rambling). Without the penalty the policy learns to ramble.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

import torch

from . import rollout
from .dpo import DPOConfig, train_dpo
from .evaluate import EvalRow, compare, evaluate_with_stages
from .ppo import PPOConfig, train_ppo
from .preferences import make_pairs
from .train import MetricsLog, set_seed

if TYPE_CHECKING:
    from .stages import Stages

# --- reward hacking (lesson 4) -----------------------------------------------------------------

HACKING_PPO = PPOConfig(iterations=20, batch_size=48, minibatch_size=24, ppo_epochs=4, lr=1e-4,
                        max_new_tokens=40, length_bonus=0.1)
"""the short runs of the experiment: a strong length bonus and a large step, so the hack is
found within seconds; the runs differ only in kl_coef"""


def run_name(kl_coef: float) -> str:
    return f"kl_coef={kl_coef:g}"


def reward_hacking_experiment(
    stages: "Stages",
    kl_coefs: Sequence[float] = (0.0, 0.2),
    cfg: PPOConfig | None = None,
    n_examples: int = 4,
) -> dict:
    """Run PPO from the SFT model once per kl_coef (fixed controller) against the reward
    model plus `cfg.length_bonus` per token, and compare.

    Returns a dict:
        "logs": {run name: MetricsLog} with per-iteration "total_score" (what PPO is told to
            raise: the reward model plus the length bonus), "score" (the reward model alone),
            "oracle", "kl", "response_len", "unfinished" (responses cut off before <|end|>,
            which PPO's missing_eos_penalty charges) ... (plot with `plots.plot_reward_hacking`);
        "summary": {run name: {first and last value of total_score, score, oracle, kl,
            response_len, unfinished}};
        "examples": {run name: [(prompt, greedy response)]} on a few held-out prompts.
    Cached with the stages (`Stages.cached_result`): later calls return at once.
    """
    cfg = cfg or HACKING_PPO

    def compute() -> dict:
        ref, reward_model = stages.get("sft"), stages.get("reward")
        prompts = [p.text for p in stages.world.prompts("eval", "factual")[:n_examples]]
        logs: dict[str, list[dict]] = {}
        summary: dict[str, dict[str, float]] = {}
        examples: dict[str, list[tuple[str, str]]] = {}
        for kl_coef in kl_coefs:
            name = run_name(kl_coef)
            set_seed(stages.seed)
            policy = stages.fresh_copy("sft")
            run_cfg = dataclasses.replace(cfg, kl_coef=kl_coef, kl_controller="fixed")
            logs[name] = train_ppo(policy, ref, reward_model, stages.tokenizer, stages.world, run_cfg).rows
            first, last = logs[name][0], logs[name][-1]
            keys = ("total_score", "score", "oracle", "kl", "response_len", "unfinished")
            summary[name] = {f"{key}_{when}": row[key] for key in keys
                             for when, row in (("first", first), ("last", last))}
            out = rollout.generate(policy, stages.tokenizer, prompts, cfg.max_new_tokens, temperature=0.0,
                                   generator=torch.Generator().manual_seed(0))
            examples[name] = list(zip(prompts, out.responses))
        return {"logs": logs, "summary": summary, "examples": examples}

    # two PPO runs: computed once, then read back from the cache with the stages
    key = {"sft": stages.identity("sft"), "reward": stages.identity("reward"), "ppo": dataclasses.asdict(cfg),
           "kl_coefs": list(kl_coefs), "n_examples": n_examples, "v": 2}
    result = stages.cached_result("reward-hacking", key, compute)
    logs = {}
    for name, rows in result["logs"].items():
        logs[name] = MetricsLog()
        logs[name].rows = rows
    examples = {name: [tuple(pair) for pair in pairs] for name, pairs in result["examples"].items()}
    return {"logs": logs, "summary": result["summary"], "examples": examples}


# --- DPO on the stages' pairs (lessons 5 and 8) ------------------------------------------------


def plain_dpo_row(stages: "Stages", seed: int = 0) -> EvalRow:
    """The evaluation row of plain DPO: the "dpo" stage's config with nll_weight = 0 (the stage
    itself is DPO + alpha * NLL of the chosen response, i.e. RPO), trained from the SFT model on
    the same pairs and judged like `compare(stages, {...}, baseline=sft)` does, so the row sits
    beside the stage's. Cached with the stages (`Stages.cached_result`)."""
    cfg = dataclasses.replace(stages.config_of("dpo") or DPOConfig(), nll_weight=0.0)

    def compute() -> dict:
        sft = stages.get("sft")
        set_seed(stages.seed)
        policy = stages.fresh_copy("sft")
        train_dpo(policy, stages.fresh_copy("sft"), stages.tokenizer, stages.world, cfg)  # as the stage does
        return dataclasses.asdict(compare(stages, {"dpo plain (alpha=0)": policy}, baseline=sft, seed=seed)[0])

    key = {"sft": stages.identity("sft"), "dpo": dataclasses.asdict(cfg), "seed": seed,
           "n_eval": stages.preset.n_eval_prompts, "v": 1}
    return EvalRow(**stages.cached_result("plain-dpo-row", key, compute))


def dpo_beta_sweep(stages: "Stages", betas: Sequence[float] = (0.03, 0.1, 0.3, 1.0), steps: int | None = None,
                   seed: int = 0, **overrides) -> list[tuple[float, float, float]]:
    """[(beta, KL to the SFT model per token, mean oracle reward)] of one short DPO run per beta.

    Each run starts from the SFT model with the stage's DPO config (its steps replaced by
    `steps` when given, other fields by `overrides`, e.g. nll_weight=0.0 for plain DPO) and
    the same pairs; a smaller beta lets the policy pay more KL for reward (Rafailov et al.
    2023, eq. 3: beta weighs the KL penalty). Plot with `plots.plot_beta_sweep`.

    The result is cached with the stages (`Stages.cached_result`): a second call with the same
    arguments returns it at once."""
    cfg = dataclasses.replace(stages.config_of("dpo") or DPOConfig(), **overrides)
    if steps is not None:
        cfg = dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, steps=steps))

    def compute() -> list[tuple[float, float, float]]:
        sft = stages.get("sft")
        pairs = make_pairs(stages.world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)
        results = []
        for beta in betas:
            set_seed(stages.seed)
            policy = stages.fresh_copy("sft")
            train_dpo(policy, sft, stages.tokenizer, stages.world, dataclasses.replace(cfg, beta=beta), pairs=pairs)
            row = evaluate_with_stages(policy, stages, f"dpo beta={beta:g}", ref_model=sft, seed=seed)
            results.append((beta, row.kl, row.reward))
        return results

    key = {"sft": stages.identity("sft"), "dpo": dataclasses.asdict(cfg), "betas": list(betas), "seed": seed, "v": 1}
    return [tuple(r) for r in stages.cached_result("dpo-beta-sweep", key, compute)]
