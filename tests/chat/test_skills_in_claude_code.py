"""The skill pack in the real Claude Code CLI: listed, loaded through the Skill tool, and the
commands each skill prescribes run (as written) with their real output reaching the model.

The model is scripted (tests/fakes/anthropic.py); Claude Code, its tools, its permission
checks and tether are real. Scenario letters follow the issue: (a) listing, (b) check,
(e) docs, (f) permissions on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.chat.harness import SKILLS, ChatSetup
from tests.chat.scripts import loaded_skill, prescribed
from tests.cli.pack_text import parse_document
from tests.cli.test_plain_output_bound import LOUD_FAILURE
from tests.fakes.anthropic import (
    Conversation,
    Policy,
    Text,
    ToolResult,
    ToolUse,
    bash,
    scripted,
    skill,
)

pytestmark = [pytest.mark.chat, pytest.mark.timeout(300)]

SKILL_NAMES = sorted(path.name for path in SKILLS.iterdir())


def frontmatter(name: str) -> dict[str, str]:
    return parse_document((SKILLS / name / "SKILL.md").read_text(encoding="utf-8")).frontmatter


def show(project: Path, run_id: str) -> dict[str, object]:
    shown = subprocess.run(
        [sys.executable, "-m", "tether", "show", run_id, "--json", "-C", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def run_id_in(output: str) -> str:
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "run" and words[1].startswith("check-"):
            return words[1]
    raise AssertionError(f"no run id in:\n{output}")


async def test_a_listing_has_every_skill_with_its_description(chat: ChatSetup) -> None:
    outcome = await chat.chat("hello", scripted(lambda _c: [Text("hi")]))
    outcome.check()
    listing = outcome.turns[0].skill_listing()
    for name in SKILL_NAMES:
        assert listing.get(name) == frontmatter(name)["description"], name
    assert set(SKILL_NAMES) <= set(outcome.init["skills"])


@dataclass
class CheckScript:
    """Skill -> the command the skill prescribes -> report, recording what the model saw.
    `user_invoked`: the prompt was `/tether-check`, so the skill is loaded already."""

    user_invoked: bool = False
    command: str = ""
    result: ToolResult | None = None

    def policy(self) -> Policy:
        turns = [self.run_it, self.report]
        return scripted(*(turns if self.user_invoked else [self.load, *turns]))

    def load(self, conversation: Conversation) -> list[ToolUse]:
        assert "tether-check" in conversation.skill_listing()
        return [skill("tether-check")]

    def run_it(self, conversation: Conversation) -> list[ToolUse]:
        self.command = prescribed(loaded_skill(conversation, "tether-check"), "run", "check")
        return [bash(self.command, "run the quality gate")]

    def report(self, conversation: Conversation) -> list[Text]:
        self.result = conversation.last_tool_result()
        return [Text("checks pass")]


async def test_b_check_runs_as_the_skill_prescribes(chat: ChatSetup) -> None:
    script = CheckScript()
    outcome = await chat.chat("run the tests", script.policy(), skip_permissions=True)
    outcome.check()
    assert script.command == "tether run check --budget 50s"
    [(ran, output, is_error)] = outcome.bash_results()
    assert ran == script.command and not is_error
    assert script.result is not None and script.result.text == output
    assert "(check): succeeded" in output and "succeeded  pytest" in output
    shown = show(chat.project, run_id_in(output))
    assert shown["status"] == "succeeded"


async def test_b_a_failing_check_reaches_the_model_with_no_resume_line(chat: ChatSetup) -> None:
    tests = chat.project / "tests" / "test_calc.py"
    tests.write_text(tests.read_text().replace("== 5", "== 6"))
    script = CheckScript()
    outcome = await chat.chat("run the tests", script.policy(), skip_permissions=True)
    outcome.check()
    [(_command, output, is_error)] = outcome.bash_results()
    assert is_error and output.startswith("Exit code 1")
    assert "(check): failed" in output and "    error: " in output
    assert output.splitlines()[-1].startswith("  failed: fix the failures above")
    assert "tether resume" not in output.split("\n", 2)[2]  # only the header names one


async def test_b_a_workflow_printing_190k_characters_keeps_its_last_line(
    chat: ChatSetup,
) -> None:
    """Claude Code swaps Bash output over 30,000 characters for a ~2 KB head and a file
    path, and cuts the middle out of a failed command's output over ~10,700; tether's
    bound keeps the whole output in front of the model."""
    workflows = chat.project / ".tether" / "workflows"
    workflows.mkdir()
    (workflows / "loud.toml").write_text("".join(LOUD_FAILURE.format(n=n) for n in range(120)))

    def run_it(conversation: Conversation) -> list[ToolUse]:
        template = prescribed(loaded_skill(conversation, "tether-workflows"), "run")
        assert template == "tether run WORKFLOW --budget 50s"
        return [bash(template.replace("WORKFLOW", "loud"))]

    outcome = await chat.chat(
        "run the loud workflow",
        scripted(lambda _c: [skill("tether-workflows")], run_it, lambda _c: [Text("done")]),
        skip_permissions=True,
    )
    outcome.check()
    [(_command, output, is_error)] = outcome.bash_results()
    assert is_error and output.startswith("Exit code 1")
    assert 8_000 < len(output) <= 10_100 and "characters truncated]" not in output  # whole
    assert output.splitlines()[-1].startswith("  failed: fix the failures above")


async def test_e_docs_answers_at_the_installed_version(chat: ChatSetup) -> None:
    def load(_c: Conversation) -> list[ToolUse]:
        return [skill("tether-docs")]

    def look_up(conversation: Conversation) -> list[ToolUse]:
        template = prescribed(loaded_skill(conversation, "tether-docs"), "docs")
        assert template == 'tether docs LIB "QUERY"'
        return [bash(template.replace("LIB", "click").replace("QUERY", "command group"))]

    outcome = await chat.chat(
        "how do I write a click command group? check the docs",
        scripted(load, look_up, lambda _c: [Text("done")]),
        skip_permissions=True,
    )
    outcome.check()
    [(command, output, is_error)] = outcome.bash_results()
    assert command == 'tether docs click "command group"' and not is_error
    first = output.splitlines()[0]
    assert f"click {version('click')}" in first and "provider: local" in first


def without_allowed_tools(project: Path, name: str) -> None:
    path = project / ".claude" / "skills" / name / "SKILL.md"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("allowed-tools:")))


async def test_f_a_user_invoked_skill_runs_tether_without_a_prompt(chat: ChatSetup) -> None:
    """Default permission mode: `/tether-check` runs the gate; anything else still asks."""
    victim = chat.project / "calc" / "__init__.py"

    def run_it(conversation: Conversation) -> list[ToolUse]:
        return [bash(prescribed(loaded_skill(conversation, "tether-check"), "run", "check"))]

    outcome = await chat.chat(
        "/tether-check",
        scripted(run_it, lambda _c: [bash(f"rm {victim}")], lambda _c: [Text("done")]),
    )
    outcome.check()
    assert outcome.init["permissionMode"] == "default"
    (command, output, is_error), (_rm, refused, _) = outcome.bash_results()
    assert command == "tether run check --budget 50s" and not is_error
    assert "(check): succeeded" in output
    assert [d["tool_input"]["command"] for d in outcome.denials] == [f"rm {victim}"]
    assert "approval" in refused and victim.exists()


async def test_f_a_model_invoked_skill_runs_tether_without_a_prompt(chat: ChatSetup) -> None:
    """Once the user has let the skill run (Claude Code asks for a skill that grants tools),
    its tether commands need no approval of their own."""
    chat.allow_skill("tether-check")
    script = CheckScript()
    outcome = await chat.chat("run the tests", script.policy())
    outcome.check()
    assert outcome.denials == []
    [(command, output, is_error)] = outcome.bash_results()
    assert command == script.command and not is_error and "(check): succeeded" in output


async def test_f_without_allowed_tools_the_same_call_needs_approval(chat: ChatSetup) -> None:
    """The control for the two above: the grant comes from the skill's `allowed-tools`."""
    without_allowed_tools(chat.project, "tether-check")
    outcome = await chat.chat("/tether-check", CheckScript(user_invoked=True).policy())
    outcome.check()
    [(command, refused, is_error)] = outcome.bash_results()
    assert command == "tether run check --budget 50s" and is_error
    assert "requires approval" in refused
    assert [d["tool_name"] for d in outcome.denials] == ["Bash"]
    assert not (chat.project / ".tether" / "runs").exists() or not any(
        (chat.project / ".tether" / "runs").glob("check-*")
    )


async def test_f_the_build_skill_may_write_its_result_file_and_nothing_else(
    chat: ChatSetup,
) -> None:
    result = chat.project / ".tether" / "runs" / "build-x" / "agent" / "plan.result.md"
    result.parent.mkdir(parents=True)
    code = chat.project / "calc" / "extra.py"
    outcome = await chat.chat(
        "/tether-build",
        scripted(
            lambda _c: [ToolUse("Write", {"file_path": str(result), "content": "the plan\n"})],
            lambda _c: [ToolUse("Write", {"file_path": str(code), "content": "x = 1\n"})],
            lambda _c: [Text("done")],
        ),
    )
    outcome.check()
    assert result.read_text() == "the plan\n"
    assert not code.exists()
    assert [d["tool_input"]["file_path"] for d in outcome.denials] == [str(code)]
