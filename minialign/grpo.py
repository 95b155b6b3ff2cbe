"""GRPO: PPO without a value head, the baseline coming from a group of samples.

Group Relative Policy Optimisation (Shao et al. 2024, DeepSeekMath) samples G completions of
the same prompt, scores each with a verifiable reward, and uses the group as its own baseline:

    A_i = (r_i - mean(r_group)) / std(r_group)          one advantage per completion

Every token of completion i gets A_i, and the policy is updated with PPO's clipped surrogate
plus a k3 KL penalty to the reference model added to the loss (not to the reward). Variants:
- Dr. GRPO (Liu et al. 2025): no division by the std (it up-weights easy and impossible
  prompts) and a constant normaliser instead of each completion's length (which favours
  long wrong answers);
- DAPO (Yu et al. 2025): an asymmetric clip range, clip_eps_high > clip_eps, so unlikely
  tokens with positive advantage can grow ("clip-higher").

Conventions: completions of one prompt are consecutive rows (N = num_prompts * group_size);
per-token tensors are (N, T) and line up with `logprobs.token_logprobs`; `mask` is 1 on
completion tokens. Log-probs are per token, never summed.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch

from minialign import oracle, rollout
from minialign.checks import check_shape
from minialign.data import ChatBatch, batches_of, collate_chat, draw_examples
from minialign.logprobs import (
    kl_estimate,
    masked_mean,
    masked_sum,
    response_mask,
    rollout_response_mask,
    token_kl,
    token_logprobs,
)
from minialign.model import GPT, require_no_dropout
from minialign.tokenizer import Tokenizer
from minialign.train import MetricsLog, ProgressBar, make_optimizer, optimizer_step
from minialign.world import MiniWorld, Prompt

# ---------------------------------------------------------------------------------------------
# Group-relative advantages


def _group_std(grouped: torch.Tensor) -> torch.Tensor:
    # unbiased std of each group; one sample has no spread (torch.std would warn and give NaN)
    if grouped.shape[1] < 2:
        return grouped.new_zeros(grouped.shape[0], 1)
    return grouped.std(dim=1, keepdim=True)  # (num_groups, 1)


def _batch_std(grouped: torch.Tensor) -> torch.Tensor:
    # one unbiased std over every reward of the batch
    if grouped.numel() < 2:
        return grouped.new_zeros(())
    return grouped.std()  # ()


ADVANTAGE_SCALES: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "group": _group_std,  # GRPO (Shao et al. 2024, sec. 4.1.2, outcome supervision)
    "batch": _batch_std,  # one scale for all prompts: easy and hard prompts keep their relative weight
    "none": None,  # Dr. GRPO (Liu et al. 2025): centre only
}


@torch.no_grad()
def group_advantages(
    rewards: torch.Tensor, group_size: int, scale: str = "group", eps: float = 1e-4
) -> torch.Tensor:
    """One advantage per completion, relative to the other completions of its prompt:

        A_i = (r_i - mean_group(r)) / (std + eps)     scale="group": std of the group (unbiased)
                                                      scale="batch": std of the whole batch
        A_i =  r_i - mean_group(r)                    scale="none" (Dr. GRPO)

    Args:
        rewards: (N,) one reward per completion, as consecutive groups of `group_size`
            completions of the same prompt.
        group_size: G, completions per prompt; N must be divisible by it.
        scale: "group", "batch" or "none".
        eps: keeps the division finite when the std is tiny.
    Returns:
        (N,) advantages, without gradient (they are targets). A group whose rewards are all
        equal (every answer right, or every answer wrong) teaches nothing: its advantages are
        exactly 0, never NaN, also for group_size = 1.
    """
    if rewards.dim() != 1:
        raise ValueError(f"rewards must have shape (N,), got {tuple(rewards.shape)}")
    if group_size < 1 or rewards.shape[0] % group_size != 0:
        raise ValueError(
            f"rewards has N={rewards.shape[0]} entries, which is not a whole number of groups "
            f"of group_size={group_size}"
        )
    if scale not in ADVANTAGE_SCALES:
        raise ValueError(f"scale must be one of {sorted(ADVANTAGE_SCALES)}, got {scale!r}")
    rewards = rewards.to(torch.promote_types(rewards.dtype, torch.float32))
    grouped = rewards.reshape(-1, group_size)  # (num_groups, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)  # (num_groups, G)
    std_fn = ADVANTAGE_SCALES[scale]
    advantages = centred if std_fn is None else centred / (std_fn(grouped) + eps)  # (num_groups, G)
    # An all-equal group carries no signal, so its 0 is forced: the mean of equal floats need
    # not round back to them exactly (tiny residue / tiny std = anything), and 0 / 0 is NaN.
    all_equal = (grouped == grouped[:, :1]).all(dim=1, keepdim=True)  # (num_groups, 1)
    advantages = torch.where(all_equal, torch.zeros_like(advantages), advantages)
    return advantages.reshape(-1)  # (N,)


# ---------------------------------------------------------------------------------------------
# Loss aggregations: how per-token losses (N, T) become one number


def _aggregate_grpo(
    per_token_loss: torch.Tensor, mask: torch.Tensor, max_completion_length: int | None
) -> torch.Tensor:
    # GRPO (Shao et al. 2024, eq. 3): 1/G sum_i 1/|o_i| sum_t. Each completion weighs the same,
    # so a token of a long completion counts less than a token of a short one.
    return masked_mean(per_token_loss, mask, dim=1).mean()


def _aggregate_bnpo(
    per_token_loss: torch.Tensor, mask: torch.Tensor, max_completion_length: int | None
) -> torch.Tensor:
    # every token of the batch weighs the same (DAPO's token-level loss)
    return masked_mean(per_token_loss, mask)


def _aggregate_dr_grpo(
    per_token_loss: torch.Tensor, mask: torch.Tensor, max_completion_length: int | None
) -> torch.Tensor:
    # Dr. GRPO (Liu et al. 2025): a constant N * L_max normaliser, so a completion's length
    # does not change the weight of its tokens
    if max_completion_length is None:
        raise ValueError("loss_type='dr_grpo' needs max_completion_length (the constant normaliser)")
    return masked_sum(per_token_loss, mask) / (per_token_loss.shape[0] * max_completion_length)


LOSS_AGGREGATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor, int | None], torch.Tensor]] = {
    "grpo": _aggregate_grpo,
    "bnpo": _aggregate_bnpo,
    "dr_grpo": _aggregate_dr_grpo,
}


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    beta: float = 0.0,
    loss_type: str = "grpo",
    max_completion_length: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GRPO's clipped surrogate with a k3 KL penalty (Shao et al. 2024, eq. 3-4), per token:

        ratio = exp(logp - old_logp)
        surrogate = min(ratio * A, clip(ratio, 1 - clip_eps, 1 + clip_eps_high) * A)
        per_token_loss = -surrogate + beta * k3,  k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1

    (k3's value estimates KL(pi || ref); differentiated on tokens sampled from pi, its expected
    gradient is that of KL(ref || pi), see `logprobs.kl_estimate`.)

    then aggregated by `loss_type`:
        "grpo":    mean over completions of each completion's mean over its tokens
        "bnpo":    sum over all tokens / number of tokens
        "dr_grpo": sum over all tokens / (N * max_completion_length)

    Args:
        logp: (N, T) per-token log-probs under the current policy (with gradient).
        old_logp: (N, T) per-token log-probs under the policy that sampled the completions.
        ref_logp: (N, T) per-token log-probs under the frozen reference model; may be None
            when beta = 0 (no reference model needed).
        advantages: (N,) one advantage per completion (see `group_advantages`).
        mask: (N, T) 1 on completion tokens.
        clip_eps: lower clip range, and the upper one too unless clip_eps_high is given.
        clip_eps_high: upper clip range (DAPO's clip-higher), e.g. 0.28.
        beta: weight of the KL penalty (0.04 in DeepSeekMath; 0 in Dr. GRPO and DAPO).
        loss_type: "grpo", "bnpo" or "dr_grpo".
        max_completion_length: the constant L_max of "dr_grpo" (required there).
    Returns:
        loss: scalar.
        stats: python floats, token means over the batch: "clipfrac" (tokens whose clipped term
            was chosen, zeroing their gradient), "clipfrac_low" (ratio < 1 - clip_eps with A < 0),
            "clipfrac_high" (ratio > 1 + clip_eps_high with A > 0), "ratio_mean", and "kl"
            (mean k3, when ref_logp is given).

    old_logp, ref_logp and advantages are detached here: they are constants of the rollout
    and of the frozen reference.
    """
    if logp.dim() != 2:
        raise ValueError(f"logp must have shape (N, T), got {tuple(logp.shape)}")
    N, T = logp.shape
    check_shape("old_logp", old_logp, (N, T), "logp.shape (N, T)")
    check_shape("mask", mask, (N, T), "logp.shape (N, T)")
    check_shape("advantages", advantages, (N,), "(N,) one per completion")
    if ref_logp is not None:
        check_shape("ref_logp", ref_logp, (N, T), "logp.shape (N, T)")
    elif beta != 0:
        raise ValueError(f"beta={beta} needs ref_logp (N, T); pass ref_logp or set beta=0")
    if loss_type not in LOSS_AGGREGATIONS:
        raise ValueError(f"loss_type must be one of {sorted(LOSS_AGGREGATIONS)}, got {loss_type!r}")
    clip_high = clip_eps if clip_eps_high is None else clip_eps_high

    A = advantages.detach().unsqueeze(1)  # (N, 1), broadcast over tokens
    ratio = torch.exp(logp - old_logp.detach())  # (N, T)
    unclipped = ratio * A  # (N, T)
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_high) * A  # (N, T)
    per_token_loss = -torch.minimum(unclipped, clipped)  # (N, T)
    kl = None
    if ref_logp is not None:
        kl = kl_estimate(logp, ref_logp.detach(), "k3")  # (N, T), gradient flows through logp only
        per_token_loss = per_token_loss + beta * kl
    loss = LOSS_AGGREGATIONS[loss_type](per_token_loss, mask, max_completion_length)

    with torch.no_grad():
        dtype = logp.dtype
        low = (ratio < 1.0 - clip_eps) & (A < 0)  # (N, T) clipped from below
        high = (ratio > 1.0 + clip_high) & (A > 0)  # (N, T) clipped from above
        stats = {
            "clipfrac": masked_mean((low | high).to(dtype), mask).item(),
            "clipfrac_low": masked_mean(low.to(dtype), mask).item(),
            "clipfrac_high": masked_mean(high.to(dtype), mask).item(),
            "ratio_mean": masked_mean(ratio, mask).item(),
        }
        if kl is not None:
            stats["kl"] = masked_mean(kl, mask).item()
    return loss, stats


