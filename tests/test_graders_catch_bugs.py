"""The graders must be able to fail: a grading test that a wrong answer passes is a defect.

Against each folder below, the grading tests of tests/grading are run (all in one subprocess,
see tests/grading/runner.py) and checked:

- solutions/                   every grading test passes;
- exercises/ (untouched stubs) every grading test fails, with the "not implemented yet" message;
- tests/grading/buggy/<pitfall>/ (the solution with one classic bug) the grading tests the
  variant names in CAUGHT_BY fail, so the test file fails as a whole.

Plus two checks that keep the three copies of each exercise in step: stubs and solutions have
the same signatures, and the solutions compute what the `minialign` package computes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from grading.adapters import load_module
from grading.runner import REPO_ROOT, discover_pitfalls, exercise_modules, run_many

EXERCISES = REPO_ROOT / "exercises"
SOLUTIONS = REPO_ROOT / "solutions"
PITFALLS = discover_pitfalls()
MODULES = exercise_modules()


def _test_file(module: str) -> str:
    return f"tests/grading/test_{module}.py"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every run of this file, in one subprocess (one torch import instead of ~30)."""
    all_files = [_test_file(m) for m in MODULES]
    plan = [
        {"name": "solutions", "exercises": str(SOLUTIONS), "files": all_files},
        {"name": "stubs", "exercises": str(EXERCISES), "files": all_files},
    ] + [
        {"name": f"pitfall:{p.name}", "exercises": str(p.folder), "files": [_test_file(p.module)]}
        for p in PITFALLS
    ]
    return run_many(plan, tmp_path_factory.mktemp("grading_runs"))


def _summary(outcomes: dict[str, list[str]], keep: str) -> str:
    lines = [f"  {node}: {message.strip().splitlines()[-1] if message.strip() else ''}"[:300]
             for node, (outcome, message) in outcomes.items() if outcome == keep]
    return "\n".join(lines)


def _by_module(outcomes: dict[str, list[str]], module: str) -> dict[str, list[str]]:
    return {node: result for node, result in outcomes.items() if f"test_{module}.py" in node}


# ---------------------------------------------------------------------------------------------
# solutions pass


def test_solutions_pass_every_grading_test(runs):
    result = runs["solutions"]
    failed = {n: o for n, o in result["outcomes"].items() if o[0] != "passed"}
    assert not failed, ("grading tests that fail against solutions/:\n"
                        f"{_summary(failed, 'failed')}{_summary(failed, 'error')}")
    assert result["exit_code"] == 0
    for module in MODULES:
        assert _by_module(result["outcomes"], module), f"no grading test ran for {module}"


# ---------------------------------------------------------------------------------------------
# untouched stubs fail every test


