"""Run git from async step code: own session, no stdin, bounded by the caller's time.

Used by worktree isolation and the review workflow's diff. Environment variables that
would redirect git (GIT_DIR, GIT_INDEX_FILE, ... inherited from a hook, say) are dropped,
so every call means the repository at `cwd` and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tether.engine.platform import kill_group_now

# A single git call never gets more than this, even when the caller has no deadline.
MAX_GIT_CALL = 120.0
_REDIRECTING = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")
# Hooks are the user's; a snapshot must not run them (post-checkout on worktree add).
_NO_HOOKS = ("-c", "core.hooksPath=" + os.devnull)


class GitError(Exception):
    """A git command failed or ran out of time; the message is one line."""


async def git(
    args: Sequence[str],
    *,
    cwd: Path,
    remaining: Callable[[], float],
    env: Mapping[str, str] | None = None,
) -> str:
    """`git ARGS` in `cwd`; its stdout. Raises GitError naming the command and why."""
    limit = min(MAX_GIT_CALL, remaining())
    command = "git " + " ".join(args[:2])
    if limit <= 0:
        raise GitError(f"{command}: no time left")
    environment = {k: v for k, v in os.environ.items() if k not in _REDIRECTING}
    environment.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})})
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            *_NO_HOOKS,
            *args,
            cwd=cwd,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as error:
        raise GitError("git is not installed (not on PATH)") from error
    except OSError as error:
        raise GitError(f"{command}: cannot start: {error}") from error
    try:
        async with asyncio.timeout(None if math.isinf(limit) else limit):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        _kill(process)
        raise GitError(f"{command}: did not finish within {limit:.1f}s") from None
    except asyncio.CancelledError:
        _kill(process)
        raise
    if process.returncode != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit code {process.returncode}"
        raise GitError(f"{command}: {detail[:300]}")
    return stdout.decode("utf-8", "replace")


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            kill_group_now(process.pid)
