"""The `python` step kind: `call = "module:function"`, async or sync, from the workspace."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Mapping
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed
from tether.engine.spec import StepSpec
from tether.engine.threads import run_in_daemon_thread

_FIELDS = {"call", "inputs"}
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MARGIN = 0.5
IN_PROCESS_GRACE = 0.5
"""Seconds an in-process step gets, once cancelled, to finish its `except`/`finally`.

Cancellation reaches an async step at its next `await`, so a cooperative step is done in
milliseconds; longer cleanup belongs in ctx.on_cleanup (which has its own budget). Past
this the step is abandoned: nothing in-process can be killed, so waiting longer only
delays the run. kill_grace is for processes (commands, `isolation = "process"`).
"""


MOVED_MODULES = {
    f"tether.steps.{name}": f"tether.workflows.{name}"
    for name in (
        "checks",
        "check_suite",
        "check_reports",
        "context_pack",
        "git_diff",
        "library_choice",
    )
}
"""The built-in workflows' functions moved next to their workflow files. A workflow
written (or a run journaled) with the old `call` keeps working: the old module path
resolves to the new one, and a step's definition hash is taken with the old spelling, so
a built-in run paused before the move still resumes."""
_FIRST_SPELLING = {new: old for old, new in MOVED_MODULES.items()}


def current_target(target: str) -> str:
    """`target` with a moved module's old path replaced by where it lives now."""
    module_name, colon, attribute = target.partition(":")
    return MOVED_MODULES.get(module_name, module_name) + colon + attribute


class PythonKind:
    name = "python"

    def stable_definition(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The step's TOML table as hashed for resume checks: a moved module's `call` in
        its first spelling (see MOVED_MODULES)."""
        definition = dict(raw)
        call = definition.get("call")
        if isinstance(call, str):
            module_name, colon, attribute = call.partition(":")
            definition["call"] = _FIRST_SPELLING.get(module_name, module_name) + colon + attribute
        return definition

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = [
            (key, "unknown field for a python step") for key in options if key not in _FIELDS
        ]
        call = options.get("call")
        if not isinstance(call, str) or not _TARGET.match(call):
            problems.append(("call", 'a python step needs call = "package.module:function"'))
        if not isinstance(options.get("inputs", {}), dict):
            problems.append(("inputs", "must be a table"))
        return problems

    # `isolation = "process"` is accepted for this kind (see steps.isolation).
    process_isolation = True

    def cancel_grace(self, step: StepSpec) -> float:
        if step.options.get("isolation") == "process":
            return step.kill_grace + _MARGIN
        return IN_PROCESS_GRACE

    async def execute(self, ctx: StepContext) -> Any:
        target = str(ctx.options["call"])
        if ctx.options.get("isolation") == "process":
            from tether.steps.python_process import run_in_child_process

            return await run_in_child_process(ctx, target)
        if current_target(target).partition(":")[0] in sys.modules:
            function = resolve_callable(target, str(ctx.workspace))  # imported: no I/O
        else:
            # A first import runs module code that may block; keep it off the loop.
            function = await run_in_daemon_thread(resolve_callable, target, str(ctx.workspace))
        if inspect.iscoroutinefunction(function):
            return await function(ctx)
        result = await run_in_daemon_thread(function, ctx, name=f"tether-step-{ctx.step.id}")
        if inspect.isawaitable(result):
            return await result
        return result


def resolve_callable(target: str, workspace: str) -> Any:
    module_name, _, attribute = current_target(target).partition(":")
    # Steps call project code by module path, as `python -m` would from the workspace.
    if workspace not in sys.path:
        sys.path.insert(0, workspace)
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise StepFailed(f"cannot import {module_name!r} for call {target!r}: {error}") from error
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError as error:
            raise StepFailed(f"{target!r}: {module_name} has no {attribute!r}") from error
    if not callable(value):
        raise StepFailed(f"{target!r} is not callable")
    return value
