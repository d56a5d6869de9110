"""Runs started from the CLI in the same workspace show progress in the editor: the server
follows their journals (file events, or adaptive polling) and its Cancel button asks the
CLI's process to cancel."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp.harness import capabilities, process_gone, start_server, stop_server
from tests.lsp.test_cancel import wait_until_sleeping
from tether.lsp.runs_follower import AdaptivePoll


@pytest.mark.parametrize("mode", ["watchfiles", "polling"])
async def test_a_cli_run_gets_progress_and_can_be_cancelled_from_it(
    workspace: Path, env: dict[str, str], mode: str
) -> None:
    server_env = {**env, "TETHER_LSP_FOLLOW": mode}
    client = await start_server(
        workspace, server_env, capabilities("vscode"), {"prewarm": {"onStart": False}}
    )
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether", "run", "slow", "-C", str(workspace), env=env
    )
    try:
        pids = await wait_until_sleeping(client, workspace)
        run_id = (workspace / "guard.started").read_text()
        await client.until(
            lambda: any(str(t).startswith(f"tether/{run_id}/") for t in client.progress_reports)
        )
        token = next(t for t in client.progress_reports if str(t).startswith(f"tether/{run_id}/"))
        await client.until(lambda: len(client.progress_reports[token]) >= 1)
        begin = client.progress_reports[token][0]
        assert isinstance(begin, types.WorkDoneProgressBegin) and begin.title == "slow"
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        assert await asyncio.wait_for(cli.wait(), 15) == 4  # the CLI's exit code for cancelled
        await client.until(lambda: client.ended(run_id))
        end = client.progress_reports[token][-1]
        assert isinstance(end, types.WorkDoneProgressEnd) and end.message.startswith("cancelled")
        assert f"resume: tether resume {run_id}" in end.message
        # Transitions after following began are reported, as for the server's own runs.
        messages = [value.message for value in client.progress_reports[token][1:-1]]
        for step in ("sleeper", "guard"):
            assert any(message.startswith(f"{step} cancelled") for message in messages)
        assert all(process_gone(pid) for pid in pids)
        assert (workspace / "cleaned").exists()
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
        await stop_server(client)


async def test_tether_cancel_stops_a_cli_run(workspace: Path, env: dict[str, str]) -> None:
    client = await start_server(
        workspace, env, capabilities("neovim"), {"prewarm": {"onStart": False}}
    )
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether", "run", "slow", "-C", str(workspace), env=env
    )
    try:
        pids = await wait_until_sleeping(client, workspace)
        run_id = (workspace / "guard.started").read_text()
        answer = await client.command("tether.cancel", {"run_id": run_id})
        assert answer == {"run_id": run_id, "status": "cancelling"}
        assert await asyncio.wait_for(cli.wait(), 15) == 4
        assert all(process_gone(pid) for pid in pids)
        assert (workspace / "cleaned").read_text() == run_id
        shown = await client.command("tether.show", {"run_id": run_id})
        assert shown["status"] == "cancelled"
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
        await stop_server(client)


def test_adaptive_polling_backs_off_with_jitter_resets_and_is_capped() -> None:
    poll = AdaptivePoll(minimum=0.1, maximum=2.0, factor=1.6, jitter=0.2, rng=random.Random(7))
    quiet = [poll.next_interval(active=False) for _ in range(12)]
    assert quiet[0] <= 0.1 * 1.2
    assert quiet[3] > quiet[0]  # grows while nothing changes
    assert max(quiet) <= 2.0 and quiet[-1] >= 2.0 * 0.8  # capped, and reaches the cap
    assert len({round(value, 6) for value in quiet[-4:]}) > 1  # jittered, not lockstep
    assert poll.next_interval(active=True) <= 0.1 * 1.2  # activity resets it
