"""What the client sees of a run: work-done progress, or log lines without it."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.lsp.harness import (
    TestClient,
    capabilities,
    start_server,
    stop_server,
)


async def test_multi_step_run_begins_reports_each_transition_and_ends(client: TestClient) -> None:
    result = await client.command("tether.run", {"workflow": "multi"})
    run_id = result["run_id"]
    await client.until(lambda: client.ended(run_id))
    values = client.progress_of(run_id)
    begin, *reports, end = values
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert begin.title == "multi" and begin.cancellable is True
    assert all(isinstance(value, types.WorkDoneProgressReport) for value in reports)
    messages = [report.message for report in reports]
    transitions = [m for m in messages if m.split()[0] in ("first", "second", "third")]
    assert [m.rsplit(" in ", 1)[0] for m in transitions] == [
        "first started",
        "first succeeded",
        "second started",
        "second succeeded",
        "third started",
        "third succeeded",
    ]
    percentages = [report.percentage for report in reports]
    assert percentages == sorted(percentages) and percentages[-1] == 100
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "succeeded"
    # The token was created by the server before it was used.
    methods = [method for method, _ in client.received]
    assert methods.index("window/workDoneProgress/create") < methods.index("$/progress")
    statuses = client.statuses_of(run_id)
    assert statuses[-1]["status"] == "succeeded"
    assert {s.get("step") for s in statuses if s.get("step")} == {"first", "second", "third"}


async def test_reports_keep_coming_every_progress_interval(
    workspace: Path, env: dict[str, str]
) -> None:
    options = {"progressInterval": 0.5, "prewarm": {"onStart": False}}
    client = await start_server(workspace, env, capabilities("vscode"), options)
    try:
        result = await client.command("tether.run", {"workflow": "nap"})
        await client.until(lambda: client.ended(result["run_id"]))
        periodic = [
            value.message
            for value in client.progress_of(result["run_id"])
            if isinstance(value, types.WorkDoneProgressReport)
            and value.message.startswith("running nap")
        ]
        assert len(periodic) >= 2, periodic
    finally:
        await stop_server(client)


async def test_client_without_progress_support_gets_log_lines(
    workspace: Path, env: dict[str, str]
) -> None:
    caps = capabilities("vscode", progress=False)
    client = await start_server(workspace, env, caps, {"prewarm": {"onStart": False}})
    try:
        result = await client.command("tether.run", {"workflow": "multi"})
        assert result["status"] == "succeeded"
        await client.until(lambda: client.ended(result["run_id"]))
        methods = {method for method, _ in client.received}
        assert "window/workDoneProgress/create" not in methods
        assert "$/progress" not in methods
        lines = [m.message for m in client.log_messages if m.message.startswith("tether: multi")]
        assert f"tether: multi {result['run_id']}: started" in lines
        assert any(line.startswith("tether: multi: second succeeded") for line in lines)
        assert lines[-1] == "tether: multi: succeeded"
        assert all(m.type == types.MessageType.Info for m in client.log_messages if m in lines)
    finally:
        await stop_server(client)
