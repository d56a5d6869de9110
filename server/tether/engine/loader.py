"""Workflow files: find them, parse them with tomllib, validate them before anything runs.

Every error is a WorkflowError naming the file, the line where it can be found, and the
field. Built-ins live in the package's workflows/ folder; `.tether/workflows/NAME.toml`
in the workspace adds or overrides by name.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from tether.engine.durations import parse_duration
from tether.engine.errors import WorkflowError
from tether.engine.kinds import KindRegistry
from tether.engine.retry import RetryPolicy
from tether.engine.runfiles import read_run_file
from tether.engine.spec import StepSpec, WorkflowSpec
from tether.engine.templating import check_reference, iter_references, shell_template_problems

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "workflows"
PROJECT_SUBDIR = Path(".tether") / "workflows"

_TOP_FIELDS = {"name", "description", "timeout", "max_parallel", "params", "required", "steps"}
_STEP_FIELDS = {
    "id",
    "kind",
    "needs",
    "timeout",
    "attempt_timeout",
    "retries",
    "heartbeat_timeout",
    "continue_on_error",
    "kill_grace",
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TOML_LINE = re.compile(r"at line (\d+)")

MAX_NESTING = 64
"""Levels of tables and arrays a workflow file may nest (templating walks them)."""
_CYCLE_SHOWN = 12
WORKFLOW_FILE_LIMIT = 1024 * 1024
"""Bytes; a workflow file larger than this is refused, not read."""


def find_workflows(workspace: Path) -> dict[str, Path]:
    """Workflow name -> file; project files override built-ins of the same name."""
    found: dict[str, Path] = {}
    for folder in (BUILTIN_DIR, workspace / PROJECT_SUBDIR):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found[path.stem] = path
    return found


def resolve_workflow(name: str, workspace: Path, kinds: KindRegistry) -> WorkflowSpec:
    if not _NAME.match(name):
        raise WorkflowError(f"{name!r} is not a workflow name", field="workflow")
    available = find_workflows(workspace)
    path = available.get(name)
    if path is None:
        known = ", ".join(sorted(available)) or "none"
        raise WorkflowError(f"unknown workflow {name!r} (available: {known})", field="workflow")
    return load_workflow(path, kinds)


class _Locator:
    """Finds the line of a field in the raw text; tomllib gives no positions for values."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.step_headers = [
            number
            for number, line in enumerate(self.lines, start=1)
            if re.match(r"^\s*\[\[\s*steps\s*\]\]", line)
        ]

    def _search(self, start: int, end: int, field: str) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(field)}\s*=")
        for number in range(start, min(end, len(self.lines)) + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return None

    def top(self, field: str) -> int | None:
        end = self.step_headers[0] - 1 if self.step_headers else len(self.lines)
        return self._search(1, end, field)

    def step(self, index: int, field: str | None = None) -> int | None:
        if index >= len(self.step_headers):
            return None
        header = self.step_headers[index]
        if field is None:
            return header
        end = (
            self.step_headers[index + 1] - 1
            if index + 1 < len(self.step_headers)
            else len(self.lines)
        )
        return self._search(header, end, field) or header


def _hash(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def load_workflow(path: Path, kinds: KindRegistry) -> WorkflowSpec:
    try:
        # A regular file, not through a symlink (a FIFO named *.toml must not hang
        # `tether workflows`), of a sane size; built-ins may belong to root.
        text = read_run_file(path, limit=WORKFLOW_FILE_LIMIT, owned=False).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WorkflowError(f"cannot read workflow file: {error}", path=path) from error
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = _TOML_LINE.search(str(error))
        line = int(match.group(1)) if match else None
        raise WorkflowError(f"invalid TOML: {error}", path=path, line=line) from error
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise WorkflowError(
            f"nested too deeply to parse (more than {MAX_NESTING} levels allowed)", path=path
        ) from None
    depth = _nesting_depth(raw)
    if depth > MAX_NESTING:
        raise WorkflowError(f"nested {depth} levels deep; at most {MAX_NESTING}", path=path)
    return parse_workflow(raw, path, text, kinds)


def _nesting_depth(value: Any) -> int:
    """How deeply tables and arrays nest in `value`, counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            break  # enough to refuse it
        if isinstance(current, dict):
            stack.extend((item, depth + 1) for item in current.values())
        elif isinstance(current, list):
            stack.extend((item, depth + 1) for item in current)
    return deepest


def parse_workflow(
    raw: Mapping[str, Any], path: Path, text: str, kinds: KindRegistry
) -> WorkflowSpec:
    where = _Locator(text)

    def fail(message: str, field: str, line: int | None = None) -> WorkflowError:
        return WorkflowError(message, path=path, line=line, field=field)

    for key in raw:
        if key not in _TOP_FIELDS:
            raise fail(
                f"unknown field (expected one of {sorted(_TOP_FIELDS)})", key, where.top(key)
            )
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(f"{name!r} is not a valid workflow name", "name", where.top("name"))
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail("must be a string", "description", where.top("description"))
    timeout = None
    if "timeout" in raw:
        try:
            timeout = parse_duration(raw["timeout"])
        except ValueError as error:
            raise fail(str(error), "timeout", where.top("timeout")) from error
    max_parallel = raw.get("max_parallel", 4)
    if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
        raise fail("must be an integer >= 1", "max_parallel", where.top("max_parallel"))
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise fail("must be a table", "params", where.top("params"))
    required = raw.get("required", [])
    if not isinstance(required, list) or not all(isinstance(key, str) for key in required):
        raise fail("must be a list of parameter names", "required", where.top("required"))
    undeclared = [key for key in required if key not in params]
    if undeclared:
        raise fail(
            f"names parameters not in [params]: {', '.join(undeclared)}",
            "required",
            where.top("required"),
        )

    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail("a workflow needs at least one [[steps]] table", "steps")

    steps: list[StepSpec] = []
    seen: dict[str, int] = {}
    for index, raw_step in enumerate(raw_steps):
        step = _parse_step(raw_step, index, path, where, kinds)
        if step.id in seen:
            raise fail(
                f"duplicate step id {step.id!r} (first defined at line {seen[step.id]})",
                f"steps[{index}] ({step.id}).id",
                where.step(index, "id"),
            )
        seen[step.id] = step.line or 0
        steps.append(step)

    by_id = {step.id: step for step in steps}
    for index, step in enumerate(steps):
        for need in step.needs:
            if need not in by_id:
                raise fail(
                    f"step {step.id!r} needs unknown step {need!r}",
                    f"steps[{index}] ({step.id}).needs",
                    where.step(index, "needs"),
                )
    _check_acyclic(steps, path, where)
    for index, step in enumerate(steps):
        references = list(iter_references(step.options))
        ancestors = _ancestors(step.id, by_id) if references else set()
        for reference in references:
            problem = check_reference(reference, params, ancestors)
            if problem:
                raise fail(problem, f"steps[{index}] ({step.id})", where.step(index))
        run = step.options.get("run")
        if step.options.get("shell") is True and isinstance(run, str):
            for problem in shell_template_problems(run):
                raise fail(problem, f"steps[{index}] ({step.id}).run", where.step(index, "run"))

    return WorkflowSpec(
        name=name,
        description=description,
        steps=tuple(steps),
        timeout=timeout,
        max_parallel=max_parallel,
        params=dict(params),
        required=tuple(required),
        source=path,
        spec_hash=_hash(dict(raw)),
    )


def _parse_step(raw: Any, index: int, path: Path, where: _Locator, kinds: KindRegistry) -> StepSpec:
    label = f"steps[{index}]"

    def fail(message: str, field: str | None = None) -> WorkflowError:
        name = f"{label}.{field}" if field else label
        return WorkflowError(message, path=path, line=where.step(index, field), field=name)

    if not isinstance(raw, dict):
        raise fail("must be a table")
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not _ID.match(step_id):
        raise fail(f"missing or invalid id {step_id!r} (letters, digits, - and _)", "id")
    label = f"steps[{index}] ({step_id})"
    kind_name = raw.get("kind")
    if not isinstance(kind_name, str):
        raise fail("missing kind", "kind")
    kind = kinds.get(kind_name)
    if kind is None:
        raise fail(f"unknown kind {kind_name!r} (known: {', '.join(sorted(kinds))})", "kind")
    needs = raw.get("needs", [])
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise fail("must be a list of step ids", "needs")

    def duration(field: str) -> float | None:
        if field not in raw:
            return None
        try:
            return parse_duration(raw[field])
        except ValueError as error:
            raise fail(str(error), field) from error

    retry = RetryPolicy()
    if "retries" in raw:
        retry = _parse_retry(raw["retries"], fail)
    continue_on_error = raw.get("continue_on_error", False)
    if not isinstance(continue_on_error, bool):
        raise fail("must be true or false", "continue_on_error")
    options = {key: value for key, value in raw.items() if key not in _STEP_FIELDS}
    for field, message in kind.validate(options):
        raise fail(message, field)
    kill_grace = duration("kill_grace")
    return StepSpec(
        id=step_id,
        kind=kind_name,
        options=options,
        needs=tuple(needs),
        timeout=duration("timeout"),
        attempt_timeout=duration("attempt_timeout"),
        retry=retry,
        heartbeat_timeout=duration("heartbeat_timeout"),
        continue_on_error=continue_on_error,
        kill_grace=2.0 if kill_grace is None else kill_grace,
        line=where.step(index),
        definition_hash=_hash(_stable_definition(kind, raw)),
    )


def _stable_definition(kind: Any, raw: Any) -> Any:
    """The step table its definition hash is taken from: a kind may keep the hash stable
    across a rename it still resolves (the python kind's moved modules)."""
    stable = getattr(kind, "stable_definition", None)
    return stable(raw) if stable is not None else raw


def _parse_retry(value: Any, fail: Any) -> RetryPolicy:
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"attempts": value}
    if not isinstance(value, dict):
        raise fail("must be a table like { attempts = 3, initial = '1s', max = '20s' }", "retries")
    unknown = set(value) - {"attempts", "initial", "max"}
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}", "retries")
    attempts = value.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise fail("attempts must be an integer from 1 to 100", "retries")
    try:
        initial = parse_duration(value.get("initial", 1.0))
        maximum = parse_duration(value.get("max", 30.0))
    except ValueError as error:
        raise fail(str(error), "retries") from error
    return RetryPolicy(attempts=attempts, initial=initial, maximum=maximum)


def _check_acyclic(steps: list[StepSpec], path: Path, where: _Locator) -> None:
    """Depth-first search with an explicit stack: a chain of any length, no recursion."""
    index_of = {step.id: index for index, step in enumerate(steps)}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in steps:
        if root.id in state:
            continue
        trail = [root.id]  # the current path, parallel to `pending`
        pending = [iter(root.needs)]
        state[root.id] = 1
        while pending:
            need = next(pending[-1], None)
            if need is None:
                state[trail.pop()] = 2
                pending.pop()
                continue
            if state.get(need) == 1:
                step_id = trail[-1]
                cycle = [*trail[trail.index(need) :], need]
                if len(cycle) > _CYCLE_SHOWN:
                    cycle = [*cycle[:_CYCLE_SHOWN], f"... ({len(cycle) - 1} steps)"]
                index = index_of[step_id]
                raise WorkflowError(
                    f"dependency cycle: {' -> '.join(cycle)}",
                    path=path,
                    line=where.step(index, "needs"),
                    field=f"steps[{index}] ({step_id}).needs",
                )
            if state.get(need) is None:
                state[need] = 1
                trail.append(need)
                pending.append(iter(steps[index_of[need]].needs))


def _ancestors(step_id: str, by_id: Mapping[str, StepSpec]) -> set[str]:
    found: set[str] = set()
    stack = list(by_id[step_id].needs)
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(by_id[current].needs)
    return found


def apply_params(spec: WorkflowSpec, overrides: Mapping[str, str]) -> dict[str, Any]:
    """Declared defaults overridden by -p KEY=VALUE, coerced to the declared type.

    A parameter the workflow lists as `required` must end up non-empty: a run without it
    would only fail later, with a resume line that cannot help."""
    values = dict(spec.params)
    for key, text in overrides.items():
        if key not in spec.params:
            declared = ", ".join(sorted(spec.params)) or "none"
            raise WorkflowError(
                f"unknown parameter {key!r} for workflow {spec.name!r} (declared: {declared})",
                path=spec.source,
                field="params",
            )
        values[key] = _coerce(text, spec.params[key], key, spec)
    missing = [key for key in spec.required if not str(values.get(key, "")).strip()]
    if missing:
        given = " ".join(f"-p {key}=..." for key in missing)
        raise WorkflowError(
            f"workflow {spec.name!r} needs {', '.join(map(repr, missing))}: give {given}",
            path=spec.source,
            field="params",
        )
    return values


def _coerce(text: str, default: Any, key: str, spec: WorkflowSpec) -> Any:
    try:
        if isinstance(default, bool):
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError as error:
        kind = type(default).__name__
        raise WorkflowError(
            f"parameter {key!r} expects {kind}, got {text!r}", path=spec.source, field="params"
        ) from error
    return text
