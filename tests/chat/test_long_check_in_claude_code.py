"""(d) A check longer than the budget completes through the continuation, with pytest run
once: the first `tether run check --budget 50s` returns exit 3 while the run goes on in
the background; the model runs the printed last line, which attaches and sees it succeed.

The fixture's slow test holds until a release file exists; the model writes that file only
after the first call has returned, so the run can finish only through the continuation.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.chat.harness import ChatSetup
from tests.chat.scripts import exit_code, loaded_skill, prescribed
from tests.fakes.anthropic import Block, Conversation, Text, ToolUse, bash, last_line, skill

pytestmark = [pytest.mark.chat, pytest.mark.timeout(420)]

BUDGET = 50.0
SLOW_TEST = """\
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_slow() -> None:
    with (HERE / "started.txt").open("a") as marker:
        marker.write("started\\n")
    deadline = time.monotonic() + 240
    while not (HERE / "release").exists():  # the workload: hold until released
        assert time.monotonic() < deadline, "never released"
        time.sleep(0.1)
"""


@dataclass
class PatientAgent:
    """Runs the gate as the skill says; on exit 3 releases the slow test, then runs the
    printed continuation as written, until the exit code is not 3."""

    release: Path
    queue: deque[Block] = field(default_factory=deque)
    calls: list[tuple[str, int, float]] = field(default_factory=list)
    """(command, exit code, seconds the call took) of every tether call."""
    command: str = ""
    sent_at: float = 0.0

    def __call__(self, conversation: Conversation) -> list[Block]:
        if conversation.turn == 0:
            return [skill("tether-check")]
        if conversation.turn == 1:
            return [self.run(prescribed(loaded_skill(conversation, "tether-check"), "run"))]
        if self.queue:
            return [self.queue.popleft()]
        result = conversation.last_tool_result()
        code = exit_code(result.text, result.is_error)
        self.calls.append((self.command, code, time.monotonic() - self.sent_at))
        if code != 3:
            assert code == 0, result.text[-3000:]
            return [Text("checks pass")]
        if not self.release.exists():
            self.queue.append(ToolUse("Write", {"file_path": str(self.release), "content": ""}))
        self.queue.append(self.run(last_line(result.text)))
        return [self.queue.popleft()]

    def run(self, command: str) -> ToolUse:
        self.command, self.sent_at = command, time.monotonic()
        return bash(command, "run the quality gate")


async def test_d_a_check_longer_than_the_budget_finishes_through_the_continuation(
    chat: ChatSetup,
) -> None:
    tests = chat.project / "tests"
    (tests / "test_slow.py").write_text(SLOW_TEST)
    chat.allow_skill("tether-check")
    agent = PatientAgent(tests / "release")
    outcome = await chat.chat(
        "run the tests", agent, extra_args=("--permission-mode", "acceptEdits"), timeout=360
    )
    outcome.check()
    assert outcome.denials == []
    (first, first_code, first_took), *rest = agent.calls
    assert first == "tether run check --budget 50s" and first_code == 3
    assert first_took < BUDGET + 20  # returned at its budget, not when the work was done
    assert rest and all(command.startswith("tether resume ") for command, _, _ in rest)
    assert [code for _, code, _ in rest][-1] == 0
    assert (tests / "started.txt").read_text() == "started\n"  # pytest ran once
