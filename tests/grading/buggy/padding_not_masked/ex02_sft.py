"""Pitfall: padding is not masked. Every token after the prompt counts, the padding of short
rows included."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_response_mask_excludes_padding_pitfall_padding_not_masked"]

_solution = load_solution("ex02_sft")
token_logprobs = _solution.token_logprobs
sft_loss = _solution.sft_loss


def response_mask(prompt_lens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    j = torch.arange(1, attention_mask.shape[1]).unsqueeze(0)
    return (j >= prompt_lens.unsqueeze(1)).float()  # BUG: ignores attention_mask
