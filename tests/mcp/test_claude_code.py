"""tether's MCP server in the real Claude Code CLI, against the fake Messages API: Claude
Code starts the server from the `.mcp.json` that `tether init --mcp` wrote, the scripted
model loads the deferred tool with ToolSearch, calls it, and reads the run's result."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.chat.harness import FIXTURE, ROOT, ChatSetup, claude_code
from tests.fakes.anthropic import Conversation, Text, ToolUse, scripted
from tests.mcp.harness import TWO_STEPS
from tether.cli.init_command import init

pytestmark = [pytest.mark.chat, pytest.mark.timeout(300)]

TOOL = "mcp__tether__run_workflow"


@pytest.fixture
def claude(tmp_path: Path) -> Iterator[ChatSetup]:
    binary, why = claude_code()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (under CI the Claude Code end-to-end tests must run)")
        pytest.skip(why)
    project = tmp_path / "calc"
    shutil.copytree(FIXTURE, project)
    (project / ".tether" / "workflows").mkdir(parents=True)
    (project / ".tether" / "workflows" / "two.toml").write_text(TWO_STEPS)
    written = CliRunner().invoke(init, ["--mcp", "--claude", "-C", str(project)])
    assert written.exit_code == 0, written.output
    # What a user does by answering Claude Code's prompts: trust the project's servers,
    # and allow the run tool (print mode cannot ask).
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "settings.local.json").write_text(
        json.dumps({"enableAllProjectMcpServers": True, "permissions": {"allow": [TOOL]}})
    )
    home = tmp_path / "home"
    home.mkdir()
    yield ChatSetup(
        binary,
        project,
        home,
        tmp_path / "api-logs",
        env_extra={"PYTHONPATH": str(ROOT / "server")},
    )


def load_tool(_conversation: Conversation) -> list[ToolUse]:
    return [ToolUse("ToolSearch", {"query": f"select:{TOOL}"})]


def call_tool(conversation: Conversation) -> list[ToolUse]:
    loaded = conversation.last_tool_result()
    assert not loaded.is_error, loaded.text
    return [ToolUse(TOOL, {"workflow": "two", "budget": "60s"})]


async def test_claude_code_runs_a_workflow_through_the_mcp_server(claude: ChatSetup) -> None:
    outcome = await claude.chat(
        "run the two workflow with tether",
        scripted(load_tool, call_tool, lambda _c: [Text("the run succeeded")]),
    )
    outcome.check()
    assert "tether" in {server["name"] for server in outcome.init.get("mcp_servers", [])}
    answer = outcome.turns[-1].last_tool_result()
    assert not answer.is_error, answer.text
    run = json.loads(answer.text)
    assert run["workflow"] == "two" and run["status"] == "succeeded"
    assert [step["id"] for step in run["steps"]] == ["first", "second"]
    assert run["next"] is None
