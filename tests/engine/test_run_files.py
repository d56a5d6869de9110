"""Special files planted in `.tether/` never hang tether, blow its memory, or make it
write through a symlink; each is refused with one line naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.engine.conftest import RunWorkflow
from tests.helpers import tether
from tether.engine.journal import JournalError, read_events
from tether.engine.orphans import GROUPS_DIR, reap_orphans
from tether.engine.platform import RunLock, lock_owner
from tether.engine.runfiles import RunFileError, read_run_file

QUICK = '[[steps]]\nid = "q"\nkind = "command"\nrun = ["true"]\n'


async def _finished_run(run_workflow: RunWorkflow) -> Path:
    outcome = await run_workflow(QUICK)
    assert outcome.state.status == "succeeded"
    return outcome.execution.run_dir


async def test_a_symlinked_lock_never_truncates_its_target(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    run_dir = await _finished_run(run_workflow)
    precious = tmp_path / "precious.txt"
    precious.write_text("do not truncate me")
    (run_dir / "lock").unlink()
    (run_dir / "lock").symlink_to(precious)
    with pytest.raises(RunFileError, match="symbolic link"):
        RunLock(run_dir / "lock").acquire()
    assert lock_owner(run_dir / "lock") is None
    workspace = run_dir.parents[2]
    for args in (["cancel", run_dir.name], ["resume", run_dir.name]):
        result = tether(workspace, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "symbolic link" in result.stderr
    assert precious.read_text() == "do not truncate me"


async def test_an_artifact_symlinked_to_dev_zero_is_refused_not_read(
    run_workflow: RunWorkflow,
) -> None:
    outcome = await run_workflow(
        '[[steps]]\nid = "big"\nkind = "command"\nrun = "head -c 70000 /dev/zero | tr \'\\\\0\' x"'
        "\nshell = true\n"
    )
    run_dir = outcome.execution.run_dir
    artifacts = list((run_dir / "artifacts").iterdir())
    assert artifacts, "the test needs an artifact"
    artifacts[0].unlink()
    artifacts[0].symlink_to("/dev/zero")
    with pytest.raises(JournalError, match="symbolic link"):
        list(read_events(run_dir / "events.jsonl"))


def test_a_fifo_among_process_records_never_hangs_the_reaper(tmp_path: Path) -> None:
    folder = tmp_path / "run" / GROUPS_DIR
    folder.mkdir(parents=True)
    os.mkfifo(folder / ("ab" * 16))
    os.mkfifo(folder / "12345")
    assert reap_orphans(tmp_path / "run") == []  # returns at once, the FIFOs dropped
    assert not list(folder.iterdir())


def test_a_fifo_or_a_dev_zero_link_as_a_workflow_file_is_one_line_not_a_hang(
    tmp_path: Path,
) -> None:
    folder = tmp_path / ".tether" / "workflows"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "fifo.toml")
    (folder / "zero.toml").symlink_to("/dev/zero")
    (folder / "good.toml").write_text(QUICK)
    result = tether(tmp_path, "workflows")
    assert "good" in result.stdout
    assert "Traceback" not in result.stderr
    result = tether(tmp_path, "run", "fifo")
    assert result.returncode == 2
    assert "not a regular file" in result.stderr
    result = tether(tmp_path, "run", "zero")
    assert result.returncode == 2
    assert "symbolic link" in result.stderr


def test_reads_are_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(RunFileError, match="larger than 1000 bytes"):
        read_run_file(big, limit=1000)


def test_a_symlinked_process_records_folder_is_not_emptied(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ("cd" * 16)).write_text("someone's file")
    (elsewhere / "4242").write_text("another")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / GROUPS_DIR).symlink_to(elsewhere)
    assert reap_orphans(run_dir) == []
    assert sorted(path.name for path in elsewhere.iterdir()) == ["4242", "cd" * 16]
