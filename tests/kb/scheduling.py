"""Time a process spent waiting for a CPU, so that latency figures measured on a busy
machine can be told apart from time spent in the code under test."""

from __future__ import annotations

from pathlib import Path

TASKS = Path("/proc/self/task")


def runqueue_wait_s() -> float:
    """Seconds all of this process's threads have spent runnable but not running (Linux
    schedstat); 0.0 where that cannot be read. All threads, not just the caller: a call can
    also wait for the GIL held by a thread of ours (the background writer) that is itself
    sitting in the run queue."""
    total = 0
    try:
        for task in TASKS.iterdir():
            try:
                total += int((task / "schedstat").read_bytes().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # the thread ended meanwhile
    except OSError:
        return 0.0
    return total / 1e9
