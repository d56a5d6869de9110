"""Driving the real Claude Code CLI against the fake Messages API, on a fixture project.

One `chat(...)` call is one `claude -p PROMPT --output-format stream-json` process: its
own session, stdin closed, an isolated HOME, loopback only, killed with its whole process
group when it ends or overruns. The result holds the stream-json events, the fake API's
request log and the wall time, which the benchmark reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.fakes.anthropic import Conversation, FakeAnthropic, Policy

ROOT = Path(__file__).resolve().parents[2]
CLAUDE_CODE_DIR = Path(os.environ.get("TETHER_CLAUDE_CODE_DIR", ROOT / ".cache" / "claude-code"))
CLAUDE_CODE_VERSION = "2.1.332"
FIXTURE = ROOT / "tests" / "fixtures" / "calc_project"
SKILLS = ROOT / "skills" / "claude"


def claude_code() -> tuple[Path | None, str]:
    """The installed pinned CLI, or None and why not (what `make claude-code` recorded)."""
    binary = CLAUDE_CODE_DIR / "node_modules" / ".bin" / "claude"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary, ""
    recorded = CLAUDE_CODE_DIR / "not-installed.txt"
    why = recorded.read_text().strip() if recorded.is_file() else "`make claude-code` was not run"
    return None, f"Claude Code {CLAUDE_CODE_VERSION} is not installed in {CLAUDE_CODE_DIR}: {why}"


@dataclass
class ChatResult:
    returncode: int
    events: list[dict[str, Any]]
    stderr: str
    api: FakeAnthropic
    wall_seconds: float

    @property
    def result(self) -> dict[str, Any]:
        finals = [event for event in self.events if event.get("type") == "result"]
        assert finals, f"no result event; stderr:\n{self.stderr[-2000:]}"
        return finals[-1]

    @property
    def init(self) -> dict[str, Any]:
        return next(
            e for e in self.events if e.get("type") == "system" and e.get("subtype") == "init"
        )

    @property
    def denials(self) -> list[dict[str, Any]]:
        return list(self.result.get("permission_denials", []))

    @property
    def turns(self) -> list[Conversation]:
        return self.api.turns

    def bash_results(self) -> list[tuple[str, str, bool]]:
        """(command, output, is_error) of every Bash call, as the model received them."""
        final = self.turns[-1]
        commands: dict[str, str] = {}
        for message in final.messages:
            content = message.get("content")
            if message.get("role") == "assistant" and isinstance(content, list):
                for block in content:
                    if block.get("type") == "tool_use" and block.get("name") == "Bash":
                        commands[block["id"]] = block["input"]["command"]
        return [
            (commands[r.tool_use_id], r.text, r.is_error)
            for r in final.tool_results()
            if r.tool_use_id in commands
        ]

    def check(self) -> None:
        """The scripted model met no surprise and the client ended normally."""
        self.api.raise_errors()
        assert self.returncode == 0, f"claude exited {self.returncode}:\n{self.stderr[-2000:]}"
        assert not self.result.get("is_error"), self.result


def prepare(binary: Path, folder: Path) -> ChatSetup:
    """A copy of the fixture project with the skill pack installed by `tether init`."""
    project = folder / "calc"
    shutil.copytree(FIXTURE, project)
    (project / ".tether").mkdir()
    (project / ".tether" / "config.toml").write_text("[docs]\noffline = true\n")
    subprocess.run(
        [sys.executable, "-m", "tether", "init", "--claude", "-C", str(project)],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    home = folder / "home"
    home.mkdir()
    return ChatSetup(binary, project, home, folder / "api-logs")


@dataclass
class ChatSetup:
    binary: Path
    project: Path
    home: Path
    logs: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    results: list[ChatResult] = field(default_factory=list)
    """Every conversation so far (the benchmark reads their sizes and times)."""

    def allow_skill(self, name: str) -> None:
        """What answering "yes, don't ask again" to Claude Code's prompt for a skill that
        grants tools records (its `allowed-tools` make Claude Code ask once)."""
        settings = self.project / ".claude" / "settings.local.json"
        current = orjson.loads(settings.read_bytes()) if settings.exists() else {}
        allow = current.setdefault("permissions", {}).setdefault("allow", [])
        allow.append(f"Skill({name})")
        settings.write_bytes(orjson.dumps(current))

    def environment(self, api_url: str) -> dict[str, str]:
        # This checkout's `tether` first on PATH: the commands the skills prescribe run it.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        return {
            "PATH": path,
            "HOME": str(self.home),
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "ANTHROPIC_BASE_URL": api_url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-key-for-tests",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "NO_COLOR": "1",
            "TETHER_CACHE_DIR": str(self.home / "tether-cache"),
            # The fixture's own pytest needs none of the plugins installed here.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            # A checkout under test may be put first this way (as the benchmark can).
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
            **self.env_extra,
        }

    async def chat(
        self,
        prompt: str,
        policy: Policy,
        *,
        skip_permissions: bool = False,
        extra_args: tuple[str, ...] = (),
        timeout: float = 240,
    ) -> ChatResult:
        """One print-mode conversation: the scripted model plays `policy` to the end."""
        argv = [str(self.binary), "-p", prompt, "--output-format", "stream-json", "--verbose"]
        env_root: dict[str, str] = {}
        if skip_permissions:
            argv.append("--dangerously-skip-permissions")
            env_root["IS_SANDBOX"] = "1"  # as root, Claude Code refuses the flag without it
        argv += extra_args
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"api-{time.monotonic_ns()}.jsonl"
        async with FakeAnthropic(policy, log_path=log) as api:
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.project,
                env={**self.environment(api.url), **env_root},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
            try:
                async with asyncio.timeout(timeout):
                    out, err = await process.communicate()
            except TimeoutError:
                raise AssertionError(
                    f"claude did not finish in {timeout:.0f}s: {shlex.join(argv)}; "
                    f"requests so far in {log}"
                ) from None
            finally:
                _kill_group(process.pid)
                if process.returncode is None:
                    await process.wait()
            wall = time.perf_counter() - started
        events = [orjson.loads(line) for line in out.splitlines() if line.strip()]
        result = ChatResult(
            process.returncode or 0, events, err.decode(errors="replace"), api, wall
        )
        self.results.append(result)
        return result


def _kill_group(pgid: int) -> None:
    """Whatever claude left in its session (shells, tether clients) goes with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
