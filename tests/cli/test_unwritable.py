"""A workspace or run directory that cannot be written: one line saying what could not
be written where, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import tether

QUICK = '[[steps]]\nid = "q"\nkind = "command"\nrun = ["true"]\n'


def _workspace(tmp_path: Path) -> Path:
    folder = tmp_path / ".tether" / "workflows"
    folder.mkdir(parents=True)
    (folder / "quick.toml").write_text(QUICK)
    return tmp_path


def _one_line_exit_2(result: subprocess.CompletedProcess[str], where: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert where in lines[0]


def test_runs_directory_that_cannot_be_created(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    (workspace / ".tether" / "runs").write_text("in the way")
    result = tether(workspace, "run", "quick")
    _one_line_exit_2(result, ".tether/runs")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file modes")
def test_read_only_workspace(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    (workspace / ".tether").chmod(0o555)
    try:
        result = tether(workspace, "run", "quick")
    finally:
        (workspace / ".tether").chmod(0o755)
    _one_line_exit_2(result, "cannot write")


def test_read_only_run_directory_on_resume_and_cancel(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    first = tether(workspace, "run", "quick", "--json")
    assert first.returncode == 0, first.stderr
    (run_id,) = os.listdir(workspace / ".tether" / "runs")
    run_dir = workspace / ".tether" / "runs" / run_id
    # As root, modes do not stop writes: put a directory where the lock goes instead.
    (run_dir / "lock").unlink()
    (run_dir / "lock").mkdir()
    for args in (["resume", run_id], ["cancel", run_id]):
        result = tether(workspace, *args)
        _one_line_exit_2(result, "lock")
