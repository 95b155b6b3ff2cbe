"""The reward PPO maximises in RLHF: the reward model's score minus a per-token KL penalty.

Ziegler et al. 2019 (sec. 2.2) and Ouyang et al. 2022 (InstructGPT, eq. 2) treat every response
token as one action of an episode whose reward is

    r_t = -kl_coef * KL_t(pi || ref)          at every response token
          + score                             added at the last response token only

The KL term keeps the policy near the reference (SFT) model, so the reward model is not
exploited far outside the data it was trained on. This module holds that reward, the shaping
of the score it carries (normalisation, a penalty for unfinished responses), and the two
controllers of kl_coef: fixed, or adapted towards a target KL. `ppo.py` optimises it.

Conventions: per-token tensors are (B, T) and line up with `logprobs.token_logprobs` (entry t
is about token t + 1); `mask` is 1 on response tokens, 0 on prompt and padding.
"""

from __future__ import annotations

import torch

from minialign.checks import check_shape

# ---------------------------------------------------------------------------------------------
# The per-token reward


@torch.no_grad()
def per_token_rewards(
    score: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, kl_coef: float
) -> torch.Tensor:
    """The RLHF reward of each token (Ziegler et al. 2019 sec. 2.2, Ouyang et al. 2022 eq. 2):

        rewards[b, t] = -kl_coef * kl[b, t] * mask[b, t]  +  score[b] * [t == last real t of row b]

    Args:
        score: (B,) reward-model score of each whole response.
        kl: (B, T) per-token KL estimate (see `logprobs.kl_estimate`).
        mask: (B, T) 1 on response tokens.
        kl_coef: weight of the KL penalty (beta in the papers).
    Returns:
        (B, T) rewards, 0 on prompt and padding. Computed without gradient: rewards are targets.

    The score goes on the last *real* token: on position T-1 it would land on padding for
    every row shorter than the batch, and GAE would never credit it to the response.
    """
    B, T = mask.shape
    check_shape("score", score, (B,), "(B,)")
    check_shape("kl", kl, (B, T), "mask.shape (B, T)")
    real = mask > 0
    if not real.any(dim=1).all():
        empty = (~real.any(dim=1)).nonzero().flatten().tolist()
        raise ValueError(f"mask has rows with no response token (rows {empty}); the score has nowhere to go")
    positions = torch.arange(T, device=mask.device).expand(B, T)  # (B, T)
    last = torch.where(real, positions, -1).max(dim=1).values  # (B,) index of the last real token
    rewards = -kl_coef * kl * mask.to(kl.dtype)  # (B, T)
    rewards[torch.arange(B, device=mask.device), last] += score.to(rewards.dtype)
    return rewards


def shape_scores(scores: torch.Tensor, finished: torch.Tensor, mean: float, std: float,
                 missing_eos_penalty: float) -> torch.Tensor:
    """The score each response's last token receives: normalised, then penalised when unfinished,

        (scores - mean) / std - missing_eos_penalty * [response did not reach <|end|>]

    Args:
        scores: (B,) raw scores (reward model, plus any length bonus).
        finished: (B,) bool, True where the response ended with <|end|>.
        mean, std: the normalisation (0 and 1 for none).
        missing_eos_penalty: in units of the normalised score; 0 = off.
    """
    check_shape("finished", finished, scores.shape, "scores.shape (B,)")
    if finished.dtype != torch.bool:
        raise ValueError(f"finished must be a bool tensor, got {finished.dtype}")
    return (scores - mean) / std - missing_eos_penalty * (~finished).to(scores.dtype)


# ---------------------------------------------------------------------------------------------
# KL coefficient controllers (Ziegler et al. 2019, sec. 2.2)


class FixedKLController:
    """A constant KL coefficient, with the same interface as `AdaptiveKLController`."""

    def __init__(self, kl_coef: float):
        if kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {kl_coef}")
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """Steer the KL coefficient so that the observed KL(pi || ref) tracks `target`:

        e     = clip(current_kl / target - 1, -0.2, 0.2)
        value = value * (1 + e * n_steps / horizon)

    Too much KL raises the penalty, too little lowers it. The clip keeps one noisy KL
    measurement from moving the coefficient by more than 20% of n_steps / horizon.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: float):
        if init_kl_coef < 0:
            raise ValueError(f"init_kl_coef must be >= 0, got {init_kl_coef}")
        if target <= 0:
            raise ValueError(f"target must be > 0, got {target}")
        if horizon <= 0:
            raise ValueError(f"horizon must be > 0, got {horizon}")
        self.value = float(init_kl_coef)
        self.target = float(target)
        self.horizon = float(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Adjust `value` after n_steps samples (or batches) whose mean KL was current_kl."""
        proportional_error = min(max(float(current_kl) / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon
