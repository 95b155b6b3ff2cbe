"""Lesson 8, Constitutional AI and AI feedback: exercises.

Fill in the two functions, then run `pytest tests/grading/test_ex08_cai.py`.
Two pieces of the Constitutional AI recipe (Bai et al. 2022): one critique -> revise step of
the supervised phase (SL-CAI), and the soft preference label of an AI judge (RLAIF).
"""

from __future__ import annotations

from typing import Callable

import torch

Turn = tuple[str, str]  # (role, text), role "user" or "assistant"


def critique_revise_step(
    generate: Callable[[list[Turn]], str],
    prompt: str,
    response: str,
    principle: tuple[str, str],
) -> dict:
    """Ask the model to critique its response by one principle, then to revise it.

    The conversation, in the order the model sees it:

        user:      prompt
        assistant: response
        user:      critique_request         -> generate(...) returns the critique
        assistant: critique
        user:      revision_request         -> generate(...) returns the revision

    Args:
        generate: the model; takes the turns so far (ending with a user turn) and returns
            the text of the next assistant turn.
        prompt: the user's prompt.
        response: the model's first response to it.
        principle: (critique_request, revision_request), one principle of the constitution.
    Returns:
        {"critique": str, "revision": str, "turns": list of the 5 (role, text) turns above}

    Hints:
        - Call `generate` exactly twice.
        - Ask for the revision with the critique in the conversation: the critique is what
          makes the revision better than a second sample.
    """
    raise NotImplementedError


def judge_soft_label(
    logit_a_first: torch.Tensor,
    logit_b_first: torch.Tensor,
    logit_a_swapped: torch.Tensor,
    logit_b_swapped: torch.Tensor,
) -> torch.Tensor:
    """p(response 1 is better), from the judge's logits for the answer tokens "(A)" and "(B)",
    asked twice with the responses in both orders:

        first order   (A) = response 1, (B) = response 2:  p1 = softmax(a_first, b_first)[A]
        swapped order (A) = response 2, (B) = response 1:  p2 = softmax(a_swapped, b_swapped)[B]
        p = (p1 + p2) / 2

    Args:
        logit_a_first, logit_b_first: (B,) or () judge logits of "(A)" and "(B)", first order.
        logit_a_swapped, logit_b_swapped: the same, responses swapped.
    Returns:
        same shape: the soft label p(response 1 better); 1 - p is p(response 2 better).

    Hints:
        - A softmax over two logits is a sigmoid of their difference.
        - In the swapped order, response 1 is the option labelled (B).
        - Judges prefer whatever is shown first (position bias); averaging the two orders
          cancels it.
    """
    raise NotImplementedError
