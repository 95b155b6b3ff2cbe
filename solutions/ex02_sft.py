"""Lesson 2, supervised fine-tuning: reference solution.

Three functions: the log-prob of every next token (with the shift), the mask of the tokens
that count (response, not prompt, not padding), and the masked next-token loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens[:, t+1] | tokens[:, :t+1]) for t = 0 .. T-2.

    Args:
        logits: (B, T, V) model outputs for `tokens`.
        tokens: (B, T) token ids.
    Returns:
        (B, T-1) log-probabilities; entry t is about token t + 1.
    """
    # The logits at position t predict token t + 1: drop the last position (it predicts a
    # token we do not have) and the first token (nothing predicts it).
    # .float(): under bf16/fp16 the log-probs would be too coarse for the losses that compare them
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    return logp.gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)


def response_mask(prompt_lens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Shifted mask (B, T-1): 1.0 where token t+1 is a response token, else 0.0.

    Token j is a response token when j >= prompt_len (not the prompt) and
    attention_mask[j] == 1 (not padding). Entry t is about token j = t + 1, lined up with
    `token_logprobs`.

    Args:
        prompt_lens: (B,) number of prompt tokens of each row.
        attention_mask: (B, T) 1 for real tokens, 0 for padding.
    Returns:
        (B, T-1) float mask.
    """
    T = attention_mask.shape[1]
    j = torch.arange(1, T, device=attention_mask.device).unsqueeze(0)  # (1, T-1) token index t+1
    not_prompt = j >= prompt_lens.unsqueeze(1)  # (B, T-1)
    not_padding = attention_mask[:, 1:].bool()  # (B, T-1)
    return (not_prompt & not_padding).float()


def sft_loss(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the masked next tokens, a scalar:

        loss = -sum(loss_mask * logp) / sum(loss_mask)

    Args:
        logits: (B, T, V) model outputs.
        input_ids: (B, T) token ids.
        loss_mask: (B, T-1) shifted mask (see `response_mask`).
    Returns:
        () per-token average over the response tokens of the whole batch.
    """
    logp = token_logprobs(logits, input_ids)  # (B, T-1)
    mask = loss_mask.to(logp.dtype)
    # divide by the number of response tokens, not by B * (T-1): the zeros of the prompt and the
    # padding would otherwise shrink the loss, more for batches that need more padding
    return -(logp * mask).sum() / mask.sum()
