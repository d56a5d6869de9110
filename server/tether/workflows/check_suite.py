"""Every check tool in one step that reports rather than fails: `green`, and a report.

The `build`, `fix` and `review` workflows need the check results downstream, even red
ones; separate check steps would skip everything after a failure. Each tool of the
`check` workflow (workflows.checks) runs in parallel here with its own captured output.

Inputs: `target` (default "."). For the `fix` workflow's unrolled rounds: `round` (this
check's number, 0 before any fix) and `rounds` (the fixes allowed): the output's
`continue` says whether another fix round should run, and a check that is still red
when no round is left fails the step. Without rounds (the `build` workflow) a red check
fails the step at once, naming what failed: a build whose checks are red did not succeed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed, StepSkipped
from tether.steps.briefing import fenced
from tether.steps.nested import CapturingSink, child_context
from tether.workflows import checks

Tool = Callable[[StepContext], Awaitable[Any]]
TOOLS: tuple[tuple[str, Tool], ...] = (
    ("ruff", checks.ruff),
    ("mypy", checks.mypy),
    ("pytest", checks.pytest),
    ("npm-test", checks.npm_test),
    ("tsc", checks.tsc),
)
MAX_ROUNDS = 5
"""Fix rounds the `fix` workflow unrolls; `rounds` may not exceed it."""
_REPORT_LINES = 60
_STORY_LINES = 6


async def run_checks(ctx: StepContext) -> dict[str, Any]:
    rounds = _rounds(ctx)
    options = {"inputs": {"target": str(ctx.inputs.get("target", "."))}}
    results: dict[str, dict[str, str]] = {}

    async def one(name: str, tool: Tool) -> None:
        sink = CapturingSink(ctx, label=name)
        try:
            await tool(child_context(ctx, sink, options))
        except StepSkipped as skipped:
            results[name] = {"status": "skipped", "detail": str(skipped)}
        except StepFailed as failed:
            results[name] = {"status": "failed", "detail": str(failed), "output": sink.text()}
        except Exception as error:  # a tool that broke is a red check, not a lost report
            ctx.logger.warning("check %s broke: %s", name, error, exc_info=True)
            detail = f"{type(error).__name__}: {error}"
            results[name] = {"status": "failed", "detail": detail, "output": sink.text()}
        else:
            results[name] = {"status": "passed", "detail": "", "output": sink.text()}

    async with asyncio.TaskGroup() as group:
        for name, tool in TOOLS:
            group.create_task(one(name, tool))
    ordered = {name: results[name] for name, _ in TOOLS}
    failed = [name for name, result in ordered.items() if result["status"] == "failed"]
    output: dict[str, Any] = {
        "green": not failed,
        "failed": failed,
        "passed": [name for name, r in ordered.items() if r["status"] == "passed"],
        "skipped": [name for name, r in ordered.items() if r["status"] == "skipped"],
        "report": _report(ordered),
        "tools": ordered,
    }
    if rounds is None and failed:
        raise StepFailed(_failure_story(ordered, failed))
    if rounds is not None:
        round_number, allowed = rounds
        output["round"] = round_number
        output["continue"] = bool(failed) and round_number < allowed
        if failed and round_number >= allowed:
            raise StepFailed(
                f"checks still failing after {allowed} fix round(s): {', '.join(failed)}"
            )
    return output


def _rounds(ctx: StepContext) -> tuple[int, int] | None:
    if "rounds" not in ctx.inputs:
        return None
    try:
        round_number = int(ctx.inputs.get("round", 0))
        allowed = int(ctx.inputs["rounds"])
    except (TypeError, ValueError):
        raise StepFailed(
            f"rounds and round must be whole numbers, got {ctx.inputs.get('rounds')!r}"
        ) from None
    if not 0 <= allowed <= MAX_ROUNDS:
        raise StepFailed(f"rounds must be from 0 to {MAX_ROUNDS}, got {allowed}")
    return round_number, allowed


def _failure_story(results: dict[str, dict[str, str]], failed: list[str]) -> str:
    """The step's error: which checks failed, then each one's own first lines."""
    lines = [f"checks failing: {', '.join(failed)}"]
    for name in failed:
        lines.extend(results[name]["detail"].splitlines()[:_STORY_LINES])
    return "\n".join(lines)


def _report(results: dict[str, dict[str, str]]) -> str:
    """Markdown an agent or a model can act on: the verdict, then each failure's output."""
    failed = [name for name, r in results.items() if r["status"] == "failed"]
    passed = [name for name, r in results.items() if r["status"] == "passed"]
    skipped = [name for name, r in results.items() if r["status"] == "skipped"]
    verdict = "All checks pass" if not failed else f"Failing: {', '.join(failed)}"
    if not failed and not passed:
        verdict = "Nothing to check here: every tool was skipped (so nothing passed)"
    lines = [
        f"{verdict}. Passed: {', '.join(passed) or 'none'}. "
        f"Skipped: {', '.join(skipped) or 'none'}."
    ]
    for name in failed:
        result = results[name]
        tail = "\n".join(result.get("output", "").splitlines()[-_REPORT_LINES:])
        story, *findings = result["detail"].splitlines() or [""]
        lines += ["", f"### {name}: {story}", ""]
        lines += [f"- {finding}" for finding in findings]
        lines += ["", fenced(tail or "(no output)")]
    for name in skipped:
        lines.append(f"- {name} skipped: {results[name]['detail']}")
    return "\n".join(lines)
