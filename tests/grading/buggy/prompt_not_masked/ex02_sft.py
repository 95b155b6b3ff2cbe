"""Pitfall: the prompt is not masked. Only padding is removed, so SFT also trains the model to
write the user's prompt."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_response_mask_excludes_prompt_pitfall_prompt_not_masked"]

_solution = load_solution("ex02_sft")
token_logprobs = _solution.token_logprobs
sft_loss = _solution.sft_loss


def response_mask(prompt_lens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return attention_mask[:, 1:].float()  # BUG: ignores prompt_lens
