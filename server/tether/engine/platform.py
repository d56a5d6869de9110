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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tether.engine.runfiles import RunFileError, open_run_file

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
    """True while any process of the group still runs.

    On Linux, zombies do not count: a killed child re-parented to an init that never reaps
    it (as in some containers) stays a zombie forever, yet is gone for every purpose.
    """
    if not signal_group(pgid, 0):
        return False
    if sys.platform != "linux":
        return True
    return any(
        _is_running_member(entry, pgid) for entry in os.scandir("/proc") if entry.name.isdigit()
    )


def _is_running_member(entry: os.DirEntry[str], pgid: int) -> bool:
    try:
        with open(f"{entry.path}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False  # gone since the scan began
    # After the command name: state, ppid, pgrp (proc(5)).
    return int(fields[2]) == pgid and fields[0] != b"Z"


def find_processes_with_env(name: str, value: str) -> list[int]:
    """Our own processes whose environment has `name=value` (never another user's).

    Linux reads /proc/PID/environ; other POSIX systems ask ps (BSD `-E`); Windows has no
    cheap equivalent and returns nothing (see docs/architecture.md).
    """
    needle = f"{name}={value}".encode()
    if sys.platform == "linux":
        found = []
        uid = os.getuid()
        me = os.getpid()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                with open(f"{entry.path}/environ", "rb") as environ:
                    if needle in environ.read().split(b"\0"):
                        found.append(int(entry.name))
            except OSError:
                continue  # gone since the scan began, or not ours to read
        return found
    if IS_WINDOWS:
        return []
    import subprocess

    try:
        listing = subprocess.run(
            ["ps", "-ww", "-E", "-x", "-o", "pid=,command="],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [
        int(line.split(None, 1)[0])
        for line in listing.splitlines()
        if b" " + needle + b" " in line + b" " and line.split(None, 1)[0].isdigit()
    ]


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL if not IS_WINDOWS else signal.SIGTERM)


_REAP_WAIT = 0.2


def reap_children(pids: list[int]) -> None:
    """Collect the exit status of killed processes that are our children (re-parented to
    this process as the subreaper), so that none stays a zombie. Bounded: 0.2 s."""
    if IS_WINDOWS or not pids:
        return
    pending = set(pids)
    deadline = time.monotonic() + _REAP_WAIT
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pending.discard(pid)  # not our child: its own parent (or init) reaps it
                continue
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.005)


def reap_group_zombies(pgid: int) -> None:
    """Linux: collect our zombie children from group `pgid` (members re-parented to us,
    the subreaper, when the step's shell died), except its leader, whom asyncio waits
    for. Without this they would stay zombies for the life of a language server."""
    if sys.platform != "linux":
        return
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == pgid:
            continue
        try:
            with open(f"{entry.path}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command name: state, ppid, pgrp (proc(5)).
        if fields[0] == b"Z" and int(fields[1]) == me and int(fields[2]) == pgid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry.name), os.WNOHANG)


_PR_SET_CHILD_SUBREAPER = 36


def become_child_subreaper() -> bool:
    """Linux: orphaned descendants of this process are re-parented to it, not to init.

    A step's descendant that leaves its session then stays in our process tree (and is
    reaped by us); elsewhere this does nothing and returns False.
    """
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


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
    while (remaining := deadline - time.monotonic()) > 0:
        if main.returncode is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(0.02, remaining)):
                    await main.wait()
            continue
        if not group_alive(pgid):
            break
        await asyncio.sleep(min(0.02, remaining))
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


def install_wake_signal(on_wake: Callable[[], None]) -> Callable[[], None]:
    """Route the wake signal (SIGUSR1) to `on_wake` on the running loop; returns the undo.

    `tether cancel` sends it to a run's owner after writing a cancel request, so the owner
    looks at its runs' requests at once instead of at its next poll. No-op on Windows.
    """
    if sys.platform == "win32":
        return lambda: None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, on_wake)

    def restore() -> None:
        loop.remove_signal_handler(signal.SIGUSR1)
        # Not the default action (terminate): a canceller that read the lock file just
        # before we let go may still signal us.
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)

    return restore


