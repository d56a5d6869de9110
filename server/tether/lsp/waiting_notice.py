"""A run waiting for an agent's result is shown to the user with a message that offers to
open the step's instruction (`window/showMessageRequest`, then `window/showDocument`).

The question may stay unanswered for as long as the user likes: it is asked from a task of
its own, so nothing (the run, its progress, other requests) waits on the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer


OPEN_INSTRUCTION = "Open instruction"


def waiting_message(run_id: str, workflow: str, request: Mapping[str, Any]) -> str:
    """One line: which run waits at which step for what, and how to answer from here."""
    step = request.get("step") or "a step"
    task = str(request.get("task") or "").strip()
    text = f"tether: run {run_id} ({workflow}) is waiting at step {step}"
    if task:
        text += f": {task}"
    return text + f". Answer with tether.resume {{run_id: {run_id}, result}}."


class WaitingNotice(Feature):
    def __init__(self, server: LanguageServer) -> None:
        super().__init__()
        self.server = server
        self._can_show_document = False
        self._tasks: set[asyncio.Task[None]] = set()

    def initialize(self, params: types.InitializeParams) -> None:
        window = params.capabilities.window
        self._can_show_document = bool(
            window and window.show_document and window.show_document.support
        )

    def announce(self, run_id: str, workflow: str, request: Any) -> None:
        """Tell the user that `run_id` waits; `request` is the step_waiting event's request."""
        if not isinstance(request, Mapping):
            return
        task = asyncio.create_task(
            self._ask(run_id, workflow, request), name=f"waiting-notice:{run_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ask(self, run_id: str, workflow: str, request: Mapping[str, Any]) -> None:
        from lsprotocol import types

        message = waiting_message(run_id, workflow, request)
        instruction = request.get("instruction_file")
        if not isinstance(instruction, str) or not self._can_show_document:
            if isinstance(instruction, str):
                message += f" Instruction: {instruction}"
            self.server.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Info, message=message)
            )
            return
        try:
            answer = await self.server.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Info,
                    message=message,
                    actions=[types.MessageActionItem(title=OPEN_INSTRUCTION)],
                )
            )
        except Exception as error:  # noqa: BLE001 - a client that cannot ask: say it in the log
            self.logger.info("run %s is waiting; instruction: %s (%s)", run_id, instruction, error)
            return
        if answer is None or answer.title != OPEN_INSTRUCTION:
            return
        uri = Path(instruction).as_uri()
        try:
            shown = await self.server.window_show_document_async(
                types.ShowDocumentParams(uri=uri, take_focus=True)
            )
        except Exception as error:  # noqa: BLE001 - the file's path is in the message anyway
            self.logger.warning("cannot open the instruction %s: %s", instruction, error)
            return
        if not shown.success:
            self.logger.warning("the client did not open the instruction %s", instruction)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(set(self._tasks), timeout=0.5)
