"""The run operations every front end calls, against real detached owner processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.helpers import pair_workflow
from tether.engine import run_operations as ops
from tether.engine.events import Event, EventType
from tether.engine.journal import JournalCursor, JournalError
from tether.engine.platform import lock_owner
from tether.engine.runs import load_run

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX processes")

SLOW = """
name = "slow"
[[steps]]
id = "work"
kind = "command"
run = ["sh", "-c", "echo start >> marker.txt; sleep {seconds}; echo done"]
"""


def workspace_with(tmp_path: Path, seconds: float) -> Path:
    workspace = tmp_path / "ws"
    (workspace / ".tether" / "workflows").mkdir(parents=True)
    (workspace / ".tether" / "workflows" / "slow.toml").write_text(SLOW.format(seconds=seconds))
    return workspace


async def test_a_budget_bounds_the_wait_and_the_continuation_attaches(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, 2)
    run_id = await ops.start_detached(workspace, "slow", {})
    seen: list[Event] = []

    first = await ops.wait_run(workspace, run_id, budget=0.5, on_event=seen.append)
    assert first.kind is ops.OutcomeKind.RUNNING and first.live and first.exit_code == 3
    assert first.continuation == f"tether resume {run_id} --budget 0.5s"
    assert first.to_json()["status"] == "running"

    later: list[Event] = []
    second = await ops.resume_run(workspace, run_id, budget=30, on_event=later.append)
    assert second.kind is ops.OutcomeKind.FINISHED and second.exit_code == 0
    assert second.state.status == "succeeded" and second.continuation is None
    # The work ran once, and the second waiter went on where the first left off.
    assert (workspace / "marker.txt").read_text() == "start\n"
    assert [e.seq for e in later] == list(range(seen[-1].seq + 1, second.state.last_seq + 1))
    assert later[-1].type is EventType.RUN_FINISHED


async def test_an_unknown_run_and_a_bad_id_are_refused(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, 0)
    with pytest.raises(ops.RunNotFound):
        await ops.wait_run(workspace, "nope", budget=1)
    with pytest.raises(ValueError, match="invalid run id"):
        await ops.resume_run(workspace, "../x", budget=1)


async def test_a_workflow_the_owner_cannot_load_is_one_line(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, 0)
    with pytest.raises(ops.OwnerStartError, match="unknown workflow 'missing'") as caught:
        await ops.start_detached(workspace, "missing", {})
    assert "\n" not in str(caught.value)


def test_the_cursor_returns_complete_lines_only(tmp_path: Path) -> None:
    journal = tmp_path / "events.jsonl"
    line = orjson.dumps({"seq": 1, "ts": 1.0, "type": "run_started", "run_id": "r"})
    journal.write_bytes(line[:10])
    cursor = JournalCursor(journal)
    assert cursor.read_new() == []  # a torn (or in-progress) line is not an event yet
    journal.write_bytes(line + b"\n")
    assert [e.seq for e in cursor.read_new()] == [1]
    assert cursor.read_new() == []
    with journal.open("ab") as out:
        out.write(b"{damaged\n")
    with pytest.raises(JournalError, match=r"events.jsonl:2: damaged journal line"):
        cursor.read_new()


async def test_a_reused_pid_does_not_make_a_dead_run_look_live(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, 30)
    run_id = await ops.start_detached(workspace, "slow", {})
    await ops.wait_run(workspace, run_id, budget=0.3)
    directory = workspace / ".tether" / "runs" / run_id
    owner = lock_owner(directory / "lock")
    assert owner is not None and owner.pid is not None
    os.kill(owner.pid, 9)
    # The dead owner's pid now belongs to some other live process (simulated by writing
    # a live, unrelated pid where the owner's was).
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        outcome = await ops.wait_run(workspace, run_id, budget=10)  # sees the owner gone
        assert outcome.kind is ops.OutcomeKind.STOPPED and not outcome.live
        (directory / "lock").write_text(str(stranger.pid))
        assert lock_owner(directory / "lock") is None
        state, live_owner = load_run(workspace, run_id)
        assert live_owner is None and state.status == "paused"
        view = await ops.show_run(workspace, run_id)
        assert view.continuation == f"tether resume {run_id} --budget 50s"
        assert [s.live for s in await ops.list_runs(workspace)] == [False]
    finally:
        stranger.kill()
        stranger.wait()
        await ops.cancel_run(workspace, run_id)  # reaps the dead owner's step group


PAIR = pair_workflow()


async def test_a_waiter_whose_owner_dies_takes_the_run_over(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, 0)
    (workspace / ".tether" / "workflows" / "pair.toml").write_text(PAIR)
    run_id = await ops.start_detached(workspace, "pair", {})
    attached = asyncio.Event()

    def on_event(event: Event) -> None:
        if event.type is EventType.STEP_STARTED and event.step == "b":
            attached.set()

    waiter = asyncio.create_task(ops.resume_run(workspace, run_id, budget=60, on_event=on_event))
    await asyncio.wait_for(attached.wait(), 30)
    while not (workspace / "again").exists():  # b's own code runs (no event says so)
        await asyncio.sleep(0.01)
    owner = lock_owner(workspace / ".tether" / "runs" / run_id / "lock")
    assert owner is not None and owner.pid is not None
    os.kill(owner.pid, 9)

    outcome = await asyncio.wait_for(waiter, 60)
    assert outcome.kind is ops.OutcomeKind.FINISHED and outcome.exit_code == 0
    assert (workspace / "marker.txt").read_text().splitlines() == ["a", "b", "b"]


ASK_WHILE_WORKING = """
name = "ask"
[[steps]]
id = "ask"
kind = "agent"
task = "Say hello"

