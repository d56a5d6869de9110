"""An owner killed outright leaves its steps' processes running; whoever takes the run
over next (cancel, resume, another run, a new language server) reaps them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import tether
from tests.lsp.harness import capabilities, process_gone, server_env, start_server, stop_server

WORKFLOW = """
[[steps]]
id = "keeper"
kind = "command"
run = ["sh", "-c", "sleep 60 & echo $! > child.tmp; mv child.tmp child.pid; wait"]
"""


def wait_for(predicate: object, what: str, timeout: float = 20) -> None:
    # Another process's progress has no event to await here: a bounded poll.
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def start_owner(workspace: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`tether run keep` in the background, once its step's child is running."""
    folder = workspace / ".tether" / "workflows"
    folder.mkdir(parents=True)
    (folder / "keep.toml").write_text(WORKFLOW)
    owner = subprocess.Popen(
        [sys.executable, "-m", "tether", "run", "keep"],
        cwd=workspace,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child_file = workspace / "child.pid"
    wait_for(child_file.exists, "the step's child")
    return owner, int(child_file.read_text())


def orphan_a_run(workspace: Path) -> tuple[str, int]:
    """Start the run, SIGKILL its owner mid-step; return the run id and the orphan's pid."""
    owner, child = start_owner(workspace)
    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=10)
    assert not process_gone(child), "the test needs an orphan to exist"
    (run_id,) = os.listdir(workspace / ".tether" / "runs")
    return run_id, child


@pytest.fixture
def orphaned(tmp_path: Path) -> tuple[Path, str, int]:
    run_id, child = orphan_a_run(tmp_path)
    yield tmp_path, run_id, child
    if not process_gone(child):
        os.kill(child, signal.SIGKILL)


def test_cancel_of_an_ownerless_run_reaps_its_processes(orphaned: tuple[Path, str, int]) -> None:
    workspace, run_id, child = orphaned
    result = tether(workspace, "cancel", run_id)
    assert result.returncode == 0, result.stderr
    assert process_gone(child)
    assert not list((workspace / ".tether" / "runs" / run_id / "process-groups").iterdir())


def test_resume_reaps_before_running_again(orphaned: tuple[Path, str, int]) -> None:
    workspace, run_id, child = orphaned
    result = tether(workspace, "resume", run_id, "--budget", "300ms", "--on-budget", "pause")
    assert result.returncode == 3, result.stderr
    assert process_gone(child), (result.stdout, result.stderr)


def test_a_new_run_reaps_what_dead_owners_left(orphaned: tuple[Path, str, int]) -> None:
    workspace, _, child = orphaned
    (workspace / ".tether" / "workflows" / "quick.toml").write_text(
        '[[steps]]\nid = "q"\nkind = "command"\nrun = ["true"]\n'
    )
    result = tether(workspace, "run", "quick")
    assert result.returncode == 0, result.stderr
    assert process_gone(child)


async def test_a_new_language_server_reaps_what_dead_owners_left(
    orphaned: tuple[Path, str, int],
) -> None:
    workspace, _, child = orphaned
    client = await start_server(workspace, server_env(workspace), capabilities("neovim"))
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while not process_gone(child):  # the reaping runs in the background after start
            assert asyncio.get_running_loop().time() < deadline, "orphan survived"
            await asyncio.sleep(0.05)
    finally:
        await stop_server(client)


def test_a_live_owners_processes_are_never_touched(tmp_path: Path) -> None:
    from tether.engine.runs import reap_abandoned_runs

    owner, child = start_owner(tmp_path)
    try:
        assert reap_abandoned_runs(tmp_path) == {}
        assert not process_gone(child)
    finally:
        owner.send_signal(signal.SIGINT)
        assert owner.wait(timeout=20) == 130
    assert process_gone(child)


def test_a_crashed_runs_worktree_snapshot_is_pruned_on_the_next_start(tmp_path: Path) -> None:
    from tether.steps.worktree import PREFIX, worktree_root

    root = worktree_root(tmp_path.resolve())
    for private in (root.parent, root):  # as tether makes them: only the user's own are pruned
        private.mkdir(mode=0o700, exist_ok=True)
    stale = root / f"{PREFIX}crashed-run-1+review+0a1b2c3d"
    stale.mkdir()
    (stale / "left-behind.txt").write_text("x")
    folder = tmp_path / ".tether" / "workflows"
    folder.mkdir(parents=True)
    (folder / "quick.toml").write_text('[[steps]]\nid = "q"\nkind = "command"\nrun = ["true"]\n')
    result = tether(tmp_path, "run", "quick")
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