# --- training loop ---
# One iteration (Shao et al. 2024, Algorithm 1, with the reward model replaced by a check of
# the answer, as in RL with verifiable rewards):
#   1. sample G completions of each of a few arithmetic prompts (consecutive rows per prompt)
#   2. reward each one: 1 for the exact answer (+ an optional format bonus)
#   3. group-relative advantages; groups where every completion scored the same give 0
#   4. updates_per_rollout gradient steps on grpo_loss against the rollout's log-probs


@dataclass
class GRPOConfig:
    """GRPO hyperparameters: DeepSeekMath's values in the docstrings where the tiny model
    uses others (its answers are ~6 tokens long and its batches a hundred completions)."""

    iterations: int = 100
    """rollout -> update cycles (DeepSeekMath trains far longer; ours 100 on a CPU budget; lesson 7)"""
    prompts_per_iteration: int = 32
    """arithmetic prompts per rollout"""
    group_size: int = 8
    """G, completions per prompt (DeepSeekMath: 64)"""
    updates_per_rollout: int = 2
    """gradient steps per rollout (DeepSeekMath: 1; ours 2, the clip keeping later steps near the sampler; lesson 7)"""
    lr: float = 3e-4
    """Adam learning rate (DeepSeekMath: 1e-6 for 7B parameters; 1e-3 wrecks the tiny model)"""
    max_grad_norm: float = 1.0
    """global gradient-norm clip"""
    clip_eps: float = 0.2
    """ratio clip range (lower, and upper unless clip_eps_high is set)"""
    clip_eps_high: float | None = None
    """upper clip range, DAPO's clip-higher (e.g. 0.28); None = clip_eps"""
    beta: float = 0.04
    """weight of the k3 KL penalty to the reference (DeepSeekMath: 0.04; Dr. GRPO, DAPO: 0)"""
    loss_type: Literal["grpo", "bnpo", "dr_grpo"] = "grpo"
    """'grpo', 'bnpo' or 'dr_grpo' (see LOSS_AGGREGATIONS)"""
    scale: Literal["group", "batch", "none"] = "group"
    """advantage scale: 'group', 'batch' or 'none' (Dr. GRPO)"""
    temperature: float = 1.0
    """sampling temperature; the update divides the logits by it too"""
    max_new_tokens: int = 12
    """completion budget, and dr_grpo's constant normaliser; '9 plus 8 is 17.' is 7 tokens"""
    anchor_coef: float = 0.3
    """weight of the off-task KL anchor (`anchor_kl`, exact KL on SFT conversations of the other kinds); 0 = none"""
    anchor_batch_size: int = 32
    """SFT conversations in each update's anchor term"""
    anchor_pool: int = 4000
    """distinct SFT conversations the anchor batches cycle through"""
    format_reward: float = 0.0
    """bonus for a response of exactly the form 'a plus b is N.' (right or wrong); 0 = correctness only"""
    seed: int = 0
    """prompt order and sampling"""


