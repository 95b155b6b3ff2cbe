"""Specification of minialign.logprobs: the shifted gather, the masks and the masked reductions."""

from __future__ import annotations

import math

import pytest
import torch

from minialign.logprobs import (
    after_eos_mask,
    entropy_from_logits,
    masked_mean,
    masked_sum,
    masked_whiten,
    next_token_nll,
    response_mask,
    sequence_logprobs,
    token_kl,
    token_logprobs,
)

LOG2 = math.log(2.0)

# V = 3. Each row of logits has one entry log 2 and two entries 0, so softmax gives
# e^log2 / (1 + 1 + 2) = 1/2 to the favoured token and 1/4 to the other two.
LOGITS = torch.tensor(
    [
        [
            [0.0, 0.0, LOG2],  # position 0: p = [1/4, 1/4, 1/2]
            [LOG2, 0.0, 0.0],  # position 1: p = [1/2, 1/4, 1/4]
            [0.0, LOG2, 0.0],  # position 2: p = [1/4, 1/2, 1/4]
        ]
    ]
)  # (1, 3, 3)
TOKENS = torch.tensor([[0, 2, 0]])  # (1, 3)


# ---------------------------------------------------------------- token_logprobs


def test_token_logprobs_off_by_one_logits_at_t_score_token_t_plus_1():
    # position 0 predicts token 1 (= 2): p = 1/2; position 1 predicts token 2 (= 0): p = 1/2.
    # Without the shift, position t would score token t: p_0(0) = 1/4, p_1(2) = 1/4,
    # or (dropping the first logits instead of the last) p_1(2) = 1/4, p_2(0) = 1/4.
    expected = torch.tensor([[math.log(1 / 2), math.log(1 / 2)]])
    torch.testing.assert_close(token_logprobs(LOGITS, TOKENS), expected)


def test_token_logprobs_has_one_entry_fewer_than_tokens():
    logits = torch.randn(2, 5, 7)
    tokens = torch.randint(0, 7, (2, 5))
    assert token_logprobs(logits, tokens).shape == (2, 4)


def test_token_logprobs_matches_naive_double_loop():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    tokens = torch.randint(0, 7, (2, 5))
    logp = torch.log_softmax(logits, dim=-1)
    naive = torch.tensor([[float(logp[b, t, tokens[b, t + 1]]) for t in range(4)] for b in range(2)])
    torch.testing.assert_close(token_logprobs(logits, tokens), naive)


@pytest.mark.parametrize(
    "logits_shape, tokens_shape",
    [((1, 4, 3), (1, 3)), ((2, 3, 3), (1, 3)), ((3, 3), (1, 3)), ((1, 3, 3), (3,))],
)
def test_token_logprobs_shape_mismatch_raises(logits_shape, tokens_shape):
    with pytest.raises(ValueError, match="shape"):
        token_logprobs(torch.zeros(logits_shape), torch.zeros(tokens_shape, dtype=torch.long))


# ---------------------------------------------------------------- masks


def test_response_mask_is_shifted_to_line_up_with_token_logprobs():
    # T = 5, tokens j = 0..4; entry t of the mask is about token j = t + 1.
    # row 0: prompt = tokens 0, 1; response = tokens 2, 3; token 4 is padding -> j in {2, 3} -> t in {1, 2}
    # row 1: prompt = token 0; response = tokens 1, 2; tokens 3, 4 padding   -> j in {1, 2} -> t in {0, 1}
    mask = response_mask(torch.tensor([2, 1]), torch.tensor([4, 3]), T=5)
    expected = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(mask, expected)


def test_response_mask_excludes_prompt_and_padding_in_sequence_logprobs():
    # TOKENS = [0, 2, 0] with one prompt token: both later tokens are the response;
    # log pi(y|x) = log 1/2 + log 1/2 = log 1/4, their average is log 1/2.
    mask = response_mask(torch.tensor([1]), torch.tensor([3]), T=3)
    torch.testing.assert_close(sequence_logprobs(LOGITS, TOKENS, mask), torch.tensor([math.log(1 / 4)]))
    torch.testing.assert_close(
        sequence_logprobs(LOGITS, TOKENS, mask, average=True), torch.tensor([math.log(1 / 2)])
    )
    # a two-token prompt leaves only token 2 in the response
    mask = response_mask(torch.tensor([2]), torch.tensor([3]), T=3)
    torch.testing.assert_close(sequence_logprobs(LOGITS, TOKENS, mask), torch.tensor([math.log(1 / 2)]))


def test_after_eos_mask_keeps_the_eos_and_zeros_after_it():
    eos = 9
    tokens = torch.tensor([[5, 1, 9, 1, 7], [5, 9, 9, 2, 2], [5, 1, 2, 3, 4]])
    expected = torch.tensor(
        [
            [1.0, 1.0, 1.0, 0.0, 0.0],  # EOS at 2: kept, what follows is not the response
            [1.0, 1.0, 0.0, 0.0, 0.0],  # only the first EOS counts
            [1.0, 1.0, 1.0, 1.0, 1.0],  # no EOS: the whole row
        ]
    )
    torch.testing.assert_close(after_eos_mask(tokens, eos), expected)


def test_after_eos_mask_ignores_eos_before_start():
    # an EOS inside the prompt (before `start`) does not end the response
    tokens = torch.tensor([[9, 3, 9, 4], [9, 3, 4, 9]])
    expected = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    torch.testing.assert_close(after_eos_mask(tokens, eos_id=9, start=torch.tensor([1, 1])), expected)


# ---------------------------------------------------------------- masked reductions

