"""Killed, interrupted, out of budget, cancelled, raced: a run always resumes, and a step
that finished before the trouble never runs again. Every runner here is a real
`python -m tether` process."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import time
from pathlib import Path

import pytest

from tests.cli.test_runs import Workspace, last_line, step
from tether.engine.events import EventType
from tether.engine.journal import read_events
from tether.engine.runs import replay

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")

CRASH_STEPS = 6
CRASH_ITERATIONS = 20


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


class Runner:
    """A `tether` subprocess whose progress lines can be awaited."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, ws: Workspace, *args: str) -> Runner:
        process = await asyncio.create_subprocess_exec(
            *ws.command(*args),
            cwd=ws.root,
            env=ws.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def wait_for_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.process.stdout.readline()
                assert raw, f"exited before printing {pattern!r}: {self.lines}"
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                match = re.search(pattern, line)
                if match:
                    return match

    async def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        async with asyncio.timeout(timeout):
            stdout, stderr = await self.process.communicate()
        assert self.process.returncode is not None
        text = "\n".join([*self.lines, stdout.decode()]).strip("\n")
        return self.process.returncode, text, stderr.decode()


def crash_workflow(ws: Workspace) -> None:
    body = ""
    for index in range(1, CRASH_STEPS + 1):
        needs = f'"s{index - 1}"' if index > 1 else ""
        body += f"""
[[steps]]
id = "s{index}"
kind = "python"
call = "wsteps:side_effect"
needs = [{needs}]
inputs = {{ file = "${{run.dir}}/side.txt", before = "0.02", after = "0.02" }}
"""
    ws.write("crash", body)


def side_effects(ws: Workspace, run_id: str) -> dict[str, int]:
    path = ws.runs_dir() / run_id / "side.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return {f"s{i}": lines.count(f"s{i}") for i in range(1, CRASH_STEPS + 1)}


async def test_sigkill_at_random_points_then_resume_never_repeats_finished_steps(
    ws: Workspace,
) -> None:
    crash_workflow(ws)
    seed = int(os.environ.get("TETHER_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    killed_mid_run = 0
    for iteration in range(CRASH_ITERATIONS):
        where = f"seed {seed}, iteration {iteration}"
        runner = await Runner.start(ws, "run", "crash")
        run_id = (await runner.wait_for_line(r"run (\S+) started"))[1]
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        if runner.process.returncode is None:
            runner.process.send_signal(signal.SIGKILL)
        await runner.finish()

        journal = ws.runs_dir() / run_id / "events.jsonl"
        finished = {
            event.step
            for event in read_events(journal)
            if event.type is EventType.STEP_FINISHED and event.data["status"] == "succeeded"
        }
        killed_mid_run += len(finished) < CRASH_STEPS
        before = side_effects(ws, run_id)
        assert all(before[s] == 1 for s in finished), (where, before, finished)

        resumed = await Runner.start(ws, "resume", run_id)
        code, output, errors = await resumed.finish()
        assert code == 0, (where, output, errors)
        after = side_effects(ws, run_id)
        assert all(after[s] == 1 for s in finished), (where, after, finished)
        assert all(1 <= count <= 2 for count in after.values()), (where, after)
        repeated = [s for s, count in after.items() if count == 2]
        assert len(repeated) <= 1, f"only the in-flight step may run twice: {where}, {after}"
        assert set(repeated) <= set(after) - finished
        assert replay(journal, run_id).status == "succeeded"
    assert killed_mid_run >= CRASH_ITERATIONS // 2, f"most kills must land mid-run ({seed})"


async def test_two_resumes_at_once_exactly_one_proceeds(ws: Workspace) -> None:
    ws.write("pair", step("a") + step("b", 3.0, ("a",)))
    first = ws.tether("run", "pair", "--budget", "0.3s", "--on-budget", "pause")
    assert first.returncode == 3
    run_id = last_line(first.stdout).split()[2]

    racers = [await Runner.start(ws, "resume", run_id) for _ in range(2)]
    results = await asyncio.gather(*(racer.finish() for racer in racers))
    # One takes the run; the other finds it live and waits on it: both see the end.
    assert [code for code, _, _ in results] == [0, 0], results
    assert all(error == "" for _, _, error in results), results
    assert ws.count("start a") == 1 and ws.count("done b") == 1


async def test_budget_pauses_with_cleanup_and_resume_finishes_without_repeats(
    ws: Workspace,
) -> None:
    ws.write("work", step("a", 0.2) + step("b", 1.4, ("a",)) + step("c", 1.4, ("b",)))
    runner = await Runner.start(ws, "run", "work", "--budget", "0.5s", "--on-budget", "pause")
    code, output, _ = await runner.finish()
    assert code == 3, output
    run_id = re.search(r"run (\S+) started", output)[1]  # type: ignore[index]
    assert last_line(output) == f"tether resume {run_id} --budget 0.5s"
    paused = replay(ws.runs_dir() / run_id / "events.jsonl", run_id)
    assert paused.status == "paused" and paused.reason == "budget"
    assert paused.active_ms < 1500, "paused at the budget, long before 3s of work"
    assert ws.count("cleanup b") == 1 and ws.count("done a") == 1 and ws.count("start c") == 0

    code, output, errors = await (await Runner.start(ws, "resume", run_id)).finish()
    assert code == 0, (output, errors)
    assert ws.count("start a") == 1, "a finished before the pause: never again"
    assert ws.count("done b") == 1 and ws.count("done c") == 1


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
async def test_interrupt_is_an_orderly_resumable_stop(
    ws: Workspace, signal_number: signal.Signals
) -> None:
    ws.write("long", step("a") + step("b", 30, ("a",)))
    runner = await Runner.start(ws, "run", "long")
    run_id = (await runner.wait_for_line(r"run (\S+) started"))[1]
    await runner.wait_for_line(r"^\[.*\] b: started")
    while ws.count("start b") == 0:  # the step's code is running, not just announced
        await asyncio.sleep(0.01)
    interrupted = time.monotonic()
    runner.process.send_signal(signal_number)
    code, output, _ = await runner.finish()
    assert code == 130, output
    assert time.monotonic() - interrupted < 5
    assert last_line(output) == f"tether resume {run_id} --budget 50s"
    assert ws.count("cleanup b") == 1

    ws.write("long", step("a") + step("b", 0, ("a",)))  # b never finished: may change
    code, output, errors = await (await Runner.start(ws, "resume", run_id)).finish()
    assert code == 0, (output, errors)
    assert ws.count("start a") == 1
    assert "start b heartbeat={'cursor': 1}" in ws.lines(), "the re-run sees its heartbeat"


async def test_cancel_from_another_process_stops_the_live_run(ws: Workspace) -> None:
    ws.write("long", step("a") + step("b", 30, ("a",)))
    runner = await Runner.start(ws, "run", "long")
    run_id = (await runner.wait_for_line(r"run (\S+) started"))[1]
    await runner.wait_for_line(r"^\[.*\] b: started")
    lock = ws.runs_dir() / run_id / "lock"
    assert lock.read_text() == f"{runner.process.pid} wake", "the owner handles the wake signal"

    cancelled = time.monotonic()
    done = ws.tether("cancel", run_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"cancel requested: process {runner.process.pid} is stopping run {run_id}"
        " (its cleanup runs first)"
    )
    code, output, _ = await runner.finish()
    assert code == 4, output
    assert time.monotonic() - cancelled < 5
    assert ws.count("cleanup b") == 1
    assert last_line(output) == f"tether resume {run_id} --budget 50s"
    assert ws.json("show", run_id)["status"] == "cancelled"
    assert not (ws.runs_dir() / run_id / "cancel-requested").exists()
    assert lock.read_text() == "", "the owner let go of the run"


def test_runs_lists_a_live_run_as_running(ws: Workspace) -> None:
    ws.write("long", step("a", 30))
    process = ws.popen("run", "long")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        run_id = re.search(r"run (\S+) started", line)[1]  # type: ignore[index]
        listed = ws.json("runs")
        summaries = [(r["run_id"], r["status"], r["live"]) for r in listed]
        assert summaries == [(run_id, "running", True)]
        shown = ws.json("show", run_id)
        # Live: the continuation attaches to it.
        assert shown["status"] == "running"
        assert shown["resume_command"] == f"tether resume {run_id} --budget 50s"
    finally:
        process.kill()
        process.communicate()
    # Its owner is gone: the run shows as resumable.
    shown = ws.json("show", run_id)
    assert (
        shown["status"] == "paused"
        and shown["resume_command"] == f"tether resume {run_id} --budget 50s"
    )
    assert [r["status"] for r in ws.json("runs")] == ["paused"]
