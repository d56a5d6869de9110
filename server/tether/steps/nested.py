"""Run other step code inside a step: a child StepContext on the parent's deadline.

The built-in workflows combine existing step code (the check tools, the docs kind) in one
step so that a red check or a missing doc is reported, not fatal to the steps after it.
The child shares the parent's deadline and cleanups; its emits and heartbeats pass through
a sink that can keep them apart (per tool) before forwarding them to the parent.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from tether.engine.cleanup import Cleanup, CleanupStack
from tether.engine.context import StepContext


class _ParentCleanups(CleanupStack):
    """Cleanups registered on a child run with the parent's (same time box, same order)."""

    def __init__(self, parent: StepContext) -> None:
        super().__init__()
        self._parent = parent

    def push(self, callback: Cleanup) -> None:
        self._parent.on_cleanup(callback)


class CapturingSink:
    """Keeps the last `keep` items a child emitted and forwards each to the parent,
    prefixed with `label` when it is text."""

    def __init__(self, parent: StepContext, label: str = "", keep: int = 200) -> None:
        self.parent = parent
        self.label = label
        self.items: collections.deque[Any] = collections.deque(maxlen=keep)

    def record_output(self, item: Any) -> None:
        self.items.append(item)
        if self.label and isinstance(item, str):
            item = f"[{self.label}] {item}"
        self.parent.emit(item)

    def record_heartbeat(self, details: Any) -> None:
        self.parent.heartbeat(details)

    def text(self) -> str:
        return "\n".join(str(item) for item in self.items)


def child_context(
    parent: StepContext, sink: CapturingSink, options: Mapping[str, Any]
) -> StepContext:
    """A context for running other step code with `options` as its (rendered) options."""
    return StepContext(
        step=parent.step,
        run_id=parent.run_id,
        attempt=parent.attempt,
        options=options,
        params=parent.params,
        results=parent.results,
        workspace=parent.workspace,
        run_dir=parent.run_dir,
        deadline=parent.deadline,
        last_heartbeat=None,
        sink=sink,
        cleanups=_ParentCleanups(parent),
    )
