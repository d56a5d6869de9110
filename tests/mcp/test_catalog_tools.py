"""`tether mcp` over stdio with the SDK's client: the tools it lists, a docs call against
the fake Context7 over real HTTP, and one-line errors for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.context7 import FakeContext7
from tests.mcp.harness import (
    assert_each_refused_in_one_line,
    mcp_session,
    server_env,
    structured,
    text_of,
)

PROJECT_WORKFLOW = """
name = "hello"
description = "says hello"

[[steps]]
id = "greet"
kind = "command"
run = ["echo", "hello"]
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".tether" / "workflows").mkdir(parents=True)
    (root / ".tether" / "workflows" / "hello.toml").write_text(PROJECT_WORKFLOW)
    (root / ".tether" / "config.toml").write_text('[docs]\nproviders = ["context7"]\n')
    (root / "requirements.txt").write_text("widget==1.2\n")
    return root


async def test_tools_are_listed_with_closed_precise_schemas(
    workspace: Path, tmp_path: Path
) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(listed) == {
        "run_workflow",
        "resume_run",
        "cancel_run",
        "list_runs",
        "show_run",
        "list_workflows",
        "lookup_docs",
        "list_dependencies",
    }
    for tool in listed.values():
        assert tool.description and "Call this" in tool.description, tool.name
        assert tool.input_schema["additionalProperties"] is False, tool.name
    docs = listed["lookup_docs"].input_schema
    assert docs["required"] == ["library"]
    assert docs["properties"]["library"]["type"] == "string"
    assert docs["properties"]["library"]["maxLength"] == 214
    assert docs["properties"]["max_tokens"]["anyOf"][0]["maximum"] == 4000
    run = listed["run_workflow"].input_schema
    assert run["required"] == ["workflow"]
    assert run["properties"]["workflow"]["pattern"] == "^[a-z0-9][a-z0-9._-]{0,63}$"
    budget = run["properties"]["budget"]["anyOf"][0]
    assert budget["type"] == "string" and "ms|s|m|h" in budget["pattern"]
    params = run["properties"]["params"]["anyOf"][0]
    assert params["additionalProperties"] == {"type": "string"}
    resume = listed["resume_run"].input_schema
    assert resume["required"] == ["run_id"] and "ctx" not in resume["properties"]
    assert resume["properties"]["run_id"]["pattern"] == "^[a-z0-9][a-z0-9._-]{0,127}$"
    status = listed["list_runs"].input_schema["properties"]["status"]["anyOf"][0]
    assert status["enum"] == [
        "running",
        "succeeded",
        "failed",
        "timed_out",
        "cancelled",
        "paused",
        "waiting",
    ]


async def test_list_workflows_shows_builtins_and_the_project_file(
    workspace: Path, tmp_path: Path
) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        result = await session.call_tool("list_workflows", {})
    rows = {row["name"]: row for row in structured(result)["workflows"]}
    assert rows["hello"] == {
        "name": "hello",
        "description": "says hello",
        "source": ".tether/workflows/hello.toml",
    }
    assert rows["check"]["source"] == "builtin"
    assert json.loads(text_of(result)) == structured(result)


async def test_docs_lookup_answers_from_context7_over_http(workspace: Path, tmp_path: Path) -> None:
    async with FakeContext7() as fake:
        env = server_env(tmp_path, CONTEXT7_API_URL=fake.url)
        async with mcp_session(workspace, env) as session:
            result = await session.call_tool(
                "lookup_docs", {"library": "widget", "query": "timeouts", "max_tokens": 500}
            )
    payload = structured(result)
    assert payload["found"] is True and payload["provider"] == "context7"
    assert "Widget" in payload["content"]
    assert len(payload["content"]) <= 500 * 4
    assert text_of(result).startswith("> tether docs: **widget")
    assert fake.count("context") >= 1


async def test_list_dependencies_reads_the_workspace_files(workspace: Path, tmp_path: Path) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        result = await session.call_tool("list_dependencies", {})
    (widget,) = structured(result)["dependencies"]
    assert widget["name"] == "widget" and widget["spec"] == "==1.2"
    assert widget["source"] == "requirements.txt" and widget["line"] == 1


BAD_CALLS = [
    ("lookup_docs", {"library": "../../etc/passwd"}, "contains '..'"),
    ("lookup_docs", {"library": "a/b/c"}, "path separator"),
    ("lookup_docs", {"library": "x" * 300}, "argument 'library'"),
    ("lookup_docs", {"library": "bad name\n"}, "not a valid PyPI or npm package name"),
    ("lookup_docs", {}, "argument 'library': Field required"),
    ("lookup_docs", {"library": "widget", "max_tokens": "lots"}, "argument 'max_tokens'"),
    ("lookup_docs", {"libary": "widget"}, "unknown argument 'libary'"),
    ("list_workflows", {"all": True}, "unknown argument 'all'"),
    ("no_such_tool", {}, "Unknown tool: no_such_tool"),
]


async def test_each_bad_input_is_one_line_and_the_server_lives_on(
    workspace: Path, tmp_path: Path
) -> None:
    async with mcp_session(workspace, server_env(tmp_path)) as session:
        await assert_each_refused_in_one_line(session, BAD_CALLS)
        # After every refusal the same server still answers.
        still = await session.call_tool("list_workflows", {})
    assert not still.is_error
