"""Engine events -> `$/progress` (one server-created, cancellable work-done progress per
run), `tether/runStatus` notifications, or `window/logMessage` lines for clients without
progress support.

Each run gets a reporter task fed through a queue: the engine's subscriber only enqueues,
and the reporter creates the token, begins, reports every transition and at least every
`progress_interval` while the run goes on, and ends with the outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tether.engine.events import EventType
from tether.lsp.feature import Feature
from tether.lsp.run_story import RunStory, Transition

if TYPE_CHECKING:
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from tether.engine.events import Event
    from tether.lsp.live_runs import LiveRun, LiveRuns
    from tether.lsp.settings import Settings
    from tether.lsp.waiting_notice import WaitingNotice

RUN_STATUS = "tether/runStatus"
_CREATE_TIMEOUT = 5.0


@dataclass(frozen=True)
class RunEnd:
    """Queued when a run stops without a final event (an internal error, a dead owner)."""

    message: str
    status: str = "failed"


class RunReporter:
    """The reporter of one run."""

    def __init__(
        self,
        feature: RunProgress,
        run_id: str,
        title: str,
        *,
        cancel: Callable[[], None] | None,
        resume_command: Callable[[str], str | None],
        workflow: str = "",
        coalesce: bool = False,
    ) -> None:
        self.feature = feature
        self.story = RunStory(run_id, workflow=workflow)
        self.title = title
        self.cancel = cancel
        self.resume_command = resume_command
        self.queue: asyncio.Queue[Event | RunEnd] = asyncio.Queue()
        self.token: str | None = None
        self.ended = asyncio.Event()
        self._last_report = time.monotonic()
        self.coalesce = coalesce
        """Report item counts at most once per interval (the latest), not every item: the
        docs pre-warm counts through every dependency, dozens of items in a second."""
        self._held: Transition | None = None
        self.instruction_file: str | None = None
        """The waiting agent step's instruction, sent with the `waiting` status (an editor
        that cannot ask without blocking offers it itself)."""

    @property
    def run_id(self) -> str:
        return self.story.run_id

    def feed(self, event: Event) -> None:
        """EventBus subscriber: quick, never raises."""
        self.queue.put_nowait(event)

    def end(self, message: str, status: str = "failed") -> None:
        self.queue.put_nowait(RunEnd(message, status))

    async def run(self) -> None:
        try:
            await self._begin()
            while True:
                interval = self.feature.settings.config.progress_interval
                wait = max(0.0, self._last_report + interval - time.monotonic())
                try:
                    async with asyncio.timeout(wait):
                        item = await self.queue.get()
                except TimeoutError:
                    if self._held is not None:
                        self._report(self._held.message, self._held.step)
                        self._held = None
                    else:
                        self._report(self.story.heartbeat(), None)
                    continue
                if isinstance(item, RunEnd):
                    self._end(Transition(item.message, ended=True, status=item.status))
                    return
                transition = self.story.apply(item)
                if item.type is EventType.STEP_WAITING:
                    request = item.data.get("request")
                    self.feature.waiting_notice.announce(self.run_id, self.story.workflow, request)
                    if isinstance(request, dict):
                        instruction = request.get("instruction_file")
                        if isinstance(instruction, str):
                            self.instruction_file = instruction
                if transition is None:
                    continue
                if self.coalesce and item.type is EventType.STEP_OUTPUT:
                    self._held = transition
                    continue
                if self._held is not None:
                    # The last count ("22/22 click") goes out before the next transition.
                    self._report(self._held.message, self._held.step)
                    self._held = None
                if transition.ended:
                    self._end(transition)
                    return
                self._report(transition.message, transition.step)
        finally:
            self.feature.forget(self)
            self.ended.set()

    async def _begin(self) -> None:
        from lsprotocol import types

        server = self.feature.server
        if self.feature.client_supports_progress:
            # One token per invocation: a resumed run gets a new progress.
            token = f"tether/{self.run_id}/{next(self.feature.invocations)}"
            try:
                async with asyncio.timeout(_CREATE_TIMEOUT):
                    await server.work_done_progress.create_async(token)
            except Exception as error:  # noqa: BLE001 - any refusal: report as log lines
                self.feature.logger.warning("progress for %s unavailable: %s", self.run_id, error)
            else:
                self.token = token
                self.feature.by_token[token] = self
        if self.token is not None:
            server.work_done_progress.begin(
                self.token,
                types.WorkDoneProgressBegin(
                    title=self.title,
                    cancellable=self.cancel is not None,
                    message=self.run_id,
                    percentage=0,
                ),
            )
        else:
            self.feature.log_line(f"{self.title} {self.run_id}: started")
        self._last_report = time.monotonic()

    def _report(self, message: str, step: str | None) -> None:
        from lsprotocol import types

        self._last_report = time.monotonic()
        if self.token is not None:
            self.feature.server.work_done_progress.report(
                self.token,
                types.WorkDoneProgressReport(
                    message=message,
                    percentage=self.story.percentage,
                    cancellable=self.cancel is not None,
                ),
            )
        else:
            self.feature.log_line(f"{self.title}: {message}")
        self.feature.run_status(self.story, "running", step, message)

    def _end(self, transition: Transition) -> None:
        from lsprotocol import types

        status = transition.status or "failed"
        message = transition.message
        resume = self.resume_command(status)
        if resume:
            message += f" · resume: {resume}"
        if self.token is not None:
            self.feature.server.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message)
            )
        else:
            self.feature.log_line(f"{self.title}: {message}")
        extra = {}
        if status == "waiting" and self.instruction_file is not None:
            extra["instruction_file"] = self.instruction_file
        self.feature.run_status(self.story, status, None, message, **extra)


class RunProgress(Feature):
    def __init__(
        self,
        server: LanguageServer,
        settings: Settings,
        live_runs: LiveRuns,
        waiting_notice: WaitingNotice,
    ) -> None:
        super().__init__()
        self.server = server
        self.settings = settings
        self.live_runs = live_runs
        self.waiting_notice = waiting_notice
        live_runs.on_start(self._track_live_run)
        self.by_token: dict[str, RunReporter] = {}
        self.reporters: dict[str, RunReporter] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.client_supports_progress = False
        self.invocations = itertools.count(1)

    def initialize(self, params: types.InitializeParams) -> None:
        window = params.capabilities.window
        self.client_supports_progress = bool(window and window.work_done_progress)

    def _track_live_run(self, live: LiveRun) -> None:
        from tether.engine.runner import StopReason
        from tether.lsp.prewarm import PREWARM_WORKFLOW

        spec = live.execution.spec
        reporter = self.track(
            live.run_id,
            title=progress_title(spec.name),
            workflow=spec.name,
            coalesce=spec.name == PREWARM_WORKFLOW,
            cancel=lambda: live.execution.stop(StopReason.CANCELLED),
            resume_command=lambda _status: self.live_runs.resume_command(live.state, live.budget),
        )
        unsubscribe = live.execution.bus.subscribe(reporter.feed)

        def on_done(task: asyncio.Task[Any]) -> None:
            unsubscribe()
            if task.cancelled() or task.exception() is not None:
                error = "cancelled" if task.cancelled() else str(task.exception())
                reporter.end(f"failed: internal error: {error}")

        live.task.add_done_callback(on_done)

    def track(
        self,
        run_id: str,
        *,
        title: str,
        workflow: str,
        cancel: Callable[[], None] | None,
        resume_command: Callable[[str], str | None],
        coalesce: bool = False,
    ) -> RunReporter:
        reporter = RunReporter(
            self,
            run_id,
            title,
            cancel=cancel,
            resume_command=resume_command,
            workflow=workflow,
            coalesce=coalesce,
        )
        self.reporters[run_id] = reporter
        task = asyncio.create_task(reporter.run(), name=f"progress:{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return reporter

    def forget(self, reporter: RunReporter) -> None:
        self.reporters.pop(reporter.run_id, None)
        if reporter.token is not None:
            self.by_token.pop(reporter.token, None)
            self.server.work_done_progress.tokens.pop(reporter.token, None)

    def cancel_requested(self, token: int | str) -> None:
        """`window/workDoneProgress/cancel`: the Cancel button of a run's progress."""
        reporter = self.by_token.get(str(token))
        if reporter is None or reporter.cancel is None:
            self.logger.info("cancel for unknown or finished progress %s", token)
            return
        self.logger.info("run %s cancelled from its progress", reporter.run_id)
        reporter.cancel()

    def log_line(self, text: str) -> None:
        from lsprotocol import types

        self.server.window_log_message(
            types.LogMessageParams(type=types.MessageType.Info, message=f"tether: {text}")
        )

    def run_status(
        self, story: RunStory, status: str, step: str | None, message: str, **extra: str
    ) -> None:
        payload: dict[str, Any] = {
            "run_id": story.run_id,
            "workflow": story.workflow,
            "status": status,
        }
        if step is not None:
            payload["step"] = step
        payload["message"] = message
        payload.update(extra)
        self.server.protocol.notify(RUN_STATUS, payload)

    async def close(self) -> None:
        # Give reporters of runs that just stopped a moment to send their `end`.
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=0.5)


def progress_title(workflow: str) -> str:
    """The progress title: the workflow's name; the docs pre-warm shows as "docs"."""
    from tether.lsp.prewarm import PREWARM_WORKFLOW

    return "docs" if workflow == PREWARM_WORKFLOW else workflow
