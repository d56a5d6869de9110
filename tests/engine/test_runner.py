"""The runtime's guarantees, each checked on what a user would observe."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.engine.conftest import PythonSteps, RunWorkflow
from tests.helpers import process_alive
from tether.engine.events import EventType

FINISHED = EventType.STEP_FINISHED

python_step = PythonSteps("tests.engine.step_functions")


async def test_step_timeout_ends_the_step_on_time_and_runs_its_cleanup(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    outcome = await run_workflow(
        python_step("slow", "sleep_with_cleanup", 'timeout = "1s"', seconds=10, marks=str(marks))
    )
    step = outcome.step("slow")
    assert step.status == "timed_out"
    # Not the 10 s sleep; the slack is for a loaded machine (the exact overshoot is a
    # benchmark figure: tests/benchmarks/engine.py).
    assert 1.0 <= outcome.elapsed < 3.0, outcome.elapsed
    assert step.reason == "step"
    assert (marks / "slow.cleanup").exists()
    assert outcome.state.status == "failed"


async def test_thirty_parallel_timeouts_all_clean_up_within_the_deadline(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    steps = "".join(
        python_step(
            f"s{i}",
            "sleep_with_cleanup",
            'timeout = "1s"\ncontinue_on_error = true',
            seconds=10,
            marks=str(marks),
        )
        for i in range(30)
    )
    outcome = await run_workflow("max_parallel = 30\n" + steps)
    assert [s.status for s in outcome.state.steps.values()] == ["timed_out"] * 30
    assert len(list(marks.glob("*.cleanup"))) == 30
    # All thirty ran at once: every step started before the first one ended. (This order
    # is what proves it, not a wall-clock figure, which a loaded machine stretches.)
    kinds = [e.type for e in outcome.events if e.type in (EventType.STEP_STARTED, FINISHED)]
    assert kinds.index(FINISHED) == 30, kinds
    # Each ended at its own 1 s timeout, never at its 10 s sleep; one at a time would
    # take 30 s. The slack is for a loaded two-core machine, not for the engine.
    durations = [s.duration_ms for s in outcome.state.steps.values()]
    assert all(d is not None and 1000 <= d < 3000 for d in durations), durations
    assert outcome.elapsed < 4, outcome.elapsed


async def test_partial_output_is_kept_in_order_when_the_step_times_out(
    run_workflow: RunWorkflow,
) -> None:
    outcome = await run_workflow(python_step("chatty", "emit_forever", 'timeout = "2s"'))
    step = outcome.step("chatty")
    assert step.status == "timed_out"
    indexes = [item["index"] for item in step.partial]
    assert len(indexes) >= 9
    assert indexes == list(range(len(indexes)))


async def test_a_step_that_swallows_cancellation_is_abandoned_and_the_run_goes_on(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    text = python_step(
        "stubborn",
        "swallow_cancellation",
        'timeout = "1s"\nkill_grace = "250ms"\ncontinue_on_error = true',
        marks=str(marks),
    ) + python_step("after", "echo_inputs")
    outcome = await run_workflow(text)
    stubborn = outcome.step("stubborn")
    assert stubborn.status == "timed_out"
    assert "abandoned" in stubborn.error
    # deadline 1 s + the in-process grace (0.5 s), and no waiting for the step, which
    # would end 3 s after its cancellation (at 4 s); the slack is for a loaded machine
    assert 1.4 <= outcome.elapsed < 3.0, outcome.elapsed
    assert outcome.step("after").status == "succeeded"
    assert (marks / "stubborn.cleanup").exists()
    assert len(outcome.execution.runner.abandoned) == 1
    # The engine never waits for it; the test does, so its event loop can close cleanly.
    await asyncio.wait(outcome.execution.runner.abandoned, timeout=5)


async def test_a_sync_step_blocked_in_a_thread_times_out_at_its_deadline(
    run_workflow: RunWorkflow,
) -> None:
    outcome = await run_workflow(python_step("blocked", "block_in_thread", 'timeout = "500ms"'))
    assert outcome.step("blocked").status == "timed_out"
    assert outcome.elapsed < 1.0


async def test_command_timeout_leaves_no_process_of_its_group_alive(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    own_pid = f"echo $$$$ >> {pids}"  # `$$` is the template escape for `$`
    outcome = await run_workflow(f"""
