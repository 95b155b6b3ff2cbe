"""Lesson 2, supervised fine-tuning: exercises.

Fill in the three functions, then run `pytest tests/grading/test_ex02_sft.py`.
Conventions: sequences are right-padded; `attention_mask` is 1 for real tokens, 0 for padding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401  (you will need it)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens[:, t+1] | tokens[:, :t+1]) for t = 0 .. T-2.

        out[b, t] = log_softmax(logits[b, t])[tokens[b, t+1]]

    Args:
        logits: (B, T, V) model outputs for `tokens`.
        tokens: (B, T) token ids.
    Returns:
        (B, T-1) log-probabilities; entry t is about token t + 1.

    Hints:
        - The logits at position t predict the NEXT token, t + 1. The first token has no
          prediction and the last position predicts a token you do not have.
        - `F.log_softmax(x, dim=-1)` turns logits into log-probabilities;
          `x.gather(-1, index.unsqueeze(-1)).squeeze(-1)` picks one entry per position.
    """
    raise NotImplementedError


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

    Hints:
        - `torch.arange(1, T)` gives the token index j of each entry.
        - Broadcasting a (1, T-1) row against a (B, 1) column gives a (B, T-1) comparison.
    """
    raise NotImplementedError


def sft_loss(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the masked next tokens, a scalar:

        loss = -sum(loss_mask * logp) / sum(loss_mask)

    Args:
        logits: (B, T, V) model outputs.
        input_ids: (B, T) token ids.
        loss_mask: (B, T-1) shifted mask (see `response_mask`).
    Returns:
        () per-token average over the response tokens of the whole batch.

    Hints:
        - Reuse your `token_logprobs`.
        - `(x * mask).mean()` is not the masked mean: it divides by every position,
          prompt and padding included.
    """
    raise NotImplementedError
