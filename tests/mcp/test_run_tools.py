"""The run tools of `tether mcp` over stdio with the SDK's client: progress per step
transition, a call budget that returns a continuation while the run goes on, a waiting
step resumed with a result, cancel, list, show, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.mcp.harness import (
    TWO_STEPS,
    assert_each_refused_in_one_line,
    mcp_session,
    server_env,
    structured,
    text_of,
)

# Runs until a file appears: the test decides when it ends, no clock involved.
GATED = """
name = "gated"
description = "waits for a gate file"

[[steps]]
id = "gate"
kind = "command"
shell = true
run = "while [ ! -e gate.open ]; do sleep 0.05; done; echo opened"
"""

ASKS = """
name = "asks"
description = "asks the agent, then uses the answer"

[[steps]]
id = "ask"
kind = "agent"
task = "Name a colour."

[[steps]]
id = "use"
kind = "command"
run = ["echo", "colour: ${steps.ask.output.result}"]
needs = ["ask"]
"""

# 200 kept lines of 250 characters: more than a tool result may carry.
LOUD = f"""
name = "loud"
description = "prints a lot"

[[steps]]
id = "spew"
kind = "command"
shell = true
run = "yes {"0123456789" * 25} | head -n 4000"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    folder = root / ".tether" / "workflows"
    folder.mkdir(parents=True)
    for name, text in {"two": TWO_STEPS, "gated": GATED, "asks": ASKS, "loud": LOUD}.items():
        (folder / f"{name}.toml").write_text(text)
    return root


class Progress:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.values: list[float] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        self.messages.append(message or "")

    def transitions(self) -> list[str]:
        return [message for message in self.messages if ": still running" not in message]


async def test_two_steps_send_one_progress_notification_per_transition_in_order(
    workspace: Path, tmp_path: Path
) -> None:
    progress = Progress()
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        result = await session.call_tool(
            "run_workflow", {"workflow": "two", "budget": "60s"}, progress_callback=progress
        )
    run = structured(result)
    assert run["status"] == "succeeded" and run["next"] is None
    assert [step["status"] for step in run["steps"]] == ["succeeded", "succeeded"]
    assert progress.transitions() == [
        "two: run started",
        "two: first running",
        "two: first succeeded",
        "two: second running",
        "two: second succeeded",
        "two: run succeeded",
    ]
    assert progress.values == sorted(set(progress.values))  # strictly increasing


async def test_while_a_step_runs_a_note_goes_out_every_progress_interval(
    workspace: Path, tmp_path: Path
) -> None:
    (workspace / ".tether" / "config.toml").write_text('progress_interval = "200ms"\n')
    progress = Progress()
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        result = await session.call_tool(
            "run_workflow", {"workflow": "gated", "budget": "4s"}, progress_callback=progress
        )
        await session.call_tool("cancel_run", {"run_id": structured(result)["run_id"]})
    notes = [message for message in progress.messages if ": still running" in message]
    assert len(notes) >= 2, progress.messages
    assert set(notes) == {"gated: still running gate"}


async def test_a_run_longer_than_the_budget_returns_a_continuation_and_finishes(
    workspace: Path, tmp_path: Path
) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        first = await session.call_tool("run_workflow", {"workflow": "gated", "budget": "1s"})
        run = structured(first)
        assert run["status"] == "running" and run["live"] is True
        assert run["next"] == {"tool": "resume_run", "arguments": {"run_id": run["run_id"]}}
        assert run["resume_command"].startswith(f"tether resume {run['run_id']} --budget")
        assert "still running" in run["summary"]
        assert json.loads(text_of(first)) == run
    # The client is gone; the run is not: open the gate, and a new session finds it ended.
    (workspace / "gate.open").touch()
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        done = await session.call_tool("resume_run", {"run_id": run["run_id"], "budget": "60s"})
        shown = await session.call_tool("show_run", {"run_id": run["run_id"]})
        listed = await session.call_tool("list_runs", {"status": "succeeded"})
    finished = structured(done)
    assert finished["status"] == "succeeded" and finished["next"] is None
    assert finished["steps"][0]["output"]["text"].strip().endswith("opened")
    assert structured(shown)["status"] == "succeeded"
    assert [row["run_id"] for row in structured(listed)["runs"]] == [run["run_id"]]


async def test_a_waiting_step_is_resumed_with_a_result(workspace: Path, tmp_path: Path) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        asked = structured(
            await session.call_tool("run_workflow", {"workflow": "asks", "budget": "60s"})
        )
        assert asked["status"] == "waiting"
        (waiting,) = asked["waiting_for"]
        assert waiting["step"] == "ask" and "Name a colour." in waiting["instruction"]
        assert asked["next"]["arguments"]["step"] == "ask"
        answered = await session.call_tool(
            "resume_run", {"run_id": asked["run_id"], "result": "teal", "budget": "60s"}
        )
    run = structured(answered)
    assert run["status"] == "succeeded", run
    steps = {step["id"]: step for step in run["steps"]}
    assert steps["ask"]["output"]["result"] == "teal"
    assert "colour: teal" in steps["use"]["output"]["text"]


async def test_cancel_stops_a_live_run(workspace: Path, tmp_path: Path) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        started = structured(
            await session.call_tool("run_workflow", {"workflow": "gated", "budget": "500ms"})
        )
        cancelled = structured(await session.call_tool("cancel_run", {"run_id": started["run_id"]}))
    assert cancelled["status"] == "cancelled"
    assert cancelled["steps"][0]["status"] == "cancelled"


async def test_a_huge_output_is_cut_to_the_bound(workspace: Path, tmp_path: Path) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        result = await session.call_tool("run_workflow", {"workflow": "loud", "budget": "60s"})
    run = structured(result)
    assert run["status"] == "succeeded"
    assert run["steps"][0]["truncated"] is True
    assert len(json.dumps(result.structured_content)) <= 16_500
    assert len(text_of(result)) <= 16_500


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("run_workflow", {"workflow": "nope"}, "nope"),
    ("run_workflow", {"workflow": "../../etc/passwd"}, "argument 'workflow'"),
    ("run_workflow", {"workflow": "two", "budget": "soon"}, "argument 'budget'"),
    ("run_workflow", {"workflow": "two", "budget": "2h"}, "at most 10m"),
    ("run_workflow", {"workflow": "two", "params": {"x": "1"}}, "x"),
    ("run_workflow", {"workflow": "two", "params": ["x"]}, "argument 'params'"),
    ("run_workflow", {}, "argument 'workflow': Field required"),
    ("resume_run", {"run_id": "../../etc"}, "argument 'run_id'"),
    ("resume_run", {"run_id": "a" * 200}, "argument 'run_id'"),
    ("resume_run", {"run_id": "no-such-run"}, "no run 'no-such-run'"),
    ("resume_run", {"run_id": "no-such-run", "step": "x"}, "give the result too"),
    ("show_run", {"run_id": "bad id"}, "argument 'run_id'"),
    ("show_run", {"run_id": "a..b"}, "invalid run id"),
    ("cancel_run", {"run_id": "no-such-run"}, "no run 'no-such-run'"),
    ("list_runs", {"status": "sleeping"}, "argument 'status'"),
]


async def test_each_bad_run_input_is_one_line_and_the_server_lives_on(
    workspace: Path, tmp_path: Path
) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        await assert_each_refused_in_one_line(session, BAD_CALLS)
        still = await session.call_tool("list_runs", {})
    assert structured(still)["runs"] == []
