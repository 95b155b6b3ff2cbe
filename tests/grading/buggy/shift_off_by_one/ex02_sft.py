"""Pitfall: off-by-one shift. Each token is scored with the logits at its own position, so the
model is asked to "predict" a token it has already seen."""

import torch
import torch.nn.functional as F
from grading.adapters import load_solution

CAUGHT_BY = ["test_token_logprobs_shift_pitfall_off_by_one"]

_solution = load_solution("ex02_sft")
response_mask = _solution.response_mask
sft_loss = _solution.sft_loss


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    return logp.gather(-1, tokens[:, :-1].unsqueeze(-1)).squeeze(-1)  # BUG: tokens[:, 1:]
