"""The READMEs quote no measured number that the results page does not hold.

Measured numbers live on results/RESULTS.md and RESULTS_CN.md (`python -m minialign report`);
a README that retypes one drifts the next time the runs change."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"README.md": "results/RESULTS.md", "README_CN.md": "results/RESULTS_CN.md"}
MEASURED = re.compile(
    r"[+-]?\d+(?:\.\d+)?\s?%"            # a rate
    r"|[+-]\d+\.\d+"                     # a signed score
    r"|\b\d+(?:\.\d+)?\s?(?:s|ms|min|MB|GB|秒|分)(?![A-Za-z])"  # a time or a size
    r"|\b\d+(?:\.\d+)?x\b"               # a speed-up
)
NOT_MEASURED = {"95%"}
"""the confidence level of every interval: a definition, not a measurement"""


def _quoted(text: str) -> list[str]:
    # code blocks hold commands, not results
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return [m.group(0).replace(" ", "") for m in MEASURED.finditer(text)]


@pytest.mark.parametrize("readme", sorted(PAGES))
def test_every_measured_number_of_the_readme_is_on_the_results_page(readme):
    page = (ROOT / PAGES[readme]).read_text().replace(" ", "")
    missing = [n for n in _quoted((ROOT / readme).read_text()) if n not in NOT_MEASURED and n not in page]
    assert not missing, f"{readme} quotes {missing}, which {PAGES[readme]} does not hold"


@pytest.mark.parametrize("readme", sorted(PAGES))
def test_the_readme_links_to_its_results_page(readme):
    assert f"]({PAGES[readme]})" in (ROOT / readme).read_text()


def test_the_check_would_catch_a_retyped_number():
    assert _quoted("DPO raises it (88% to 92%), in 587 s, +0.397 reward, 3.5x faster") == \
        ["88%", "92%", "587s", "+0.397", "3.5x"]
    assert _quoted("```\nmake test  # 15 min\n```") == []


def _config_field_docs():
    import ast

    for path in sorted((ROOT / "minialign").glob("*.py")):
        tree = ast.parse(path.read_text())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name.endswith("Config")):
            for a, b in zip(cls.body, cls.body[1:]):
                if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant) \
                        and isinstance(b.value.value, str):
                    yield f"{path.name}: {cls.name}.{a.target.id}", b.value.value


def test_config_field_docstrings_are_one_line_without_measurements():
    # the paper's value, ours, why, which lesson shows it: measurements belong on the results page
    bad = [(where, doc) for where, doc in _config_field_docs()
           if "\n" in doc.strip() or re.search(r"\d+(?:\.\d+)?%|[+-]\d\.\d\d|\bseeds? \d", doc)]
    assert not bad, f"config docstrings with several lines or measured numbers: {bad[:3]}"
    assert len(list(_config_field_docs())) > 50  # the scan does find the config fields
