"""The typed arguments of each command; every problem is a one-line ArgumentError.

Each command's arguments are an attrs class, structured from JSON by a cattrs converter
(as pygls structures its own parameters). A command takes one object,
`arguments: [{...}]`, or its fields in declared order as positional arguments,
`["check"]` or `["check", {"target": "src"}, "50s"]`: what a user types in Neovim's
`execute_command`. No arguments at all counts as `{}`; a `null` field counts as absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NewType, TypeVar

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ClassValidationError, ForbiddenExtraKeysError


class ArgumentError(ValueError):
    """Malformed command arguments; answered with JSON-RPC InvalidParams."""


Name = NewType("Name", str)
"""A non-empty string: a workflow, a run id, a library, a file."""
Count = NewType("Count", int)
"""A whole number >= 1."""


Seconds = NewType("Seconds", float)
"""A duration given as `"50s"`, `"2m"` or a number of seconds; greater than zero."""


OnBudget = NewType("OnBudget", str)
"""What a spent budget does: `wait` ends the request's wait (the run goes on) or `pause`
pauses the run."""
ON_BUDGET = ("wait", "pause")


class Params(dict[str, str]):
    """Workflow parameters as the text `-p KEY=VALUE` would give (the loader coerces)."""


class Names(tuple[str, ...]):
    """A list of non-empty names."""


@attrs.frozen
class RunArguments:
    """`tether.run`, `tether.start` and the `tether/run` request."""

    workflow: Name
    """The workflow's name (`.tether/workflows/NAME.toml` or a built-in)."""
    params: Params = attrs.field(factory=Params)
    """Workflow parameters, `{"target": "src"}`."""
    budget: Seconds | None = None
    """How long the request waits before answering with a continuation; the run goes on."""
    on_budget: OnBudget = OnBudget("wait")
    """`pause`: the budget pauses the run instead (its running steps are stopped; a
    resume runs them again), as `tether run --on-budget pause` does."""


@attrs.frozen
class ResumeArguments:
    """`tether.resume`: a stopped run resumes, a live one is attached to."""

    run_id: Name
    budget: Seconds | None = None
    """As for `tether.run`."""
    result: Any = None
    """The result for a step waiting for one (any JSON)."""
    result_file: Name | None = None
    """A file (relative to the workspace) holding that result; not with `result`."""
    force: bool = False
    """Resume even though the workflow's file changed since the run started."""
    on_budget: OnBudget = OnBudget("wait")
    """As for `tether.run`."""


@attrs.frozen
class RunIdArguments:
    """`tether.show` and `tether.cancel`."""

    run_id: Name


@attrs.frozen
class DocsArguments:
    """`tether.docs`."""

    library: Name
    """A distribution name, `httpx`."""
    query: str | None = None
    """What to look for in its docs; empty gives an overview."""
    max_tokens: Count | None = None
    """Bound on the answer's size; the configured `docs.max_tokens` otherwise."""


@attrs.frozen
class PrewarmArguments:
    """`tether.prewarm`."""

    libraries: Names = attrs.field(factory=Names)
    """The libraries to fetch docs for; none means the project's dependencies."""


@attrs.frozen
class NoArguments:
    """`tether.runs`, `tether.workflows`, `tether.cacheStats`, `tether.config`."""


T = TypeVar("T")


def read_arguments(command: str, arguments: Sequence[Any], kind: type[T]) -> T:
    """The arguments of `command` as an instance of `kind`: from one object argument or
    from positional arguments in field order."""
    raw = _as_object(command, [plain(argument) for argument in arguments], kind)
    present = {key: value for key, value in raw.items() if value is not None}
    for field in attrs.fields(kind):  # type: ignore[arg-type]
        if field.default is attrs.NOTHING and field.name not in present:
            raise ArgumentError(f"{command}: {field.name!r} is required")
    try:
        return _converter.structure(present, kind)
    except ClassValidationError as error:
        raise ArgumentError(_one_line(command, error, kind)) from None


def _field_names(kind: type) -> list[str]:
    return [field.name for field in attrs.fields(kind)]


def _as_object(command: str, arguments: list[Any], kind: type) -> Mapping[str, Any]:
    if not arguments or arguments == [None]:
        return {}
    if len(arguments) == 1 and isinstance(arguments[0], Mapping):
        return arguments[0]
    names = _field_names(kind)
    if len(arguments) > len(names):
        raise ArgumentError(
            f"{command}: expected one object argument or at most {len(names)} positional "
            f"argument(s) ({', '.join(names) or 'none'}), got {len(arguments)} arguments"
        )
    return dict(zip(names, arguments, strict=False))


def _one_line(command: str, error: ClassValidationError, kind: type) -> str:
    """The first problem cattrs found (fields are structured in order), on one line."""
    with_notes, without_notes = error.group_exceptions()
    for problem, note in with_notes:
        name = note.name if isinstance(note, AttributeValidationNote) else "?"
        return f"{command}: {name!r} {problem}"
    for problem in without_notes:
        if isinstance(problem, ForbiddenExtraKeysError):
            expected = ", ".join(_field_names(kind)) or "no fields"
            first = sorted(problem.extra_fields)[0]
            return f"{command}: unknown field {first!r} (expected: {expected})"
    return f"{command}: {error}"


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


# -- one hook per value type; each raises ValueError("must ...") naming what it got ----


def _name(value: Any, _type: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r:.80}")
    return value


def _text(value: Any, _type: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r:.80}")
    return value


def _boolean(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r:.80}")
    return value


def _count(value: Any, _type: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a whole number >= 1, got {value!r:.80}")
    return value


def _names(value: Any, _type: Any) -> Names:
    if not isinstance(value, list) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise ValueError(f"must be a list of names, got {value!r:.80}")
    return Names(value)


def _seconds(value: Any, _type: Any) -> Seconds:
    from tether.engine.durations import parse_duration

    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f'must be a duration like "50s", got {value!r:.80}')
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise ValueError(f'must be a duration like "50s": {error}') from None
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return Seconds(seconds)


def _on_budget(value: Any, _type: Any) -> OnBudget:
    if value not in ON_BUDGET:
        raise ValueError(f"must be 'wait' or 'pause', got {value!r:.80}")
    return OnBudget(value)


def _params(value: Any, _type: Any) -> Params:
    if not isinstance(value, Mapping):
        raise ValueError('must be an object like {"target": "."}')
    params = Params()
    for key, item in value.items():
        if isinstance(item, bool):
            params[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            params[str(key)] = str(item)
        else:
            raise ValueError(f"entry {key!r} must be a string, number or boolean, got {item!r:.80}")
    return params


_converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
for _type, _hook in (
    (Name, _name),
    (str, _text),
    (bool, _boolean),
    (Count, _count),
    (Names, _names),
    (Seconds, _seconds),
    (Params, _params),
    (OnBudget, _on_budget),
):
    _converter.register_structure_hook(_type, _hook)
