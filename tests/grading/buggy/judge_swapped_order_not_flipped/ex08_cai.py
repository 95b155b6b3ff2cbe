"""Pitfall: the swapped order read as if nothing were swapped. p(A) is averaged over both orders,
but in the swapped order (A) is the OTHER response: the bias doubles instead of cancelling."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_judge_soft_label_cancels_position_bias", "test_judge_soft_label_hand_value"]

critique_revise_step = load_solution("ex08_cai").critique_revise_step


def judge_soft_label(logit_a_first, logit_b_first, logit_a_swapped, logit_b_swapped):
    p_first = torch.sigmoid(logit_a_first - logit_b_first)
    p_swapped = torch.sigmoid(logit_a_swapped - logit_b_swapped)  # BUG: response 1 is (B) here
    return (p_first + p_swapped) / 2
