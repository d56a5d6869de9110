"""The `command` step kind: an argv list (or a shell string with shell = true).

A non-zero exit fails the step; with `retry_on_exit = [codes]` those exit codes are
retryable instead (within the step's `retries`), e.g. a flaky test suite's 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed, TransientError
from tether.engine.spec import StepSpec
from tether.steps.process import run_process

_FIELDS = {"run", "shell", "cwd", "env", "retry_on_exit"}
_MARGIN = 0.5


class CommandKind:
    name = "command"

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = [
            (key, "unknown field for a command step") for key in options if key not in _FIELDS
        ]
        run = options.get("run")
        shell = options.get("shell", False)
        if not isinstance(shell, bool):
            problems.append(("shell", "must be true or false"))
        if run is None:
            problems.append(
                ("run", "a command step needs `run` (an argv list, or a string with shell = true)")
            )
        elif shell and not isinstance(run, str):
            problems.append(("run", "with shell = true, run must be one string"))
        elif not shell and not (
            isinstance(run, list) and run and all(isinstance(part, str) for part in run)
        ):
            problems.append(("run", "must be a non-empty list of strings (or set shell = true)"))
        env = options.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            problems.append(("env", "must be a table of strings"))
        if not isinstance(options.get("cwd", "."), str):
            problems.append(("cwd", "must be a path string"))
        codes = options.get("retry_on_exit", [])
        if not isinstance(codes, list) or not all(
            isinstance(code, int) and not isinstance(code, bool) and code != 0 for code in codes
        ):
            problems.append(("retry_on_exit", "must be a list of non-zero exit codes, e.g. [1]"))
        return problems

    def cancel_grace(self, step: StepSpec) -> float:
        return step.kill_grace + _MARGIN

    async def execute(self, ctx: StepContext) -> Any:
        options = ctx.options
        run = options["run"]
        argv = ["/bin/sh", "-c", str(run)] if options.get("shell") else [str(p) for p in run]
        cwd = (ctx.workspace / Path(str(options.get("cwd", ".")))).resolve()
        try:
            result = await run_process(
                ctx, argv, cwd=cwd, env=options.get("env"), kill_grace=ctx.step.kill_grace
            )
        except FileNotFoundError as error:
            raise StepFailed(f"command not found: {argv[0]} ({error.strerror})") from error
        if result.exit_code != 0:
            last = result.tail.strip().splitlines()[-1:] or [""]
            message = f"exit code {result.exit_code}: {last[0][:300]}".rstrip(": ")
            if result.exit_code in options.get("retry_on_exit", []):
                raise TransientError(message)
            raise StepFailed(message)
        return {"exit_code": result.exit_code, "text": result.tail}
