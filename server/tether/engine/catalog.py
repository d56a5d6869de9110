"""The workflows a workspace offers: one listing that every front end presents.

A workflow file that does not load is listed with its error rather than hidden, so that
a user who broke a file learns why it is missing from what they can run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.engine.errors import WorkflowError
from tether.engine.kinds import KindRegistry
from tether.engine.loader import BUILTIN_DIR, find_workflows, load_workflow


@dataclass(frozen=True)
class WorkflowEntry:
    name: str
    description: str
    source: str
    """`builtin`, or the file's path relative to the workspace."""
    error: str | None = None
    """Why the file does not load; None when it does."""

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
        }
        if self.error is not None:
            row["error"] = self.error
        return row


def list_workflows(workspace: Path, kinds: KindRegistry) -> list[WorkflowEntry]:
    """Every workflow by name, project files overriding built-ins (reads files: call it
    off the event loop)."""
    entries: list[WorkflowEntry] = []
    for name, path in sorted(find_workflows(workspace).items()):
        source = "builtin" if path.parent == BUILTIN_DIR else str(path.relative_to(workspace))
        try:
            spec = load_workflow(path, kinds)
        except WorkflowError as error:
            entries.append(WorkflowEntry(name, "", source, str(error)))
        else:
            entries.append(WorkflowEntry(name, spec.description, source))
    return entries
