"""The switch between the learner's exercises and the reference solutions.

    pytest tests/grading                          # grade exercises/ (the default)
    pytest tests/grading --exercises=solutions    # grade the reference answers
    MINIALIGN_EXERCISES=solutions pytest          # the same through the environment: works for
                                                  # any selection of tests, e.g. the whole suite

pytest reads `--exercises` only when this file is loaded before the command line is parsed,
that is when the paths given to pytest are in tests/grading (or when tests/conftest.py imports
`pytest_addoption` from here); the environment variable has no such limit.
"""

from __future__ import annotations

import pytest

from . import adapters


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption(
            "--exercises",
            default=None,
            metavar="DIR",
            help=f"folder of exercise modules to grade (default: ${adapters.ENV_VAR} or 'exercises'; "
            "'solutions' grades the reference)",
        )
    except ValueError:
        pass  # already added: tests/conftest.py may import this hook so the option works everywhere


def pytest_configure(config: pytest.Config) -> None:
    adapters.option_folder = config.getoption("exercises", default=None)


def pytest_unconfigure(config: pytest.Config) -> None:
    adapters.option_folder = None


def pytest_report_header(config: pytest.Config) -> str:
    folder = adapters.exercises_folder()
    other = "solutions" if adapters.folder_name() != "solutions" else "exercises"
    return f"minialign grading: {folder} (switch with --exercises={other} or {adapters.ENV_VAR}={other})"
