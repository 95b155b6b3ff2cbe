"""The one place where the grading tests meet a learner's code.

Every grading test reaches the functions it grades through `exercise("ex05_dpo")`, which
loads `<folder>/ex05_dpo.py` by path from the folder chosen by, in this order:

    1. the pytest option `--exercises=DIR` (see conftest.py),
    2. the environment variable MINIALIGN_EXERCISES,
    3. `exercises` (the learner's stubs).

`solutions` grades the reference answers; any other folder works too (the meta-test points it
at buggy variants). A relative DIR is looked up in the repository root, then in the current
directory.

The adapter also turns the ways a learner's code can be unfinished into readable failures:
a missing file or function, and a stub that still raises NotImplementedError, fail with a
message that names the file to edit instead of a traceback into the test.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "MINIALIGN_EXERCISES"
DEFAULT_FOLDER = "exercises"
SOLUTIONS_FOLDER = "solutions"

# set by conftest.py from --exercises for the duration of one pytest session
option_folder: str | None = None

_loaded: dict[tuple[str, int], ModuleType] = {}


def folder_name() -> str:
    """The folder as the user gave it (option, then environment, then the default)."""
    return option_folder or os.environ.get(ENV_VAR) or DEFAULT_FOLDER


def exercises_folder() -> Path:
    """The folder whose modules are graded, as an absolute path."""
    name = Path(folder_name()).expanduser()
    if name.is_absolute():
        return name
    for base in (REPO_ROOT, Path.cwd()):
        if (base / name).is_dir():
            return (base / name).resolve()
    return REPO_ROOT / name


def _shown(path: Path) -> str:
    """A path as short as it can be shown: relative to the repository root when inside it."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def load_module(path: Path) -> ModuleType:
    """Import a Python file by path, once per (path, modification time)."""
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _loaded:
        # a unique module name, so that exercises/ex05_dpo.py and solutions/ex05_dpo.py coexist
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
        name = f"_minialign_graded_{path.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        _loaded[key] = module
    return _loaded[key]


def load_solution(module_name: str) -> ModuleType:
    """The reference module `solutions/<module_name>.py` (buggy variants start from it)."""
    return load_module(REPO_ROOT / SOLUTIONS_FOLDER / f"{module_name}.py")


