"""The run lock names its owner, even in the instant before the owner has written its pid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tether.engine.platform import LockHeld, RunLock

# Takes the lock, says so, then writes its pid 10 ms later (the window a racing resume
# can hit), then holds on until told to go.
OWNER = """
import fcntl, os, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(0.01)
handle.seek(0); handle.truncate(); handle.write(str(os.getpid())); handle.flush()
sys.stdin.readline()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_loser_in_the_owners_first_instant_still_gets_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld) as held:
            RunLock(path).acquire()
        assert held.value.pid == owner.pid
    finally:
        assert owner.stdin is not None
        owner.stdin.write("\n")
        owner.stdin.flush()
        owner.wait(timeout=10)


def test_a_free_lock_is_taken_at_once_and_names_its_owner(tmp_path: Path) -> None:
    import os

    lock = RunLock(tmp_path / "lock")
    lock.acquire()
    try:
        assert (tmp_path / "lock").read_text() == str(os.getpid())
    finally:
        lock.release()
    assert (tmp_path / "lock").read_text() == ""