def send_wake(pid: int) -> bool:
    """Send the wake signal to `pid`; False when it cannot be delivered."""
    if sys.platform == "win32":
        return False
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        return False
    return True


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return True  # no cheap probe there; lock_owner takes the lock instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class LockOwner:
    pid: int | None
    wakeable: bool = False
    """The owner handles the wake signal (it said so in the lock file)."""


class LockHeld(Exception):
    def __init__(self, path: Path, pid: int | None, wakeable: bool = False) -> None:
        self.path = path
        self.pid = pid
        self.wakeable = wakeable
        owner = f"process {pid}" if pid else "another process"
        super().__init__(f"run {path.parent.name} is owned by {owner}")


_LOCK_FILE_LIMIT = 4096
_OWNER_READS = 20
_OWNER_READ_PAUSE = 0.002


class RunLock:
    """A non-blocking exclusive lock on a file; the kernel drops it when the process dies.

    Never waits: a held lock raises LockHeld at once, naming the holder's pid, which the
    holder writes into the file (`PID` or `PID wake` when it handles the wake signal).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> None:
        # The owner writes its pid just after taking the lock (and rewrites it once), so a
        # loser can find the file empty for an instant; and lock_owner's probe holds a
        # shared lock for an instant, while the file still names a dead owner. So a loser
        # that does not find a live pid looks again, briefly: the pid it reports must be
        # the owner's. Bounded at about 40 ms; never a wait on the lock.
        for attempt in range(_OWNER_READS):
            # Never through a symlink, only a regular file we own: a planted `lock`
            # must not let the owner's pid write truncate some other file.
            fd = open_run_file(self.path, os.O_RDWR | os.O_CREAT)
            handle = os.fdopen(fd, "r+", encoding="ascii")
            try:
                _lock_nonblocking(handle)
            except OSError:
                handle.seek(0)
                try:
                    owner = _parse_owner(handle.read())
                except OSError:  # Windows: the locked byte cannot be read
                    owner = LockOwner(None)
                handle.close()
                owner_alive = owner.pid is not None and process_alive(owner.pid)
                if owner_alive or IS_WINDOWS or attempt == _OWNER_READS - 1:
                    raise LockHeld(self.path, owner.pid, owner.wakeable) from None
                time.sleep(_OWNER_READ_PAUSE)
                continue
            self._file = handle
            self._write_owner(wakeable=False)
            return

    def advertise_wake(self) -> None:
        """Tell `tether cancel` that this process handles the wake signal."""
        self._write_owner(wakeable=True)

    def _write_owner(self, *, wakeable: bool) -> None:
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()} wake" if wakeable else str(os.getpid()))
        self._file.flush()

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


def _parse_owner(text: str) -> LockOwner:
    parts = text.split()
    if not parts or not parts[0].isdigit():
        return LockOwner(None)
    return LockOwner(int(parts[0]), wakeable="wake" in parts[1:])


def lock_owner(path: Path) -> LockOwner | None:
    """Who owns the lock at `path` (None when nobody does), decided by the lock itself,
    never by a pid that may have been reused: a run is live exactly while some process
    holds its lock, which the kernel drops when that process dies.

    POSIX probes with a shared lock held for an instant (it never blocks, and a real owner
    racing it retries: RunLock.acquire); the pid reported is the one the owner wrote.
    """
    if IS_WINDOWS:
        # The locked byte cannot be shared: take the lock for a moment instead.
        if not path.exists():
            return None
        probe = RunLock(path)
        try:
            probe.acquire()
        except LockHeld as held:
            return LockOwner(held.pid, held.wakeable)
        probe.release()
        return None
    try:
        # Never through a symlink, only a regular file we own (as RunLock opens it).
        fd = open_run_file(path, os.O_RDONLY)
    except (FileNotFoundError, RunFileError):
        return None  # no lock, or not a lock tether could have made
    with os.fdopen(fd, encoding="ascii", errors="replace") as handle:
        try:
            _probe_shared(handle)
        except OSError:
            # Held: the pid the holder wrote.
            return _parse_owner(handle.read(_LOCK_FILE_LIMIT))
        return None  # closing the handle drops the probe's shared lock


if sys.platform == "win32":
    import msvcrt

    def _lock_nonblocking(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

    def _probe_shared(handle: IO[str]) -> None:
        _lock_nonblocking(handle)

else:
    import fcntl

    def _lock_nonblocking(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _probe_shared(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
