"""Everything that differs between POSIX and Windows: process groups, signals, run locks.

Linux and macOS are tested; the Windows branches exist and stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

IS_WINDOWS = sys.platform == "win32"


def new_process_group_options() -> dict[str, Any]:
    """Keyword arguments that start a child in its own session / process group."""
    if sys.platform == "win32":
        import subprocess

        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to every process of the group; False when none is left."""
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            os.kill(pgid, signal.CTRL_BREAK_EVENT if sig == signal.SIGTERM else signal.SIGTERM)
            return True
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but not ours to signal (should not happen for our own group)
    return True


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


def kill_group_now(pgid: int) -> None:
    if sys.platform == "win32":
        signal_group(pgid, signal.SIGTERM)
    else:
        signal_group(pgid, signal.SIGKILL)


async def terminate_group(pgid: int, grace: float, main: asyncio.subprocess.Process) -> None:
    """SIGTERM the group, give it `grace` seconds, then SIGKILL whatever is left.

    No child signals group death, so this polls (every 20 ms, only during the grace).
    """
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if main.returncode is not None and not group_alive(pgid):
            break
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.02):
                await main.wait()
    kill_group_now(pgid)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            await main.wait()


def install_stop_signals(on_signal: Callable[[int], None]) -> Callable[[], None]:
    """Route SIGINT/SIGTERM to `on_signal` on the running loop; returns the undo."""
    loop = asyncio.get_running_loop()
    signals = [signal.SIGINT, signal.SIGTERM]
    if IS_WINDOWS:
        previous = {sig: signal.getsignal(sig) for sig in signals}
        for sig in signals:
            signal.signal(sig, lambda number, _frame: loop.call_soon_threadsafe(on_signal, number))

        def restore_windows() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore_windows
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)

    def restore() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return restore


class LockHeld(Exception):
    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        owner = f"process {pid}" if pid else "another process"
        super().__init__(f"{path.parent.name} is owned by {owner}")


class RunLock:
    """A non-blocking exclusive lock on a file; the kernel drops it when the process dies.

    Never waits: a held lock raises LockHeld at once, naming the holder's pid.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held until release
        try:
            _lock_nonblocking(handle)
        except OSError:
            handle.seek(0)
            text = handle.read().strip()
            handle.close()
            raise LockHeld(self.path, int(text) if text.isdigit() else None) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
                _unlock(self._file)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_holder(path: Path) -> int | None:
    """The pid holding the lock at `path`, or None when nobody does (a probe, never waits)."""
    if not path.exists():
        return None
    probe = RunLock(path)
    try:
        probe.acquire()
    except LockHeld as held:
        return held.pid or -1
    probe.release()
    return None


if sys.platform == "win32":
    import msvcrt

    def _lock_nonblocking(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_nonblocking(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
