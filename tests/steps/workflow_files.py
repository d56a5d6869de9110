"""Writing a workflow file into a test workspace and setting up a run of it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tether.engine.execution import Execution
from tether.engine.kinds import StepKind
from tether.engine.loader import apply_params, load_workflow


def new_execution(
    workspace: Path,
    file_name: str,
    text: str,
    kinds: dict[str, StepKind],
    params: Mapping[str, str] | None = None,
) -> Execution:
    """Write `text` as `.tether/workflows/<file_name>` and set up (not run) an execution of it."""
    folder = workspace / ".tether" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_text(text)
    spec = load_workflow(folder / file_name, kinds)
    return Execution.new(spec, apply_params(spec, params or {}), workspace, kinds)
