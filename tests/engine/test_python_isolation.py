"""Python steps that block: never recorded succeeded past their deadline; with
`isolation = "process"` they are stopped at it, like a command; and an abandoned
in-process step never keeps its host process alive."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.engine.conftest import PythonSteps, RunWorkflow
from tests.helpers import process_alive

step = PythonSteps("tests.engine.hostile_steps")
ROOT = Path(__file__).resolve().parents[2]


async def test_an_async_step_that_blocks_the_loop_past_its_deadline_is_timed_out(
    run_workflow: RunWorkflow,
) -> None:
    outcome = await run_workflow(step("blocker", "block_loop", 'timeout = "300ms"', seconds=1.5))
    blocker = outcome.step("blocker")
    assert blocker.status == "timed_out", blocker.status
    assert blocker.output is None
    assert "past it" in blocker.error
    assert outcome.state.status == "failed"


async def test_process_isolation_stops_a_loop_blocking_step_at_its_deadline(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    extra = 'isolation = "process"\ntimeout = "1s"\nkill_grace = "300ms"'
    started = time.monotonic()
    outcome = await run_workflow(
        step("blocker", "block_loop", extra, seconds=60, pid_file=str(pid_file))
    )
    elapsed = time.monotonic() - started
    blocker = outcome.step("blocker")
    assert blocker.status == "timed_out", blocker.error
    assert "step deadline reached" in blocker.error
    assert "abandoned" not in blocker.error
    # deadline 1 s + kill_grace 0.3 s, with room for a loaded machine; never the 60 s
    assert elapsed < 5, elapsed
    child = int(pid_file.read_text())
    assert child != os.getpid()
    assert not process_alive(child), "the step's process survived its deadline"


async def test_process_isolation_carries_context_emits_heartbeats_and_output(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    mark = tmp_path / "cleanup.mark"
    text = (
        'name = "iso"\n[params]\ncolour = "blue"\n'
        + step("first", "sync_value", 'isolation = "process"', value=41)
        + step(
            "second",
            "chatty",
            'isolation = "process"\nneeds = ["first"]\ntimeout = "30s"',
            cleanup_mark=str(mark),
            colour="${params.colour}",
        )
    )
    outcome = await run_workflow(text)
    second = outcome.step("second")
    assert second.status == "succeeded", second.error
    output = second.output
    assert output["pid"] != os.getpid()
    assert output["inputs"] == {"cleanup_mark": str(mark), "colour": "blue"}
    assert output["params"] == {"colour": "blue"}
    assert output["upstream"] == {"value": 41}
    assert output["attempt"] == 1
    assert output["remaining_bounded"] is True
    assert second.partial == [{"index": 0}, {"index": 1}, {"index": 2}]
    assert second.last_heartbeat == {"done": 3}
    assert mark.read_text() == "cleaned"  # the child ran its cleanup callbacks


async def test_process_isolation_keeps_the_error_semantics(run_workflow: RunWorkflow) -> None:
    retries = 'isolation = "process"\nretries = { attempts = 2, initial = "10ms" }'
    text = (
        step("transient", "transient_once", retries)
        + step("broken", "raise_value_error", 'isolation = "process"\ncontinue_on_error = true')
        + step("crash", "exit_hard", 'isolation = "process"\ncontinue_on_error = true')
    )
    outcome = await run_workflow("max_parallel = 1\n" + text)
    assert outcome.step("transient").status == "succeeded"
    assert outcome.step("transient").output == {"attempt": 2}
    assert outcome.step("broken").status == "failed"
    assert outcome.step("broken").error == "ValueError: bad value in the child"
    assert outcome.step("crash").status == "failed"
    assert "exited with code 7 without a result" in outcome.step("crash").error


async def test_an_in_process_step_that_ignores_cancellation_is_abandoned_quickly(
    run_workflow: RunWorkflow,
) -> None:
    text = step("stubborn", "swallow_forever", 'timeout = "500ms"\ncontinue_on_error = true')
    outcome = await run_workflow(text + step("after", "sync_value", value=1))
    assert outcome.step("stubborn").status == "timed_out"
    assert "abandoned" in outcome.step("stubborn").error
    assert outcome.step("after").status == "succeeded"
    # deadline 0.5 s + the in-process grace of 0.5 s (not kill_grace), plus load slack
    assert outcome.elapsed < 2.0, outcome.elapsed


def test_an_abandoned_step_does_not_keep_an_embedding_program_alive(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / ".tether" / "workflows").mkdir(parents=True)
    (workspace / ".tether" / "workflows" / "stuck.toml").write_text(
        step("stubborn", "swallow_forever", 'timeout = "300ms"')
    )
    program = textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from tether.engine.execution import Execution
        from tether.engine.loader import load_workflow
        from tether.steps.registry import builtin_kinds

        async def main():
            workspace = Path({str(workspace)!r})
            kinds = builtin_kinds()
            spec = load_workflow(workspace / ".tether/workflows/stuck.toml", kinds)
            state = await Execution.new(spec, {{}}, workspace, kinds).run()
            print(state.steps["stubborn"].status, flush=True)

        asyncio.run(main())
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT)])}
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert finished.stdout.strip() == "timed_out", finished.stderr[-2000:]
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert time.monotonic() - started < 15
