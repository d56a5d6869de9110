"""Settings from the client: the shared VS Code mapping fixture, bad values, and
`workspace/configuration` re-read on `workspace/didChangeConfiguration`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types

from tests.lsp.conftest import make_workspace
from tests.lsp.harness import (
    REPO,
    TestClient,
    capabilities,
    make_client,
    start_server,
    stop_server,
)

MAPPING = REPO / "editor-client" / "shared" / "settings-mapping.json"


def effective_subset(config: dict[str, Any]) -> dict[str, Any]:
    """The part of tether.config that the client's initializationOptions can set."""
    return {
        "progressInterval": config["progressInterval"],
        "prewarm": {key: config["prewarm"][key] for key in ("onStart", "onSave")},
        "docs": {key: config["docs"][key] for key in ("providers", "offline")},
        "context7": {"url": config["context7"]["url"]},
        "defaultBudget": config["defaultBudget"],
        "logLevel": config["logLevel"],
    }


async def test_every_case_of_the_shared_settings_mapping(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cases = json.loads(MAPPING.read_text())["cases"]
    assert cases
    workspace = make_workspace(tmp_path / "plain", config="")
    env = {key: value for key, value in env.items() if key != "CONTEXT7_API_URL"}
    # No workflow called prewarm here: onStart cases must not run anything.
    (workspace / ".tether" / "workflows" / "prewarm.toml").unlink()

    async def effective(options: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        client = await start_server(workspace, env, capabilities("vscode"), options)
        try:
            config = await client.command("tether.config", {})
            return config, [message.message for message in client.messages]
        finally:
            await stop_server(client)

    # Cases that send the same options need one server between them.
    distinct = {json.dumps(case["initializationOptions"], sort_keys=True) for case in cases}
    options = sorted(distinct)
    results = dict(
        zip(
            options, await asyncio.gather(*(effective(json.loads(o)) for o in options)), strict=True
        )
    )
    for case in cases:
        config, warnings = results[json.dumps(case["initializationOptions"], sort_keys=True)]
        assert effective_subset(config) == case["initializationOptions"], case["name"]
        assert warnings == [], case["name"]


async def test_bad_values_are_shown_and_fall_back_to_defaults(
    tmp_path: Path, env: dict[str, str]
) -> None:
    workspace = make_workspace(tmp_path / "bad", config='progress_interval = "often"\n')
    options = {
        "logLevel": "loud",
        "docs": {"providers": ["bing"], "offline": True},
        "prewarm": {"onStart": False},
    }
    client = await start_server(workspace, env, capabilities("neovim"), options)
    try:
        config = await client.command("tether.config", {})
        assert config["logLevel"] == "info"
        assert config["progressInterval"] == 5.0
        assert config["docs"]["providers"] == ["local", "context7"]
        assert config["docs"]["offline"] is True  # the good value next to a bad one is kept
        await client.until(lambda: client.messages)
        (message,) = client.messages
        assert message.type == types.MessageType.Warning
        for name in ("logLevel", "providers", "progress_interval"):
            assert name in message.message
    finally:
        await stop_server(client)


async def config_when(client: TestClient, predicate: Any) -> dict[str, Any]:
    """tether.config once `predicate` holds: the server applies workspace/configuration
    after it gets the client's answer, which nothing announces."""
    for _ in range(200):
        config: dict[str, Any] = await client.command("tether.config", {})
        if predicate(config):
            return config
        await asyncio.sleep(0.05)
    raise AssertionError("the configuration never changed")


async def test_workspace_configuration_is_read_and_reread(
    workspace: Path, env: dict[str, str], client_name: str
) -> None:
    client_caps = capabilities(client_name)
    options = {"prewarm": {"onStart": False}, "defaultBudget": "40s"}

    client = make_client()
    client.set_configuration({"defaultBudget": "2m", "interpreter": ["python"]}, section="tether")
    await client.start_io(sys.executable, "-m", "tether", "serve", env=env, cwd=str(workspace))
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_caps,
            root_uri=workspace.as_uri(),
            initialization_options=options,
        )
    )
    try:
        config = await config_when(client, lambda c: c["defaultBudget"] == "2m")
        assert config["defaultBudget"] == "2m"
        client.set_configuration({"defaultBudget": "3m", "logLevel": "debug"}, section="tether")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        config = await config_when(client, lambda c: c["defaultBudget"] == "3m")
        assert config["logLevel"] == "debug"
        assert client.messages == []  # the client-only `interpreter` list is not a problem
    finally:
        await stop_server(client)


async def test_default_budget_bounds_the_wait_and_log_level_adds_log_messages(
    workspace: Path, env: dict[str, str]
) -> None:
    options = {"defaultBudget": "750ms", "logLevel": "debug", "prewarm": {"onStart": False}}
    client = await start_server(workspace, env, capabilities("vscode"), options)
    try:
        result = await client.command("tether.run", {"workflow": "nap"})
        assert result["status"] == "running"
        assert " --budget 0.75s" in result["resume_command"]
        finished = await client.command(
            "tether.resume", {"run_id": result["run_id"], "budget": "30s"}
        )
        assert finished["status"] == "succeeded"
        assert finished["steps"][0]["attempts"] == 1
        assert any(m.type == types.MessageType.Log for m in client.log_messages)
        # Never the proposed Debug type, which many clients do not know.
        assert all(m.type != types.MessageType.Debug for m in client.log_messages)
    finally:
        await stop_server(client)
