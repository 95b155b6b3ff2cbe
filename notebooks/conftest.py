"""pytest settings for `pytest --nbval-lax notebooks`: collect the notebooks only.

The lesson sources (src/*.py) and the builder are not tests; `tests/test_notebooks.py` checks
them without running any notebook.
"""

import os

collect_ignore = ["build.py", "conftest.py"]
collect_ignore_glob = ["src/*"]

# the kernels nbval starts inherit this: no progress bars in the test log
os.environ.setdefault("MINIALIGN_QUIET", "1")
