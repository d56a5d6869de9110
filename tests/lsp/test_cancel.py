"""Cancelling a run from the editor kills its processes and runs its cleanup — from the
progress Cancel button, and from `$/cancelRequest` on `tether/run` and on
`workspace/executeCommand`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.harness import TestClient, as_dict, process_gone


async def wait_until_sleeping(client: TestClient, workspace: Path) -> tuple[int, ...]:
    """The pids of the run's processes, once every step of the `slow` workflow is running."""
    await client.until(
        lambda: (workspace / "sleeper.pid").exists() and (workspace / "guard.started").exists()
    )
    pid = int((workspace / "sleeper.pid").read_text())
    assert not process_gone(pid)
    return (pid,)


async def assert_cancelled_cleanly(
    client: TestClient, workspace: Path, run_id: str, pids: tuple[int, ...]
) -> None:
    await client.until(lambda: all(process_gone(pid) for pid in pids), timeout=10)
    assert (workspace / "cleaned").read_text() == run_id
    shown = await client.command("tether.show", {"run_id": run_id})
    assert shown["status"] == "cancelled"
    sleeper = next(step for step in shown["steps"] if step["id"] == "sleeper")
    # The pid the step printed is the process that is now gone.
    assert f"pid {pids[0]}" in sleeper["partial"]


async def test_cancel_button_of_the_progress_cancels_the_run(
    client: TestClient, workspace: Path
) -> None:
    run_id = (await client.command("tether.start", {"workflow": "slow"}))["run_id"]
    pids = await wait_until_sleeping(client, workspace)
    token = next(t for t in client.progress_reports if str(t).startswith(f"tether/{run_id}/"))
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await client.until(lambda: client.ended(run_id))
    await assert_cancelled_cleanly(client, workspace, run_id, pids)
    end = client.progress_reports[token][-1]
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert end.message.startswith("cancelled")
    assert f"resume: tether resume {run_id}" in end.message


@pytest.mark.parametrize("via", ["executeCommand", "tether/run"])
async def test_cancel_request_cancels_the_run(
    client: TestClient, workspace: Path, via: str
) -> None:
    if via == "executeCommand":
        method = types.WORKSPACE_EXECUTE_COMMAND
        params: object = types.ExecuteCommandParams(
            command="tether.run", arguments=[{"workflow": "slow"}]
        )
    else:
        method, params = "tether/run", {"workflow": "slow"}
    request = asyncio.ensure_future(
        client.protocol.send_request_async(method, params, msg_id="long-run")
    )
    pids = await wait_until_sleeping(client, workspace)
    run_id = (workspace / "guard.started").read_text()
    client.cancel_request(types.CancelParams(id="long-run"))
    with pytest.raises(JsonRpcException) as raised:
        await asyncio.wait_for(request, 10)
    assert raised.value.code == types.LSPErrorCodes.RequestCancelled
    await assert_cancelled_cleanly(client, workspace, run_id, pids)


# Takes a second to stop once cancelled (its TERM trap sleeps), and finishes at once when
# run again with `resume-now` in the workspace.
LINGERING = '''
name = "lingering"

[[steps]]
id = "linger"
kind = "command"
shell = true
run = """[ -f resume-now ] && exit 0
trap 'sleep 1; exit 1' TERM
touch lingering.started
sleep 30 & wait $$!"""
'''


async def test_resume_sent_right_after_cancel_resumes_the_run_once_it_has_stopped(
    client: TestClient, workspace: Path
) -> None:
    """An editor's Resume pressed as soon as it shows "cancelled": the run still holds its
    lock while its cleanup runs. Before, the resume attached to the stopping run and
    answered "cancelled"; it must resume the run once it has stopped."""
    (workspace / ".tether" / "workflows" / "lingering.toml").write_text(LINGERING)
    run_id = (await client.command("tether.start", {"workflow": "lingering"}))["run_id"]
    await client.until(lambda: (workspace / "lingering.started").exists())
    (workspace / "resume-now").write_text("")
    # Both sent now, in this order (no await in between): the server reads the cancel first.
    cancel = client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tether.cancel", arguments=[{"run_id": run_id}])
    )
    resume = client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tether.resume", arguments=[{"run_id": run_id}])
    )
    cancelled, resumed = await asyncio.gather(cancel, resume)
    assert as_dict(cancelled)["status"] == "cancelled"
    assert as_dict(resumed)["status"] == "succeeded", resumed
