"""Pitfall: the judge asked in one order only. Its position bias (a preference for whatever is
shown first) goes straight into the preference labels."""

import torch
from grading.adapters import load_solution

CAUGHT_BY = ["test_judge_soft_label_cancels_position_bias", "test_judge_soft_label_hand_value",
             "test_judge_soft_label_is_symmetric_in_the_two_responses"]

critique_revise_step = load_solution("ex08_cai").critique_revise_step


def judge_soft_label(logit_a_first, logit_b_first, logit_a_swapped, logit_b_swapped):
    return torch.sigmoid(logit_a_first - logit_b_first)  # BUG: the swapped order is ignored
