"""Seconds each lesson took in an nbval run, from its JUnit XML report.

    make test NBVAL_ARGS=--junitxml=nb.xml      # or: pytest --nbval-lax --junitxml=nb.xml notebooks
    python notebooks/times.py nb.xml             # one line per notebook, then the total

Each notebook cell is one test case; a lesson's time is the sum of its cells' times (the kernel's
start-up is not in it, about a second per notebook).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def _classname_to_path(classname: str) -> str:
    """'notebooks.en.00_why_alignment.ipynb' -> 'notebooks/en/00_why_alignment.ipynb'"""
    stem = classname.removesuffix(".ipynb")
    return stem.replace(".", "/") + (".ipynb" if stem != classname else "")


def lesson_times(path: str) -> dict[str, float]:
    """{notebook path: seconds}, in the order the run met them."""
    times: dict[str, float] = defaultdict(float)
    for case in ET.parse(path).getroot().iter("testcase"):
        # a cell's test case has the notebook in its file attribute or, failing that, in its
        # class name, written with dots: classname="notebooks.en.00_x.ipynb" name="Cell 3"
        notebook = case.get("file") or _classname_to_path(case.get("classname", ""))
        times[notebook] += float(case.get("time", 0.0))
    return dict(times)


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
