"""SFT: the loss counts response tokens only."""

import math

import pytest
import torch

from minialign.data import collate_chat
from minialign.logprobs import response_mask
from minialign.sft import sft_loss


def _setup():
    # one row: 2 prompt tokens, 2 response tokens, 1 padding token; vocabulary of 2
    tokens = torch.tensor([[0, 0, 1, 0, 0]])
    prompt_lens, seq_lens = torch.tensor([2]), torch.tensor([4])
    mask = response_mask(prompt_lens, seq_lens, 5)  # (1, 4): predicts tokens 1..4
    logits = torch.zeros(1, 5, 2)  # every prediction is a fair coin: -log p = log 2
    return tokens, mask, logits


def test_mask_selects_exactly_the_response_tokens():
    _, mask, _ = _setup()
    # entry t is about token t+1: tokens 2 and 3 are the response, token 1 prompt, token 4 padding
    assert mask.tolist() == [[0.0, 1.0, 1.0, 0.0]]


def test_loss_of_fair_coin_predictions_is_log_2():
    tokens, mask, logits = _setup()
    assert sft_loss(logits, tokens, mask)[0].item() == pytest.approx(math.log(2))


def test_prompt_token_predictions_do_not_change_the_loss():
    tokens, mask, logits = _setup()
    logits[0, 0] = torch.tensor([-20.0, 20.0])  # predicts token 1 (a prompt token, 0) terribly
    assert sft_loss(logits, tokens, mask)[0].item() == pytest.approx(math.log(2))


def test_padding_predictions_do_not_change_the_loss():
    tokens, mask, logits = _setup()
    logits[0, 3] = torch.tensor([-20.0, 20.0])  # predicts token 4 (padding, id 0) terribly
    assert sft_loss(logits, tokens, mask)[0].item() == pytest.approx(math.log(2))


def test_loss_stats_count_the_response_tokens_it_averages_over():
    tokens, mask, logits = _setup()
    _, stats = sft_loss(logits, tokens, mask)
    assert stats == {"response_tokens": 2.0}  # tokens 2 and 3, not the prompt or the padding


def test_response_predictions_do_change_the_loss():
    tokens, mask, logits = _setup()
    logits[0, 1] = torch.tensor([-20.0, 20.0])  # predicts token 2 (= 1) with certainty: loss ~ 0
    # mean over the two response tokens: (0 + log 2) / 2
    assert sft_loss(logits, tokens, mask)[0].item() == pytest.approx(math.log(2) / 2, abs=1e-6)


def test_loss_is_a_mean_over_response_tokens_of_the_whole_batch():
    # row 0 has 1 response token with loss log 2, row 1 has 4 with loss ~0: mean = log2 / 5
    tokens = torch.tensor([[0, 1, 0, 0, 0], [0, 1, 1, 1, 1]])
    batch = torch.tensor([2, 1]), torch.tensor([3, 5])
    mask = response_mask(*batch, 5)
    logits = torch.zeros(2, 5, 2)
    logits[1, :, 1] = 30.0
    assert sft_loss(logits, tokens, mask)[0].item() == pytest.approx(math.log(2) / 5, abs=1e-6)


def test_unshifted_mask_is_rejected_with_the_expected_shape():
    tokens, _, logits = _setup()
    with pytest.raises(ValueError, match="shape"):
        sft_loss(logits, tokens, torch.ones(1, 5))


def test_collate_right_pads_and_keeps_prompt_lengths():
    batch = collate_chat([([5, 6, 7], 2), ([5, 6, 7, 8, 9], 3)], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.prompt_lens.tolist() == [2, 3] and batch.seq_lens.tolist() == [3, 5]
