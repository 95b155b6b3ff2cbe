import os

import torch

# one thread: the suite runs many small models, where thread start-up costs more than it gains
torch.set_num_threads(1)
os.environ.setdefault("MINIALIGN_QUIET", "1")

# `pytest --exercises=DIR` works from the repository root too, not only inside tests/grading
from grading.conftest import pytest_addoption  # noqa: E402,F401
