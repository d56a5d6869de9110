"""A command's step ends with its main process, whoever else still holds its pipes."""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import RunWorkflow
from tests.helpers import process_alive


async def test_a_background_child_holding_stdout_does_not_hold_the_step(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    outcome = await run_workflow(f"""
[[steps]]
id = "serve"
kind = "command"
run = "sleep 60 & echo $$! > {pid_file}; sleep 0.2; echo main-done; exit 0"
shell = true
timeout = "30s"
""")
    step = outcome.step("serve")
    assert step.status == "succeeded", step.error
    assert step.output["exit_code"] == 0
    assert "main-done" in step.output["text"]
    # The main process exits after the engine is waiting for it (a fast exit before the
    # first wait hides the bug); the step ends within the drain window, not at the 30 s
    # timeout (or at the child's 60 s).
    assert outcome.elapsed < 3.0, outcome.elapsed
    child = int(pid_file.read_text())
    assert not process_alive(child), "the leftover child survived the step"


async def test_output_written_just_before_the_exit_is_kept(run_workflow: RunWorkflow) -> None:
    outcome = await run_workflow("""
[[steps]]
id = "burst"
kind = "command"
run = "sleep 60 & sleep 0.2; for i in 1 2 3 4 5; do echo line-$$i; done; exit 0"
shell = true
""")
    step = outcome.step("burst")
    assert step.status == "succeeded", step.error
    assert step.output["text"].split() == [f"line-{i}" for i in range(1, 6)]
