"""Client options -> tether.config: initializationOptions, `workspace/configuration`
(section `tether`, re-read on `workspace/didChangeConfiguration`) over `.tether/config.toml`.

Precedence, lowest first: defaults, .tether/config.toml, environment, initializationOptions,
workspace/configuration. Each bad value is reported once with window/showMessage (Warning)
and its default is used; every good value is kept (config.merge falls back per field).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tether.config import TetherConfig, load_config, merge
from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from tether.lsp.workspace_root import WorkspaceRoot


# Client settings that configure the editor's launcher, not the server: VS Code's
# `tether.interpreter` is the argv that starts the server; `trace` is vscode-languageclient's.
_CLIENT_ONLY = frozenset({"interpreter", "trace"})
_CONFIGURATION_TIMEOUT = 2.0


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def config_to_json(config: Any) -> dict[str, Any]:
    """The effective settings with camelCase keys, as a client would write them."""
    result: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            result[_camel(field.name)] = config_to_json(value)
        elif isinstance(value, tuple):
            result[_camel(field.name)] = list(value)
        else:
            result[_camel(field.name)] = value
    return result


def _without_nulls(layer: Mapping[str, Any]) -> dict[str, Any]:
    """A client's `null` means "not set here": the lower layers (config.toml, environment)
    decide, instead of the null being an empty value."""
    return {
        key: _without_nulls(value) if isinstance(value, Mapping) else value
        for key, value in layer.items()
        if value is not None
    }


class Settings(Feature):
    def __init__(self, server: LanguageServer, workspace_root: WorkspaceRoot) -> None:
        super().__init__()
        self.server = server
        self.workspace_root = workspace_root
        self.config = TetherConfig()
        self._kinds: dict[str, Any] | None = None
        self._kinds_for: Any = None
        self._initialization_options: Any = None
        self._client_settings: Any = None
        self._reported: set[str] = set()
        self._listeners: list[Callable[[TetherConfig], None]] = []
        self._pending: list[str] = []

    @property
    def kinds(self) -> dict[str, Any]:
        """Step kinds for the effective settings; rebuilt only when the llm settings change
        (the llm kind must know whether a model is configured)."""
        from tether.steps.registry import builtin_kinds

        if self._kinds is None or self._kinds_for != self.config.llm:
            self._kinds = dict(builtin_kinds(self.config))
            self._kinds_for = self.config.llm
        return self._kinds

    def on_change(self, listener: Callable[[TetherConfig], None]) -> None:
        self._listeners.append(listener)

    def initialize(self, params: types.InitializeParams) -> None:
        self._initialization_options = params.initialization_options
        self._rebuild()

    async def initialized(self) -> None:
        self._report_problems()
        await self.refresh()

    async def configuration_changed(self) -> None:
        await self.refresh()

    async def refresh(self) -> None:
        """Re-read `workspace/configuration` (when the client offers it) and rebuild."""
        from lsprotocol import types

        workspace = self.server.client_capabilities.workspace
        if workspace is None or not workspace.configuration:
            return
        request = types.ConfigurationParams(items=[types.ConfigurationItem(section="tether")])
        try:
            async with asyncio.timeout(_CONFIGURATION_TIMEOUT):
                answer = await self.server.workspace_configuration_async(request)
        except TimeoutError:
            self.logger.warning("workspace/configuration: no answer in %ss", _CONFIGURATION_TIMEOUT)
            return
        except Exception as error:  # noqa: BLE001 - any client error: keep the current config
            self.logger.warning("workspace/configuration failed: %s", error)
            return
        self._client_settings = answer[0] if answer else None
        self._rebuild()
        self._report_problems()

    def _rebuild(self) -> None:
        config, problems = load_config(self.workspace_root.path)
        layers = (
            ("initializationOptions", self._initialization_options),
            ("settings tether", self._client_settings),
        )
        for where, layer in layers:
            if layer is None:
                continue
            if isinstance(layer, Mapping):
                layer = _without_nulls({k: v for k, v in layer.items() if k not in _CLIENT_ONLY})
            config = merge(config, layer, where, problems)
        self._pending = problems
        changed = config != self.config
        self.config = config
        if changed:
            for listener in list(self._listeners):
                listener(config)

    def _report_problems(self) -> None:
        from lsprotocol import types

        fresh = [problem for problem in self._pending if problem not in self._reported]
        if not fresh:
            return
        self._reported.update(fresh)
        for problem in fresh:
            self.logger.warning("%s", problem)
        self.server.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Warning,
                message="tether settings: " + "; ".join(fresh),
            )
        )
