"""pytest settings for `pytest --nbval-lax notebooks`: collect the notebooks only, and time them.

The lesson sources (src/*.py) and the builder are not tests; `tests/test_notebooks.py` checks
them without running any notebook.

At the end of the run each lesson's time is printed (the sum of its cells' setup, run and
teardown, the kernel's start-up included: the figure JUnit XML holds), and a lesson over
3 minutes is flagged. The same figures go to the results page through the XML:

    make test NBVAL_ARGS=--junitxml=nb.xml
    python -m minialign report RUNS... --lesson-times nb.xml
"""

from __future__ import annotations

import os

import pytest

collect_ignore = ["build.py", "conftest.py"]
collect_ignore_glob = ["src/*"]

# the kernels nbval starts inherit this: no progress bars in the test log
os.environ.setdefault("MINIALIGN_QUIET", "1")

LESSON_LIMIT_S = 180.0  # the course's target: every lesson under 3 minutes on its first run

_seconds: dict[str, float] = {}  # notebook path -> seconds of its cells, in this session


def lesson_lines(seconds: dict[str, float], limit: float = LESSON_LIMIT_S) -> list[str]:
    """One line per notebook (its seconds, and a flag when over `limit`), then the total."""
    lines = [f"{notebook:<48} {s:7.1f} s" + (f"  OVER {limit / 60:g} MIN" if s > limit else "")
             for notebook, s in seconds.items()]
    over = sum(s > limit for s in seconds.values())
    lines.append(f"{'total':<48} {sum(seconds.values()):7.1f} s"
                 + (f"  ({over} lesson{'s' * (over != 1)} over {limit / 60:g} min)" if over else ""))
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    _seconds.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    notebook = report.nodeid.split("::")[0]
    if notebook.endswith(".ipynb"):
        _seconds[notebook] = _seconds.get(notebook, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _seconds:
        return
    terminalreporter.section("lesson times")
    for line in lesson_lines(_seconds):
        terminalreporter.write_line(line)