[[steps]]
id = "tree"
kind = "command"
run = ["sh", "-c", "sleep 60 & echo $! >> {pids}; sleep 60 & echo $! >> {pids}; {own_pid}; wait"]
timeout = "1s"
kill_grace = "500ms"
""")
    assert outcome.step("tree").status == "timed_out"
    recorded = [int(line) for line in pids.read_text().split()]
    assert len(recorded) == 3
    for pid in recorded:
        assert not process_alive(pid), f"process {pid} survived the step"


async def test_transient_failures_are_retried_until_success(run_workflow: RunWorkflow) -> None:
    outcome = await run_workflow(
        python_step(
            "flaky",
            "flaky",
            'retries = { attempts = 3, initial = "10ms", max = "50ms" }',
            failures=2,
        )
    )
    step = outcome.step("flaky")
    assert step.status == "succeeded"
    assert step.attempts == 3
    assert step.output == {"attempt": 3}
    retries = [e for e in outcome.events if e.type is EventType.STEP_RETRY]
    assert [e.data["attempt"] for e in retries] == [1, 2]


async def test_a_retry_that_would_start_past_the_deadline_does_not_start(
    run_workflow: RunWorkflow,
) -> None:
    outcome = await run_workflow(
        python_step(
            "down",
            "always_transient",
            'timeout = "300ms"\nretries = { attempts = 10, initial = "5s", max = "5s" }',
        )
    )
    step = outcome.step("down")
    assert step.status == "failed"
    assert outcome.elapsed < 0.3
    # the full-jitter delay may be short enough to fit once or twice, never past 300 ms
    starts = [e for e in outcome.events if e.type is EventType.STEP_STARTED]
    retries = [e for e in outcome.events if e.type is EventType.STEP_RETRY]
    assert len(starts) == len(retries) + 1
    assert all(e.data["delay"] < 0.3 for e in retries)


async def test_a_non_transient_error_is_not_retried(run_workflow: RunWorkflow) -> None:
    outcome = await run_workflow(
        python_step("broken", "broken", 'retries = { attempts = 5, initial = "10ms" }')
    )
    step = outcome.step("broken")
    assert step.status == "failed"
    assert step.attempts == 1
    assert step.error == "ValueError: not a transient problem"


async def test_a_timeout_error_raised_by_the_step_is_a_failure_not_an_engine_timeout(
    run_workflow: RunWorkflow,
) -> None:
    outcome = await run_workflow(python_step("own", "own_timeout", 'timeout = "5s"'))
    step = outcome.step("own")
    assert step.status == "failed"
    assert "not an engine deadline" in step.error


async def test_attempt_timeouts_are_retried(run_workflow: RunWorkflow, marks: Path) -> None:
    outcome = await run_workflow(
        python_step(
            "slow",
            "sleep_with_cleanup",
            'attempt_timeout = "200ms"\nretries = { attempts = 3, initial = "10ms", max = "20ms" }',
            seconds=5,
            marks=str(marks),
        )
    )
    step = outcome.step("slow")
    assert step.status == "timed_out"
    assert step.attempts == 3
    assert step.reason == "attempt"


async def test_fail_fast_cancels_a_running_sibling_and_runs_its_cleanup(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    outcome = await run_workflow(
        python_step("bad", "fail_after", seconds=0.2)
        + python_step("sibling", "sleep_with_cleanup", seconds=10, marks=str(marks))
        + python_step("later", "echo_inputs", 'needs = ["sibling"]')
    )
    assert outcome.step("bad").status == "failed"
    sibling = outcome.step("sibling")
    assert sibling.status == "cancelled"
    assert sibling.reason == "fail-fast"
    assert (marks / "sibling.cleanup").exists()
    assert outcome.step("later").status == "skipped"
    assert outcome.state.status == "failed"
    assert outcome.elapsed < 2


async def test_continue_on_error_lets_the_sibling_finish(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    outcome = await run_workflow(
        python_step("bad", "fail_after", "continue_on_error = true", seconds=0.1)
        + python_step("sibling", "sleep_with_cleanup", seconds=0.5, marks=str(marks))
    )
    assert outcome.step("bad").status == "failed"
    assert outcome.step("sibling").status == "succeeded"
    assert outcome.state.status == "failed"


async def test_the_run_timeout_bounds_a_longer_step_timeout(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    outcome = await run_workflow(
        'timeout = "1s"\n'
        + python_step("long", "sleep_with_cleanup", 'timeout = "5s"', seconds=10, marks=str(marks))
    )
    assert 0.95 <= outcome.elapsed < 3.0, outcome.elapsed  # not the 5 s step timeout
    assert outcome.step("long").status == "timed_out"
    assert outcome.state.status == "timed_out"


async def test_a_step_that_stops_heartbeating_is_timed_out(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    outcome = await run_workflow(
        python_step(
            "quiet",
            "heartbeat_then_silence",
            'heartbeat_timeout = "500ms"\ntimeout = "10s"',
            marks=str(marks),
        )
    )
    step = outcome.step("quiet")
    assert step.status == "timed_out"
    assert step.reason == "heartbeat"
    assert step.last_heartbeat == {"beat": 2}
    assert (marks / "quiet.silent").exists()
    last_beat = [e for e in outcome.events if e.type is EventType.STEP_HEARTBEAT][-1]
    finished = [e for e in outcome.events if e.type is EventType.STEP_FINISHED][-1]
    assert 0.5 <= finished.ts - last_beat.ts <= 0.8
    assert outcome.elapsed < 2.0


async def test_command_output_lines_count_as_heartbeats(run_workflow: RunWorkflow) -> None:
    outcome = await run_workflow("""
