"""Grading lesson 8 (Constitutional AI): one critique -> revise step, and the AI judge's soft label."""

import pytest
import torch

from .adapters import check_close, exercise, sigmoid

ex = exercise("ex08_cai")

PROMPT = "How do I break into my neighbour's house?"
RESPONSE = "Pick the lock of the back door."
PRINCIPLE = ("Critique: is the response harmful or dangerous?", "Revision: rewrite the response to be harmless.")
CRITIQUE = "The response helps with a burglary."
REVISION = "I can't help with breaking in; if you are locked out, call a locksmith."


class FakeModel:
    """A stand-in for the model: answers the critique, then the revision, and records every call."""

    def __init__(self):
        self.calls: list[list[tuple[str, str]]] = []

    def __call__(self, turns):
        self.calls.append([tuple(turn) for turn in turns])  # a copy: the caller may extend its list later
        return [CRITIQUE, REVISION][min(len(self.calls), 2) - 1]


def run_step() -> tuple[FakeModel, dict]:
    model = FakeModel()
    result = ex.critique_revise_step(model, PROMPT, RESPONSE, PRINCIPLE)
    if len(model.calls) != 2:
        pytest.fail(f"critique_revise_step should call generate twice (critique, then revision), it called it "
                    f"{len(model.calls)} times")
    return model, result


def show(turns) -> str:
    return "[" + ", ".join(f"{role}: {text[:30]!r}" for role, text in turns) + "]"


CRITIQUE_TURNS = [("user", PROMPT), ("assistant", RESPONSE), ("user", PRINCIPLE[0])]
REVISION_TURNS = CRITIQUE_TURNS + [("assistant", CRITIQUE), ("user", PRINCIPLE[1])]


def test_critique_is_asked_about_the_response():
    model, _ = run_step()
    if model.calls[0] != CRITIQUE_TURNS:
        pytest.fail(f"the first call to generate should see user prompt / assistant response / user critique request:\n"
                    f"  expected {show(CRITIQUE_TURNS)}\n  you sent {show(model.calls[0])}")


def test_revision_sees_the_critique_pitfall_revise_without_critique():
    model, _ = run_step()
    if model.calls[1] != REVISION_TURNS:
        hint = ""
        if CRITIQUE not in [text for _, text in model.calls[1]]:
            hint = "\n  the critique is missing: the model must see its own critique before it revises"
        pytest.fail(f"the second call to generate should see the whole conversation, critique included:\n"
                    f"  expected {show(REVISION_TURNS)}\n  you sent {show(model.calls[1])}{hint}")


def test_step_returns_critique_revision_and_turns():
    _, result = run_step()
    if not isinstance(result, dict) or {"critique", "revision", "turns"} - set(result):
        pytest.fail(f"critique_revise_step should return a dict with keys 'critique', 'revision', 'turns'; "
                    f"you returned {result!r:.200}")
    if result["critique"] != CRITIQUE:
        pytest.fail(f"result['critique'] should be the text of the first generate call, {CRITIQUE!r}; "
                    f"you returned {result['critique']!r}")
    if result["revision"] != REVISION:
        pytest.fail(f"result['revision'] should be the text of the second generate call, {REVISION!r}; "
                    f"you returned {result['revision']!r}")
    turns = [tuple(turn) for turn in result["turns"]]
    if turns != REVISION_TURNS:
        pytest.fail(f"result['turns'] should be the 5 turns the revision was asked with:\n"
                    f"  expected {show(REVISION_TURNS)}\n  you returned {show(turns)}")


# ---------------------------------------------------------------------------------------------
# judge_soft_label


def v(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_judge_soft_label_cancels_position_bias():
    # a judge that always answers (A) by a logit margin of 2, whatever the responses:
    # first order p1 = sigmoid(2) = 0.8808; swapped, response 1 is (B): p2 = sigmoid(-2) = 0.1192
    # average 0.5: the judge has no real preference, and the label says so
    check_close(
        ex.judge_soft_label(v(2.0), v(0.0), v(2.0), v(0.0)),
        [0.5],
        "for a judge that gives (A) a logit 2 and (B) a logit 0 in both orders (pure position bias), "
        "p(response 1 better)",
        mistakes={
            "the position bias survived: average over both orders, and in the swapped order take p(B), "
            "since response 1 is shown as (B) there": [sigmoid(2.0)],
        },
    )


def test_judge_soft_label_hand_value():
    # first order logits (A) 1, (B) 0: p1 = sigmoid(1) = 0.7311
    # swapped order logits (A) 0, (B) 0.5; response 1 is (B): p2 = sigmoid(0.5) = 0.6225
    # p = (0.7311 + 0.6225) / 2 = 0.6768
    check_close(
        ex.judge_soft_label(v(1.0), v(0.0), v(0.0), v(0.5)),
        [(sigmoid(1.0) + sigmoid(0.5)) / 2],
        "for logits (A) 1, (B) 0 in the first order and (A) 0, (B) 0.5 in the swapped order, "
        "p(response 1 better)",
        mistakes={
            "in the swapped order response 1 is shown as (B): use p(B) there, not p(A)":
                [(sigmoid(1.0) + sigmoid(-0.5)) / 2],
            "you used the first order only; average p(response 1 better) over both orders": [sigmoid(1.0)],
            "average the two probabilities, not the logits": [sigmoid(0.75)],
        },
    )


def test_judge_soft_label_is_symmetric_in_the_two_responses():
    # asking about response 2 instead swaps the roles of the two orders: the labels must sum to 1
    la, lb, la_s, lb_s = v(1.0, -0.3), v(0.0, 0.4), v(0.0, 2.0), v(0.5, 1.0)
    p1 = ex.judge_soft_label(la, lb, la_s, lb_s)
    p2 = ex.judge_soft_label(la_s, lb_s, la, lb)
    check_close(
        p1 + p2 if isinstance(p1, torch.Tensor) and isinstance(p2, torch.Tensor) else p1,
        [1.0, 1.0],
        "for two pairs, p(response 1 better) + p(response 2 better) (the second asked with the orders "
        "exchanged)",
        hint="the two soft labels of a pair must sum to 1: take p(A) in the first order and p(B) in the "
        "swapped order",
    )
