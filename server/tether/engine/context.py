"""StepContext: what a step's code sees of the engine (the public python-step API)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from tether.engine.cleanup import Cleanup, CleanupStack
from tether.engine.deadlines import Deadline

if TYPE_CHECKING:
    from tether.engine.spec import StepSpec


class AttemptSink(Protocol):
    """Where a context's emits and heartbeats go (the engine's attempt supervisor)."""

    def record_output(self, item: Any) -> None: ...

    def record_heartbeat(self, details: Any) -> None: ...


class StepContext:
    """Handed to every step attempt. Safe to call from the step's worker thread too."""

    def __init__(
        self,
        *,
        step: StepSpec,
        run_id: str,
        attempt: int,
        options: Mapping[str, Any],
        params: Mapping[str, Any],
        results: Mapping[str, Any],
        workspace: Path,
        run_dir: Path,
        deadline: Deadline,
        last_heartbeat: Any,
        sink: AttemptSink,
        cleanups: CleanupStack,
        resume_result: Any = None,
    ) -> None:
        self.step = step
        self.run_id = run_id
        self.attempt = attempt
        """1-based, counted across retries and resumes."""
        self.options = options
        """All of the step's kind-specific fields after ${...} substitution."""
        inputs = options.get("inputs", {})
        self.inputs: Mapping[str, Any] = inputs if isinstance(inputs, Mapping) else {}
        """The step's templated `inputs` table."""
        self.params = params
        self.results = results
        """Outputs of finished steps, by step id."""
        self.workspace = workspace
        self.run_dir = run_dir
        self.deadline = deadline
        self.last_heartbeat = last_heartbeat
        """Details of the last heartbeat from a previous attempt or run, or None."""
        self.resume_result = resume_result
        """A result handed in by `tether resume --result` (agent steps), or None."""
        self.logger = logging.getLogger(f"tether.step.{step.id}")
        self._sink = sink
        self._cleanups = cleanups
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def remaining(self) -> float:
        """Seconds left on the tightest deadline (attempt, step, run or budget)."""
        return self.deadline.remaining()

    def emit(self, item: Any) -> None:
        """Partial output: the engine keeps it whatever happens to the step next."""
        orjson.dumps(item)  # fail here, in the step's code, if it cannot be journaled
        self._call(self._sink.record_output, item)

    def heartbeat(self, details: Any = None) -> None:
        """Liveness, plus a resume cursor that the next attempt or run sees."""
        if details is not None:
            orjson.dumps(details)
        self._call(self._sink.record_heartbeat, details)

    def on_cleanup(self, callback: Cleanup) -> None:
        """Run `callback` (sync or async) when the attempt ends, however it ends; LIFO."""
        self._cleanups.push(callback)

    def _call(self, function: Callable[[Any], None], value: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            function(value)
        else:
            self._loop.call_soon_threadsafe(function, value)