def _is_stub(function: ast.FunctionDef) -> bool:
    """True when the body is a docstring (optional) and `raise NotImplementedError`."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _untouched(module: str) -> bool:
    tree = ast.parse((EXERCISES / f"{module}.py").read_text(encoding="utf-8"))
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    return bool(functions) and all(_is_stub(f) for f in functions)


@pytest.mark.parametrize("module", MODULES)
def test_untouched_stub_fails_every_grading_test(runs, module):
    if not _untouched(module):
        pytest.skip(f"exercises/{module}.py has been filled in (this check needs the untouched stubs)")
    outcomes = _by_module(runs["stubs"]["outcomes"], module)
    assert outcomes, f"no grading test ran for exercises/{module}.py"
    passed = [node for node, (outcome, _) in outcomes.items() if outcome == "passed"]
    assert not passed, f"grading tests that PASS against the untouched stub exercises/{module}.py: {passed}"
    unclear = {n: o for n, o in outcomes.items() if "not implemented yet" not in o[1]}
    assert not unclear, ("these tests fail on the stub without saying 'not implemented yet':\n"
                         + _summary(unclear, "failed") + _summary(unclear, "error"))


# ---------------------------------------------------------------------------------------------
# every classic pitfall is caught


@pytest.mark.parametrize("pitfall", PITFALLS, ids=[p.name for p in PITFALLS])
def test_grader_catches_pitfall(runs, pitfall):
    result = runs[f"pitfall:{pitfall.name}"]
    outcomes = result["outcomes"]
    names = {node.split("::")[-1]: outcome for node, (outcome, _) in outcomes.items()}
    unknown = [name for name in pitfall.caught_by if name not in names]
    assert not unknown, f"{pitfall.name}: CAUGHT_BY names tests that did not run: {unknown}"
    missed = [name for name in pitfall.caught_by if names[name] != "failed"]
    assert not missed, (f"the buggy variant '{pitfall.name}' ({pitfall.summary}) PASSES {missed}: "
                        f"the grader does not catch this pitfall")
    assert result["exit_code"] != 0
    # the failure must be the grader's verdict, not a crash in the variant itself
    crashes = {n: o for n, o in outcomes.items() if o[0] == "error" or "not implemented" in o[1]}
    assert not crashes, f"{pitfall.name}: the variant crashed instead of being graded:\n{_summary(crashes, 'error')}"


def test_every_listed_pitfall_has_a_variant():
    # the classic pitfalls of the issue, each with at least one buggy variant
    required = {
        "shift_off_by_one", "prompt_not_masked", "padding_not_masked", "orpo_summed_logprobs",
        "ppo_old_logp_not_detached", "grpo_old_logp_not_detached", "pooling_on_padding", "kl_sign",
        "grpo_std_not_guarded", "dpo_reference_added", "gae_value_leaks_past_last_token",
    }
    assert required <= {p.name for p in PITFALLS}, f"missing variants: {required - {p.name for p in PITFALLS}}"


# ---------------------------------------------------------------------------------------------
# stubs, solutions and package stay in step


@pytest.mark.parametrize("module", MODULES)
def test_stub_and_solution_have_the_same_signatures(module):
    def signatures(path: Path) -> dict[str, str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return {
            n.name: f"({ast.unparse(n.args)}) -> {ast.unparse(n.returns) if n.returns else ''}"
            for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
        }

    stub, solution = signatures(EXERCISES / f"{module}.py"), signatures(SOLUTIONS / f"{module}.py")
    assert stub == solution, f"exercises/{module}.py and solutions/{module}.py differ in their public functions"


def _solution(module: str):
    return load_module(SOLUTIONS / f"{module}.py")


def test_solutions_agree_with_the_package():
    from minialign import dpo, grpo, logprobs, orpo, ppo, reward, sft

    g = torch.Generator().manual_seed(0)
    close = lambda a, b: torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # noqa: E731

    s = _solution("ex02_sft")
    logits, tokens = torch.randn(3, 6, 5, generator=g), torch.randint(0, 5, (3, 6), generator=g)
    attention = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    prompt_lens = torch.tensor([2, 1, 2])
    close(s.token_logprobs(logits, tokens), logprobs.token_logprobs(logits, tokens))
    mask = s.response_mask(prompt_lens, attention)
    close(mask, logprobs.response_mask(prompt_lens, attention.sum(1), 6))
    close(s.sft_loss(logits, tokens, mask), sft.sft_loss(logits, tokens, mask)[0])

    s = _solution("ex03_reward")
    rc, rr = torch.randn(4, generator=g), torch.randn(4, generator=g)
    close(s.bradley_terry_loss(rc, rr), reward.bradley_terry_loss(rc, rr)[0])
    h = torch.randn(3, 6, 4, generator=g)
    close(s.pool_last_token(h, attention), reward.pool_last_token(h, attention))

    s = _solution("ex04_ppo")
    logp, ref, old = (-3 * torch.rand(3, 6, generator=g) for _ in range(3))
    response = logprobs.response_mask(prompt_lens, attention.sum(1), 7)  # (3, 6), contiguous
    for kind in ("k1", "k3"):
        close(s.kl_estimate(logp, ref, kind), logprobs.kl_estimate(logp, ref, kind))
    rewards, values, advantages = (torch.randn(3, 6, generator=g) for _ in range(3))
    ours = s.compute_gae(rewards, values, response, 0.9, 0.8)
    theirs = ppo.compute_gae(rewards, values, response, 0.9, 0.8)
    for a, b in zip(ours, theirs):
        close(a, b)
    close(s.ppo_policy_loss(logp, old, advantages, response), ppo.ppo_policy_loss(logp, old, advantages, response)[0])

    s = _solution("ex05_dpo")
    four = [-10 * torch.rand(4, generator=g) for _ in range(4)]
    close(s.dpo_loss(*four, beta=0.3), dpo.dpo_loss(*four, beta=0.3)[0])

    s = _solution("ex06_orpo")
    x = -torch.logspace(-9, 2, 40, dtype=torch.float64)
    close(s.log1mexp(x), orpo.log1mexp(x))
    close(s.average_logprobs(logp, response), logprobs.masked_mean(logp, response, dim=1))
    c, r = -2 * torch.rand(4, generator=g) - 0.01, -2 * torch.rand(4, generator=g) - 0.01
    close(s.orpo_log_odds(c, r), orpo.orpo_log_odds(c, r))

    s = _solution("ex07_grpo")
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 2.0, -1.0, 0.0])
    close(s.group_advantages(rewards, 4), grpo.group_advantages(rewards, 4))
    A = s.group_advantages(rewards[:3], 3)
    for loss_type in ("grpo", "bnpo"):
        close(
            s.grpo_loss(logp, old, ref, A, response, clip_eps=0.2, beta=0.04, loss_type=loss_type),
            grpo.grpo_loss(logp, old, ref, A, response, clip_eps=0.2, beta=0.04, loss_type=loss_type)[0],
        )


def test_exercise_docs_exist():
    for name in ("README.md", "README_CN.md"):
        assert (EXERCISES / name).is_file(), f"exercises/{name} is missing"


# ---------------------------------------------------------------------------------------------
# the learner's score table


def test_grade_prints_a_score_table(tmp_path, capsys):
    from minialign import grade

    # a learner who finished lesson 2, has not started lesson 3, and has only lesson 4 left
    # with the KL sign wrong; the other files are missing
    (tmp_path / "ex02_sft.py").write_text((SOLUTIONS / "ex02_sft.py").read_text())
    (tmp_path / "ex03_reward.py").write_text(  # a stub, whatever the learner did to exercises/
        "def bradley_terry_loss(chosen_rewards, rejected_rewards):\n    raise NotImplementedError\n\n\n"
        "def pool_last_token(values, attention_mask):\n    raise NotImplementedError\n"
    )
    kl_sign = next(p for p in PITFALLS if p.name == "kl_sign")
    (tmp_path / "ex04_ppo.py").write_text((kl_sign.folder / "ex04_ppo.py").read_text())
    assert grade.main_cli(["--exercises", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip().startswith("ex0")}
    passed, total = rows["ex02_sft"][0].split("/")
    assert passed == total and rows["ex02_sft"][1] == "done"
    assert rows["ex03_reward"][0].startswith("0/") and rows["ex03_reward"][1:] == ["to", "do"]
    assert rows["ex04_ppo"][1:] == ["in", "progress"]
    assert rows["ex05_dpo"][1:] == ["missing", "file"]
    assert "ex04_ppo::test_kl_k1_pitfall_sign" in out and "the sign is flipped" in out


def test_grade_says_when_the_grading_tests_are_missing(tmp_path, monkeypatch, capsys):
    from minialign import grade

    monkeypatch.setattr(grade, "GRADING_DIR", tmp_path / "tests" / "grading")
    assert grade.main_cli([]) == 2
    assert "grading tests were not found" in capsys.readouterr().err
