"""(c) The whole build loop driven by the real Claude Code CLI with the tether-build skill:
start -> each waiting step's task done and its result file written -> the printed last line
run as written -> ... -> succeeded. Permissions are on (edits accepted, the skill allowed
once, as a user would have it); every tether call goes through the skill's allowed tools.
"""

from __future__ import annotations

import re
import shlex
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.chat.harness import ChatSetup
from tests.chat.scripts import exit_code, loaded_skill, prescribed
from tests.fakes.anthropic import (
    Block,
    Conversation,
    Text,
    ToolUse,
    bash,
    last_line,
    skill,
)

pytestmark = [pytest.mark.chat, pytest.mark.timeout(420)]

PROMPT = "Add a subtract function to calc, with a test"
WAITING = re.compile(r"^  (\S+) is waiting for a result", re.MULTILINE)


@dataclass
class BuildAgent:
    """Plays the model: follows the skill and the printed output, nothing else."""

    project: Path
    queue: deque[Block] = field(default_factory=deque)
    calls: list[tuple[str, int, str]] = field(default_factory=list)
    """(command, exit code, output) of every tether call, in order."""
    handed: list[str] = field(default_factory=list)
    pending_command: str = ""

    def __call__(self, conversation: Conversation) -> list[Block]:
        if conversation.turn == 0:
            return [skill("tether-build")]
        if conversation.turn == 1:
            start = prescribed(loaded_skill(conversation, "tether-build"), "run", "build")
            return [self.run(start.replace("WHAT TO BUILD", PROMPT))]
        if self.queue:
            return [self.queue.popleft()]
        result = conversation.last_tool_result()
        code = exit_code(result.text, result.is_error)
        self.calls.append((self.pending_command, code, result.text))
        if code == 0:
            return [Text("Built: calc.subtract with a test; checks pass and the review is in.")]
        assert code == 3, f"`{self.pending_command}` exited {code}:\n{result.text[-3000:]}"
        command = last_line(result.text)
        words = shlex.split(command)
        assert words[:2] == ["tether", "resume"], command
        if "--result-file" not in words:
            return [self.run(command)]  # still running: wait again
        [step] = WAITING.findall(result.text)
        result_file = Path(words[words.index("--result-file") + 1])
        self.handed.append(step)
        self.queue.extend(self.work(step))
        write = {"file_path": str(result_file), "content": REPORTS[step]}
        self.queue.append(ToolUse("Write", write))
        self.queue.append(self.run(command))
        return [self.queue.popleft()]

    def run(self, command: str) -> ToolUse:
        self.pending_command = command
        return bash(command, "drive the tether build workflow", timeout_ms=110_000)

    def work(self, step: str) -> list[ToolUse]:
        if step != "implement":
            return []
        package = str(self.project / "calc" / "__init__.py")
        tests = str(self.project / "tests" / "test_calc.py")
        return [
            ToolUse("Read", {"file_path": package}),
            ToolUse(
                "Edit",
                {
                    "file_path": package,
                    "old_string": "    return a + b\n",
                    "new_string": "    return a + b\n\n\ndef subtract(a: int, b: int) -> int:\n"
                    "    return a - b\n",
                },
            ),
            ToolUse("Read", {"file_path": tests}),
            ToolUse(
                "Edit",
                {
                    "file_path": tests,
                    "old_string": "from calc import add\n",
                    "new_string": "from calc import add, subtract\n\n\n"
                    "def test_subtract() -> None:\n    assert subtract(5, 3) == 2\n",
                },
            ),
        ]


REPORTS = {
    "plan": "1. add subtract(a, b) to calc/__init__.py\n2. add test_subtract\n",
    "implement": "Added calc.subtract and tests/test_calc.py::test_subtract\n",
    "review": "Ready: subtract is tested.\n",
}


async def test_c_the_build_loop_reaches_succeeded_through_the_printed_commands(
    chat: ChatSetup,
) -> None:
    chat.allow_skill("tether-build")
    agent = BuildAgent(chat.project)
    outcome = await chat.chat(
        f"build this with tether: {PROMPT}",
        agent,
        extra_args=("--permission-mode", "acceptEdits"),
        timeout=360,
    )
    outcome.check()
    assert outcome.denials == []
    assert agent.handed == ["plan", "implement", "review"]
    start, *continuations = [command for command, _, _ in agent.calls]
    assert start == f'tether run build -p prompt="{PROMPT}" --budget 50s'
    assert all(shlex.split(c)[:2] == ["tether", "resume"] for c in continuations)
    assert all("--budget 50s" in c for c in continuations)
    finished = agent.calls[-1][2]
    run_id = shlex.split(continuations[0])[2]
    assert f"run {run_id} (build): succeeded" in finished
    assert "succeeded  check" in finished
    assert "def subtract" in (chat.project / "calc" / "__init__.py").read_text()
    # Every call's output reached the model whole: Claude Code cut nothing.
    assert all(len(output) <= 10_100 for _, _, output in agent.calls)
    assert not any("characters truncated]" in output for _, _, output in agent.calls)
