"""Seconds each lesson took in an nbval run, from its JUnit XML report.

    make test NBVAL_ARGS=--junitxml=nb.xml      # or: pytest --nbval-lax --junitxml=nb.xml notebooks
    python notebooks/times.py nb.xml             # one line per notebook, then the total

Each notebook cell is one test case; a lesson's time is the sum of its cells' times (the kernel's
start-up is not in it, about a second per notebook). `python -m minialign report RUNS...
--lesson-times nb.xml` puts the same figures on the results page.
"""

from __future__ import annotations

import sys

from minialign.results_page import lesson_times


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    times = lesson_times(argv[0])
    if not times:
        print(f"{argv[0]}: no test cases found; is it the JUnit XML of an nbval run?")
        return 1
    for notebook, seconds in times.items():
        print(f"{notebook:<48} {seconds:7.1f} s")
    print(f"{'total':<48} {sum(times.values()):7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
