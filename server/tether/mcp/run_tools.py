"""Tools over runs: start one, continue one, cancel, list, show.

Every use case is the engine's run operations (engine/run_operations.py), as for the CLI
and the language server; this module reads arguments and presents outcomes. A run is
owned by a detached owner process, never by this server or the tool call: a call waits
at most its budget and returns with the run still going and the call that continues it.
A client that gives up on a call (or quits) stops only the waiting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from tether.engine.state import RunState
from tether.mcp.progress import RunProgress
from tether.mcp.registry import closed_tool
from tether.mcp.results import MAX_JSON_CHARS, fit_list, json_result, json_text
from tether.mcp.run_results import bound_run, next_call
from tether.mcp.workspace import ToolWorkspace

RUN_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"
MAX_BUDGET = 600.0
"""Longest wait one call may ask for: past ten minutes, every client has given up."""
INSTRUCTION_CHARS = 4000
CANCEL_WAIT = 10.0
"""Seconds cancel_run waits for a live run's owner to finish stopping it."""

RunStatusName = Literal[
    "running", "succeeded", "failed", "timed_out", "cancelled", "paused", "waiting"
]
RunId = Annotated[
    str,
    Field(
        pattern=RUN_ID_PATTERN,
        max_length=128,
        description="The run's id, as run_workflow or list_runs gave it.",
    ),
]
WorkflowName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="The workflow's name, e.g. `check` (list_workflows shows them).",
    ),
]
Params = Annotated[
    dict[str, str] | None,
    Field(
        max_length=100,
        description='Workflow parameters as text, e.g. {"target": "src"}; the workflow '
        "file declares which exist and converts each to its type.",
    ),
]
Budget = Annotated[
    str | None,
    Field(
        pattern=DURATION_PATTERN,
        description="How long this call waits for the run, e.g. `20s` or `2m` (at most "
        "10m); default from settings (`mcp.call_budget`, 30s). The run goes on after.",
    ),
]


