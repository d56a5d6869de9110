"""How the server ends: shutdown mid-run pauses runs resumably and answers within a
second; exit codes; stdin EOF and a vanished client end it too. No orphans, ever."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from tests.lsp.harness import TestClient, capabilities, process_gone, start_server, stop_server
from tests.lsp.test_cancel import wait_until_sleeping


def journal_status(workspace: Path, run_id: str) -> tuple[str, str | None]:
    from tether.engine.runs import load_run

    state, owner = load_run(workspace, run_id)
    assert owner is None
    return str(state.status), state.reason


async def test_shutdown_mid_run_pauses_it_and_answers_within_a_second(
    client: TestClient, workspace: Path
) -> None:
    request = asyncio.ensure_future(client.command("tether.run", {"workflow": "slow"}))
    pids = await wait_until_sleeping(client, workspace)
    run_id = (workspace / "guard.started").read_text()
    started = time.monotonic()
    await client.shutdown_async(None)
    assert time.monotonic() - started < 1.0
    # The run paused (promptly, its steps honour SIGTERM), so its request got the paused run.
    paused = await asyncio.wait_for(request, 5)
    assert paused["status"] == "paused"
    assert paused["resume_command"].startswith(f"tether resume {run_id}")
    client.exit(None)
    assert client._server is not None
    assert await asyncio.wait_for(client._server.wait(), 10) == 0
    assert all(process_gone(pid) for pid in pids)
    assert (workspace / "cleaned").exists()
    assert journal_status(workspace, run_id) == ("paused", "interrupted")
    assert_resumable(workspace, run_id)


def assert_resumable(workspace: Path, run_id: str) -> None:
    """The engine accepts a resume (the lock is free, the journal is whole, the run is
    resumable); nothing is run here."""
    from tether.engine.execution import Execution
    from tether.steps.registry import builtin_kinds

    execution = Execution.resume(workspace, run_id, builtin_kinds())
    try:
        assert not execution.already_succeeded
        assert execution.state.resumable
        # Both steps were stopped in flight (recorded as cancelled): both run again.
        assert {step.id: str(step.status) for step in execution.state.steps.values()} == {
            "sleeper": "cancelled",
            "guard": "cancelled",
        }
    finally:
        execution.close()


async def test_a_step_that_ignores_sigterm_is_killed_before_the_server_exits(
    client: TestClient, workspace: Path
) -> None:
    import psutil

    run_id = (await client.command("tether.start", {"workflow": "stubborn"}))["run_id"]
    await client.until(lambda: (workspace / "stubborn.pid").exists())
    shell = int((workspace / "stubborn.pid").read_text())
    await client.until(lambda: psutil.Process(shell).children())
    pids = [shell, *(child.pid for child in psutil.Process(shell).children())]
    started = time.monotonic()
    await client.shutdown_async(None)
    assert time.monotonic() - started < 1.0  # the answer does not wait for the kill grace
    client.exit(None)
    assert client._server is not None
    assert await asyncio.wait_for(client._server.wait(), 10) == 0
    assert all(process_gone(pid) for pid in pids)
    assert journal_status(workspace, run_id) == ("paused", "interrupted")


async def test_exit_without_shutdown_ends_with_code_1(client: TestClient) -> None:
    client.exit(None)
    assert client._server is not None
    assert await asyncio.wait_for(client._server.wait(), 10) == 1


async def test_stdin_eof_ends_the_server_and_pauses_its_runs(
    client: TestClient, workspace: Path
) -> None:
    run_id = (await client.command("tether.start", {"workflow": "slow"}))["run_id"]
    pids = await wait_until_sleeping(client, workspace)
    assert client._server is not None and client._server.stdin is not None
    client._server.stdin.close()
    assert await asyncio.wait_for(client._server.wait(), 10) == 1
    assert all(process_gone(pid) for pid in pids)
    assert journal_status(workspace, run_id) == ("paused", "interrupted")


async def test_the_server_ends_when_the_client_process_vanishes(
    workspace: Path, env: dict[str, str]
) -> None:
    editor = subprocess.Popen(["sleep", "60"])
    client = await start_server(
        workspace,
        env,
        capabilities("neovim"),
        {"prewarm": {"onStart": False}},
        process_id=editor.pid,
    )
    try:
        result = await client.command("tether.run", {"workflow": "multi"})
        assert result["status"] == "succeeded"
        editor.kill()
        editor.wait()
        assert client._server is not None
        assert await asyncio.wait_for(client._server.wait(), 10) == 1
    finally:
        await stop_server(client)
        if editor.poll() is None:
            editor.kill()


async def test_signal_ends_the_server_cleanly(client: TestClient, workspace: Path) -> None:
    run_id = (await client.command("tether.start", {"workflow": "slow"}))["run_id"]
    pids = await wait_until_sleeping(client, workspace)
    assert client._server is not None
    client._server.terminate()
    assert await asyncio.wait_for(client._server.wait(), 10) == 1
    assert all(process_gone(pid) for pid in pids)
    assert journal_status(workspace, run_id) == ("paused", "interrupted")
