"""Process groups a run has started, recorded so that a successor can reap them.

If the owning process is killed outright (SIGKILL, a crash, a closed editor), nothing runs
its cleanup, and the step's process group lives on. Each group is therefore recorded in
the run directory while it runs; whoever takes the run over next (resume, cancel, a new
language server) reaps what the dead owner left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from tether.engine.platform import group_alive, kill_group_now

logger = logging.getLogger(__name__)

GROUPS_DIR = "process-groups"


def record_group(run_dir: Path, pgid: int) -> None:
    folder = run_dir / GROUPS_DIR
    folder.mkdir(exist_ok=True)
    (folder / str(pgid)).write_text(_leader_identity(pgid) or "", encoding="ascii")


def forget_group(run_dir: Path, pgid: int) -> None:
    with contextlib.suppress(OSError):
        (run_dir / GROUPS_DIR / str(pgid)).unlink()


def reap_orphans(run_dir: Path) -> list[int]:
    """Kill the recorded groups that still run; call only while holding the run's lock.

    A group is ours when its leader is the very process we started (same start time), or
    when the leader is gone but members of the group remain: the kernel never hands out a
    process id that is still in use as a process group id.
    """
    folder = run_dir / GROUPS_DIR
    if not folder.is_dir():
        return []
    reaped = []
    for entry in folder.iterdir():
        if not entry.name.isdigit():
            continue
        pgid = int(entry.name)
        recorded = entry.read_text(encoding="ascii").strip()
        current = _leader_identity(pgid)
        ours = current == recorded if current is not None else group_alive(pgid)
        if ours and group_alive(pgid):
            kill_group_now(pgid)
            reaped.append(pgid)
            logger.warning("killed process group %d left behind in %s", pgid, run_dir.name)
        entry.unlink(missing_ok=True)
    return reaped


def _leader_identity(pid: int) -> str | None:
    """Something that tells this process apart from a later one with the same pid."""
    if sys.platform == "linux":
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return fields[19].decode()  # starttime, in clock ticks since boot (proc(5))
    try:
        return "leader" if os.getpgid(pid) == pid else None
    except OSError:
        return None