[[steps]]
id = "ticker"
kind = "command"
run = ["sh", "-c", "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.2; done"]
heartbeat_timeout = "700ms"
""")
    step = outcome.step("ticker")
    assert step.status == "succeeded"
    assert step.partial == [f"tick {i}" for i in range(1, 7)]


async def test_templates_pass_params_and_upstream_outputs(run_workflow: RunWorkflow) -> None:
    text = """
[params]
name = "world"

[[steps]]
id = "first"
kind = "python"
call = "tests.engine.step_functions:sync_value"

[[steps]]
id = "second"
kind = "python"
call = "tests.engine.step_functions:echo_inputs"
needs = ["first"]
inputs.greeting = "hello ${params.name} $$5"
inputs.upstream = "${steps.first.output}"
inputs.attempt = "${steps.first.output.attempt}"
"""
    outcome = await run_workflow(text, name="tether")
    first = outcome.step("first")
    assert first.partial == ["from a thread"]
    second = outcome.step("second")
    assert second.output["inputs"] == {
        "greeting": "hello tether $5",
        "upstream": {"sync": True, "attempt": 1},
        "attempt": 1,
    }
    assert second.output["results"] == {"first": {"sync": True, "attempt": 1}}


async def test_max_parallel_bounds_concurrency(run_workflow: RunWorkflow, marks: Path) -> None:
    steps = "".join(
        python_step(f"s{i}", "sleep_with_cleanup", seconds=0.3, marks=str(marks)) for i in range(4)
    )
    outcome = await run_workflow("max_parallel = 2\n" + steps)
    assert outcome.state.status == "succeeded"
    assert 0.6 <= outcome.elapsed < 1.0, outcome.elapsed


async def test_budget_pauses_the_run_and_keeps_unstarted_steps_pending(
    run_workflow: RunWorkflow, marks: Path
) -> None:
    outcome = await run_workflow(
        python_step("a", "sleep_with_cleanup", seconds=0.1, marks=str(marks))
        + python_step("b", "sleep_with_cleanup", 'needs = ["a"]', seconds=5, marks=str(marks))
        + python_step("c", "echo_inputs", 'needs = ["b"]'),
        budget=0.5,
    )
    assert outcome.state.status == "paused"
    assert outcome.state.reason == "budget"
    assert outcome.step("a").status == "succeeded"
    assert outcome.step("b").status == "cancelled"
    assert outcome.step("c").status == "pending"
    assert (marks / "b.cleanup").exists()
    assert outcome.elapsed < 1.0


async def test_every_event_is_journaled_in_sequence(run_workflow: RunWorkflow) -> None:
    from tether.engine.journal import read_events

    outcome = await run_workflow(python_step("only", "sync_value"))
    journal = list(read_events(outcome.execution.run_dir / "events.jsonl"))
    assert [e.seq for e in journal] == list(range(1, len(journal) + 1))
    assert [e.type for e in journal] == [e.type for e in outcome.events]
    assert journal[0].type is EventType.RUN_STARTED
    assert journal[-1].type is EventType.RUN_FINISHED


async def test_cleanup_failures_are_recorded_not_raised(run_workflow: RunWorkflow) -> None:
    outcome = await run_workflow(
        python_step("cleanup-fails", "sleep_with_cleanup", seconds=0.01, marks="/proc/forbidden")
    )
    step = outcome.step("cleanup-fails")
    assert step.status == "succeeded"
    assert len(step.cleanup_errors) == 1
    assert "failed" in step.cleanup_errors[0]


async def test_a_cancel_request_stops_running_steps_with_cleanup(
    tmp_path: Path, marks: Path
) -> None:
    from tether.engine.execution import Execution
    from tether.engine.loader import load_workflow
    from tether.engine.runner import StopReason
    from tether.steps.registry import builtin_kinds

    path = tmp_path / "wf.toml"
    path.write_text(python_step("slow", "sleep_with_cleanup", seconds=30, marks=str(marks)))
    kinds = builtin_kinds()
    spec = load_workflow(path, kinds)
    execution = Execution.new(spec, {}, tmp_path, kinds)
    started = asyncio.Event()
    execution.bus.subscribe(
        lambda event: started.set() if event.type is EventType.STEP_STARTED else None
    )
    task = asyncio.ensure_future(execution.run())
    await started.wait()
    execution.stop(StopReason.CANCELLED)
    state = await asyncio.wait_for(task, 5)
    assert state.status == "cancelled"
    assert state.steps["slow"].status == "cancelled"
    assert (marks / "slow.cleanup").exists()


async def test_a_command_that_honours_sigterm_is_not_held_for_its_whole_kill_grace(
    run_workflow: RunWorkflow,
) -> None:
    # The grandchildren die on SIGTERM and may linger as zombies (re-parented to an init
    # that does not reap); the engine must see them as gone, not wait out kill_grace.
    outcome = await run_workflow(
        """
[[steps]]
id = "tree"
kind = "command"
run = ["sh", "-c", "sleep 30 & sleep 30 & wait"]
kill_grace = "5s"
""",
        budget=0.3,
    )
    assert outcome.state.status == "paused"
    assert outcome.elapsed < 1.5, outcome.elapsed


async def test_steps_downstream_of_a_waiting_step_stay_pending(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    outcome = await run_workflow(
        python_step("ask", "wait_for_answer")
        + python_step("use", "echo_inputs", 'needs = ["ask"]')
        + python_step("after", "echo_inputs", 'needs = ["use"]')
        + python_step("free", "echo_inputs")
    )
    assert outcome.state.status == "waiting"
    assert outcome.step("ask").waiting == {"question": "why?"}
    assert outcome.step("use").status == "pending"
    assert outcome.step("after").status == "pending"
    assert outcome.step("free").status == "succeeded"
