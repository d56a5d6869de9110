"""A step's journaled output is bounded: head and tail in full, the middle counted, the
whole output in a log file; replay (and so `show`) stays small."""

from __future__ import annotations

import orjson

from tests.engine.conftest import RunWorkflow
from tether.engine.output_bound import ELIDED_KEY, HEAD_ITEMS, TAIL_ITEMS
from tether.engine.runs import replay

LINES = 20_000
PAD = "x" * 300  # 20,000 lines of about 300 bytes: about 6 MB of output


async def test_six_megabytes_of_output_make_a_small_journal(run_workflow: RunWorkflow) -> None:
    outcome = await run_workflow(f"""
[[steps]]
id = "loud"
kind = "command"
run = "i=0; while [ $$i -lt {LINES} ]; do i=$$((i+1)); echo line-$$i-{PAD}; done"
shell = true
timeout = "120s"
""")
    assert outcome.step("loud").status == "succeeded"
    run_dir = outcome.execution.run_dir
    journal = run_dir / "events.jsonl"
    assert journal.stat().st_size < 1_000_000, journal.stat().st_size
    state = replay(journal, outcome.state.run_id)
    partial = state.steps["loud"].partial
    assert len(partial) == HEAD_ITEMS + 1 + TAIL_ITEMS
    assert partial[0] == f"line-1-{PAD}"
    assert partial[HEAD_ITEMS - 1] == f"line-{HEAD_ITEMS}-{PAD}"
    marker = partial[HEAD_ITEMS]
    assert marker[ELIDED_KEY] == LINES - HEAD_ITEMS - TAIL_ITEMS
    assert partial[-1] == f"line-{LINES}-{PAD}"
    # Every item still exists: the whole output, in order, in the log artifact.
    log = (run_dir / marker["log"]).read_bytes().splitlines()
    assert len(log) == LINES
    assert orjson.loads(log[12_345]) == f"line-12346-{PAD}"


async def test_a_quiet_step_is_journaled_as_before(run_workflow: RunWorkflow) -> None:
    outcome = await run_workflow(
        '[[steps]]\nid = "quiet"\nkind = "command"\nrun = "echo a; echo b"\nshell = true\n'
    )
    state = replay(outcome.execution.run_dir / "events.jsonl", outcome.state.run_id)
    assert state.steps["quiet"].partial == ["a", "b"]
