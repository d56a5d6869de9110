"""Open tether's own state files (run files, artifacts, process records, workflow files)
without trusting what sits at their paths.

Everything under `.tether/` can be written by whoever wrote the workspace (a cloned
repository, another tool, an attacker). So every open here: never follows a symlink
(O_NOFOLLOW, and an lstat of the run directory), never blocks on a FIFO or a device
(O_NONBLOCK at open, then only regular files are accepted), accepts only files the user
owns, never truncates a file with other names (hard links), and reads at most a limit.
One line says what was refused and where.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_HAS_UIDS = hasattr(os, "getuid")

READ_LIMIT = 64 * 1024 * 1024
"""Default bound on what one read of a state file may return."""


class RunFileError(OSError):
    """A state file that tether refuses to open or read; str() is the one-line reason."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "refused"


def open_run_file(path: Path, flags: int, mode: int = 0o644, *, owned: bool = True) -> int:
    """os.open(path, flags) for a regular file the user owns, never through a symlink.

    `owned=False` drops the owner check (built-in workflow files installed by root).

    Raises FileNotFoundError as os.open does, and RunFileError for a symlink, a special
    file or a file owned by someone else.
    """
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY, mode)
    except OSError as error:
        if path.is_symlink():
            raise RunFileError(f"{path}: is a symbolic link; refusing to follow it") from None
        if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise RunFileError(f"{path}: cannot open: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RunFileError(f"{path}: not a regular file; refusing to use it")
        if owned and _HAS_UIDS and info.st_uid != os.getuid():
            raise RunFileError(f"{path}: owned by another user; refusing to use it")
        if _NONBLOCK:
            os.set_blocking(fd, True)  # regular files never block; restore normal writes
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_run_file(path: Path, *, limit: int = READ_LIMIT, owned: bool = True) -> bytes:
    """The whole of a state file, refused past `limit` bytes."""
    fd = open_run_file(path, os.O_RDONLY, owned=owned)
    try:
        if os.fstat(fd).st_size > limit:
            raise RunFileError(f"{path}: larger than {limit} bytes; refusing to read it")
        chunks = []
        total = 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise RunFileError(f"{path}: larger than {limit} bytes; refusing to read it")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_run_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace a state file's content (created if missing), refusing the same things."""
    fd = open_run_file(path, os.O_WRONLY | os.O_CREAT, mode)
    try:
        if os.fstat(fd).st_nlink > 1:
            raise RunFileError(f"{path}: has other hard links; refusing to overwrite it")
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def check_run_dir(path: Path) -> None:
    """A run directory must be a real directory the user owns (lstat: no symlinks).

    Raises FileNotFoundError when missing and RunFileError otherwise.
    """
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise RunFileError(f"{path}: is a symbolic link, not a run directory; refusing it")
    if not stat.S_ISDIR(info.st_mode):
        raise RunFileError(f"{path}: not a directory; refusing it")
    if _HAS_UIDS and info.st_uid != os.getuid():
        raise RunFileError(f"{path}: owned by another user; refusing it")
