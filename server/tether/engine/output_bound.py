"""How much of a step's partial output the journal keeps: bounded, whatever the step emits.

The first HEAD_ITEMS items of a step are journaled as they come. Past that, each item
goes to the step's whole-output log (`artifacts/output-<step>.jsonl`, every item from the
first, one JSON value a line) and only the last TAIL_ITEMS are kept in memory; when the
step finishes, its `step_finished` line carries them (`tail`) and the count of the
items in between (`elided`, with the log's path). Replay then shows the head, one
`{"$elided": N, "log": PATH}` marker, and the tail: every item's existence is kept, the
journal and everything that reads it stay bounded (6 MB of output no longer makes a
68 MB journal), and the whole output is one file away.
"""

from __future__ import annotations

import collections
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tether.engine.runfiles import open_run_file

logger = logging.getLogger(__name__)

HEAD_ITEMS = 100
TAIL_ITEMS = 100
ELIDED_KEY = "$elided"


@dataclass
class _StepOutput:
    count: int = 0
    head: list[bytes] = field(default_factory=list)
    """Serialised head items, kept until the log is started (then written to it)."""
    tail: collections.deque[Any] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_ITEMS)
    )
    log_fd: int = -1
    log_name: str = ""
    log_error: str | None = None


class OutputBound:
    """Decides, per step, whether an emitted item goes into the journal."""

    def __init__(self, run_dir: Path, artifacts_dir: str) -> None:
        self.run_dir = run_dir
        self.artifacts_dir = artifacts_dir
        self._steps: dict[str, _StepOutput] = {}

    def admit(self, step: str, item: Any) -> bool:
        """True: journal this item as usual. False: it went to the log and the tail."""
        state = self._steps.setdefault(step, _StepOutput())
        state.count += 1
        encoded = orjson.dumps(item)
        if state.count <= HEAD_ITEMS:
            state.head.append(encoded)
            return True
        if state.log_fd < 0 and state.log_error is None:
            self._start_log(step, state)
        self._append(state, encoded)
        state.tail.append(item)
        return False

    def finish(self, step: str, record: dict[str, Any]) -> None:
        """Add the tail and the elided count to a step's `step_finished` record."""
        state = self._steps.pop(step, None)
        if state is None or state.count <= HEAD_ITEMS:
            return
        tail = list(state.tail)
        record["elided"] = {
            "count": state.count - HEAD_ITEMS - len(tail),
            "log": state.log_name if state.log_error is None else None,
        }
        record["tail"] = tail
        self._close_log(state)

    def close(self) -> None:
        for state in self._steps.values():
            self._close_log(state)
        self._steps.clear()

    def _start_log(self, step: str, state: _StepOutput) -> None:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", step)[:100]
        name = f"{self.artifacts_dir}/output-{safe}.jsonl"
        try:
            (self.run_dir / self.artifacts_dir).mkdir(exist_ok=True)
            state.log_fd = open_run_file(self.run_dir / name, os.O_WRONLY | os.O_CREAT)
            os.ftruncate(state.log_fd, 0)  # a log from an earlier attempt or run
        except OSError as error:
            state.log_error = str(error)
            logger.error("cannot write the output log of step %s: %s", step, error)
            return
        state.log_name = name
        for encoded in state.head:
            self._append(state, encoded)
        state.head.clear()

    def _append(self, state: _StepOutput, encoded: bytes) -> None:
        if state.log_fd < 0:
            return
        try:
            data = memoryview(encoded + b"\n")
            while data:
                data = data[os.write(state.log_fd, data) :]
        except OSError as error:
            state.log_error = str(error)
            logger.error("output log write failed: %s", error)
            self._close_log(state)

    @staticmethod
    def _close_log(state: _StepOutput) -> None:
        if state.log_fd >= 0:
            os.close(state.log_fd)
            state.log_fd = -1


def expand_tail(data: dict[str, Any]) -> list[Any]:
    """The partial items a `step_finished` record adds on replay: the marker and tail."""
    elided = data.get("elided")
    tail = data.get("tail")
    if not isinstance(elided, dict) or not isinstance(tail, list):
        return []
    marker = {ELIDED_KEY: int(elided.get("count", 0)), "log": elided.get("log")}
    return [marker, *tail]
