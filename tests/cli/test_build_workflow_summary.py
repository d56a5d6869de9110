"""The plain summary of a waiting run: the instruction, then the exact hand-in command last."""

from __future__ import annotations

import shlex
from pathlib import Path

from tether.cli.summary import summary_lines
from tether.engine.state import RunState, RunStatus, StepRecord

RESUME = "tether resume r1 -C /w"


def waiting_record(step: str, folder: Path) -> StepRecord:
    instruction = folder / f"{step}.md"
    instruction.write_text(f"# Agent task: {step}\n\nDo {step}.\n")
    return StepRecord(
        step,
        waiting={
            "step": step,
            "instruction_file": str(instruction),
            "result_file": str(folder / f"{step} result.md"),
            "resume": f"tether resume r1 --budget 50s -C /w --result-file {folder}/{step}.r",
        },
    )


def test_one_waiting_step_prints_its_instruction_and_ends_with_the_hand_in_command(
    tmp_path: Path,
) -> None:
    state = RunState("r1", workflow="build", status=RunStatus.WAITING)
    state.steps = {"plan": waiting_record("plan", tmp_path)}
    lines = summary_lines(state, RESUME)
    assert "# Agent task: plan" in lines
    assert "Do plan." in lines
    # The last line is the step's own hand-in command (the one its instruction ends with),
    # not a second spelling built from the continuation.
    assert lines[-1] == f"tether resume r1 --budget 50s -C /w --result-file {tmp_path}/plan.r"


def test_several_waiting_steps_each_get_a_command_naming_the_step(tmp_path: Path) -> None:
    state = RunState("r1", workflow="build", status=RunStatus.WAITING)
    state.steps = {name: waiting_record(name, tmp_path) for name in ("left", "right")}
    lines = summary_lines(state, RESUME)
    assert "# Agent task: left" not in lines  # two instructions: read the files
    assert any(line.startswith("  to hand in left's result: ") for line in lines)
    assert "--step left" in next(line for line in lines if "hand in left" in line)
    assert shlex.split(lines[-1])[5:7] == ["--step", "right"]


def test_a_failed_run_ends_with_what_to_do_not_with_a_resume_command() -> None:
    state = RunState("r1", workflow="build", status=RunStatus.FAILED)
    state.steps = {"check": StepRecord("check")}
    for continuation in (RESUME, None):
        lines = summary_lines(state, continuation)
        assert not any("tether resume" in line for line in lines)
        assert lines[-1] == (
            "  failed: fix the failures above, then start a new run; "
            "`tether show r1` has every step's output"
        )


def test_a_paused_running_or_cancelled_run_ends_with_the_bare_continuation() -> None:
    for status in (RunStatus.PAUSED, RunStatus.RUNNING, RunStatus.CANCELLED):
        assert summary_lines(RunState("r1", workflow="build", status=status), RESUME)[-1] == RESUME
    assert summary_lines(RunState("r1", status=RunStatus.SUCCEEDED), None)[-1].startswith("run ")