X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
M = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_masked_sum_counts_only_masked_entries():
    torch.testing.assert_close(masked_sum(X, M, dim=1), torch.tensor([3.0, 0.0]))  # 1 + 2, nothing
    torch.testing.assert_close(masked_sum(X, M), torch.tensor(3.0))


def test_masked_mean_of_empty_row_is_nan_not_silent_zero():
    got = masked_mean(X, M, dim=1)
    assert got[0].item() == pytest.approx(1.5)  # (1 + 2) / 2, the 3 is masked out
    assert math.isnan(got[1].item())


def test_masked_mean_over_everything_divides_by_mask_count_not_numel():
    assert masked_mean(X, M).item() == pytest.approx(1.5)  # (1 + 2) / 2, not 3 / 6


def test_masked_mean_accepts_bool_mask():
    assert masked_mean(X, M.bool()).item() == pytest.approx(1.5)


@pytest.mark.parametrize("reduce", [masked_sum, masked_mean])
def test_masked_reductions_shape_mismatch_raises(reduce):
    with pytest.raises(ValueError, match="shape"):
        reduce(X, M[:, :2])


def test_masked_whiten_ignores_padding():
    # real entries 1 and 3: mean 2, (biased) variance ((1-2)^2 + (3-2)^2) / 2 = 1 -> -1, +1
    mask = torch.tensor([1.0, 1.0, 0.0])
    expected = torch.tensor([-1.0, 1.0, 0.0])  # padding comes back as 0
    for pad_value in (0.0, 1e6, -3.0):
        got = masked_whiten(torch.tensor([1.0, 3.0, pad_value]), mask)
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_masked_whiten_without_shift_keeps_the_mean():
    got = masked_whiten(torch.tensor([1.0, 3.0, 1e6]), torch.tensor([1.0, 1.0, 0.0]), shift_mean=False)
    torch.testing.assert_close(got, torch.tensor([1.0, 3.0, 0.0]), atol=1e-6, rtol=0)  # (x-2)/1 + 2


# ---------------------------------------------------------------- entropy


def test_entropy_of_uniform_is_log_vocab():
    logits = torch.zeros(2, 4, 7)
    torch.testing.assert_close(entropy_from_logits(logits), torch.full((2, 4), math.log(7)))


def test_entropy_of_hand_made_distribution():
    # p = [1/4, 1/4, 1/2]: H = -(2 * 1/4 * log 1/4 + 1/2 * log 1/2) = log 2 + 1/2 log 2 = 1.5 log 2
    got = entropy_from_logits(LOGITS[:, :1])  # (1, 1)
    torch.testing.assert_close(got, torch.tensor([[1.5 * LOG2]]))


def test_entropy_with_masked_out_tokens_is_finite():
    # a token with logit -inf (forbidden, or cut by top-k) has p = 0 and adds 0 * log 0 = 0 by
    # convention: two tokens left at p = 1/2 each give H = log 2. Computing p * logp directly
    # gives 0 * -inf = NaN.
    logits = torch.tensor([[[0.0, 0.0, float("-inf")]]])
    torch.testing.assert_close(entropy_from_logits(logits), torch.tensor([[LOG2]]))


# ---------------------------------------------------------------- token_kl
# p = softmax(0, 0) = (1/2, 1/2), q = softmax(0, log 3) = (1/4, 3/4), worked by hand:
#   KL(p || q) = 1/2 ln(2) + 1/2 ln(2/3) = 1/2 ln(4/3) = 0.143841
#   KL(q || p) = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.130812   (a swapped call gives this)
P_LOGITS = torch.tensor([[[0.0, 0.0]]])  # (1, 1, 2)
Q_LOGITS = torch.tensor([[[0.0, math.log(3.0)]]])


def test_token_kl_hand_value_and_direction():
    torch.testing.assert_close(token_kl(P_LOGITS, Q_LOGITS), torch.tensor([[0.143841]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(token_kl(Q_LOGITS, P_LOGITS), torch.tensor([[0.130812]]), atol=1e-6, rtol=0)


def test_token_kl_is_zero_for_equal_distributions_and_never_negative():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 4, 7, generator=g), torch.randn(3, 4, 7, generator=g)
    torch.testing.assert_close(token_kl(a, a + 5.0), torch.zeros(3, 4))  # a shift of the logits is the same softmax
    assert (token_kl(a, b) >= 0).all()


def test_token_kl_with_a_token_of_zero_probability_is_finite():
    # p = (1, 0) with the second logit -inf; q = (1/2, 1/2): KL = ln 2
    got = token_kl(torch.tensor([[[0.0, float("-inf")]]]), torch.tensor([[[0.0, 0.0]]]))
    torch.testing.assert_close(got, torch.tensor([[LOG2]]))


def test_token_kl_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        token_kl(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4))


def test_next_token_nll_is_the_mean_over_masked_tokens_only():
    # V = 2, fair-coin logits everywhere except one confident wrong prediction at a masked-out
    # position: it must not move the mean of log 2 over the two counted tokens
    logits = torch.zeros(1, 4, 2)
    logits[0, 0] = torch.tensor([20.0, -20.0])  # predicts token 1 (= 1) as 0: -log p = 40, masked out
    tokens = torch.tensor([[0, 1, 0, 1]])
    mask = torch.tensor([[0.0, 1.0, 1.0]])
    assert next_token_nll(logits, tokens, mask).item() == pytest.approx(LOG2)
    assert next_token_nll(logits, tokens, torch.ones(1, 3)).item() == pytest.approx((40 + 2 * LOG2) / 3, rel=1e-4)
