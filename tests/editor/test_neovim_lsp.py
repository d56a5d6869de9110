"""A real editor: headless Neovim starts `tether serve` with vim.lsp.start, runs a
workflow through workspace/executeCommand, records $/progress, and quits; no server
process survives it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import psutil
import pytest

from tests.lsp.conftest import make_workspace
from tests.lsp.harness import process_gone, server_env

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def find_nvim() -> str | None:
    local = REPO / ".venv" / "bin" / "nvim"
    if local.exists():
        return str(local)
    return shutil.which("nvim")


NVIM = find_nvim()


def server_pid(workspace: Path, run_id: str) -> int:
    """The pid the server wrote into the run's journal (run_started.pid)."""
    journal = workspace / ".tether" / "runs" / run_id / "events.jsonl"
    first = json.loads(journal.read_text().splitlines()[0])
    return int(first["pid"])


@pytest.mark.editor
@pytest.mark.skipif(NVIM is None, reason="nvim is not installed")
async def test_neovim_runs_a_workflow_and_sees_its_progress(tmp_path: Path) -> None:
    assert NVIM is not None
    workspace = make_workspace(tmp_path / "ws")
    out = tmp_path / "record.json"
    env = server_env(tmp_path)
    env.update(
        {
            "TETHER_TEST_OUT": str(out),
            "TETHER_TEST_WORKSPACE": str(workspace),
            "TETHER_TEST_PYTHON": sys.executable,
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
    )
    nvim = await asyncio.create_subprocess_exec(
        NVIM,
        "--headless",
        "--clean",
        "-u",
        str(HERE / "lsp_client_init.lua"),
        env=env,
        cwd=str(workspace),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _stdout, stderr = await asyncio.wait_for(nvim.communicate(), 90)
    finally:
        if nvim.returncode is None:
            nvim.kill()
            await nvim.wait()
    assert out.exists(), f"nvim wrote no record; stderr: {stderr.decode(errors='replace')}"
    record = json.loads(out.read_text())
    assert record["errors"] == []
    assert record.get("error") is None
    result = record["result"]
    assert result["status"] == "succeeded"
    run_id = result["run_id"]

    token = f"tether/{run_id}/1"
    values = [item["value"] for item in record["progress"] if item["token"] == token]
    kinds = [value["kind"] for value in values]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert set(kinds[1:-1]) == {"report"} and len(kinds) >= 8
    assert values[0]["title"] == "multi" and values[0]["cancellable"] is True
    messages = [value.get("message", "") for value in values[1:-1]]
    for step in ("first", "second", "third"):
        assert f"{step} started" in messages
        assert any(message.startswith(f"{step} succeeded") for message in messages)
    assert values[-1]["message"] == "succeeded"
    assert record["statuses"][-1]["status"] == "succeeded"

    pid = server_pid(workspace, run_id)
    assert pid != os.getpid()
    for _ in range(100):
        if process_gone(pid):
            break
        await asyncio.sleep(0.05)
    assert process_gone(pid), f"server {pid} survived Neovim: {psutil.Process(pid).status()}"
