"""Pitfall: revising without the critique. The revision is asked right after the response, so
the critique never informs it and the "revision" is just a second sample."""

from grading.adapters import load_solution

CAUGHT_BY = ["test_revision_sees_the_critique_pitfall_revise_without_critique",
             "test_step_returns_critique_revision_and_turns"]

judge_soft_label = load_solution("ex08_cai").judge_soft_label


def critique_revise_step(generate, prompt, response, principle):
    critique_request, revision_request = principle
    base = [("user", prompt), ("assistant", response)]
    critique = generate(base + [("user", critique_request)])
    turns = base + [("user", revision_request)]  # BUG: the critique turns are left out
    revision = generate(turns)
    return {"critique": critique, "revision": revision, "turns": turns}
