"""Reward hacking: what PPO does to a flawed reward when nothing holds it near the SFT model.

A reward model is a learned proxy for what people want, right only near the responses it was
trained on. Optimised hard enough, the policy finds responses the proxy scores high and people
would not: the proxy's score keeps rising while the true quality falls (Gao et al. 2023,
"Scaling laws for reward model overoptimization"). The per-token KL penalty of RLHF is the
leash: the policy may only move as far from the SFT model as the reward gained pays for.

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

from minialign import rollout
from minialign.ppo import PPOConfig, train_ppo
from minialign.train import MetricsLog, set_seed

if TYPE_CHECKING:
    from minialign.stages import Stages

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
            summary[name] = {f"{key}_{when}": row[key] for key in ("total_score", "score", "oracle", "kl", "response_len", "unfinished")
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
