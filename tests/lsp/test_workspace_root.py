"""An editor opened on a subfolder of the project: the server works on the project root
(the nearest folder above with `.tether/`, else pyproject.toml / package.json / .git), as
the CLI does, so its runs are the project's runs and no stray `.tether/` appears."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from tests.lsp.harness import capabilities, start_server, stop_server


async def test_a_server_started_in_a_subfolder_runs_in_the_project(
    workspace: Path, env: dict[str, str]
) -> None:
    subfolder = workspace / "pkg" / "deep"
    subfolder.mkdir(parents=True)
    client = await start_server(
        subfolder, env, capabilities("neovim"), {"prewarm": {"onStart": False}}
    )
    try:
        result = await client.command("tether.run", {"workflow": "multi"})
        assert result["status"] == "succeeded"
        run_dir = workspace / ".tether" / "runs" / result["run_id"]
        assert (run_dir / "events.jsonl").is_file()  # the project's run, found from its root
        assert not (workspace / "pkg" / ".tether").exists()
        assert not (subfolder / ".tether").exists()
        listed = await client.command("tether.runs")
        assert result["run_id"] in str(listed)
    finally:
        await stop_server(client)


async def test_an_unparsable_pyproject_refuses_the_run_naming_file_and_line(
    workspace: Path, env: dict[str, str]
) -> None:
    (workspace / "pyproject.toml").write_text('[project]\nname = "x"\nversion = 1.0.0\n')
    client = await start_server(
        workspace, env, capabilities("vscode"), {"prewarm": {"onStart": False}}
    )
    try:
        with pytest.raises(JsonRpcException) as refused:
            await client.command("tether.run", {"workflow": "multi"})
        assert f"{workspace / 'pyproject.toml'}:3: not valid TOML" in str(refused.value)
        assert not (workspace / ".tether" / "runs").exists()
    finally:
        await stop_server(client)
