"""Checking a command's arguments; every problem is a one-line ArgumentError.

Commands take one object, `arguments: [{...}]`, or their fields in declared order as
positional arguments, `["check"]` or `["check", {"target": "src"}, "50s"]`: what a user
types in Neovim's `execute_command`. No arguments at all counts as `{}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ArgumentError(ValueError):
    """Malformed command arguments; answered with JSON-RPC InvalidParams."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    """`string`, `object`, `boolean`, `integer`, `string list`, `duration` or `params`."""
    required: bool = False


def read_object(command: str, arguments: Sequence[Any], fields: Sequence[Field]) -> dict[str, Any]:
    """The checked arguments of `command` as an object: known fields only, each of its
    kind, from one object argument or from positional arguments in `fields` order."""
    raw = _as_object(command, [plain(argument) for argument in arguments], fields)
    known = {field.name: field for field in fields}
    unknown = [key for key in raw if key not in known]
    if unknown:
        expected = ", ".join(known) or "no fields"
        raise ArgumentError(f"{command}: unknown field {unknown[0]!r} (expected: {expected})")
    result: dict[str, Any] = {}
    for field in fields:
        value = raw.get(field.name)
        if value is None:
            if field.required:
                raise ArgumentError(f"{command}: {field.name!r} is required")
            continue
        result[field.name] = _check(command, field, value)
    return result


def _as_object(command: str, arguments: list[Any], fields: Sequence[Field]) -> Mapping[str, Any]:
    if not arguments or arguments == [None]:
        return {}
    if len(arguments) == 1 and isinstance(arguments[0], Mapping):
        return arguments[0]
    if len(arguments) > len(fields):
        names = ", ".join(field.name for field in fields) or "none"
        raise ArgumentError(
            f"{command}: expected one object argument or at most {len(fields)} positional "
            f"argument(s) ({names}), got {len(arguments)} arguments"
        )
    return {field.name: value for field, value in zip(fields, arguments, strict=False)}


def plain(value: Any) -> Any:
    """JSON data as dicts and lists: pygls hands the params of custom requests over as
    namedtuples."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _check(command: str, field: Field, value: Any) -> Any:
    where = f"{command}: {field.name!r}"
    match field.kind:
        case "string":
            if not isinstance(value, str) or not value.strip():
                raise ArgumentError(f"{where} must be a non-empty string, got {value!r:.80}")
            return value
        case "boolean":
            if not isinstance(value, bool):
                raise ArgumentError(f"{where} must be true or false, got {value!r:.80}")
            return value
        case "integer":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"{where} must be a whole number >= 1, got {value!r:.80}")
            return value
        case "string list":
            if not isinstance(value, list) or not all(
                isinstance(item, str) and item.strip() for item in value
            ):
                raise ArgumentError(f"{where} must be a list of names, got {value!r:.80}")
            return value
        case "duration":
            return _duration(where, value)
        case "params":
            return _params(where, value)
        case "any":
            return value
    raise AssertionError(f"unknown field kind {field.kind!r}")


def _duration(where: str, value: Any) -> float:
    from tether.engine.durations import parse_duration

    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ArgumentError(f'{where} must be a duration like "50s", got {value!r:.80}')
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise ArgumentError(f"{where}: {error}") from error
    if seconds <= 0:
        raise ArgumentError(f"{where} must be greater than zero")
    return seconds


def _params(where: str, value: Any) -> dict[str, str]:
    """Workflow parameters as the text `-p KEY=VALUE` would give (the loader coerces)."""
    if not isinstance(value, Mapping):
        raise ArgumentError(f'{where} must be an object like {{"target": "."}}')
    params: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            params[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            params[str(key)] = str(item)
        else:
            raise ArgumentError(
                f"{where}: {key!r} must be a string, number or boolean, got {item!r:.80}"
            )
    return params
