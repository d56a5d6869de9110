from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tether.engine.events import Event
from tether.engine.execution import Execution
from tether.engine.loader import apply_params, load_workflow
from tether.engine.state import RunState
from tether.steps.registry import builtin_kinds


@dataclass
class Outcome:
    state: RunState
    elapsed: float
    events: list[Event]
    execution: Execution

    def step(self, step_id: str) -> Any:
        return self.state.steps[step_id]


RunWorkflow = Callable[..., Any]


@dataclass(frozen=True)
class PythonSteps:
    """`[[steps]]` text for python steps that call functions of one module."""

    module: str

    def __call__(self, step_id: str, function: str, extra: str = "", **inputs: object) -> str:
        rendered = ", ".join(f"{key} = {value!r}" for key, value in inputs.items())
        return f"""
[[steps]]
id = "{step_id}"
kind = "python"
call = "{self.module}:{function}"
inputs = {{ {rendered.replace("'", '"')} }}
{extra}
"""


@pytest.fixture
def run_workflow(tmp_path: Path) -> RunWorkflow:
    """Write a workflow file into a fresh workspace and run it in this process."""

    async def run(text: str, *, budget: float | None = None, **params: str) -> Outcome:
        workspace = tmp_path / "ws"
        (workspace / ".tether" / "workflows").mkdir(parents=True, exist_ok=True)
        path = workspace / ".tether" / "workflows" / "test.toml"
        path.write_text(text)
        kinds = builtin_kinds()
        spec = load_workflow(path, kinds)
        execution = Execution.new(spec, apply_params(spec, params), workspace, kinds, budget=budget)
        events: list[Event] = []
        execution.bus.subscribe(events.append)
        started = time.monotonic()
        state = await execution.run()
        return Outcome(state, time.monotonic() - started, events, execution)

    return run


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    return tmp_path / "marks"
