"""Runs started from the CLI in this workspace get progress here too: follow the journals
in `.tether/runs/*/events.jsonl` of runs that another live process owns.

File events (watchfiles) where available; otherwise adaptive polling whose interval grows
with jittered backoff while nothing changes, resets on activity, and is capped.
TETHER_LSP_FOLLOW=polling forces polling (file systems without change events, tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from tether.engine.events import Event
    from tether.engine.journal import JournalCursor
    from tether.lsp.live_runs import LiveRuns
    from tether.lsp.run_progress import RunProgress, RunReporter
    from tether.lsp.workspace_root import WorkspaceRoot

_WATCH_TIMEOUT_MS = 1000
_RUN_LEVEL_END = frozenset({"run_finished", "run_paused"})


@dataclass
class AdaptivePoll:
    """Polling intervals: `minimum` after activity, growing by `factor` (with +-`jitter`)
    while nothing changes, never above `maximum`."""

    minimum: float = 0.1
    maximum: float = 2.0
    factor: float = 1.6
    jitter: float = 0.2
    current: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def next_interval(self, active: bool) -> float:
        if active or self.current == 0.0:
            self.current = self.minimum
        else:
            self.current = min(self.maximum, self.current * self.factor)
        spread = self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.maximum, max(self.minimum, self.current * spread))


@dataclass
class FollowedRun:
    run_id: str
    cursor: JournalCursor
    reporter: RunReporter

    @property
    def journal(self) -> Path:
        return self.cursor.path


class RunsFollower(Feature):
    def __init__(
        self, workspace_root: WorkspaceRoot, live_runs: LiveRuns, run_progress: RunProgress
    ) -> None:
        super().__init__()
        self.workspace_root = workspace_root
        self.live_runs = live_runs
        self.run_progress = run_progress
        self.followed: dict[str, FollowedRun] = {}
        self.mode = "none"
        """`watchfiles` or `polling`, once started."""
        self._sizes: dict[str, int] = {}
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None

    async def initialized(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="runs-follow")

    async def _follow(self) -> None:
        from tether.engine.runids import runs_dir

        root = runs_dir(self.workspace_root.path)
        poll = AdaptivePoll()
        use_events = os.environ.get("TETHER_LSP_FOLLOW") != "polling"
        while not self._stop.is_set():
            if use_events and root.is_dir():
                try:
                    await self._follow_events(root)
                    return
                except (OSError, RuntimeError) as error:
                    self.logger.warning("no file events for %s (%s); polling", root, error)
                    use_events = False
            self.mode = "polling"
            active = await self.scan_once()
            await asyncio.sleep(poll.next_interval(active))

    async def _follow_events(self, root: Path) -> None:
        from watchfiles import awatch

        self.mode = "watchfiles"
        await self.scan_once()
        async for _changes in awatch(
            root,
            debounce=50,
            step=10,
            rust_timeout=_WATCH_TIMEOUT_MS,
            yield_on_timeout=True,
            stop_event=self._stop,
        ):
            # Also on timeouts: an owner that died writes nothing, only its lock goes.
            await self.scan_once()

    async def scan_once(self) -> bool:
        """Read the journals in a thread, then act on what changed here; True if anything."""
        actions: list[Callable[[], None]] = []
        active = await asyncio.to_thread(self._scan, actions)
        for action in actions:
            action()
        return active

    def _scan(self, actions: list[Callable[[], None]]) -> bool:
        """Look at every run directory once (in a thread: only reads files and offsets;
        everything that touches the server is queued in `actions` for the loop)."""
        from tether.engine.journal import JOURNAL_NAME
        from tether.engine.runids import RUN_ID, runs_dir

        root = runs_dir(self.workspace_root.path)
        active = False
        try:
            entries = list(root.iterdir())
        except OSError:
            return False
        for entry in entries:
            run_id = entry.name
            if not RUN_ID.fullmatch(run_id) or ".." in run_id:
                continue
            journal = entry / JOURNAL_NAME
            try:
                size = journal.stat().st_size
            except OSError:
                continue
            followed = self.followed.get(run_id)
            if followed is not None:
                active |= self._advance(followed, size, actions)
            elif self._sizes.get(run_id) != size:
                self._sizes[run_id] = size
                active |= self._consider(run_id, journal, actions)
        return active

    def _consider(self, run_id: str, journal: Path, actions: list[Callable[[], None]]) -> bool:
        """Start following a run that another live process owns."""
        from tether.engine.journal import JournalCursor
        from tether.engine.platform import lock_owner
        from tether.engine.runs import LOCK_NAME

        if run_id in self.live_runs.runs:
            return False
        owner = lock_owner(journal.parent / LOCK_NAME)
        if owner is None or owner.pid == os.getpid():
            return False
        cursor = JournalCursor(journal)
        events = self._read(cursor)
        if not events or events[-1].type in _RUN_LEVEL_END:
            return False
        actions.append(lambda: self._start(run_id, cursor, events))
        return True

    def _read(self, cursor: JournalCursor) -> list[Event]:
        from tether.engine.journal import JournalError

        try:
            return cursor.read_new()
        except JournalError as error:
            # Progress cannot go on past a damaged line; `tether show` names it too.
            self.logger.warning("stopped following: %s", error)
            return []

    def _start(self, run_id: str, cursor: JournalCursor, events: list[Event]) -> None:
        from tether.lsp.run_progress import progress_title

        if run_id in self.followed or run_id in self.live_runs.runs:
            return
        workflow = str(events[0].data.get("workflow", ""))
        reporter = self.run_progress.track(
            run_id,
            title=progress_title(workflow),
            workflow=workflow,
            cancel=lambda: self._cancel(run_id),
            resume_command=lambda status: self._resume_command(run_id, status),
        )
        for event in events:
            reporter.story.apply(event)  # history: the progress starts from where it is
        self.followed[run_id] = FollowedRun(run_id, cursor, reporter)
        self.logger.info("following run %s started by another process", run_id)

    def _advance(self, followed: FollowedRun, size: int, actions: list[Callable[[], None]]) -> bool:
        from tether.engine.platform import lock_owner
        from tether.engine.runs import GONE_REASON, LOCK_NAME

        if size != followed.cursor.offset:
            events = self._read(followed.cursor)
            for event in events:
                actions.append(lambda event=event: followed.reporter.feed(event))  # type: ignore[misc]
            if any(event.type in _RUN_LEVEL_END for event in events):
                actions.append(lambda: self._drop(followed))
            if events:
                return True
        if lock_owner(followed.journal.parent / LOCK_NAME) is None:
            actions.append(lambda: followed.reporter.end(GONE_REASON, "paused"))
            actions.append(lambda: self._drop(followed))
            return True
        return False

    def _drop(self, followed: FollowedRun) -> None:
        self.followed.pop(followed.run_id, None)
        self._sizes.pop(followed.run_id, None)

    def _cancel(self, run_id: str) -> None:
        from tether.engine.runs import request_cancel

        async def cancel() -> None:
            try:
                await asyncio.to_thread(request_cancel, self.workspace_root.path, run_id)
            except Exception as error:  # noqa: BLE001 - report and go on following
                self.logger.warning("cannot cancel run %s: %s", run_id, error)

        task = asyncio.create_task(cancel())
        task.add_done_callback(lambda _task: None)

    def _resume_command(self, run_id: str, status: str) -> str | None:
        from tether.engine.run_operations import continuation
        from tether.engine.state import RESUMABLE, RunStatus

        try:
            resumable = RunStatus(status) in RESUMABLE
        except ValueError:
            return None
        return continuation(run_id) if resumable else None

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({self._task}, timeout=1.0)
