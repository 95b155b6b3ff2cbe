"""Log-probabilities of tokens, the masks that say which of them count, and the KL estimates
built from them: the tensor layer every method shares.

Every method in this course needs the same quantity: log pi(y_t | x, y_<t) for the
response tokens, and nothing for the prompt or the padding. The shift is the classic
trap: the logits at position t predict the token at position t + 1.

Conventions (used throughout the package):
- sequences are right-padded: `input_ids (B, T)`, `attention_mask (B, T)` with 1 for real tokens;
- `prompt_lens (B,)` is the number of prompt tokens (chat template included) in each row;
- a *shifted* mask `(B, T-1)` lines up with `token_logprobs`: entry t is about token t + 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F

from .checks import check_shape

if TYPE_CHECKING:
    from .data import ChatBatch


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens[:, t+1] | tokens[:, :t+1]) for t = 0 .. T-2.

    Args:
        logits: (B, T, V) model outputs for `tokens`.
        tokens: (B, T) token ids.
    Returns:
        (B, T-1) log-probabilities. The first token has no prediction, so it has no entry.

    Naive equivalent: `log_softmax(logits, -1)[b, t, tokens[b, t+1]]` in a double loop.
    """
    if logits.dim() != 3 or tokens.dim() != 2 or logits.shape[:2] != tokens.shape:
        raise ValueError(
            f"logits must be (B, T, V) and tokens (B, T) with the same B, T; "
            f"got logits shape {tuple(logits.shape)} and tokens shape {tuple(tokens.shape)}"
        )
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V): position t predicts t+1
    return logp.gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)


