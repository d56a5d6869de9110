"""Processes a run's steps started, marked so that nothing of them outlives the step.

Every step process is started with an environment variable naming its run directory and a
random token (`TETHER_STEP_TOKEN=<run dir>#<token>`), which its descendants inherit even
when they leave the process group or the session (`setsid`, a double fork). The token is
recorded in `process-groups/<token>` *before* the fork, so an owner killed at any instant
(even between fork and the first line of bookkeeping) leaves a record for whoever takes the
run over next (resume, cancel, a new run, a new language server) to reap from.

Proof before killing: a record is only a name. A process is killed only if its own
environment carries this run directory's token, which no file in the workspace can forge
(a planted `process-groups/<pgid>` can never turn tether against an unrelated process).
Records in the old format (named by a pgid) are dropped without killing anything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson

from tether.engine.platform import (
    find_processes_with_env,
    group_alive,
    kill_group_now,
    kill_pids,
    reap_children,
    reap_group_zombies,
)
from tether.engine.runfiles import RunFileError, check_run_dir, read_run_file, write_run_file

logger = logging.getLogger(__name__)

GROUPS_DIR = "process-groups"
TOKEN_ENV = "TETHER_STEP_TOKEN"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_RECORD_LIMIT = 4096
_KILL_ROUNDS = 20
"""Scan-and-kill rounds: each kills what the last scan found, including late forks."""


@dataclass(frozen=True)
class StepProcesses:
    """One step attempt's mark: what its processes carry, and where it is recorded."""

    run_dir: Path
    token: str

    @property
    def env_value(self) -> str:
        return f"{self.run_dir.resolve()}#{self.token}"

    @property
    def record(self) -> Path:
        return self.run_dir / GROUPS_DIR / self.token


def mark_step_processes(run_dir: Path) -> StepProcesses:
    """Record a new token before anything is started with it; returns the mark whose
    `env_value` goes into the step process's environment as TOKEN_ENV."""
    mark = StepProcesses(run_dir, secrets.token_hex(16))
    (run_dir / GROUPS_DIR).mkdir(exist_ok=True)
    write_run_file(mark.record, orjson.dumps({"owner": os.getpid()}))
    return mark


def sweep(mark: StepProcesses, pgid: int | None = None) -> list[int]:
    """Kill everything the step started, wherever it went; then forget the record."""
    killed = kill_marked(mark.env_value, spare={pgid} if pgid else set())
    if pgid is not None:
        if group_alive(pgid):
            kill_group_now(pgid)  # members that cleared their environment
        reap_group_zombies(pgid)
    mark.record.unlink(missing_ok=True)
    return killed


def kill_marked(env_value: str, spare: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """SIGKILL every process of ours carrying `env_value`, until none is left.

    `spare`: our own direct children that asyncio waits for; any other killed process
    that is our child (re-parented to us, the subreaper) is reaped here.
    """
    killed: list[int] = []
    for _ in range(_KILL_ROUNDS):
        found = find_processes_with_env(TOKEN_ENV, env_value)
        if not found:
            break
        kill_pids(found)
        killed.extend(found)
    reap_children([pid for pid in set(killed) if pid not in spare])
    return sorted(set(killed))


def reap_orphans(run_dir: Path) -> list[int]:
    """Kill what a dead owner's steps left running; call only while holding the run's
    lock. Returns the pids killed."""
    folder = run_dir / GROUPS_DIR
    try:
        # Real directories only: a symlinked `process-groups` would have us delete
        # whatever its target holds.
        check_run_dir(run_dir)
        check_run_dir(folder)
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as error:
        logger.warning("not reaping %s: %s", run_dir.name, error)
        return []
    reaped: list[int] = []
    for entry in entries:
        if _TOKEN.fullmatch(entry.name):
            mark = StepProcesses(run_dir, entry.name)
            try:
                read_run_file(mark.record, limit=_RECORD_LIMIT)  # a regular file we own
            except RunFileError as error:
                logger.warning("ignoring process record: %s", error)
            else:
                reaped.extend(kill_marked(mark.env_value))
        else:
            logger.warning("dropping unverifiable process record %s", entry.path)
        with contextlib.suppress(OSError):
            Path(entry.path).unlink()
    if reaped:
        logger.warning("killed %d process(es) left behind in %s", len(reaped), run_dir.name)
    return reaped
