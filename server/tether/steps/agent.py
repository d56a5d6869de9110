"""The `agent` step kind: hand a task to the chat agent and wait, durably, for its result.

First attempt: write an instruction to `<run dir>/agent/<step>.md` (task, context pack,
upstream inputs, files in scope, and the exact command to report back) and raise
StepWaiting; the run ends `waiting` (exit 3) and holds no process and no lock. `tether
resume RUN --result TEXT | --result-file FILE` hands the result in; the step then
succeeds with `{"result": TEXT, "via": "agent"}` and the run continues.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepWaiting
from tether.engine.kinds import DEFAULT_CANCEL_GRACE
from tether.engine.runids import resume_command
from tether.engine.spec import StepSpec
from tether.engine.threads import run_in_daemon_thread
from tether.steps.briefing import BRIEF_FIELDS, Brief, brief_from_options, brief_problems
from tether.steps.briefing import material_sections as _sections
from tether.steps.conditions import WHEN_FIELD, skip_unless_wanted

_FIELDS = {"task", WHEN_FIELD, *BRIEF_FIELDS}
AGENT_DIR = "agent"
CONTEXT_EXCERPT = 6_000
"""Characters of the context pack copied into an instruction (the file has the rest)."""


class AgentKind:
    name = "agent"

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = [
            (key, "unknown field for an agent step") for key in options if key not in _FIELDS
        ]
        task = options.get("task")
        if not isinstance(task, str) or not task.strip():
            problems.append(("task", "an agent step needs `task`: what the agent should do"))
        return problems + brief_problems(options)

    def isolation_problem(self, options: Mapping[str, Any]) -> str | None:
        return (
            "an agent step waits for its result, maybe for days; a snapshot worktree "
            "would be gone by then, so agent steps work in the workspace itself"
        )

    def cancel_grace(self, step: StepSpec) -> float:
        return DEFAULT_CANCEL_GRACE

    async def execute(self, ctx: StepContext) -> Any:
        skip_unless_wanted(ctx.options)
        if ctx.resume_result is not None:
            return agent_output(ctx.resume_result)
        brief = brief_from_options(ctx.options, str(ctx.options["task"]))
        raise StepWaiting(await hand_to_agent(ctx, brief))


def agent_output(result: Any) -> dict[str, Any]:
    """The output of a step whose result an agent handed in."""
    return {"result": result if isinstance(result, str) else str(result), "via": "agent"}


def instruction_path(run_dir: Path, step_id: str) -> Path:
    return run_dir / AGENT_DIR / f"{step_id}.md"


def result_path(run_dir: Path, step_id: str) -> Path:
    return run_dir / AGENT_DIR / f"{step_id}.result.md"


HAND_IN_BUDGET = 50.0
"""The budget the hand-in command asks for: it returns within a chat tool's window."""


def report_command(ctx: StepContext) -> str:
    """THE command that hands this step its result, works from any directory, and is
    printed verbatim both in the instruction and as the run's last line."""
    base = resume_command(ctx.run_id, budget=HAND_IN_BUDGET, workspace=ctx.workspace.resolve())
    return f"{base} --result-file {shlex.quote(str(result_path(ctx.run_dir, ctx.step.id)))}"


async def hand_to_agent(ctx: StepContext, brief: Brief, *, why: str = "") -> dict[str, Any]:
    """Write the step's instruction file; the StepWaiting request that points at it."""
    command = report_command(ctx)
    text = await run_in_daemon_thread(_instruction, ctx, brief, command, why)
    path = instruction_path(ctx.run_dir, ctx.step.id)
    await run_in_daemon_thread(_write, path, text)
    first_line = next((line for line in brief.task.splitlines() if line.strip()), "")
    return {
        "step": ctx.step.id,
        "instruction_file": str(path),
        "result_file": str(result_path(ctx.run_dir, ctx.step.id)),
        "resume": command,
        "task": first_line[:200],
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)  # a reader never sees half an instruction


def _instruction(ctx: StepContext, brief: Brief, command: str, why: str) -> str:
    step = ctx.step.id
    result_file = result_path(ctx.run_dir, step)
    lines = [
        f"# Agent task: {step}",
        "",
        f"tether run `{ctx.run_id}` is waiting at step `{step}` for you to do this task "
        "and report back; it continues with your result.",
    ]
    if why:
        lines += ["", why]
    lines += ["", "## Task", "", brief.task.strip()]
    for heading, body in _sections(brief, ctx.workspace, context_limit=CONTEXT_EXCERPT):
        lines += ["", f"## {heading}", "", body]
    lines += ["", "## Report back", ""]
    if brief.report.strip():
        lines += [f"Your result should contain: {brief.report.strip()}", ""]
    lines += [
        f"1. Write your result (markdown or plain text) to `{result_file}`.",
        "2. Run exactly this command:",
        "",
        f"    {command}",
        "",
        "Or give a short result inline: "
        f"`{command.rpartition(' --result-file ')[0]} --result TEXT`. "
        f"Your result becomes this step's output (`${{steps.{step}.output.result}}`) "
        "for the steps after it.",
        "",
    ]
    return "\n".join(lines)
