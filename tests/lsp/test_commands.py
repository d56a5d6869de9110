"""Every command end to end, for VS Code's and Neovim's client capabilities."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from tests.lsp.harness import TestClient

# One server per client kind for the module (see conftest.shared_client).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def client(shared_client: TestClient) -> TestClient:
    return shared_client


@pytest.fixture
def workspace(shared_client: TestClient) -> Path:
    return shared_client.workspace


async def test_workflows_lists_project_and_builtin(client: TestClient) -> None:
    rows = await client.command("tether.workflows", {})
    by_name = {row["name"]: row for row in rows}
    assert by_name["multi"]["description"] == "three quick steps in a row"
    assert by_name["multi"]["source"] == ".tether/workflows/multi.toml"
    assert by_name["check"]["source"] == "builtin"


async def test_run_returns_the_run_json(client: TestClient) -> None:
    result = await client.command("tether.run", {"workflow": "multi"})
    assert result["status"] == "succeeded"
    assert result["resume_command"] is None
    assert [step["id"] for step in result["steps"]] == ["first", "second", "third"]
    assert result["steps"][0]["partial"] == ["first"]


async def test_run_request_takes_the_arguments_as_an_object(client: TestClient) -> None:
    result = await client.protocol.send_request_async("tether/run", {"workflow": "multi"})
    assert result.status == "succeeded"


async def test_start_answers_at_once_and_show_runs_cancel_follow(
    client: TestClient, workspace: Path
) -> None:
    started = await client.command("tether.start", {"workflow": "slow"})
    run_id = started["run_id"]
    await client.until(lambda: (workspace / "sleeper.pid").exists())
    runs = await client.command("tether.runs", {})
    assert runs[0]["run_id"] == run_id
    assert runs[0]["workflow"] == "slow"
    assert runs[0]["status"] == "running"
    assert set(runs[0]) == {"run_id", "workflow", "status", "age_seconds", "duration_ms", "live"}
    assert runs[0]["live"] is True
    shown = await client.command("tether.show", {"run_id": run_id})
    assert shown["status"] == "running"
    cancelled = await client.command("tether.cancel", {"run_id": run_id})
    assert cancelled == {"run_id": run_id, "status": "cancelled"}
    shown = await client.command("tether.show", {"run_id": run_id})
    assert shown["status"] == "cancelled"
    assert shown["resume_command"].startswith(f"tether resume {run_id}")


async def test_a_budget_bounds_the_request_and_the_run_goes_on(
    client: TestClient, workspace: Path
) -> None:
    waited = await client.command("tether.run", {"workflow": "pausable", "budget": "1s"})
    assert waited["status"] == "running"
    assert waited["live"] is True
    run_id = waited["run_id"]
    assert waited["resume_command"] == f"tether resume {run_id} --budget 1s" or waited[
        "resume_command"
    ].startswith(f"tether resume {run_id} --budget 1s -C ")
    # Still running in the server: a second wait attaches to it (its step is not restarted).
    again = await client.command("tether.resume", {"run_id": run_id, "budget": "300ms"})
    assert again["status"] == "running"
    (workspace / "resume-ok").write_text("")
    finished = await client.command("tether.resume", {"run_id": run_id})
    assert finished["status"] == "succeeded"
    assert {step["id"]: step["attempts"] for step in finished["steps"]} == {"quick": 1, "gate": 1}
    (workspace / "resume-ok").unlink()  # the workspace is shared by this module's tests


async def test_resume_continues_a_paused_run(client: TestClient, workspace: Path) -> None:
    paused = await client.command(
        "tether.run", {"workflow": "pausable", "budget": "1s", "on_budget": "pause"}
    )
    assert paused["status"] == "paused"
    assert paused["resume_command"].startswith(f"tether resume {paused['run_id']}")
    (workspace / "resume-ok").write_text("")
    resumed = await client.command("tether.resume", {"run_id": paused["run_id"]})
    assert resumed["status"] == "succeeded"
    assert {step["id"]: step["attempts"] for step in resumed["steps"]} == {"quick": 1, "gate": 2}


async def test_docs_answers_from_installed_packages_then_the_cache(
    client: TestClient, workspace: Path
) -> None:
    first = await client.command("tether.docs", {"library": "click", "query": "command"})
    assert first["library"] == "click"
    assert first["provider"] == "local"
    assert first["version"]
    assert "click" in first["markdown"].lower()
    # The first lookup built click's index; the second is answered from it.
    second = await client.command("tether.docs", {"library": "click", "query": "command"})
    assert "cache: index" in second["markdown"]
    assert "### `click.command(" in second["markdown"]
    stats = await client.command("tether.cacheStats", {})
    assert stats["directory"].startswith(str(workspace.parent / "cache"))


async def test_prewarm_runs_the_prewarm_workflow_with_docs_progress(
    client: TestClient, workspace: Path
) -> None:
    began = time.monotonic()
    started = await client.command("tether.prewarm", {"libraries": ["httpx", "rich"]})
    run_id = started["run_id"]
    await client.until(lambda: client.ended(run_id))
    elapsed = time.monotonic() - began
    assert (workspace / "prewarm-calls.txt").read_text() == "httpx,rich\n"
    assert client.statuses_of(run_id)[-1]["status"] == "succeeded"
    if client.capabilities.window.work_done_progress:
        reports = client.progress_of(run_id)
        assert reports[0].title == "docs"
        messages = [report.message for report in reports[1:-1]]
        # Counts are coalesced: at most one per progress interval (5 s here), and the last
        # one always goes out before the step's end, so a quick pre-warm reports it alone.
        counts = [message for message in messages if re.fullmatch(r"\d+/2 \w+", message)]
        assert counts[-1] == "2/2 rich", messages
        if elapsed < 5:
            assert len(counts) == 1, messages


async def test_config_reports_the_effective_settings(client: TestClient) -> None:
    config = await client.command("tether.config", {})
    assert config["prewarm"]["onStart"] is False  # from initializationOptions
    assert config["docs"]["offline"] is True  # from .tether/config.toml
    assert config["progressInterval"] == 5.0


async def test_nothing_but_protocol_reaches_stdout(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    """A step that prints, writes to fd 1 and starts a child that writes to its stdout:
    all of it lands on the server's stderr (forwarded here by pytest-lsp), the client
    still reads clean protocol, and the server answers the next request."""
    result = await client.command("tether.run", {"workflow": "noisy"})
    assert result["status"] == "succeeded"
    assert result["steps"][0]["output"] == {"noisy": True}
    expected = ("noise from print", "noise on fd 1", "noise from a child")
    stderr = ""
    for _ in range(100):
        stderr += capfd.readouterr().err
        if all(noise in stderr for noise in expected):
            break
        await asyncio.sleep(0.05)
    assert all(noise in stderr for noise in expected), stderr
    assert client.error is None
    assert (await client.command("tether.config", {}))["logLevel"] == "info"
