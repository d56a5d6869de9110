"""Reading a dependency file: relative names, a size cap, and read errors as problems."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tether.kb.deps.model import DependencyProblem

logger = logging.getLogger(__name__)

# Real dependency files are well under 1 MB (the largest lock in the test corpus is 98 KB);
# anything bigger is not worth stalling a save for.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_LINE_CHARS = 10_000
"""Longer lines are refused before any regex or line-based parser sees them: no real
dependency line is this long, and a hostile 400 KB line must cost nothing."""


def first_long_line(text: str, limit: int = MAX_LINE_CHARS) -> int | None:
    """The 1-based number of the first line longer than `limit`, or None (linear)."""
    start = 0
    number = 1
    while start <= len(text):
        end = text.find("\n", start)
        end = len(text) if end == -1 else end
        if end - start > limit:
            return number
        start = end + 1
        number += 1
    return None


def strip_comment(line: str) -> str:
    """`line` without a `#` comment that starts it or follows whitespace (linear scan,
    unlike `(^|\\s+)#.*$`, which is quadratic on long runs of spaces)."""
    index = line.find("#")
    while index != -1:
        if index == 0 or line[index - 1].isspace():
            return line[:index].rstrip()
        index = line.find("#", index + 1)
    return line


def relative_name(path: Path, workspace: Path) -> str:
    """`path` relative to the workspace with forward slashes (or as is, if outside it)."""
    try:
        return path.relative_to(workspace).as_posix()
    except ValueError:
        try:
            return Path(os.path.relpath(path, workspace)).as_posix()
        except ValueError:  # another drive on Windows
            return path.as_posix()


def is_candidate(path: Path) -> bool:
    """True for a regular file, and for a path that exists but cannot be inspected (the
    read that follows then reports why); False when there is nothing there. Never raises,
    unlike Path.is_file on a permission error."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return False
    except OSError:
        return True


def is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def list_folder(path: Path) -> list[Path]:
    """The entries of a folder, or [] when it cannot be listed (logged)."""
    try:
        return sorted(path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as error:
        logger.warning("cannot list %s: %s", path, error)
        return []


def resolve_path(path: Path) -> Path:
    """`path` made absolute with symlinks resolved, or just absolute when that fails
    (a symlink loop, a NUL byte in a name taken from a hostile file)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return Path.cwd() / path if not path.is_absolute() else path


@dataclass(frozen=True)
class SourceText:
    """A file's text, or why it could not be read."""

    name: str
    text: str | None
    problem: DependencyProblem | None


def read_source(path: Path, workspace: Path) -> SourceText:
    name = relative_name(path, workspace)
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            # A FIFO or device would block or never end: only regular files are read.
            return SourceText(name, None, DependencyProblem(name, None, "not a regular file"))
        size = status.st_size
        if size > MAX_FILE_BYTES:
            reason = f"file too large ({size} bytes, limit {MAX_FILE_BYTES})"
            return SourceText(name, None, DependencyProblem(name, None, reason))
        data = path.read_bytes()
    except (FileNotFoundError, ValueError):
        return SourceText(name, None, DependencyProblem(name, None, "file not found"))
    except OSError as error:
        logger.warning("cannot read dependency file %s: %s", path, error)
        reason = f"cannot read file: {error.strerror or error}"
        return SourceText(name, None, DependencyProblem(name, None, reason))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text (byte {error.start})"
        return SourceText(name, None, DependencyProblem(name, None, reason))
    return SourceText(name, text, None)