class RunTools:
    def __init__(self, workspace: ToolWorkspace) -> None:
        self.workspace = workspace

    def tools(self) -> list[Tool]:
        changes = ToolAnnotations(read_only_hint=False, destructive_hint=False)
        reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)
        return [
            closed_tool(
                self.run_workflow,
                name="run_workflow",
                description=(
                    "Start a workflow (e.g. `check`: lint, types and tests) and wait for it "
                    "at most `budget`. Call this to run the project's checks or any other "
                    "workflow. Returns the run as JSON: when its status is `running` or "
                    "`waiting`, the run goes on in the background and `next` is the call to "
                    "make (resume_run with its run_id). Progress notifications name each "
                    "step as it starts and ends."
                ),
                annotations=changes,
            ),
            closed_tool(
                self.resume_run,
                name="resume_run",
                description=(
                    "Continue a run: wait again on one still running, resume one that "
                    "stopped, or give a step that waits for a result its `result`. Call "
                    "this with the run_id a previous call returned, as its `next` says."
                ),
                annotations=changes,
            ),
            closed_tool(
                self.cancel_run,
                name="cancel_run",
                description=(
                    "Cancel a run that is running, paused or waiting; its steps are stopped "
                    "and cleaned up. Call this when a run is no longer wanted."
                ),
                annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True),
            ),
            closed_tool(
                self.list_runs,
                name="list_runs",
                description=(
                    "List this project's runs, newest first, with status and whether a "
                    "process still runs them. Call this to find a run id you lost."
                ),
                annotations=reads,
            ),
            closed_tool(
                self.show_run,
                name="show_run",
                description=(
                    "Show one run as JSON (every step's status, output and error) without "
                    "waiting. Call this to read a finished run's results again."
                ),
                annotations=reads,
            ),
        ]

    # -- the tools ----------------------------------------------------------------------

    async def run_workflow(
        self,
        workflow: WorkflowName,
        ctx: Context,
        params: Params = None,
        budget: Budget = None,
    ) -> CallToolResult:
        from tether.engine import run_operations as ops
        from tether.engine.errors import WorkflowError
        from tether.engine.loader import apply_params, resolve_workflow

        config = self.workspace.settings()
        seconds = self._budget(budget, config.mcp.call_budget)
        kinds = self.workspace.kinds(config)
        root = self.workspace.root
        overrides = params or {}
        try:
            spec = await asyncio.to_thread(resolve_workflow, workflow, root, kinds)
            await asyncio.to_thread(apply_params, spec, overrides)
        except WorkflowError as error:
            raise ToolError(_one_line(error)) from error
        try:
            run_id = await ops.start_detached(root, workflow, overrides, name=spec.name)
        except ops.OwnerStartError as error:
            raise ToolError(_one_line(error)) from error
        async with RunProgress(ctx, spec.name, config.progress_interval) as progress:
            outcome = await self._operation(
                ops.wait_run(
                    root,
                    run_id,
                    budget=seconds,
                    after_seq=0,
                    on_event=progress.on_event,
                    continuation_budget=seconds,
                )
            )
        return self._present(outcome.to_json(), outcome.state, outcome.kind.value)

    async def resume_run(
        self,
        run_id: RunId,
        ctx: Context,
        budget: Budget = None,
        result: Annotated[
            str | None,
            Field(
                max_length=1_000_000,
                description="The result for a step that waits for one (its instruction "
                "says what to give); omit it to wait on or resume the run.",
            ),
        ] = None,
        step: Annotated[
            str | None,
            Field(
                max_length=64,
                description="Which waiting step the result is for, when several wait.",
            ),
        ] = None,
    ) -> CallToolResult:
        from tether.engine import run_operations as ops

        config = self.workspace.settings()
        seconds = self._budget(budget, config.mcp.call_budget)
        if result is None and step is not None:
            raise ToolError("'step' names the step a 'result' is for; give the result too")
        root = self.workspace.root
        before = await self._operation(ops.show_run(root, run_id))
        extra: dict[str, Any] = {} if result is None else {"result": result, "step": step}
        async with RunProgress(
            ctx, before.state.workflow or run_id, config.progress_interval
        ) as progress:
            outcome = await self._operation(
                ops.resume_run(
                    root,
                    run_id,
                    budget=seconds,
                    on_event=progress.on_event,
                    continuation_budget=seconds,
                    **extra,
                )
            )
        return self._present(outcome.to_json(), outcome.state, outcome.kind.value)

    async def cancel_run(self, run_id: RunId) -> CallToolResult:
        from tether.engine import run_operations as ops

        root = self.workspace.root
        await self._operation(ops.cancel_run(root, run_id))
        # A live owner stops the run's steps and journals the end: wait for that, briefly.
        outcome = await self._operation(ops.wait_run(root, run_id, budget=CANCEL_WAIT, after_seq=0))
        return self._present(outcome.to_json(), outcome.state, outcome.kind.value)

    async def list_runs(
        self,
        status: Annotated[
            RunStatusName | None, Field(description="Only runs with this status.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="At most this many runs.")] = 20,
    ) -> CallToolResult:
        import time

        from tether.engine import run_operations as ops

        summaries = await self._operation(ops.list_runs(self.workspace.root))
        now = time.time()
        rows = [summary.to_json(now) for summary in summaries]
        if status is not None:
            rows = [row for row in rows if row["status"] == status]
        return json_result(fit_list({"runs": rows[:limit]}, "runs"))

    async def show_run(self, run_id: RunId) -> CallToolResult:
        from tether.engine import run_operations as ops

        view = await self._operation(ops.show_run(self.workspace.root, run_id))
        record = view.state.to_json(view.continuation)
        record["live"] = view.owner is not None
        kind = "running" if view.owner is not None else str(view.state.status)
        return self._present(record, view.state, kind)

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _budget(text: str | None, default: str) -> float:
        from tether.engine.durations import parse_duration

        try:
            seconds = parse_duration(text if text is not None else default)
        except ValueError as error:
            raise ToolError(f"budget: {error}") from error
        if not 0 < seconds <= MAX_BUDGET:
            raise ToolError(f"budget: must be more than 0 and at most 10m, got {text!r}")
        return seconds

    @staticmethod
    async def _operation(awaitable: Any) -> Any:
        """Await a run operation; its refusals become one-line tool errors."""
        from tether.engine import run_operations as ops
        from tether.engine.errors import RunIdError

        try:
            return await awaitable
        except (
            RunIdError,
            ops.RunNotFound,
            ops.JournalError,
            ops.ResumeRefused,
            ops.OwnerStartError,
        ) as error:
            raise ToolError(_one_line(error)) from error

    def _present(self, record: dict[str, Any], state: RunState, kind: str) -> CallToolResult:
        extras: dict[str, Any] = {}
        waiting = list(state.waiting_steps) if record.get("resume_command") else []
        extras["next"] = next_call(record, [step.id for step in waiting])
        if waiting:
            extras["waiting_for"] = [_waiting_entry(step.id, step.waiting) for step in waiting]
        # In the JSON itself: Claude Code hands the model the structured content only.
        extras["summary"] = _summary(record, extras, kind)
        bounded = bound_run(record, MAX_JSON_CHARS - len(json_text(extras)))
        return json_result({**bounded, **extras})


def _waiting_entry(step: str, request: Any) -> dict[str, Any]:
    details = request if isinstance(request, dict) else {}
    entry: dict[str, Any] = {"step": step}
    path = details.get("instruction_file")
    if isinstance(path, str):
        entry["instruction_file"] = path
        try:
            with Path(path).open(encoding="utf-8", errors="replace") as handle:
                text = handle.read(INSTRUCTION_CHARS + 1)
        except OSError as error:
            text = f"(cannot read the instruction: {error.strerror or error})"
        if len(text) > INSTRUCTION_CHARS:
            text = text[:INSTRUCTION_CHARS] + f"\n... (cut; read {path} for the rest)"
        entry["instruction"] = text
    return entry


def _summary(record: dict[str, Any], extras: dict[str, Any], kind: str) -> str:
    """One sentence for the model: where the run is, and what to do next."""
    run = f"run {record['run_id']} ({record['workflow']})"
    if extras.get("next") is None:
        return f"{run}: {record['status']}."
    call = f"call resume_run with run_id {record['run_id']!r}"
    if extras.get("waiting_for"):
        return f"{run}: waiting for a result; {call} and the result (see waiting_for)."
    if kind == "running":
        return f"{run}: still running (it goes on in the background); {call} to wait again."
    return f"{run}: {record['status']}; {call} to resume it."


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__
