"""Fixtures for the chat end-to-end tests: the real Claude Code CLI on a fixture project
with the skill pack installed by the real `tether init`."""

from __future__ import annotations

import os
import signal
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


def _no_run_left_running(project: Path) -> None:
    """A run owner still alive after the conversation is a leak: end it, then fail."""
    left = []
    for lock in sorted((project / ".tether" / "runs").glob("*/lock")):
        owner = lock_owner(lock)
        if owner is not None and owner.pid is not None:
            left.append(f"{lock.parent.name} (pid {owner.pid})")
            os.kill(owner.pid, signal.SIGKILL)
    assert not left, f"runs still owned by a live process after the chat: {left}"
