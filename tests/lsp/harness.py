"""A pytest-lsp client that records everything the server sends, and waits on it by event
(each notification or request from the server wakes waiters; no fixed sleeps)."""

from __future__ import annotations

import asyncio
import copy
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, LanguageClientProtocol, client_capabilities
from pytest_lsp.client import register_lsp_features

from tests.helpers import process_gone as process_gone  # re-exported for the LSP tests

REPO = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO / "server"
CLIENTS = {"vscode": "visual-studio-code", "neovim": "neovim"}


class RecordingProtocol(LanguageClientProtocol):
    def _handle_notification(self, method_name: str, params: Any) -> None:
        super()._handle_notification(method_name, params)
        self._server.record(method_name, params)  # type: ignore[attr-defined]

    def _handle_request(self, msg_id: Any, method_name: str, params: Any) -> None:
        super()._handle_request(msg_id, method_name, params)
        self._server.record(method_name, params)  # type: ignore[attr-defined]


class TestClient(LanguageClient):
    __test__ = False

    def __init__(self) -> None:
        super().__init__(protocol_cls=RecordingProtocol, converter_factory=default_converter)
        self.received: list[tuple[str, Any]] = []
        self.run_statuses: list[dict[str, Any]] = []
        self.registrations: list[types.RegistrationParams] = []
        self._changed = asyncio.Event()
        self.refuse_registration = False
        self.message_requests: list[types.ShowMessageRequestParams] = []
        self.pick_action = True
        """Answer `window/showMessageRequest` with its first action (else: dismissed)."""
        self.workspace = Path()
        """The server's workspace (set by the fixtures that start it)."""

    def record(self, method: str, params: Any) -> None:
        self.received.append((method, params))
        self._changed.set()

    async def until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy, re-checking whenever the server sends something."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
            self._changed.clear()
            try:
                async with asyncio.timeout(min(remaining, 0.5)):
                    await self._changed.wait()
            except TimeoutError:
                pass  # re-check: some conditions (files, processes) change without messages

    async def command(self, name: str, argument: Any = None, **kwargs: Any) -> Any:
        arguments = [] if argument is None else [argument]
        result = await self.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=arguments), **kwargs
        )
        return as_dict(result)

    def progress_of(self, run_id: str) -> list[Any]:
        """Every progress value of the run's invocations, in order."""
        prefix = f"tether/{run_id}/"
        values: list[Any] = []
        for token, reports in self.progress_reports.items():
            if isinstance(token, str) and token.startswith(prefix):
                values.extend(reports)
        return values

    def statuses_of(self, run_id: str) -> list[dict[str, Any]]:
        return [status for status in self.run_statuses if status.get("run_id") == run_id]

    def ended(self, run_id: str) -> bool:
        return any(status["status"] != "running" for status in self.statuses_of(run_id))

    def log_text(self) -> str:
        return "\n".join(message.message for message in self.log_messages)


def as_dict(value: Any) -> Any:
    """pygls hands untyped params over as namedtuples; tests compare plain data."""
    if hasattr(value, "_asdict"):
        return {key: as_dict(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {key: as_dict(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_dict(item) for item in value]
    return value


def make_client() -> TestClient:
    client = TestClient()
    register_lsp_features(client)

    @client.feature("tether/runStatus")
    def run_status(ls: TestClient, params: Any) -> None:
        ls.run_statuses.append(as_dict(params))

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(ls: TestClient, params: types.RegistrationParams) -> None:
        if ls.refuse_registration:
            raise RuntimeError("registration refused by this client")
        ls.registrations.append(params)

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def message_request(
        ls: TestClient, params: types.ShowMessageRequestParams
    ) -> types.MessageActionItem | None:
        ls.message_requests.append(params)
        if ls.pick_action and params.actions:
            return params.actions[0]
        return None

    return client


def capabilities(name: str, *, progress: bool = True) -> types.ClientCapabilities:
    caps = copy.deepcopy(client_capabilities(CLIENTS.get(name, name)))
    if not progress and caps.window is not None:
        caps.window.work_done_progress = False
    return caps


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONPATH"] = os.pathsep.join([str(SERVER_DIR), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["TETHER_CACHE_DIR"] = str(tmp / "cache")
    env["CONTEXT7_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    env.pop("CONTEXT7_API_KEY", None)
    env.update(extra)
    return env


async def start_server(
    workspace: Path,
    env: dict[str, str],
    caps: types.ClientCapabilities,
    options: Any = None,
    *,
    process_id: int | None = None,
    prepare: Callable[[TestClient], None] | None = None,
) -> TestClient:
    client = make_client()
    client.workspace = workspace
    if prepare is not None:
        prepare(client)
    await client.start_io(sys.executable, "-m", "tether", "serve", env=env, cwd=str(workspace))
    await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options=options,
            process_id=process_id,
        )
    )
    return client


async def stop_server(client: TestClient) -> int | None:
    """shutdown + exit when the server is still there; kill it if it does not end."""
    server = client._server
    if server is not None and server.returncode is None:
        try:
            async with asyncio.timeout(5):
                await client.shutdown_session()
        except (TimeoutError, RuntimeError, ConnectionError):
            server.kill()
    if server is not None:
        async with asyncio.timeout(5):
            await server.wait()
    await client.stop()
    return server.returncode if server is not None else None
