"""Pre-warm on start and on dependency changes: only what is new or changed, noticed
through client-registered watched files (VS Code) or watchfiles (Neovim: no dynamic
registration), and on didSave. The workspace's `prewarm` workflow is a test double that
records what it was asked for (see conftest)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp.harness import (
    REPO,
    TestClient,
    as_dict,
    capabilities,
    start_server,
    stop_server,
)
from tether.lsp.dependency_watch import DEBOUNCE


def calls(workspace: Path) -> list[str]:
    path = workspace / "prewarm-calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def prewarm_runs(client: TestClient) -> list[str]:
    """Pre-warm run ids in the order they started."""
    ids = [s["run_id"] for s in client.run_statuses if s["workflow"] == "prewarm"]
    return list(dict.fromkeys(ids))


async def start_and_settle(workspace: Path, env: dict[str, str], name: str) -> TestClient:
    """A server whose start pre-warm has finished and whose watching is in place."""
    client = await start_server(workspace, env, capabilities(name), None)
    await client.until(lambda: calls(workspace) == ["*"])
    await client.until(lambda: prewarm_runs(client) and client.ended(prewarm_runs(client)[0]))
    if name == "vscode":
        await client.until(lambda: client.registrations)
    else:
        await client.until(lambda: "watching dependency files with watchfiles" in client.log_text())
    return client


def notify_changed(client: TestClient, path: Path) -> None:
    change = types.FileEvent(uri=path.as_uri(), type=types.FileChangeType.Changed)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[change]))


async def test_a_dependency_change_prewarms_only_what_changed(
    workspace: Path, env: dict[str, str], client_name: str
) -> None:
    client = await start_and_settle(workspace, env, client_name)
    try:
        if client_name == "vscode":
            (registration,) = client.registrations[0].registrations
            assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
            options = as_dict(registration.register_options)
            globs = {watcher["globPattern"] for watcher in options["watchers"]}
            assert {"**/*requirements*.txt", "**/pyproject.toml", "**/uv.lock"} <= globs
        requirements = workspace / "requirements.txt"
        # A burst: two writes (and, for the registering client, two notifications) a
        # moment apart, well within DEBOUNCE: one pre-warm for both, not one for each.
        requirements.write_text("click==8.1.7\nhttpx==0.27.0\n")
        if client_name == "vscode":
            notify_changed(client, requirements)
        await asyncio.sleep(DEBOUNCE / 3)  # the stimulus's timing, not synchronisation
        requirements.write_text("click==8.1.7\nhttpx==0.27.0\nrich==13.7.1\n")
        if client_name == "vscode":
            notify_changed(client, requirements)
        await client.until(lambda: len(calls(workspace)) >= 2)
        assert calls(workspace) == ["*", "httpx,rich"]
        await client.until(lambda: len(prewarm_runs(client)) == 2)
        run_id = prewarm_runs(client)[-1]
        await client.until(lambda: client.ended(run_id))
        values = client.progress_of(run_id)
        assert values[0].title == "docs"
        messages = [value.message for value in values[1:-1]]
        # Counts are coalesced (one per progress interval); the last one always goes out.
        assert "2/2 rich" in messages, messages
    finally:
        await stop_server(client)


async def test_saving_a_dependency_file_prewarms_its_changes(
    workspace: Path, env: dict[str, str]
) -> None:
    client = await start_and_settle(workspace, env, "vscode")
    try:
        requirements = workspace / "requirements.txt"
        requirements.write_text("click==8.1.8\n")
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=requirements.as_uri())
            )
        )
        await client.until(lambda: len(calls(workspace)) >= 2)
        assert calls(workspace) == ["*", "click"]
        # A file that is not a dependency file changes nothing.
        notify_changed(client, workspace / "fixture_steps.py")
        result = await client.command("tether.run", {"workflow": "multi"})
        assert result["status"] == "succeeded" and calls(workspace) == ["*", "click"]
    finally:
        await stop_server(client)


async def test_a_client_that_refuses_registration_gets_the_watchfiles_fallback(
    workspace: Path, env: dict[str, str]
) -> None:
    def refuse(client: TestClient) -> None:
        client.refuse_registration = True

    client = await start_server(
        workspace, env, capabilities("vscode"), {"prewarm": {"onStart": False}}, prepare=refuse
    )
    try:
        await client.until(lambda: "watching dependency files with watchfiles" in client.log_text())
        assert "client refused watched-file registration" in client.log_text()
        (workspace / "requirements.txt").write_text("click==8.1.7\nhttpx==0.27.0\n")
        await client.until(lambda: calls(workspace) == ["httpx"])
    finally:
        await stop_server(client)


@pytest.mark.skipif(
    not (REPO / "server" / "tether" / "workflows" / "prewarm.toml").exists(),
    reason="the built-in prewarm workflow has not landed yet",
)
async def test_the_builtin_prewarm_reports_docs_progress(
    workspace: Path, env: dict[str, str]
) -> None:
    (workspace / ".tether" / "workflows" / "prewarm.toml").unlink()
    client = await start_server(workspace, env, capabilities("vscode"), None)
    try:
        await client.until(lambda: prewarm_runs(client))
        run_id = prewarm_runs(client)[0]
        await client.until(lambda: client.ended(run_id), timeout=30)
        values = client.progress_of(run_id)
        assert values[0].title == "docs"
        assert any("click" in (value.message or "") for value in values[1:-1])
    finally:
        await stop_server(client)


async def test_with_prewarm_on_save_off_a_change_prewarms_nothing(
    workspace: Path, env: dict[str, str]
) -> None:
    options = {"prewarm": {"onStart": False, "onSave": False}}
    client = await start_server(workspace, env, capabilities("vscode"), options)
    try:
        await client.until(lambda: client.registrations)
        requirements = workspace / "requirements.txt"
        requirements.write_text("click==8.1.7\nhttpx==0.27.0\n")
        notify_changed(client, requirements)
        await client.until(
            lambda: "dependencies changed (httpx); prewarm.onSave is off" in client.log_text()
        )
        assert calls(workspace) == [] and prewarm_runs(client) == []
    finally:
        await stop_server(client)


def inotify_watches(pid: int) -> int:
    """How many inotify watches the process holds (Linux: /proc/PID/fdinfo)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if fd.readlink().name != "anon_inode:inotify":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
        except OSError:
            continue  # closed meanwhile
        count += sum(1 for line in info.splitlines() if line.startswith("inotify wd:"))
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts inotify watches")
async def test_the_fallback_watches_dependency_folders_not_the_whole_tree(
    workspace: Path, env: dict[str, str]
) -> None:
    """node_modules and .venv get no OS watches; requirements/ and npm workspace members,
    where detection reads files, do (a change there pre-warms)."""
    for index in range(60):
        (workspace / "node_modules" / f"package-{index}" / "lib").mkdir(parents=True)
        (workspace / ".venv" / "lib" / f"site-{index}").mkdir(parents=True)
    (workspace / "requirements").mkdir()
    (workspace / "requirements" / "dev.txt").write_text("pytest==8.0.0\n")
    member = workspace / "packages" / "web"
    member.mkdir(parents=True)
    (member / "package.json").write_text('{"name": "web", "dependencies": {"left-pad": "1"}}')
    (workspace / "package.json").write_text('{"name": "root", "workspaces": ["packages/*"]}')
    client = await start_server(
        workspace, env, capabilities("neovim"), {"prewarm": {"onStart": False}}
    )
    try:
        await client.until(lambda: "watching dependency files with watchfiles" in client.log_text())
        assert "(3 folders)" in client.log_text()
        assert client._server is not None
        assert inotify_watches(client._server.pid) < 30
        (workspace / "requirements" / "dev.txt").write_text("pytest==8.0.0\nhypothesis==6.0\n")
        await client.until(lambda: calls(workspace) == ["hypothesis"])
        (member / "package.json").write_text(
            '{"name": "web", "dependencies": {"left-pad": "1", "is-odd": "3"}}'
        )
        await client.until(lambda: calls(workspace) == ["hypothesis", "is-odd"])
    finally:
        await stop_server(client)
