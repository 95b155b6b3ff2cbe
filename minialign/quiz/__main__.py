"""`python -m minialign.quiz ...`, the same as `python -m minialign quiz ...`."""

import sys

from .cli import main_cli

sys.exit(main_cli())
