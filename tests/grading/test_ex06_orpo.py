"""Grading lesson 6 (ORPO): a stable log(1 - e^x), per-token average log-probs, the log odds ratio."""

import math

import torch

from .adapters import check_close, exercise

ex = exercise("ex06_orpo")
log = math.log


def v(*values: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# log1mexp


def test_log1mexp_hand_values():
    # log(1 - e^-1) = log(0.6321) = -0.4587;  log(1 - 0.5) = log 0.5
    check_close(
        ex.log1mexp(v(-1.0, log(0.5))),
        [log(1 - math.exp(-1.0)), log(0.5)],
        "for x = [-1, log 0.5], log(1 - e^x)",
    )


def test_log1mexp_near_zero_pitfall_naive_formula():
    # float32: exp(-1e-10) rounds to exactly 1.0, so log(1 - exp(x)) = log(0) = -inf.
    # The true value is log(1 - e^x) ~ log(-x) = log(1e-10) = -23.0259 (and log(1e-6) = -13.8155)
    got = ex.log1mexp(v(-1e-10, -1e-6, dtype=torch.float32))
    check_close(
        got,
        [log(-math.expm1(-1e-10)), log(-math.expm1(-1e-6))],
        "for x = [-1e-10, -1e-6] in float32, log(1 - e^x) (about log(-x))",
        hint="1 - exp(x) cancels near 0; use log(-expm1(x)) for x > -log 2",
        rtol=1e-5,
    )


def test_log1mexp_far_from_zero_keeps_digits():
    # float64: 1 - e^-50 rounds to 1.0, log gives 0; log1p(-e^-50) = -e^-50 = -1.9287e-22
    check_close(
        ex.log1mexp(v(-50.0)),
        [math.log1p(-math.exp(-50.0))],
        "for x = -50 (float64), log(1 - e^x) = -1.9287e-22",
        hint="for x <= -log 2 use log1p(-exp(x)); 1 - exp(x) rounds to 1 and loses every digit",
        atol=0.0,
        rtol=1e-6,
    )


# ---------------------------------------------------------------------------------------------
# average_logprobs


def test_average_logprobs_pitfall_sum_instead_of_average():
    # row 0: tokens -1, -3 (then padding -7): average -2;  row 1: three tokens at -0.5: average -0.5
    token_logps = v(-1.0, -3.0, -7.0, -0.5, -0.5, -0.5).reshape(2, 3)
    mask = v(1.0, 1.0, 0.0, 1.0, 1.0, 1.0).reshape(2, 3)
    check_close(
        ex.average_logprobs(token_logps, mask),
        [-2.0, -0.5],
        "for log-probs [[-1, -3, -7 (padding)], [-0.5, -0.5, -0.5]], the per-token averages over the "
        "real tokens",
        mistakes={
            "that is the sum over tokens; ORPO expects the per-token AVERAGE (divide by the number of "
            "masked tokens)": [-4.0, -1.5],
            "you divided by T, padding included: divide by mask.sum(1), the number of real tokens": [-4 / 3, -0.5],
            "the padding token was counted: apply the mask": [-11 / 3, -0.5],
        },
    )


# ---------------------------------------------------------------------------------------------
# orpo_log_odds


def test_orpo_log_odds_hand_value():
    # chosen P = 0.5: odds 0.5 / 0.5 = 1;  rejected P = 0.2: odds 0.2 / 0.8 = 0.25
    # log odds ratio = log(1 / 0.25) = log 4 = 1.3863
    check_close(
        ex.orpo_log_odds(v(log(0.5)), v(log(0.2))),
        [log(4.0)],
        "for a chosen response with (geometric-mean) probability 0.5 and a rejected one with 0.2, "
        "the log odds ratio log((0.5/0.5) / (0.2/0.8))",
        mistakes={
            "that is the log ratio of probabilities, log(0.5 / 0.2); ORPO uses odds, P / (1 - P)": [log(2.5)],
            "the sign is flipped: chosen minus rejected": [-log(4.0)],
        },
    )


def test_orpo_log_odds_near_certain_response():
    # chosen average log-prob -1e-6 (float32): log odds = -1e-6 - log(1 - e^-1e-6) = 13.8155
    # rejected P = 0.5: log odds 0
    check_close(
        ex.orpo_log_odds(v(-1e-6, dtype=torch.float32), v(log(0.5), dtype=torch.float32)),
        [-1e-6 - log(-math.expm1(-1e-6))],
        "for a chosen response with average log-prob -1e-6 and a rejected one with P = 0.5 (float32), "
        "the log odds ratio",
        hint="use a stable log1mexp for log(1 - P): 1 - exp(-1e-6) loses most of its digits in float32",
        rtol=1e-5,
    )


def test_orpo_is_length_fair_pitfall_summed_logprobs():
    # chosen: 4 tokens at p = 0.5; rejected: 1 token at p = 0.5. Per token they are equally good:
    # averages log 0.5 and log 0.5 -> log odds ratio 0.
    # With sums, the chosen response has P = 0.5^4 = 1/16, odds 1/15: log odds ratio log(1/15) = -2.7081
    half = log(0.5)
    padded = half / 4  # the 1-token average divided by T = 4: padding counted
    chosen = ex.average_logprobs(v(half, half, half, half).reshape(1, 4), v(1.0, 1.0, 1.0, 1.0).reshape(1, 4))
    rejected = ex.average_logprobs(v(half, 0.0, 0.0, 0.0).reshape(1, 4), v(1.0, 0.0, 0.0, 0.0).reshape(1, 4))
    check_close(
        ex.orpo_log_odds(chosen, rejected),
        [0.0],
        "for a 4-token and a 1-token response whose tokens all have probability 0.5, "
        "orpo_log_odds(average_logprobs(chosen), average_logprobs(rejected))",
        mistakes={
            "the longer response was penalised for its length: ORPO uses per-token AVERAGE log-probs, "
            "not sums": [-log(15.0)],
            "the padding of the 1-token response was counted in its average: divide by the number of "
            "real tokens": [-(padded - log(1 - math.exp(padded)))],
        },
    )
