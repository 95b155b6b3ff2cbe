"""Settings and shared fixtures of the package's tests.

Shared fixtures (trained once per session, so several files do not each train their own):

- `world`: the default MiniWorld;
- `tok`: a small BPE (vocabulary 400) trained on the world's documents, prompts and responses;
- `tiny_cache`: a private copy of a cache folder in which the tiny preset (seed 0) has its
  tokenizer, base and SFT trained; `tiny_stages` is `Stages("tiny", seed=0)` on that copy.
  A test may train more stages in it: the copy is its own. `copy_tiny_cache(folder)` makes such a
  copy for a module-scoped fixture.

`@pytest.mark.slow` marks a test that trains a model for more than about a second:
`make test-fast` (`pytest -m "not slow"`) leaves them out.

tests/grading is not collected when the whole suite runs: test_graders_catch_bugs.py runs it
against solutions/, the untouched stubs and each buggy variant. Name it to run it directly:
`pytest tests/grading` (or `python -m minialign grade`).
"""

import os
import shutil
from pathlib import Path

import pytest
import torch

# one thread: the suite runs many small models, where thread start-up costs more than it gains
torch.set_num_threads(1)
os.environ.setdefault("MINIALIGN_QUIET", "1")

# `pytest --exercises=DIR` works from the repository root too, not only inside tests/grading
from grading.conftest import pytest_addoption  # noqa: E402,F401

GRADING_DIR = Path(__file__).resolve().parent / "grading"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    # the grading tests run inside test_graders_catch_bugs.py; collected here too they would run twice
    if not _inside(collection_path.resolve(), GRADING_DIR):
        return None
    named = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    if any(_inside(p, GRADING_DIR) for p in named):
        return None  # `pytest tests/grading ...`: run what was asked for
    return True


def pytest_report_header(config: pytest.Config) -> str | None:
    named = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    if any(_inside(GRADING_DIR, p) and p != GRADING_DIR for p in named):
        return "tests/grading runs inside test_graders_catch_bugs.py (pytest tests/grading runs it directly)"
    return None


# --- the world and a tokenizer ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def world():
    from minialign.world import MiniWorld

    return MiniWorld()


@pytest.fixture(scope="session")
def tok(world):
    from minialign.tokenizer import train

    texts = world.corpus_documents(300) + [p.text for p in world.train_pool]
    texts += [world.respond(p, s) for p in world.train_pool for s in world.STYLES[p.kind]]
    return train(texts, vocab_size=400)


# --- the tiny preset, trained once ------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory):
    """The `Stages` that trained the tiny preset's tokenizer, base and SFT (seed 0) in a session
    cache. Read it, never train in it: a test that trains takes `tiny_stages` or `tiny_cache`."""
    from minialign.stages import Stages

    stages = Stages("tiny", seed=0, cache=tmp_path_factory.mktemp("tiny-cache"))
    stages.get("sft")
    return stages


@pytest.fixture(scope="session")
def copy_tiny_cache(tiny_trained):
    """copy_tiny_cache(folder) -> folder: a copy of the trained tiny cache, the test's own."""

    def copy(folder: Path) -> Path:
        shutil.copytree(tiny_trained.root, folder, dirs_exist_ok=True)
        return Path(folder)

    return copy


@pytest.fixture
def tiny_cache(copy_tiny_cache, tmp_path) -> Path:
    """A cache folder of this test's own, with the tiny preset's tokenizer, base and SFT trained."""
    return copy_tiny_cache(tmp_path / "tiny-cache")


@pytest.fixture
def tiny_stages(tiny_cache):
    from minialign.stages import Stages

    return Stages("tiny", seed=0, cache=tiny_cache)
