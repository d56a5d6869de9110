"""Resume from the journal, in process: what re-runs, what never does, and what is refused."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tether import StepContext
from tether.engine.errors import RunIdError, StepWaiting
from tether.engine.events import Event, EventBus, EventType
from tether.engine.execution import Execution
from tether.engine.journal import JOURNAL_NAME, JournalError, JournalWriter, read_events
from tether.engine.kinds import KindRegistry
from tether.engine.loader import apply_params, resolve_workflow
from tether.engine.platform import LockHeld
from tether.engine.runs import (
    CancelOutcome,
    ResumeRefused,
    RunNotFound,
    load_run,
    request_cancel,
)
from tether.engine.spec import StepSpec
from tether.engine.state import RunStatus, StepStatus
from tether.steps.registry import builtin_kinds

HERE = "tests.engine.test_resume"


# --- step functions (called by the workflows below) -------------------------------------


def _log(ctx: StepContext, text: str) -> None:
    with Path(str(ctx.inputs["log"])).open("a") as log:
        log.write(f"{text}\n")


async def work(ctx: StepContext) -> dict[str, Any]:
    """Logs `start STEP`, heartbeats a cursor, sleeps, logs `done STEP`; cleanup logged."""
    ctx.on_cleanup(lambda: _log(ctx, f"cleanup {ctx.step.id}"))
    _log(ctx, f"start {ctx.step.id} heartbeat={ctx.last_heartbeat}")
    ctx.heartbeat({"cursor": ctx.attempt})
    await asyncio.sleep(float(ctx.inputs.get("seconds", 0)))
    _log(ctx, f"done {ctx.step.id}")
    return {"step": ctx.step.id, "attempt": ctx.attempt}


class WaitKind:
    """A stand-in for the agent kind: waits until resumed with a result."""

    name = "wait"

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        return []

    def cancel_grace(self, step: StepSpec) -> float:
        return 1.0

    async def execute(self, ctx: StepContext) -> Any:
        if ctx.resume_result is None:
            raise StepWaiting({"question": f"answer for {ctx.step.id}"})
        return {"answer": ctx.resume_result}


# --- helpers --------------------------------------------------------------------------------


def kinds() -> KindRegistry:
    return {**builtin_kinds(), "wait": WaitKind()}


def step(step_id: str, seconds: float = 0.0, needs: tuple[str, ...] = (), extra: str = "") -> str:
    return f"""
