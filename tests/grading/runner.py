"""Run the grading tests against many exercise folders in ONE Python process.

Starting Python and importing torch costs seconds; a pytest session on the tiny grading tests
costs a fraction of one. So the meta-test (tests/test_graders_catch_bugs.py) writes a list of
runs to a JSON file and starts this script once:

    python tests/grading/runner.py runs.json results.json

Each run is {"name", "exercises" (a folder), "files" (grading test files)}; it is executed as
its own pytest session with MINIALIGN_EXERCISES set to its folder. The result of each run is
{"exit_code", "outcomes": {test node id: [outcome, message]}}, outcome one of "passed",
"failed", "skipped", "error".

The exercise modules are loaded by path (see adapters.py), so sessions in one process do not
share them: each folder's file is its own module.

This file also finds the buggy variants, tests/grading/buggy/<pitfall>/exNN_*.py, each with a
module-level `CAUGHT_BY = [test names]`: the grading tests that must fail on it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

GRADING_DIR = Path(__file__).resolve().parent
REPO_ROOT = GRADING_DIR.parents[1]
BUGGY_DIR = GRADING_DIR / "buggy"
# unraisableexception runs gc.collect() several times per session: a quarter of a second with
# torch loaded, for a check these tiny sessions do not need
PYTEST_ARGS = ["-qq", "--tb=no", "--no-header", "-p", "no:cacheprovider", "-p", "no:nbval",
               "-p", "no:unraisableexception"]


@dataclass(frozen=True)
class Pitfall:
    """One buggy variant: tests/grading/buggy/<name>/<module>.py, caught by `caught_by`."""

    name: str
    module: str  # e.g. "ex05_dpo"
    caught_by: tuple[str, ...]
    summary: str  # first line of the variant's docstring

    @property
    def folder(self) -> Path:
        return BUGGY_DIR / self.name

    @property
    def test_file(self) -> Path:
        return GRADING_DIR / f"test_{self.module}.py"


def _caught_by(tree: ast.Module, path: Path) -> tuple[str, ...]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CAUGHT_BY" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise ValueError(f"{path} has no CAUGHT_BY = [names of the grading tests that must fail on it]")


def discover_pitfalls() -> list[Pitfall]:
    """Every buggy variant under tests/grading/buggy, sorted by name."""
    pitfalls = []
    for folder in sorted(p for p in BUGGY_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        modules = sorted(folder.glob("ex*.py"))
        if len(modules) != 1:
            raise ValueError(f"{folder} must hold exactly one exNN_*.py module, found {[m.name for m in modules]}")
        tree = ast.parse(modules[0].read_text(encoding="utf-8"))
        summary = (ast.get_docstring(tree) or "").split("\n")[0]
        pitfalls.append(Pitfall(folder.name, modules[0].stem, _caught_by(tree, modules[0]), summary))
    return pitfalls


def exercise_modules() -> list[str]:
    """The graded modules, from the grading test files: test_ex05_dpo.py -> "ex05_dpo"."""
    return sorted(p.stem.removeprefix("test_") for p in GRADING_DIR.glob("test_ex*.py"))


def run_many(runs: list[dict], workdir: Path, timeout: float = 300) -> dict[str, dict]:
    """Run every run of `runs` in one subprocess (see the module docstring); results by name."""
    spec, out = workdir / "runs.json", workdir / "results.json"
    spec.write_text(json.dumps(runs), encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__)), str(spec), str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"the grading runner failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


class _Recorder:
    """pytest plugin: the outcome and message of every test of one session."""

    def __init__(self) -> None:
        self.outcomes: dict[str, list[str]] = {}

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
            self.outcomes[report.nodeid] = [outcome, report.longreprtext[-2000:]]
        elif report.skipped:
            self.outcomes[report.nodeid] = ["skipped", str(report.longrepr)[-500:]]
        elif report.when == "call":
            self.outcomes[report.nodeid] = ["passed", ""]

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.outcomes[report.nodeid or "<collection>"] = ["error", report.longreprtext[-2000:]]


def _main(spec_path: str, out_path: str) -> int:
    import pytest  # here, so that importing this module for discover_pitfalls() stays light

    os.chdir(REPO_ROOT)
    results = {}
    for run in json.loads(Path(spec_path).read_text(encoding="utf-8")):
        os.environ["MINIALIGN_EXERCISES"] = run["exercises"]
        recorder = _Recorder()
        exit_code = pytest.main([*run["files"], *PYTEST_ARGS], plugins=[recorder])
        results[run["name"]] = {"exit_code": int(exit_code), "outcomes": recorder.outcomes}
    Path(out_path).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:]))
