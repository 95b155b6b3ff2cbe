"""Pitfall: padding in the mean. `(logp * mask).mean()` zeroes the masked tokens but still
divides by them, so the loss shrinks with the amount of prompt and padding in the batch."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_sft_loss_averages_over_response_tokens_pitfall_padding_in_the_mean"]

_solution = load_solution("ex02_sft")
token_logprobs = _solution.token_logprobs
response_mask = _solution.response_mask


def sft_loss(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    return -(token_logprobs(logits, input_ids) * loss_mask).mean()  # BUG: / loss_mask.sum()