[[steps]]
id = "{step_id}"
kind = "python"
call = "{HERE}:work"
needs = {list(needs)!r}
inputs = {{ log = "${{params.log}}", seconds = "{seconds}" {extra} }}
""".replace("'", '"')


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "log.txt"
        (root / ".tether" / "workflows").mkdir(parents=True)

    def write(self, body: str, *, header: str = "") -> None:
        text = f'{header}\n[params]\nlog = "{self.log}"\n{body}'
        (self.root / ".tether" / "workflows" / "test.toml").write_text(text)

    def new(self, *, budget: float | None = None) -> Execution:
        registry = kinds()
        spec = resolve_workflow("test", self.root, registry)
        return Execution.new(spec, apply_params(spec, {}), self.root, registry, budget=budget)

    def resume(self, run_id: str, **options: Any) -> Execution:
        return Execution.resume(self.root, run_id, kinds(), **options)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def count(self, prefix: str) -> int:
        return sum(line.startswith(prefix) for line in self.lines())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


# --- tests ----------------------------------------------------------------------------------


async def test_budget_pause_then_resume_runs_only_unfinished_steps(ws: Workspace) -> None:
    ws.write(step("a", 0.05) + step("b", 1.5, ("a",)) + step("c", 0.05, ("b",)))
    first = ws.new(budget=0.5)
    started = time.monotonic()
    state = await first.run()
    assert time.monotonic() - started < 1.4, "the budget stops the run, not step b"
    assert state.status is RunStatus.PAUSED and state.reason == "budget"
    assert [state.steps[s].status for s in "abc"] == [
        StepStatus.SUCCEEDED,
        StepStatus.CANCELLED,
        StepStatus.PENDING,
    ]
    assert ws.count("cleanup b") == 1, "the cancelled step's cleanup ran"
    output_a = state.steps["a"].output

    second = ws.resume(first.run_id)
    assert second.bus is not first.bus and second.state.last_seq == state.last_seq
    resumed = await second.run()
    assert resumed.status is RunStatus.SUCCEEDED
    assert ws.count("start a") == 1, "a finished before the pause and never runs again"
    assert resumed.steps["a"].output == output_a
    assert ws.count("start b") == 2 and ws.count("done c") == 1
    # The in-flight step sees the heartbeat its earlier attempt journaled.
    assert "start b heartbeat={'cursor': 1}" in ws.lines()
    assert resumed.steps["b"].output == {"step": "b", "attempt": 2}

    events = list(read_events(second.run_dir / JOURNAL_NAME))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events if e.type.startswith("run_")] == [
        EventType.RUN_STARTED,
        EventType.RUN_PAUSED,
        EventType.RUN_RESUMED,
        EventType.RUN_FINISHED,
    ]


async def test_run_timeout_counts_active_time_across_invocations(ws: Workspace) -> None:
    ws.write(step("a", 0.05) + step("b", 10, ("a",)), header='timeout = "2s"')
    first = ws.new(budget=1.0)
    paused = await first.run()
    assert paused.status is RunStatus.PAUSED
    assert 950 <= paused.active_ms <= 1500

    started = time.monotonic()
    resumed = await ws.resume(first.run_id).run()
    took = time.monotonic() - started
    assert resumed.status is RunStatus.TIMED_OUT
    assert took < 1.7, f"only what was left of the 2s timeout may run, took {took:.2f}s"
    assert 1950 <= resumed.active_ms <= 3000


async def test_finished_step_changed_refuses_resume_and_force_reruns_it(ws: Workspace) -> None:
    ws.write(step("a", 0.05) + step("b", 2, ("a",)))
    first = ws.new(budget=0.4)
    await first.run()
    ws.write(step("a", 0.05, extra=', note = "edited"') + step("b", 0.05, ("a",)))

    with pytest.raises(ResumeRefused, match=r"finished step\(s\) a changed.*--force"):
        ws.resume(first.run_id)
    assert ws.count("start a") == 1

    forced = await ws.resume(first.run_id, force=True).run()
    assert forced.status is RunStatus.SUCCEEDED
    assert ws.count("start a") == 2 and ws.count("done b") == 1


async def test_force_also_reruns_finished_steps_downstream_of_a_changed_one(
    ws: Workspace,
) -> None:
    ws.write(step("a", 0.05) + step("b", 0.05, ("a",)) + step("c", 2, ("b",)))
    first = ws.new(budget=0.6)
    paused = await first.run()
    assert [paused.steps[s].status for s in "ab"] == [StepStatus.SUCCEEDED] * 2
    ws.write(
        step("a", 0.05, extra=', note = "edited"')
        + step("b", 0.05, ("a",))
        + step("c", 0.05, ("b",))
    )

    forced = await ws.resume(first.run_id, force=True).run()
    assert forced.status is RunStatus.SUCCEEDED
    # b did not change, but its output came from the old a: it runs again too
    assert ws.count("start a") == 2 and ws.count("start b") == 2 and ws.count("done c") == 1


async def test_unfinished_step_may_change(ws: Workspace) -> None:
    ws.write(step("a", 0.05) + step("b", 2, ("a",)))
    first = ws.new(budget=0.4)
    await first.run()
    ws.write(step("a", 0.05) + step("b", 0.01, ("a",)))  # b had not finished
    assert (await ws.resume(first.run_id).run()).status is RunStatus.SUCCEEDED
    assert ws.count("start a") == 1


async def test_removed_step_refuses_even_with_force(ws: Workspace) -> None:
    ws.write(step("a", 0.05) + step("b", 2, ("a",)))
    first = ws.new(budget=0.4)
    await first.run()
    ws.write(step("a", 0.05))
    with pytest.raises(ResumeRefused, match="no longer has step"):
        ws.resume(first.run_id, force=True)


async def test_succeeded_run_runs_nothing(ws: Workspace) -> None:
    ws.write(step("a"))
    first = ws.new()
    assert (await first.run()).status is RunStatus.SUCCEEDED
    journal = (first.run_dir / JOURNAL_NAME).read_bytes()
    again = ws.resume(first.run_id)
    assert again.already_succeeded
    assert (await again.run()).status is RunStatus.SUCCEEDED
    assert (first.run_dir / JOURNAL_NAME).read_bytes() == journal
    assert ws.count("start a") == 1


async def test_a_held_run_is_refused_at_once_naming_the_owner(ws: Workspace) -> None:
    ws.write(step("a", 2))
    owner = ws.new(budget=0.2)
    await owner.run()
    holder = ws.resume(owner.run_id)  # holds the lock until it runs or closes
    started = time.monotonic()
    with pytest.raises(LockHeld) as refused:
        ws.resume(owner.run_id)
    assert time.monotonic() - started < 0.5
    assert refused.value.pid == os.getpid()
    assert f"process {os.getpid()}" in str(refused.value)
    holder.close()
    ws.resume(owner.run_id).close()  # free again once the owner let go


@pytest.mark.parametrize(
    "run_id", ["../x", "/etc", "", "ABC", "a" * 129, "a/../../b", ".hidden", "x\n", "a/b"]
)
async def test_hostile_run_ids_are_refused_before_any_path(ws: Workspace, run_id: str) -> None:
    ws.write(step("a"))
    before = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*"))
    with pytest.raises(RunIdError):
        ws.resume(run_id)
    registry = kinds()
    spec = resolve_workflow("test", ws.root, registry)
    with pytest.raises(RunIdError):
        Execution.new(spec, {}, ws.root, registry, run_id=run_id)
    with pytest.raises(RunIdError):
        request_cancel(ws.root, run_id)
    with pytest.raises(RunIdError):
        load_run(ws.root, run_id)
    assert sorted(p.relative_to(ws.root) for p in ws.root.rglob("*")) == before


async def test_unknown_run_is_not_found(ws: Workspace) -> None:
    ws.write(step("a"))
    with pytest.raises(RunNotFound, match="no run 'nope'"):
        ws.resume("nope")


async def test_damaged_journal_refuses_and_is_left_alone(ws: Workspace) -> None:
    ws.write(step("a", 0.05) + step("b", 2, ("a",)))
    first = ws.new(budget=0.3)
    await first.run()
    journal = first.run_dir / JOURNAL_NAME
    lines = journal.read_bytes().split(b"\n")
    lines[1] = b"not json"
    journal.write_bytes(b"\n".join(lines))
    damaged = journal.read_bytes()
    with pytest.raises(JournalError, match=rf"{journal}:2:"):
        ws.resume(first.run_id)
    assert journal.read_bytes() == damaged
    with pytest.raises(JournalError):  # and the lock was released: same error, not LockHeld
        ws.resume(first.run_id)


async def test_crashed_run_reruns_the_in_flight_step_with_its_heartbeat(ws: Workspace) -> None:
    ws.write(step("a") + step("b", needs=("a",)))
    registry = kinds()
    spec = resolve_workflow("test", ws.root, registry)
    run_id = "crashed-1"
    directory = ws.root / ".tether" / "runs" / run_id
    directory.mkdir(parents=True)
    # What a killed owner leaves: a finished a, b in flight with a heartbeat, no run end.
    bus = EventBus(run_id)
    writer = JournalWriter(directory / JOURNAL_NAME)
    bus.subscribe(writer)
    hashes = {s.id: s.definition_hash for s in spec.steps}
    bus.publish(
        EventType.RUN_STARTED,
        workflow="test",
        params=apply_params(spec, {}),
        spec_hash=spec.spec_hash,
        step_hashes=hashes,
    )
    bus.publish(EventType.STEP_STARTED, "a", attempt=1)
    bus.publish(EventType.STEP_FINISHED, "a", status="succeeded", output={"kept": 1})
    bus.publish(EventType.STEP_STARTED, "b", attempt=1)
    bus.publish(EventType.STEP_HEARTBEAT, "b", details={"cursor": 41})
    writer.close()

    shown, owner = load_run(ws.root, run_id)
    assert owner is None and shown.status is RunStatus.PAUSED, "a dead owner's run is resumable"
    state = await ws.resume(run_id).run()
    assert state.status is RunStatus.SUCCEEDED
    assert state.steps["a"].output == {"kept": 1} and ws.count("start a") == 0
    assert ws.lines()[0] == "start b heartbeat={'cursor': 41}"
    assert state.steps["b"].attempts == 2


async def test_results_reach_the_waiting_step(ws: Workspace) -> None:
    ws.write(
        step("a")
        + '\n[[steps]]\nid = "ask"\nkind = "wait"\nneeds = ["a"]\n'
        + '\n[[steps]]\nid = "other"\nkind = "wait"\nneeds = ["a"]\n'
    )
    first = ws.new()
    waiting = await first.run()
    assert waiting.status is RunStatus.WAITING
    assert {r.id for r in waiting.waiting_steps} == {"ask", "other"}

    with pytest.raises(ResumeRefused, match="not waiting"):
        ws.resume(first.run_id, results={"a": "x"})
    second = ws.resume(first.run_id)
    with pytest.raises(ResumeRefused, match="--step"):
        second.hand_result("42")
    assert second.hand_result("42", "ask") == "ask"
    state = await second.run()
    assert state.status is RunStatus.WAITING
    assert state.steps["ask"].output == {"answer": "42"}
    assert [r.id for r in state.waiting_steps] == ["other"]

    third = ws.resume(first.run_id, results={"other": "7"})
    final = await third.run()
    assert final.status is RunStatus.SUCCEEDED
    assert final.steps["other"].output == {"answer": "7"}
    assert ws.count("start a") == 1

    done = ws.resume(first.run_id)
    with pytest.raises(ResumeRefused, match=r"no step .* is waiting"):
        done.hand_result("late")
    done.close()


async def test_cancel_of_a_paused_run_appends_run_finished(ws: Workspace) -> None:
    ws.write(step("a", 2))
    first = ws.new(budget=0.2)
    await first.run()
    result = request_cancel(ws.root, first.run_id)
    assert result.outcome is CancelOutcome.CANCELLED
    events = list(read_events(first.run_dir / JOURNAL_NAME))
    assert events[-1].type is EventType.RUN_FINISHED
    assert events[-1].data["status"] == "cancelled"
    with pytest.raises(ResumeRefused, match="already finished: cancelled"):
        request_cancel(ws.root, first.run_id)


async def test_cancel_request_stops_a_live_run_in_process(ws: Workspace) -> None:
    ws.write(step("a", 10))
    execution = ws.new()
    execution.cancel_poll_interval = 0.05
    task = asyncio.create_task(execution.run())
    while ws.count("start a") == 0:
        await asyncio.sleep(0.01)
    result = request_cancel(ws.root, execution.run_id)
    assert result.outcome is CancelOutcome.REQUESTED and result.owner_pid == os.getpid()
    assert not result.woken, "this process never said it handles the wake signal"
    state = await asyncio.wait_for(task, 5)
    assert state.status is RunStatus.CANCELLED
    assert ws.count("cleanup a") == 1
    assert not (execution.run_dir / "cancel-requested").exists()


async def big_output(ctx: StepContext) -> str:
    _log(ctx, f"start {ctx.step.id}")
    ctx.emit("p" * 100_000)
    return "z" * 200_000


async def measure_upstream(ctx: StepContext) -> dict[str, int]:
    if ctx.attempt == 1:
        await asyncio.sleep(5)  # the first attempt is cut off by the budget
    return {"upstream_chars": len(ctx.results["big"])}


async def test_large_outputs_round_trip_through_artifacts(ws: Workspace) -> None:
    ws.write(
        f"""
