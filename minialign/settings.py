"""`--set stage.field=value`: change one field of a stage's configuration from the command line.

    python -m minialign pipeline --set ppo.kl_coef=0 --set dpo.loop.lr=3e-4

The path names a stage of the preset, then a field of its config dataclass, then (for nested
configs such as `loop`) a field of that, and so on. The value is a Python literal (`0`, `3e-4`,
`'hinge'`, `(1, 2)`, `True`); a bare word is taken as a string. It is checked against the field's
type before anything trains. A changed config changes the stage's cache key (`Stages.identity`),
so the stage and everything downstream of it retrain instead of reusing a stale checkpoint.
"""

from __future__ import annotations

import ast
import dataclasses
import types
import typing
from typing import Any


class SettingError(ValueError):
    """A `--set` that names no field or gives a value of the wrong type."""


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """'ppo.loop.lr=3e-4' -> (['ppo', 'loop', 'lr'], 0.0003)."""
    path, eq, raw = text.partition("=")
    if not eq or not path.strip():
        raise SettingError(f"--set {text!r}: expected stage.field=value, e.g. --set ppo.kl_coef=0")
    keys = [k.strip() for k in path.split(".")]
    if len(keys) < 2 or not all(keys):
        raise SettingError(f"--set {text!r}: expected stage.field=value, e.g. --set ppo.kl_coef=0")
    raw = raw.strip()
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word: a string
    return keys, value


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """`value` as a value of type `hint`, or SettingError."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(value, option, where)
            except SettingError:
                continue
        raise SettingError(f"{where}: {value!r} is not a {_name(hint)}")
    if hint is type(None):
        if value is None:
            return None
        raise SettingError(f"{where}: {value!r} is not None")
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        raise SettingError(f"{where}: {value!r} is not one of {list(typing.get_args(hint))}")
    if dataclasses.is_dataclass(hint):
        fields = ", ".join(f.name for f in dataclasses.fields(hint))
        first = dataclasses.fields(hint)[0].name
        raise SettingError(f"{where} is a group of settings; set one of its fields ({fields}), "
                           f"e.g. {where}.{first}=...")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise SettingError(f"{where}: {value!r} is not True or False")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SettingError(f"{where}: {value!r} is not an integer")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise SettingError(f"{where}: {value!r} is not a number")
    if hint is str:
        if isinstance(value, str):
            return value
        raise SettingError(f"{where}: {value!r} is not a string (quote it: {where}='{value}')")
    container = origin or hint
    if container in (tuple, list):
        if not isinstance(value, (tuple, list)):
            value = (value,)  # one item: --set rlaif_dpo.principles=harm
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:  # tuple[X, ...] or list[X]
            items = [_coerce(v, args[0], where) for v in value]
        elif args:  # tuple[X, Y]: one type per place
            if len(value) != len(args):
                raise SettingError(f"{where}: {value!r} should have {len(args)} items")
            items = [_coerce(v, a, where) for v, a in zip(value, args)]
        else:
            items = list(value)
        return container(items)
    if container is dict:
        if not isinstance(value, dict):
            raise SettingError(f"{where}: {value!r} is not a dict (e.g. {where}={{'harmful': 12}})")
        return dict(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise SettingError(f"{where}: {value!r} is not a {_name(hint)}")
    return value


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def set_field(config: Any, keys: list[str], value: Any, where: str) -> Any:
    """A copy of the dataclass `config` with the field at `keys` (a path) set to `value`."""
    if not dataclasses.is_dataclass(config):
        raise SettingError(f"{where}: {type(config).__name__} has no fields to set")
    names = [f.name for f in dataclasses.fields(config)]
    key = keys[0]
    if key not in names:
        raise SettingError(f"{where}: {type(config).__name__} has no field {key!r}; its fields are {', '.join(names)}")
    if len(keys) > 1:
        return dataclasses.replace(config, **{key: set_field(getattr(config, key), keys[1:], value, where)})
    hint = typing.get_type_hints(type(config))[key]
    return dataclasses.replace(config, **{key: _coerce(value, hint, where)})


def apply_settings(preset, assignments: list[str] | None):
    """A copy of `preset` (a `stages.Preset`) with every `stage.field=value` of `assignments` applied."""
    if not assignments:
        return preset
    configs = dict(preset.stage_configs)
    for text in assignments:
        keys, value = parse_assignment(text)
        stage, path = keys[0], keys[1:]
        if stage not in configs:
            raise SettingError(f"--set {text}: no stage {stage!r} in preset {preset.name!r}; "
                               f"stages are {', '.join(sorted(configs))}")
        configs[stage] = set_field(configs[stage], path, value, "--set " + ".".join(keys))
    return dataclasses.replace(preset, stage_configs=configs)
