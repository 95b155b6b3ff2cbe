"""Grading lesson 2 (SFT): token log-probs with the shift, the response mask, the masked loss.

Most examples use logits that are already log-probabilities (log of a distribution), so
log_softmax leaves them unchanged and every expected value is the log of a number you can read.
"""

import math

import torch

from .adapters import check_close, exercise

ex = exercise("ex02_sft")
log = math.log


def log_dists(*dists: list[float]) -> torch.Tensor:
    """(1, T, V) logits whose softmax at position t is dists[t]."""
    return torch.tensor([[[log(p) for p in d] for d in dists]], dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# token_logprobs


def test_token_logprobs_shift_pitfall_off_by_one():
    # position 0 predicts token 1, position 1 predicts token 2, position 2 predicts nothing
    logits = log_dists([0.5, 0.25, 0.25], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6])  # (1, 3, 3)
    tokens = torch.tensor([[0, 2, 1]])
    # entry 0: p_0[token 2] = 0.25; entry 1: p_1[token 1] = 0.6
    check_close(
        ex.token_logprobs(logits, tokens),
        [[log(0.25), log(0.6)]],
        "for tokens [0, 2, 1] and next-token distributions p_0 = [0.5, 0.25, 0.25], "
        "p_1 = [0.1, 0.6, 0.3], p_2 = [0.2, 0.2, 0.6], the log-probs [log p_0[2], log p_1[1]]",
        hint="the logits at position t predict token t + 1: use logits[:, :-1] with tokens[:, 1:]",
        mistakes={
            "you scored each token with the logits at its own position; position t predicts token t + 1, "
            "so pair logits[:, :-1] with tokens[:, 1:]": [[log(0.5), log(0.3)]],
            "you used logits[:, 1:]; the last position predicts a token that is not there, "
            "drop it instead: logits[:, :-1] with tokens[:, 1:]": [[log(0.3), log(0.2)]],
        },
    )


def test_token_logprobs_normalises_raw_logits():
    # raw logits [0, ln 3] -> softmax [1/4, 3/4]; token 1 follows, so log(3/4) = -0.2877
    logits = torch.tensor([[[0.0, log(3.0)], [5.0, -5.0]]], dtype=torch.float64)
    check_close(
        ex.token_logprobs(logits, torch.tensor([[0, 1]])),
        [[log(0.75)]],
        "for raw logits [0, ln 3] before token 1, the log-prob of token 1 (log 3/4)",
        mistakes={
            "these are raw logits: apply log_softmax over the vocabulary first": [[log(3.0)]],
            "that is a probability: take the log (use log_softmax)": [[0.75]],
            "you scored token 0 with the logits at its own position; position t predicts token "
            "t + 1": [[log(0.25)]],
        },
    )


def test_token_logprobs_shape_and_rows_are_independent():
    # two rows, T = 4, V = 5: compare with a plain double loop over positions
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, generator=g, dtype=torch.float64)
    tokens = torch.tensor([[1, 4, 0, 2], [3, 3, 1, 0]])
    expected = [
        [torch.log_softmax(logits[b, t], -1)[tokens[b, t + 1]].item() for t in range(3)] for b in range(2)
    ]
    check_close(
        ex.token_logprobs(logits, tokens),
        expected,
        "for a (B=2, T=4, V=5) batch, the (B, T-1) = (2, 3) log-probs",
        hint="entry [b, t] is log_softmax(logits[b, t])[tokens[b, t + 1]]",
    )


# ---------------------------------------------------------------------------------------------
# response_mask


def test_response_mask_excludes_prompt_pitfall_prompt_not_masked():
    # T = 5, prompt of 3 tokens (j = 0, 1, 2), response j = 3, 4; entries are about j = 1..4
    got = ex.response_mask(torch.tensor([3]), torch.ones(1, 5))
    check_close(
        got.float() if hasattr(got, "float") else got,
        [[0, 0, 1, 1]],
        "for a prompt of 3 tokens followed by 2 response tokens (no padding), the shifted mask "
        "(entry t is about token t + 1)",
        mistakes={
            "the prompt is not masked: the model must not be trained to write the prompt, "
            "keep only tokens with index >= prompt_len": [[1, 1, 1, 1]],
            "the mask is not shifted: entry t is about token t + 1, like the log-probs": [[0, 0, 0, 1]],
        },
    )


def test_response_mask_excludes_padding_pitfall_padding_not_masked():
    # row 0: 3 real tokens then 2 padding; row 1: 5 real tokens; prompt = first token in both
    attention_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    got = ex.response_mask(torch.tensor([1, 1]), attention_mask)
    check_close(
        got.float() if hasattr(got, "float") else got,
        [[1, 1, 0, 0], [1, 1, 1, 1]],
        "for prompts of 1 token, row 0 with 3 real tokens then 2 padding and row 1 with 5 real "
        "tokens, the shifted mask",
        mistakes={
            "the padding is not masked: padding is not text, use attention_mask[:, 1:]": [
                [1, 1, 1, 1], [1, 1, 1, 1]],
            "the mask is not shifted: entry t is about token t + 1": [[0, 1, 1, 0], [0, 1, 1, 1]],
        },
    )


# ---------------------------------------------------------------------------------------------
# sft_loss


def sft_example() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # every next token is token 0; the logits give it probability p at each position:
    #   row 0: p = 0.5 (prompt, masked), 0.25 (response)
    #   row 1: p = 0.5, 0.125 (both response)
    probs = [[0.5, 0.25, 0.5], [0.5, 0.125, 0.5]]  # the last position predicts nothing
    logits = torch.tensor([[[log(p), log(1 - p)] for p in row] for row in probs], dtype=torch.float64)
    input_ids = torch.zeros(2, 3, dtype=torch.long)
    loss_mask = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    return logits, input_ids, loss_mask


def test_sft_loss_averages_over_response_tokens_pitfall_padding_in_the_mean():
    # -(log 0.25 + log 0.5 + log 0.125) / 3 = log(64) / 3 = log 4 = 1.3863
    # the pitfall (x * mask).mean() divides by all 4 entries: log(64) / 4 = 1.0397
    check_close(
        ex.sft_loss(*sft_example()),
        log(4.0),
        "for response-token probabilities 0.25, 0.5, 0.125 (3 masked-in entries out of 4), the loss "
        "-(log 0.25 + log 0.5 + log 0.125) / 3",
        mistakes={
            "you divided by every entry, masked ones included: divide by mask.sum(), the number of "
            "response tokens": log(64.0) / 4,
            "the mask was not applied: the prompt token counted": (log(64.0) + log(2.0)) / 4,
            "the mask was not applied to the sum": (log(64.0) + log(2.0)) / 3,
            "the sign is flipped: the loss is the NEGATIVE log-likelihood": -log(4.0),
        },
    )


def test_sft_loss_ignores_masked_tokens():
    # changing the prediction of a masked-out (prompt) token must not change the loss
    logits, input_ids, loss_mask = sft_example()
    changed = logits.clone()
    changed[0, 0] = torch.tensor([log(0.01), log(0.99)])  # the masked entry: p = 0.01 now
    check_close(
        ex.sft_loss(changed, input_ids, loss_mask),
        log(4.0),
        "after changing the probability of the masked prompt token from 0.5 to 0.01, the loss "
        "(unchanged)",
        hint="a masked token must contribute nothing: multiply its log-prob by the mask",
        mistakes={
            "the value is wrong even before the change: divide by mask.sum(), the number of "
            "response tokens, not by every entry": log(64.0) / 4,
        },
    )