[[steps]]
id = "big"
kind = "python"
call = "{HERE}:big_output"
inputs = {{ log = "${{params.log}}" }}

[[steps]]
id = "use"
kind = "python"
call = "{HERE}:measure_upstream"
needs = ["big"]
"""
    )
    first = ws.new(budget=0.4)
    assert (await first.run()).status is RunStatus.PAUSED
    journal = first.run_dir / JOURNAL_NAME
    assert journal.stat().st_size < 10_000, "the journal stays small"
    artifacts = sorted(p.name for p in (first.run_dir / "artifacts").iterdir())
    assert len(artifacts) == 2 and all(name.endswith(".json") for name in artifacts)

    shown, _ = load_run(ws.root, first.run_id)
    assert shown.steps["big"].output == "z" * 200_000
    assert shown.steps["big"].partial == ["p" * 100_000]

    state = await ws.resume(first.run_id).run()
    assert state.status is RunStatus.SUCCEEDED
    assert state.steps["use"].output == {"upstream_chars": 200_000}, "replayed from the artifact"
    assert ws.count("start big") == 1


async def test_active_time_of_a_crashed_invocation_still_counts(ws: Workspace) -> None:
    ws.write(step("a", 10), header='timeout = "2.5s"')
    spec = resolve_workflow("test", ws.root, kinds())
    run_id = "crashed-2"
    directory = ws.root / ".tether" / "runs" / run_id
    directory.mkdir(parents=True)
    writer = JournalWriter(directory / JOURNAL_NAME)
    now = time.time()
    started = {
        "workflow": "test",
        "params": apply_params(spec, {}),
        "spec_hash": spec.spec_hash,
        "step_hashes": {s.id: s.definition_hash for s in spec.steps},
    }
    # 2 s of journaled activity, then the process died without a run end.
    writer(Event(EventType.RUN_STARTED, run_id, 1, now - 10, data=started))
    writer(Event(EventType.STEP_STARTED, run_id, 2, now - 10, "a", {"attempt": 1}))
    writer(Event(EventType.STEP_HEARTBEAT, run_id, 3, now - 8, "a", {"details": None}))
    writer.close()

    shown, _ = load_run(ws.root, run_id)
    assert shown.active_ms == 2000
    clock = time.monotonic()
    state = await ws.resume(run_id).run()
    assert state.status is RunStatus.TIMED_OUT
    assert time.monotonic() - clock < 1.5, "only the 0.5 s the crash left of the timeout"
    assert 2450 <= state.active_ms <= 3500
    assert load_run(ws.root, run_id)[0].active_ms == state.active_ms, "the total is journaled"


async def test_succeeded_run_with_an_edited_workflow(ws: Workspace) -> None:
    ws.write(step("a") + step("b", needs=("a",)))
    first = ws.new()
    await first.run()
    ws.write(step("a") + step("b", needs=("a",), extra=', edited = "yes"'))
    unforced = ws.resume(first.run_id)
    assert unforced.already_succeeded, "nothing to resume: no refusal, nothing runs"
    await unforced.run()
    forced = await ws.resume(first.run_id, force=True).run()
    assert forced.status is RunStatus.SUCCEEDED
    assert ws.count("start a") == 1 and ws.count("start b") == 2