class Exercise:
    """Lazy handle on one exercise module: `exercise("ex05_dpo").dpo_loss(...)`.

    Nothing is loaded until a test calls a function, so a missing or broken file fails each
    test with a message instead of breaking collection of the whole test file.
    """

    def __init__(self, module_name: str):
        self.module_name = module_name

    def path(self) -> Path:
        return exercises_folder() / f"{self.module_name}.py"

    def module(self) -> ModuleType:
        __tracebackhide__ = True
        path = self.path()
        if not path.is_file():
            pytest.fail(
                f"{self.module_name}: {_shown(path)} not found. Grading the folder "
                f"{_shown(path.parent)!r}; copy the stub from exercises/ there, or choose the folder "
                f"with --exercises=DIR or {ENV_VAR}=DIR.",
                pytrace=False,
            )
        try:
            return load_module(path)
        except Exception as err:
            if isinstance(err, SyntaxError):
                error = "".join(traceback.format_exception_only(err))
            else:  # the frames of the learner's file only, not importlib's
                frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == str(path)]
                error = "".join(traceback.format_list(frames) + traceback.format_exception_only(err))
        # outside the except block, so that pytest shows the message and not the chain
        pytest.fail(f"{self.module_name}: {_shown(path)} could not be imported:\n{error}", pytrace=False)

    def __getattr__(self, function_name: str) -> Callable[..., Any]:
        __tracebackhide__ = True
        if function_name.startswith("__"):
            raise AttributeError(function_name)
        module = self.module()
        function = getattr(module, function_name, None)
        if function is None:
            pytest.fail(
                f"{self.module_name}.{function_name}: no such function in {_shown(self.path())}; "
                f"keep the names and signatures of the stub.",
                pytrace=False,
            )
        return self._guarded(function_name, function)

    def _guarded(self, function_name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        module_file = str(self.path())

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            try:
                return function(*args, **kwargs)
            except NotImplementedError as err:
                # name the innermost exercise function that is still a stub (it may be a helper
                # the graded function calls)
                name = function_name
                for frame, _ in traceback.walk_tb(err.__traceback__):
                    if frame.f_code.co_filename == module_file:
                        name = frame.f_code.co_name
            # outside the except block, so that pytest shows the message and not the chain
            pytest.fail(
                f"{self.module_name}.{name}: not implemented yet (raise NotImplementedError) "
                f"-- fill it in {_shown(self.path())}",
                pytrace=False,
            )

        return call


def exercise(module_name: str) -> Exercise:
    """The graded module `module_name` (e.g. "ex05_dpo") of the chosen folder."""
    return Exercise(module_name)


# ---------------------------------------------------------------------------------------------
# Checks that explain themselves


def fmt(x: Any) -> str:
    """A number or small tensor with 4 decimals: 0.5981, [0.5981, 0.7981], [[1, 0], [0, 1]]."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dim() == 0:
            return fmt(x.item())
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return str(x)
        if x == int(x) and abs(x) < 1e6:
            return str(int(x))
        return f"{x:.4g}" if abs(x) < 1e-3 else f"{x:.4f}".rstrip("0").rstrip(".")
    return str(x)


def as_tensor_result(got: Any, what: str) -> torch.Tensor:
    """`got` as a float64 tensor, or a failure that says a tensor was expected."""
    __tracebackhide__ = True
    if not isinstance(got, torch.Tensor):
        pytest.fail(f"{what} should be a torch.Tensor, you returned {type(got).__name__}: {got!r}")
    return got.detach().to(torch.float64)


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=False))


def check_close(
    got: Any,
    expected: Any,
    what: str,
    hint: str = "",
    mistakes: dict[str, Any] | None = None,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    yours: str = "you returned",
) -> None:
    """Fail with "<what> should be <expected>, you returned <got>: <hint>" unless close.

    Args:
        got: the learner's result (a tensor).
        expected: the hand-worked answer (number, list or tensor).
        what: the question in the learner's terms, e.g. "for chosen log-prob -5 ... the loss".
        hint: what to look at when the answer is wrong in an unrecognised way.
        mistakes: {hint: value a classic mistake returns}; when `got` equals one of these
            values, its hint replaces the generic one.
    """
    __tracebackhide__ = True
    got_t = as_tensor_result(got, what)
    expected_t = torch.as_tensor(expected, dtype=torch.float64)
    if got_t.shape != expected_t.shape:
        pytest.fail(
            f"{what} should have shape {tuple(expected_t.shape)}, {yours} a tensor of shape {tuple(got_t.shape)} "
            f"(values {fmt(got_t)}; expected {fmt(expected_t)})"
        )
    if _close(got_t, expected_t, atol, rtol):
        return
    for mistake_hint, value in (mistakes or {}).items():
        if _close(got_t, torch.as_tensor(value, dtype=torch.float64), atol, rtol):
            hint = mistake_hint
            break
    if torch.isnan(got_t).any() and not torch.isnan(expected_t).any():
        hint = hint or "a NaN appeared: look for 0 / 0 or log of a negative number"
    message = f"{what} should be {fmt(expected_t)}, {yours} {fmt(got_t)}"
    pytest.fail(message + (f": {hint}" if hint else ""))


def check_grad(
    tensor: torch.Tensor,
    expected: Any,
    what: str,
    hint: str = "",
    mistakes: dict[str, Any] | None = None,
    atol: float = 1e-6,
) -> None:
    """Fail unless `tensor.grad` (after backward) equals `expected`; no gradient counts as wrong.
    `hint` and `mistakes` work as in `check_close`."""
    __tracebackhide__ = True
    if tensor.grad is None:
        pytest.fail(f"{what} should be {fmt(torch.as_tensor(expected))}, but no gradient reached it at all"
                    + (f": {hint}" if hint else ""))
    check_close(tensor.grad, expected, what, hint=hint, mistakes=mistakes, atol=atol, rtol=0.0, yours="yours is")


def check_raises_value_error(call: Callable[[], Any], what: str) -> None:
    """Fail unless `call()` raises ValueError; `what` describes the bad input."""
    __tracebackhide__ = True
    try:
        result = call()
    except ValueError:
        return
    shown = fmt(result) if isinstance(result, (torch.Tensor, float, int)) else type(result).__name__
    pytest.fail(f"{what} should raise ValueError (saying which values are allowed), you returned {shown}")


def nll(z: float) -> float:
    """-log sigmoid(z) = log(1 + e^-z) in plain Python (exact for the hand-worked values)."""
    return math.log1p(math.exp(-z)) if z > -30 else -z + math.log1p(math.exp(z))


def sigmoid(z: float) -> float:
    """1 / (1 + e^-z) in plain Python."""
    return 1.0 / (1.0 + math.exp(-z))