ANSWER_FORMAT = re.compile(r"\d+ (plus|minus) \d+ is \d+\.")
"""the form of the SFT demonstrations' answers: the sum restated, then its value"""


def arithmetic_reward(prompt: Prompt, response: str, format_reward: float = 0.0) -> float:
    """The verifiable reward: 1.0 when the oracle counts the answer correct, else 0.0: the
    response must commit to exactly one final number (after its last "is" there is one number
    and no "or", see `oracle.commits_to_one_number`) and that number must be the sum, so a list,
    a range or "12 or 13" earns 0 even when the sum is among the candidates; plus `format_reward`
    when the whole response is exactly of the form "a plus b is N." or "a minus b is N." (whether
    N is right or not)."""
    if prompt.kind != "arithmetic":
        raise ValueError(f"prompt must be an arithmetic prompt, got kind {prompt.kind!r}")
    correct = oracle.score(prompt, response).correct
    well_formed = ANSWER_FORMAT.fullmatch(response.strip()) is not None
    return float(correct) + format_reward * float(well_formed)


@dataclass
class GroupRollout:
    """G completions of each prompt, consecutive rows per prompt (N = prompts * G)."""

    batch: ChatBatch
    """prompt + completion, right-padded (N, T)"""
    responses: list[str]
    mask: torch.Tensor
    """(N, T-1) 1 on completion tokens"""
    old_logp: torch.Tensor
    """(N, T-1) log-probs of the sampling policy, at the sampling temperature: constants of the
    rollout, recorded when the group is sampled, which every update's ratio compares with"""
    ref_logp: torch.Tensor
    """(N, T-1) log-probs of the frozen reference, at the same temperature"""
    rewards: torch.Tensor
    """(N,) arithmetic_reward of each completion"""
    correct: torch.Tensor
    """(N,) bool: the exact answer"""