[[steps]]
id = "slow"
kind = "command"
run = ["sh", "-c", "sleep 2; echo slow >> marker.txt"]

[[steps]]
id = "after"
kind = "command"
needs = ["ask", "slow"]
run = ["sh", "-c", "echo '${steps.ask.output.result}' >> marker.txt"]
"""


async def test_a_result_goes_to_the_live_run_and_it_goes_on(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, 0)
    (workspace / ".tether" / "workflows" / "ask.toml").write_text(ASK_WHILE_WORKING)
    run_id = await ops.start_detached(workspace, "ask", {})

    # The waiter is told at once that a step waits, while `slow` still runs.
    waiting = await ops.wait_run(workspace, run_id, budget=30)
    assert waiting.kind is ops.OutcomeKind.WAITING and waiting.exit_code == 3
    assert waiting.live and [r.id for r in waiting.state.waiting_steps] == ["ask"]

    with pytest.raises(ops.ResumeRefused, match="step 'slow' is not waiting"):
        await ops.resume_run(workspace, run_id, budget=1, result="x", step="slow")
    done = await ops.resume_run(workspace, run_id, budget=60, result="hello")
    assert done.kind is ops.OutcomeKind.FINISHED and done.exit_code == 0, done.state.reason
    assert done.state.steps["ask"].output["result"] == "hello"
    assert (workspace / "marker.txt").read_text().splitlines() == ["slow", "hello"]


async def test_a_waiter_told_of_a_waiting_step_reports_the_run_as_waiting(tmp_path: Path) -> None:
    # The owner journals `step_waiting` and only later the run-level pause that says
    # `waiting`; a waiter that reads between the two lines (a loaded machine) stops at the
    # waiting step. It must present the run as waiting, as its outcome says, not running.
    from tether.engine.journal import JOURNAL_NAME, Durability, JournalWriter
    from tether.engine.platform import RunLock
    from tether.engine.runids import run_dir

    workspace = tmp_path / "ws"
    run_id = "asks-between-lines"
    directory = run_dir(workspace, run_id)
    directory.mkdir(parents=True)
    request = {"instruction_file": str(tmp_path / "ask.md")}
    with RunLock(directory / "lock"):
        writer = JournalWriter(directory / JOURNAL_NAME, Durability.NONE)
        writer(Event(EventType.RUN_STARTED, run_id, 1, 1.0, data={"workflow": "asks"}))
        writer(Event(EventType.STEP_STARTED, run_id, 2, 1.0, step="ask"))
        writer(Event(EventType.STEP_WAITING, run_id, 3, 1.0, step="ask", data={"request": request}))
        writer.close()
        outcome = await ops.wait_run(workspace, run_id, budget=30)
    assert outcome.kind is ops.OutcomeKind.WAITING and outcome.live
    assert outcome.to_json()["status"] == "waiting"
    assert outcome.state.reason == "waiting for: ask"


async def test_a_result_taken_before_the_owner_journals_it_is_not_reported_waiting(
    tmp_path: Path,
) -> None:
    # The owner takes a handed result (the file goes) and only then journals its pause and
    # resume. A resumer that read the journal up to the step's wait just before, and looks
    # for the file just after, must not report the step as still waiting: it goes on.
    from tether.engine.journal import JOURNAL_NAME, Durability, JournalWriter
    from tether.engine.platform import RunLock
    from tether.engine.runids import run_dir

    workspace = tmp_path / "ws"
    run_id = "answered-between-lines"
    directory = run_dir(workspace, run_id)
    directory.mkdir(parents=True)
    writer = JournalWriter(directory / JOURNAL_NAME, Durability.NONE)
    writer(Event(EventType.RUN_STARTED, run_id, 1, 1.0, data={"workflow": "asks"}))
    writer(Event(EventType.STEP_STARTED, run_id, 2, 1.0, step="ask"))
    writer(Event(EventType.STEP_WAITING, run_id, 3, 1.0, step="ask", data={"request": {}}))
    owner_went_on = False

    def owner_takes_the_result(event: Event) -> None:
        # Runs between the waiter's read of the journal and its look for handed files.
        nonlocal owner_went_on
        if event.type is not EventType.STEP_WAITING or owner_went_on:
            return
        owner_went_on = True
        for handed in (directory / ops.HANDED_DIR).iterdir():
            handed.unlink()
        later = [
            (EventType.RUN_PAUSED, None, {"status": "waiting", "reason": "waiting for: ask"}),
            (EventType.RUN_RESUMED, None, {}),
            (EventType.STEP_STARTED, "ask", {}),
            (EventType.STEP_FINISHED, "ask", {"status": "succeeded", "output": "teal"}),
            (EventType.RUN_FINISHED, None, {"status": "succeeded"}),
        ]
        for seq, (kind, step, data) in enumerate(later, start=4):
            writer(Event(kind, run_id, seq, 2.0, step=step, data=data))

    with RunLock(directory / "lock"):
        outcome = await ops.resume_run(
            workspace, run_id, budget=30, result="teal", on_event=owner_takes_the_result
        )
    writer.close()
    assert owner_went_on
    assert outcome.kind is ops.OutcomeKind.FINISHED, outcome.to_json()
    assert outcome.state.steps["ask"].output == "teal"


# Takes a second to stop once cancelled (its TERM trap sleeps), and succeeds at once when
# run again with `resume-now` in the workspace.
LINGERING = '''
name = "lingering"
[[steps]]
id = "linger"
kind = "command"
shell = true
run = """[ -f resume-now ] && exit 0
trap 'sleep 1; exit 1' TERM
touch lingering.started
sleep 30 & wait $$!"""
'''


async def test_resume_right_after_cancel_resumes_the_run_once_it_has_stopped(
    tmp_path: Path,
) -> None:
    """`tether cancel RUN; tether resume RUN`: cancel only asks the owner to stop, which
    takes its cleanup's time. Before, the resume attached to the stopping run and reported
    it cancelled; it must resume the run once it has stopped."""
    workspace = workspace_with(tmp_path, 0)
    (workspace / ".tether" / "workflows" / "lingering.toml").write_text(LINGERING)
    run_id = await ops.start_detached(workspace, "lingering", {})
    while not (workspace / "lingering.started").exists():  # the step's own code runs
        await asyncio.sleep(0.01)
    (workspace / "resume-now").write_text("")
    cancelled = await ops.cancel_run(workspace, run_id)
    assert cancelled.outcome == "requested"
    outcome = await ops.resume_run(workspace, run_id, budget=60)
    assert outcome.kind is ops.OutcomeKind.FINISHED, outcome.to_json()
    assert outcome.state.status == "succeeded"


FIXABLE = """
name = "fixable"
[[steps]]
id = "check"
kind = "command"
run = ["sh", "-c", "[ -f fixed ]"]
"""


async def test_resuming_a_failed_run_reports_the_resumed_run_not_the_old_end(
    tmp_path: Path,
) -> None:
    """The owner a resume starts holds the run's lock before it journals its first line;
    a waiter reading the journal in between found the previous invocation's end and
    reported the run failed again while it went on."""
    workspace = workspace_with(tmp_path, 0)
    (workspace / ".tether" / "workflows" / "fixable.toml").write_text(FIXABLE)
    for _ in range(3):  # the race is a few ms wide: try it more than once
        (workspace / "fixed").unlink(missing_ok=True)
        run_id = await ops.start_detached(workspace, "fixable", {})
        first = await ops.wait_run(workspace, run_id, budget=30)
        assert first.state.status == "failed"
        (workspace / "fixed").write_text("")
        resumed = await ops.resume_run(workspace, run_id, budget=30)
        assert resumed.state.status == "succeeded", resumed.to_json()
