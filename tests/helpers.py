"""Helpers the test packages share: real `tether` and shell processes, stdin closed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil


def tether(
    workspace: Path,
    *args: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`tether ARGS` run by a real process in `workspace`; unless `env` is given, this
    process's environment with NO_COLOR (the output is compared as text)."""
    return subprocess.run(
        [sys.executable, "-m", "tether", *args],
        cwd=workspace,
        env={**os.environ, "NO_COLOR": "1"} if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec_fn,
    )


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command line run by bash, as an agent would paste it, in its own session."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def write_workflow(workspace: Path, name: str, text: str) -> Path:
    """Writes `.tether/workflows/NAME.toml` in `workspace` and returns its path."""
    folder = workspace / ".tether" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def process_alive(pid: int) -> bool:
    """Running: neither gone nor a zombie (dead, waiting to be reaped)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def process_gone(pid: int) -> bool:
    """Dead or a zombie (dead, waiting to be reaped)."""
    return not process_alive(pid)


def pair_workflow(*, before_b: str = "") -> str:
    """Workflow `pair`: step a appends to marker.txt; step b (after a) runs `before_b`, appends
    to marker.txt and, the first time only, sleeps 60 s: a run to kill while b sleeps and
    resume to success."""
    second = f"{before_b}echo b >> marker.txt; [ -f again ] && exit 0; touch again; sleep 60"
    return f"""
name = "pair"
[[steps]]
id = "a"
kind = "command"
run = ["sh", "-c", "echo a >> marker.txt"]

[[steps]]
id = "b"
kind = "command"
needs = ["a"]
run = ["sh", "-c", "{second}"]
"""