@torch.no_grad()
def collect_groups(
    policy: GPT,
    ref: GPT,
    tok: Tokenizer,
    prompts: Sequence[Prompt],
    cfg: GRPOConfig,
    generator: torch.Generator | None = None,
) -> GroupRollout:
    """Steps 1-2: sample cfg.group_size completions of every prompt, record the log-probs of the
    sampler and of the reference on them, and reward them."""
    device = next(policy.parameters()).device
    repeated = [p for p in prompts for _ in range(cfg.group_size)]  # consecutive groups
    out = rollout.generate(policy, tok, [p.text for p in repeated], cfg.max_new_tokens, cfg.temperature,
                           generator=generator)
    batch = out.batch.to(device)
    ids = batch.input_ids  # (N, T)
    mask = rollout_response_mask(batch, tok.end_id)  # (N, T-1)
    # the policy that sampled, scored at the temperature it sampled at (no gradient: a constant)
    old_logp = token_logprobs(policy(ids) / cfg.temperature, ids)  # (N, T-1)
    ref_logp = token_logprobs(ref(ids) / cfg.temperature, ids)  # (N, T-1)
    rewards = torch.tensor([arithmetic_reward(p, r, cfg.format_reward) for p, r in zip(repeated, out.responses)])
    correct = torch.tensor([oracle.score(p, r).correct for p, r in zip(repeated, out.responses)])
    return GroupRollout(batch, out.responses, mask, old_logp, ref_logp, rewards.to(device), correct)