def response_mask(prompt_lens: torch.Tensor, seq_lens: torch.Tensor, T: int) -> torch.Tensor:
    """Shifted mask (B, T-1): 1 where token t+1 is a response token (not prompt, not padding).

    Token j is a response token when prompt_len <= j < seq_len; entry t of the mask is about
    token j = t + 1.
    """
    j = torch.arange(1, T, device=prompt_lens.device).unsqueeze(0)  # (1, T-1)
    return ((j >= prompt_lens.unsqueeze(1)) & (j < seq_lens.unsqueeze(1))).float()


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Shifted mask (B, T-1) from an attention mask (B, T): 1 where token t+1 is real."""
    return attention_mask[:, 1:].float()


def after_eos_mask(tokens: torch.Tensor, eos_id: int, start: torch.Tensor | int = 0) -> torch.Tensor:
    """(B, T) mask: 1 up to and including the first `eos_id` at or after `start`, 0 after it.

    Generated rows keep going after EOS (filled with padding); those tokens are not part of
    the response. The EOS token itself is kept: choosing to stop is an action too.
    """
    B, T = tokens.shape
    pos = torch.arange(T, device=tokens.device).unsqueeze(0)  # (1, T)
    start = torch.as_tensor(start, device=tokens.device).reshape(-1, 1)  # (B or 1, 1)
    is_eos = (tokens == eos_id) & (pos >= start)
    # number of EOS tokens strictly before each position: 0 means we have not stopped yet
    eos_before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()
    return (eos_before == 0).float()


def rollout_response_mask(batch: "ChatBatch", end_id: int) -> torch.Tensor:
    """Shifted mask (B, T-1) of the sampled response tokens: not the prompt, not padding, and
    nothing after the first <|end|> (the <|end|> itself is kept: stopping is an action too).

    `rollout.generate` already cuts rows at <|end|>; the second mask makes the loop correct
    for any right-padded batch, e.g. one whose padding id is the <|end|> id."""
    T = batch.input_ids.shape[1]
    mask = response_mask(batch.prompt_lens, batch.seq_lens, T)  # (B, T-1)
    not_after_end = after_eos_mask(batch.input_ids, end_id, start=batch.prompt_lens)  # (B, T)
    return mask * not_after_end[:, 1:]  # (B, T-1)


def masked_sum(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sum of x where mask is 1 (over `dim`, or over everything when dim is None)."""
    if x.shape != mask.shape:
        raise ValueError(f"x and mask must have the same shape, got {tuple(x.shape)} and {tuple(mask.shape)}")
    mask = mask.to(x.dtype)
    return (x * mask).sum() if dim is None else (x * mask).sum(dim=dim)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of x where mask is 1. A mean over no element is NaN, as the mean of nothing is:
    callers must not hide empty responses behind a silent 0."""
    if x.shape != mask.shape:
        raise ValueError(f"x and mask must have the same shape, got {tuple(x.shape)} and {tuple(mask.shape)}")
    mask = mask.to(x.dtype)
    total = (x * mask).sum() if dim is None else (x * mask).sum(dim=dim)
    count = mask.sum() if dim is None else mask.sum(dim=dim)
    return total / count  # 0 / 0 = NaN by IEEE rules


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of the masked entries of x (a scalar)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        var = var * n / (n - 1)
    return var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / std over the masked entries only; padding does not move the statistics.
    Masked-out entries come back as 0."""
    mean = masked_mean(x, mask)
    var = masked_var(x, mask, unbiased=False)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask.to(x.dtype)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (B, T) of the softmax over the last dimension of logits (B, T, V), in nats."""
    logp = F.log_softmax(logits.float(), dim=-1)
    p = logp.exp()
    # 0 * log 0 = 0: a token with logit -inf (p = 0) adds nothing; p * logp alone gives 0 * -inf = NaN
    return -(p * logp.masked_fill(p == 0, 0.0)).sum(dim=-1)


def token_kl(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """Exact KL(p || q) (B, T) per position, in nats, between the softmaxes of logits (B, T, V)
    and ref_logits (B, T, V): sum over the vocabulary of p (log p - log q).

    The k1/k3 estimators (`kl_estimate`) need only the sampled token's log-probs; with the
    whole distribution of both models at hand the KL needs no estimate, and it is never
    negative. Gradients flow into `logits` only when the caller computed `ref_logits` under
    no_grad (a frozen reference)."""
    if logits.shape != ref_logits.shape or logits.dim() != 3:
        raise ValueError(f"logits and ref_logits must both be (B, T, V) with the same shape, got "
                         f"{tuple(logits.shape)} and {tuple(ref_logits.shape)}")
    logp = F.log_softmax(logits.float(), dim=-1)
    logq = F.log_softmax(ref_logits.float(), dim=-1)
    p = logp.exp()
    # 0 * (log 0 - log q) = 0: a token p gives no mass adds nothing (p * -inf alone is NaN)
    return (p * (logp - logq).masked_fill(p == 0, 0.0)).sum(dim=-1)


# ---------------------------------------------------------------------------------------------
# KL estimators (Schulman 2020, "Approximating KL divergence")
# With tokens sampled from pi and log_ratio = logp - ref_logp = log pi/ref, each estimator's
# expectation under pi is (k1, k3 exactly; k2 approximately) KL(pi || ref).


def _kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    # log pi/ref: unbiased, but a single sample can be negative
    return logp - ref_logp


def _kl_k2(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    # 0.5 (log pi/ref)^2: biased, low variance, always >= 0
    return 0.5 * (logp - ref_logp) ** 2


def _kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    # (r - 1) - log r with r = ref/pi: unbiased and always >= 0, since log r <= r - 1
    log_r = ref_logp - logp
    return torch.exp(log_r) - log_r - 1


KL_ESTIMATORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "k1": _kl_k1,
    "k2": _kl_k2,
    "k3": _kl_k3,
}


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "k1") -> torch.Tensor:
    """Per-token estimate of KL(pi || ref) from tokens sampled from pi.

        k1 = logp - ref_logp
        k2 = 0.5 * (logp - ref_logp)^2
        k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1      (>= 0)

    Args:
        logp: (...) log pi(token) of the sampled tokens, per token (not summed).
        ref_logp: (...) log ref(token) of the same tokens, same shape.
        kind: "k1", "k2" or "k3".
    Returns:
        (...) same shape as logp. Mask and average it yourself.

    The sign matters: k1 is log pi - log ref. The reverse, log ref - log pi, estimates
    -KL(pi || ref), and a penalty built on it would *reward* drifting away from ref.

    Where each is valid. All three *values* estimate KL(pi || ref), so any of them may be
    logged. Their *gradients* differ with the way they enter training:
    - in a detached reward (PPO's per-token penalty), an estimator f reaches the policy only
      through the score function, E_pi[f * grad log pi]; that is grad KL(pi || ref) for k1
      only, which is why PPO's reward always uses k1;
    - as a differentiated loss term on tokens sampled from pi (GRPO's beta * k3), the expected
      gradient E_pi[grad f] is grad KL(pi || ref) for k2, and grad KL(ref || pi) for k3.
    `tests/test_ppo.py` checks all six cases exactly on a 5-token categorical.
    """
    if kind not in KL_ESTIMATORS:
        raise ValueError(f"kind must be one of {sorted(KL_ESTIMATORS)}, got {kind!r}")
    check_shape("ref_logp", ref_logp, logp.shape, "logp.shape")
    return KL_ESTIMATORS[kind](logp, ref_logp)


# ---------------------------------------------------------------------------------------------
# Sequences


def next_token_nll(logits: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the masked next tokens, a scalar:

        -sum(mask * token_logprobs(logits, tokens)) / sum(mask)

    a per-token average over the whole batch. With `response_mask` it is SFT's loss
    (`sft.sft_loss`); with every entry 1 it is pretraining's. mask is (B, T-1), shifted."""
    return -masked_mean(token_logprobs(logits, tokens), mask)


def sequence_logprobs(
    logits: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, average: bool = False
) -> torch.Tensor:
    """(B,) log-probability of each row's masked tokens: summed (log pi(y|x), what DPO uses)
    or averaged per token (what IPO and ORPO use)."""
    lp = token_logprobs(logits, tokens)  # (B, T-1)
    return masked_mean(lp, mask, dim=1) if average else masked_sum(lp, mask, dim=1)
