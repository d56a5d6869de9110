"""A workflow invocation from the editor: its spec and parameter values, checked as the
CLI checks them (used by commands and the docs pre-warm)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tether.engine.spec import WorkflowSpec


def load_invocation(
    workflow: str, overrides: Mapping[str, str], workspace: Path, kinds: Any
) -> tuple[WorkflowSpec, dict[str, Any]]:
    """The workflow's spec and its parameter values (file I/O: called in a thread).
    Raises WorkflowError naming file, line and field, also for an unreadable
    pyproject.toml or package.json (the CLI refuses those with exit 2 too)."""
    from tether.engine.errors import WorkflowError
    from tether.engine.loader import apply_params, resolve_workflow
    from tether.project.files import ProjectFileError, check_project_files

    try:
        check_project_files(workspace)
    except ProjectFileError as error:
        raise WorkflowError(error.cause, path=error.path, line=error.line) from None
    spec = resolve_workflow(workflow, workspace, kinds)
    return spec, apply_params(spec, overrides)