def grpo_batch_loss(
    policy: GPT, groups: GroupRollout, advantages: torch.Tensor, cfg: GRPOConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """grpo_loss of the current policy on a rollout; advantages (N,) from `group_advantages`.
    The ratio compares with `groups.old_logp`, the sampler's log-probs: 1 before the first step."""
    ids = groups.batch.input_ids  # (N, T)
    logp = token_logprobs(policy(ids) / cfg.temperature, ids)  # (N, T-1), with gradient
    return grpo_loss(logp, groups.old_logp, groups.ref_logp, advantages, groups.mask, cfg.clip_eps,
                     cfg.clip_eps_high, cfg.beta, cfg.loss_type, cfg.max_new_tokens)


def anchor_examples(world: MiniWorld, tok: Tokenizer, n: int, seed: int,
                    block_size: int) -> list[tuple[list[int], int]]:
    """n SFT conversations (ids, prompt_len) on training prompts of every kind but arithmetic,
    with the world's SFT responses: the text on which `anchor_kl` holds the policy to the reference."""
    def draw(rng: random.Random) -> tuple[str, str] | None:
        prompt = world.sample_prompt(rng, "train")
        if prompt.kind == "arithmetic":
            return None
        return prompt.text, world.sft_response(prompt, rng)[1]

    return draw_examples(draw, tok, n, seed, block_size, "anchor conversations")


def anchor_kl(policy: GPT, ref: GPT, batch: ChatBatch) -> torch.Tensor:
    """Mean exact KL(policy || ref) per response token of SFT conversations, teacher-forced.

    GRPO's k3 penalty measures the KL on the policy's own completions of the sums it trains
    on, and nothing holds the other prompt kinds. This anchor does, on text the policy does
    not generate (as InstructGPT's PPO-ptx mixes pretraining gradients into PPO against the
    regressions RL causes elsewhere): it keeps the next-token distributions where the
    reference has them, rather than fitting the SFT responses again as an NLL term would."""
    logits = policy(batch.input_ids)  # (B, T, V), with gradient
    with torch.no_grad():
        ref_logits = ref(batch.input_ids)  # (B, T, V) frozen
    kl = token_kl(logits[:, :-1], ref_logits[:, :-1])  # (B, T-1): position t predicts token t + 1
    mask = response_mask(batch.prompt_lens, batch.seq_lens, batch.input_ids.shape[1])  # (B, T-1)
    return masked_mean(kl, mask)


def zero_spread_fraction(rewards: torch.Tensor, group_size: int) -> float:
    """Fraction of groups whose completions all got the same reward: they teach nothing."""
    grouped = rewards.reshape(-1, group_size)  # (num_groups, G)
    return (grouped == grouped[:, :1]).all(dim=1).float().mean().item()


def train_grpo(policy: GPT, ref: GPT, tok: Tokenizer, world: MiniWorld, cfg: GRPOConfig | None = None) -> MetricsLog:
    """GRPO on the world's training arithmetic prompts: train `policy` in place.

    Args:
        policy: the GPT to train (a copy of the SFT model).
        ref: the frozen reference of the KL penalty (the SFT model); only read under no_grad.
    Returns:
        one metrics row per iteration: reward, accuracy (of the sampled completions),
        zero_spread (fraction of groups with no reward spread), kl (mean k3 per token),
        response_len, the first update's clipfrac, ratio_mean, loss, grad_norm and
        anchor_kl (the off-task KL, when cfg.anchor_coef > 0), and the last update's
        last_clipfrac and last_ratio_mean (on the first, the ratio is 1 by construction).
    """
    cfg = cfg or GRPOConfig()
    if cfg.temperature <= 0:
        raise ValueError(f"temperature must be > 0 (GRPO samples a group), got {cfg.temperature}")
    if cfg.updates_per_rollout < 1:
        raise ValueError(f"updates_per_rollout must be >= 1, got {cfg.updates_per_rollout}")
    require_no_dropout(policy, "GRPO")
    if policy is ref:
        raise ValueError("policy and ref are the same model; pass a frozen copy as ref "
                         "(policy = stages.fresh_copy('sft'), ref = stages.get('sft'))")
    pool = world.prompts("train", "arithmetic")
    if cfg.prompts_per_iteration > len(pool):
        raise ValueError(f"prompts_per_iteration={cfg.prompts_per_iteration} exceeds the {len(pool)} training sums")
    device = next(policy.parameters()).device
    optimizer = make_optimizer(policy, cfg.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    anchor_batches = None
    if cfg.anchor_coef > 0:
        conversations = anchor_examples(world, tok, cfg.anchor_pool, cfg.seed, policy.config.block_size)
        anchor_batches = (collate_chat(chunk, tok.pad_id).to(device)
                          for chunk in batches_of(conversations, cfg.anchor_batch_size, cfg.seed))
    log = MetricsLog()
    bar = ProgressBar(cfg.iterations, "grpo")
    for it in range(cfg.iterations):
        t0 = time.time()
        groups = collect_groups(policy, ref, tok, rng.sample(pool, cfg.prompts_per_iteration), cfg, generator)
        advantages = group_advantages(groups.rewards, cfg.group_size, cfg.scale)  # (N,)
        policy.train()
        for update in range(cfg.updates_per_rollout):
            loss, stats = grpo_batch_loss(policy, groups, advantages, cfg)
            if anchor_batches is not None:
                anchor = anchor_kl(policy, ref, next(anchor_batches))
                loss = loss + cfg.anchor_coef * anchor
                stats["anchor_kl"] = anchor.item()
            grad_norm = optimizer_step(optimizer, policy, loss, cfg.max_grad_norm)
            if update == 0:
                first = {"loss": loss.item(), "grad_norm": grad_norm, **stats}
            # the first update's ratio is 1 by construction; the last one shows what the clip did
            last = {"last_clipfrac": stats["clipfrac"], "last_ratio_mean": stats["ratio_mean"]}
        policy.eval()
        accuracy = groups.correct.float().mean().item()
        log.log(it, reward=groups.rewards.mean().item(), accuracy=accuracy,
                zero_spread=zero_spread_fraction(groups.rewards, cfg.group_size),
                response_len=groups.mask.sum(dim=1).mean().item(), seconds=time.time() - t0, **first, **last)
        bar.update(accuracy=accuracy, kl=first["kl"])
    bar.close()
    return log


@torch.no_grad()
def arithmetic_accuracy(
    policy: GPT,
    tok: Tokenizer,
    prompts: Sequence[Prompt],
    temperature: float = 0.0,
    samples_per_prompt: int = 1,
    max_new_tokens: int = 12,
    seed: int = 0,
) -> float:
    """Exact-match accuracy on arithmetic prompts (e.g. world.prompts("eval", "arithmetic")):
    the fraction of responses the oracle counts correct (one committed final number, the sum).

    temperature=0 is greedy decoding (the model's single best answer); temperature=1 samples
    from the policy itself, which is what GRPO optimises, so it is the fair before/after
    measure. Several samples per prompt reduce the noise of the sampled accuracy."""
    return arithmetic_report(policy, tok, prompts, temperature, samples_per_prompt, max_new_tokens, seed)["accuracy"]


def arithmetic_report(
    policy: GPT,
    tok: Tokenizer,
    prompts: Sequence[Prompt],
    temperature: float = 0.0,
    samples_per_prompt: int = 1,
    max_new_tokens: int = 12,
    seed: int = 0,
) -> dict[str, float]:
    """`arithmetic_accuracy`'s samples, read twice: "accuracy" (the fraction correct) and
    "several candidates" (the fraction whose final answer offers more than one number,
    `oracle.answer_candidates`: the hedging a lax verifier would reward)."""
    device = next(policy.parameters()).device
    repeated = [p for p in prompts for _ in range(samples_per_prompt)]
    generator = torch.Generator(device=device).manual_seed(seed)
    out = rollout.generate(policy, tok, [p.text for p in repeated], max_new_tokens, temperature, generator=generator)
    correct = sum(oracle.score(p, r).correct for p, r in zip(repeated, out.responses))
    several = sum(len(oracle.answer_candidates(r)) > 1 for r in out.responses)
    return {"accuracy": correct / len(repeated), "several candidates": several / len(repeated)}
