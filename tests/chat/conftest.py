"""Fixtures for the chat end-to-end tests: the real Claude Code CLI on a fixture project
with the skill pack installed by the real `tether init`."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chat.harness import ChatSetup, claude_code, prepare
from tether.engine.platform import lock_owner


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    binary, why = claude_code()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (under CI the chat end-to-end tests must run)")
        pytest.skip(why)
    return binary


@pytest.fixture
def chat(claude_binary: Path, tmp_path: Path) -> Iterator[ChatSetup]:
    setup = prepare(claude_binary, tmp_path)
    yield setup
    _no_run_left_running(setup.project)


def _no_run_left_running(project: Path, grace: float = 15.0) -> None:
    """A run owner still alive after the conversation is a leak: end it, then fail.

    An owner whose run has ended exits on its own a moment after its last journal line,
    so each gets `grace` seconds to let go of its lock first."""
    deadline = time.monotonic() + grace
    while True:
        owners = {
            lock.parent.name: owner.pid
            for lock in sorted((project / ".tether" / "runs").glob("*/lock"))
            if (owner := lock_owner(lock)) is not None and owner.pid is not None
        }
        if not owners or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in owners.values():
        os.kill(pid, signal.SIGKILL)
    assert not owners, f"runs still owned by a live process after the chat: {owners}"
