"""`workspace/executeCommand` commands and the `tether/run` request.

Each command's arguments are a typed class in `lsp/arguments.py`. Malformed arguments,
unknown workflows and unknown runs are JSON-RPC errors (InvalidParams) with a one-line
message; a run's own failure is not an error: its run JSON says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.lsp.arguments import (
    ArgumentError,
    DocsArguments,
    NoArguments,
    PrewarmArguments,
    ResumeArguments,
    RunArguments,
    RunIdArguments,
    read_arguments,
)
from tether.lsp.feature import Feature
from tether.lsp.invocation import load_invocation

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from tether.lsp.docs import Docs
    from tether.lsp.lifecycle import Lifecycle
    from tether.lsp.live_runs import LiveRun, LiveRuns
    from tether.lsp.prewarm import Prewarm
    from tether.lsp.settings import Settings
    from tether.lsp.workspace_root import WorkspaceRoot

_logger = logging.getLogger(__name__)
RUN_REQUEST = "tether/run"
# After a cancelled request has stopped its run: how long cleanup may take before the
# answer goes out anyway (a process group's SIGTERM grace is 2 s by default).
_CANCEL_WAIT = 10.0

Handler = Callable[..., Awaitable[Any]]


def invalid(message: str) -> Exception:
    from pygls.exceptions import JsonRpcInvalidParams

    return JsonRpcInvalidParams(message)


class Commands(Feature):
    def __init__(
        self,
        server: LanguageServer,
        *,
        workspace_root: WorkspaceRoot,
        settings: Settings,
        lifecycle: Lifecycle,
        live_runs: LiveRuns,
        docs: Docs,
        prewarm: Prewarm,
    ) -> None:
        super().__init__()
        self.workspace_root = workspace_root
        self.settings = settings
        self.lifecycle = lifecycle
        self.live_runs = live_runs
        self.docs = docs
        self.prewarm = prewarm
        table: dict[str, Handler] = {
            "tether.run": self.run,
            "tether.start": self.start,
            "tether.resume": self.resume,
            "tether.cancel": self.cancel,
            "tether.runs": self.runs,
            "tether.show": self.show,
            "tether.workflows": self.workflows,
            "tether.docs": self.lookup_docs,
            "tether.prewarm": self.start_prewarm,
            "tether.cacheStats": self.cache_stats,
            "tether.config": self.config,
        }
        for name, handler in table.items():
            server.command(name)(_checked(name, handler))
        server.feature(RUN_REQUEST)(_checked(RUN_REQUEST, self.run_request))

    # -- runs ---------------------------------------------------------------------------

    async def _launch(self, command: str, arguments: Sequence[Any]) -> tuple[LiveRun, float | None]:
        """Start the run; returns it with how long its request may wait. A budget bounds
        the wait, not the run (`on_budget = "pause"` gives the budget to the run)."""
        from tether.engine.errors import WorkflowError

        args = read_arguments(command, arguments, RunArguments)
        budget = args.budget if args.budget is not None else self._default_budget()
        try:
            spec, values = await asyncio.to_thread(
                load_invocation,
                args.workflow,
                args.params,
                self.workspace_root.path,
                self.settings.kinds,
            )
        except WorkflowError as error:
            raise ArgumentError(f"{command}: {error}") from error
        if args.on_budget == "pause":
            return self.live_runs.start(spec, values, budget=budget), None
        return self.live_runs.start(spec, values, budget=None, wait_budget=budget), budget

    def _default_budget(self) -> float | None:
        from tether.engine.durations import parse_duration

        text = self.settings.config.default_budget
        try:
            seconds = parse_duration(text)
        except ValueError:
            return None
        return seconds if seconds > 0 else None

    async def _until_end(self, live: LiveRun, wait: float | None = None) -> dict[str, Any]:
        """The run JSON when the run ends or pauses, or after `wait` seconds with the run
        still going (its JSON then names the continuation); cancelling the request cancels
        the run."""
        from tether.engine.runner import StopReason

        try:
            # asyncio.wait never cancels the run's task, whether it times out or this
            # request is cancelled.
            done, _ = await asyncio.wait({live.task}, timeout=wait)
        except asyncio.CancelledError:
            if self.lifecycle.shutdown_received:
                # pygls cancels pending requests at `shutdown`: the run is pausing, and a
                # paused run stays resumable (cancelling it here would lose that).
                self.logger.info("request for run %s ended by shutdown", live.run_id)
                raise
            self.logger.info("request for run %s cancelled: cancelling the run", live.run_id)
            live.execution.stop(StopReason.CANCELLED)
            await self.live_runs.wait(live, _CANCEL_WAIT)
            raise
        if not done:
            return self.live_runs.still_running_json(live)
        live.task.result()  # an internal error in the run is this request's error
        return self.live_runs.run_json(live)

    async def run(self, *arguments: Any) -> dict[str, Any]:
        return await self._until_end(*await self._launch("tether.run", arguments))

    async def run_request(self, params: Any) -> dict[str, Any]:
        return await self._until_end(*await self._launch(RUN_REQUEST, [params]))

    async def start(self, *arguments: Any) -> dict[str, Any]:
        live, _ = await self._launch("tether.start", arguments)
        return {"run_id": live.run_id}

    async def resume(self, *arguments: Any) -> dict[str, Any]:
        from tether.engine import run_operations as ops
        from tether.engine.errors import RunIdError
        from tether.engine.journal import JournalError
        from tether.engine.platform import LockHeld
        from tether.engine.runs import ResumeRefused, RunNotFound

        args = read_arguments("tether.resume", arguments, ResumeArguments)
        if args.result is not None and args.result_file is not None:
            raise ArgumentError("tether.resume: give 'result' or 'result_file', not both")
        result = args.result
        if args.result_file is not None:
            path = self.workspace_root.path / Path(args.result_file)
            try:
                result = await asyncio.to_thread(path.read_text, encoding="utf-8")
            except (OSError, ValueError) as error:  # ValueError: undecodable, or a NUL
                raise ArgumentError(f"tether.resume: result_file {path!s:.200}: {error}") from error
        budget = args.budget if args.budget is not None else self._default_budget()
        # As for a new run: the budget bounds this request's wait unless it is to pause.
        run_budget = budget if args.on_budget == "pause" else None
        wait = None if args.on_budget == "pause" else budget
        workspace = self.workspace_root.path
        request = ops.OwnerRequest(str(workspace), args.run_id, force=args.force, budget=run_budget)
        # A run of this server that was asked to stop (cancelled, paused) still holds its
        # lock while its cleanup runs: resuming it means after it has stopped, not attaching.
        stopping = self.live_runs.get(args.run_id)
        if stopping is not None and stopping.execution.runner.stop_reason is not None:
            await asyncio.wait({stopping.task}, timeout=_CANCEL_WAIT)
        try:
            execution = await asyncio.to_thread(
                ops.open_execution,
                workspace,
                request,
                kinds=self.settings.kinds,
                durability=self.live_runs.durability(),
            )
        except LockHeld:
            live = self.live_runs.get(args.run_id)
            if live is None:
                return await self._attach(args.run_id, budget, result)
            if result is not None:
                raise ArgumentError(
                    f"tether.resume: run {args.run_id} is running in this server and no "
                    "step of it waits for a result"
                ) from None
            return await self._until_end(live, wait)
        except (RunIdError, RunNotFound, JournalError, ResumeRefused) as error:
            raise ArgumentError(f"tether.resume: {error}") from error
        if result is not None:
            try:
                execution.hand_result(result)
            except ResumeRefused as error:
                execution.close()
                raise ArgumentError(f"tether.resume: {error}") from error
        return await self._until_end(self.live_runs.adopt(execution, budget), wait)

    async def _attach(self, run_id: str, budget: float | None, result: Any) -> dict[str, Any]:
        """A run another process owns (a CLI's detached owner): hand it the result, if
        any, and wait on it for at most `budget` (the run goes on)."""
        from tether.engine import run_operations as ops

        workspace = self.workspace_root.path
        try:
            if result is not None:
                await asyncio.to_thread(ops.hand_result, workspace, run_id, result)
            outcome = await ops.wait_run(
                workspace,
                run_id,
                budget=budget,
                after_seq=None,
                command_workspace=self.workspace_root.outside_cwd(),
            )
        except (ops.RunNotFound, ops.JournalError, ops.ResumeRefused) as error:
            raise ArgumentError(f"tether.resume: {error}") from error
        return outcome.to_json()

    async def cancel(self, *arguments: Any) -> dict[str, Any]:
        from tether.engine import run_operations as ops
        from tether.engine.errors import RunIdError
        from tether.engine.journal import JournalError
        from tether.engine.runner import StopReason
        from tether.engine.runs import ResumeRefused, RunNotFound

        run_id = read_arguments("tether.cancel", arguments, RunIdArguments).run_id
        live = self.live_runs.get(run_id)
        if live is not None:
            live.execution.stop(StopReason.CANCELLED)
            await self.live_runs.wait(live, _CANCEL_WAIT)
            return {"run_id": run_id, "status": str(live.state.status)}
        workspace = self.workspace_root.path
        try:
            outcome = await ops.cancel_run(workspace, run_id)
            view = await ops.show_run(workspace, run_id)
        except (RunIdError, RunNotFound, JournalError, ResumeRefused) as error:
            raise ArgumentError(f"tether.cancel: {error}") from error
        status = "cancelling" if outcome.outcome == "requested" else str(view.state.status)
        return {"run_id": run_id, "status": status}

    async def runs(self, *arguments: Any) -> list[dict[str, Any]]:
        from tether.engine import run_operations as ops

        read_arguments("tether.runs", arguments, NoArguments)
        now = time.time()
        summaries = await ops.list_runs(self.workspace_root.path)
        return [summary.to_json(now) for summary in summaries]

    async def show(self, *arguments: Any) -> dict[str, Any]:
        from tether.engine import run_operations as ops
        from tether.engine.errors import RunIdError
        from tether.engine.journal import JournalError
        from tether.engine.runs import RunNotFound

        args = read_arguments("tether.show", arguments, RunIdArguments)
        live = self.live_runs.get(args.run_id)
        if live is not None:
            return self.live_runs.run_json(live)
        try:
            view = await ops.show_run(
                self.workspace_root.path,
                args.run_id,
                command_workspace=self.workspace_root.outside_cwd(),
            )
        except (RunIdError, RunNotFound, JournalError) as error:
            raise ArgumentError(f"tether.show: {error}") from error
        return view.state.to_json(view.continuation)

    async def workflows(self, *arguments: Any) -> list[dict[str, Any]]:
        read_arguments("tether.workflows", arguments, NoArguments)
        from tether.engine.catalog import list_workflows

        entries = await asyncio.to_thread(
            list_workflows, self.workspace_root.path, self.settings.kinds
        )
        return [entry.to_json() for entry in entries]

    # -- docs ---------------------------------------------------------------------------

    async def lookup_docs(self, *arguments: Any) -> dict[str, Any]:
        from tether.kb.providers.base import InvalidLibraryName

        args = read_arguments("tether.docs", arguments, DocsArguments)
        config = self.settings.config
        service = self.docs.service()
        try:
            result = await service.lookup(
                args.library,
                args.query or "",
                max_tokens=args.max_tokens or config.docs.max_tokens,
                offline=config.docs.offline,
            )
        except InvalidLibraryName as error:
            raise ArgumentError(f"tether.docs: {error}") from error
        return {
            "markdown": result.render_markdown(),
            "library": result.library,
            "version": result.version,
            "provider": result.provider,
        }

    async def start_prewarm(self, *arguments: Any) -> dict[str, Any]:
        args = read_arguments("tether.prewarm", arguments, PrewarmArguments)
        live = await self.prewarm.start(list(args.libraries))
        return {"run_id": live.run_id}

    async def cache_stats(self, *arguments: Any) -> dict[str, Any]:
        read_arguments("tether.cacheStats", arguments, NoArguments)
        service = self.docs.service()
        stats = await asyncio.to_thread(lambda: service.store.stats())
        result: dict[str, Any] = stats.to_json()
        return result

    async def config(self, *arguments: Any) -> dict[str, Any]:
        from tether.lsp.settings import config_to_json

        read_arguments("tether.config", arguments, NoArguments)
        return config_to_json(self.settings.config)


def _checked(name: str, handler: Handler) -> Handler:
    """ArgumentError -> InvalidParams; anything unexpected is logged with the command and
    its traceback, and answered with a one-line InternalError (pygls would put the
    traceback in the error's data)."""
    from pygls.exceptions import JsonRpcException, JsonRpcInternalError

    async def checked(*arguments: Any) -> Any:
        try:
            return await handler(*arguments)
        except ArgumentError as error:
            raise invalid(str(error)) from error
        except JsonRpcException:
            raise
        except Exception as error:
            _logger.exception("%s failed with %r", name, arguments)
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise JsonRpcInternalError(
                f"{name}: internal error: {type(error).__name__}: {first_line:.200}"
            ) from error

    checked.__name__ = handler.__name__
    return checked
