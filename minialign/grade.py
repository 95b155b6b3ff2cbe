"""Score table of your exercises: `python -m minialign grade` (or `make grade`).

Runs the grading tests of the course repository (tests/grading) against your exercise folder
in a pytest subprocess and prints, per exercise, how many checks pass:

    exercise       passed  status
    ex02_sft          7/7  done
    ex03_reward       2/5  in progress
    ex04_ppo          0/9  to do

followed by the message of each failing check of the exercises you have started. The grading
tests live in the repository, not in the installed package: `grade` needs a clone of the
course (`pip install -e .` from it).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GRADING_DIR = REPO_ROOT / "tests" / "grading"
ENV_VAR = "MINIALIGN_EXERCISES"
NOT_IMPLEMENTED = "not implemented yet"
NOT_FOUND = "not found"


@dataclass
class ExerciseScore:
    """The checks of one exercise module (one grading test file)."""

    name: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # test name -> one-line message

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def status(self) -> str:
        if not self.failed:
            return "done"
        messages = list(self.failed.values())
        if all(NOT_FOUND in m and "no such function" not in m for m in messages):
            return "missing file"
        if not self.passed and all(NOT_IMPLEMENTED in m for m in messages):
            return "to do"
        return "in progress"


def _one_line(message: str) -> str:
    """The first line of a failure message, without pytest's "Failed: " prefix."""
    line = (message or "").strip().split("\n")[0]
    for prefix in ("Failed: ", "E   Failed: ", "AssertionError: "):
        line = line.removeprefix(prefix)
    return line


def parse_junit(path: Path) -> dict[str, ExerciseScore]:
    """Scores by exercise ("ex05_dpo") from a pytest junit xml report."""
    scores: dict[str, ExerciseScore] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = (case.get("classname") or case.get("name") or "").split(".")[-1]
        exercise = module.removeprefix("test_")
        score = scores.setdefault(exercise, ExerciseScore(exercise))
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            score.failed[case.get("name", "?")] = _one_line(problem.get("message") or problem.text or "")
        elif case.find("skipped") is None:
            score.passed.append(case.get("name", "?"))
    return dict(sorted(scores.items()))


def run_grading(exercises: str | None, grading_dir: Path = GRADING_DIR) -> dict[str, ExerciseScore]:
    """Run tests/grading in a subprocess against `exercises` (None: $MINIALIGN_EXERCISES or
    exercises/) and return the scores by exercise."""
    env = dict(os.environ)
    if exercises is not None:
        env[ENV_VAR] = exercises
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "grading.xml"
        cmd = [sys.executable, "-m", "pytest", str(grading_dir), "-q", "--tb=no", "--no-header",
               "-p", "no:cacheprovider", "-p", "no:nbval", "-p", "no:unraisableexception",
               f"--junitxml={report}"]
        proc = subprocess.run(cmd, cwd=grading_dir.parents[1], env=env, capture_output=True, text=True)
        if not report.exists():
            raise RuntimeError(f"pytest did not run the grading tests (exit {proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        return parse_junit(report)


def format_table(scores: dict[str, ExerciseScore]) -> str:
    """The score table, a total line, and the messages of the exercises in progress."""
    width = max([len("exercise")] + [len(n) for n in scores])
    lines = [f"  {'exercise':<{width}}  passed  status"]
    for score in scores.values():
        lines.append(f"  {score.name:<{width}}  {f'{len(score.passed)}/{score.total}':>6}  {score.status}")
    passed, total = sum(len(s.passed) for s in scores.values()), sum(s.total for s in scores.values())
    done = sum(s.status == "done" for s in scores.values())
    lines.append(f"  {'total':<{width}}  {f'{passed}/{total}':>6}  {done} of {len(scores)} exercises done")
    started = [s for s in scores.values() if s.status == "in progress"]
    if started:
        lines.append("")
        lines.append("What to fix:")
        for score in started:
            for test, message in score.failed.items():
                lines.append(f"  {score.name}::{test}")
                lines.append(f"      {message}")
            lines.append(f"      (details: pytest tests/grading/test_{score.name}.py)")
    return "\n".join(lines)


def _folder_argument(folder: str | None) -> str | None:
    """A folder the user typed, made absolute when it exists from where they typed it
    (pytest runs from the repository root)."""
    if folder is None:
        return None
    path = Path(folder).expanduser()
    return str(path.resolve()) if path.is_dir() else folder


def main_cli(argv: list[str] | None = None) -> int:
    """`python -m minialign grade [--exercises DIR]`: print the score table. Returns 0 once the
    table is printed (failing exercises are not an error), 2 without the repository's tests."""
    parser = argparse.ArgumentParser(prog="python -m minialign grade", description="Score table of your exercises.")
    parser.add_argument("--exercises", metavar="DIR", default=None,
                        help=f"folder with your exercise modules (default: ${ENV_VAR} or exercises/; "
                        "'solutions' grades the reference answers)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    if not GRADING_DIR.is_dir():
        print(f"minialign grade: the grading tests were not found at {GRADING_DIR}.\n"
              f"They ship with the course repository, not with the installed package: clone the "
              f"repository, run `pip install -e .` in it and grade from there.", file=sys.stderr)
        return 2
    if importlib.util.find_spec("pytest") is None:
        print("minialign grade: the grading tests need pytest: pip install pytest", file=sys.stderr)
        return 2
    folder = _folder_argument(args.exercises)
    shown = folder or os.environ.get(ENV_VAR) or "exercises"
    print(f"Grading {shown} with {GRADING_DIR.relative_to(REPO_ROOT)} ...", flush=True)
    try:
        scores = run_grading(folder)
    except RuntimeError as err:
        print(f"minialign grade: {err}", file=sys.stderr)
        return 1
    print(format_table(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main_cli())
