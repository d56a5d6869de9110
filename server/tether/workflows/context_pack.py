"""A context pack for a task, in one step that degrades instead of failing.

Chooses the libraries the prompt concerns (workflows.library_choice), then runs the `docs`
kind for them. Offline with nothing cached, say, the pack is simply absent and the
reason is in the output: the plan, implement and review steps after it still run.
With `required = true` (the `context` workflow's own use) a failure fails the step.

Inputs: prompt, files, limit, max_tokens, required, require_prompt.
Output: {pack: PATH | None, libraries: [...], chosen: {...}, problem: str | None}.
"""

from __future__ import annotations

from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed
from tether.engine.threads import run_in_daemon_thread
from tether.steps.conditions import is_true
from tether.steps.docs import DocsKind
from tether.steps.nested import CapturingSink, child_context
from tether.workflows.library_choice import DEFAULT_LIMIT, choose_libraries, file_list, limit_of


async def gather_context(ctx: StepContext) -> dict[str, Any]:
    inputs = ctx.inputs
    prompt = str(inputs.get("prompt", "")).strip()
    if not prompt and is_true(inputs.get("require_prompt", False)):
        raise StepFailed('this workflow needs a task: pass -p prompt="what to do"')
    choice = await run_in_daemon_thread(
        choose_libraries,
        ctx.workspace,
        prompt,
        file_list(inputs.get("files", [])),
        limit_of(inputs.get("limit", DEFAULT_LIMIT)),
    )
    output: dict[str, Any] = {
        "pack": None,
        "libraries": [],
        "chosen": choice.to_json(),
        "problem": None,
    }
    if not choice.libraries:
        output["problem"] = "the workspace declares no dependencies"
        return output
    options: dict[str, Any] = {"libraries": choice.libraries, "query": prompt}
    if "max_tokens" in inputs:
        options["max_tokens"] = int(inputs["max_tokens"])
    try:
        docs = await DocsKind().execute(child_context(ctx, CapturingSink(ctx), options))
    except StepFailed as error:
        if is_true(inputs.get("required", False)):
            raise
        ctx.logger.warning("no context pack: %s", error)
        output["problem"] = str(error)
        return output
    output["pack"] = docs.get("pack")
    output["libraries"] = docs.get("libraries", [])
    return output
