"""A step's journaled output is bounded: head and tail in full, the middle counted, the
whole output in a log file; replay (and so `show`) stays small."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from tests.engine.conftest import RunWorkflow
from tether.engine.events import EventBus, EventType
from tether.engine.journal import Durability, JournalWriter
from tether.engine.output_bound import ELIDED_KEY, HEAD_ITEMS, TAIL_ITEMS
from tether.engine.runs import replay

ROOT = Path(__file__).resolve().parents[2]
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


def test_replay_streams_the_journal(tmp_path: Path) -> None:
    """Memory while reading a journal follows its longest line, not its size."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    journal = run_dir / "events.jsonl"
    writer = JournalWriter(journal, Durability.NONE)
    bus = EventBus("stream-1")
    bus.subscribe(writer)
    bus.publish(EventType.RUN_STARTED, workflow="w", params={}, step_hashes={"a": "x"})
    bus.publish(EventType.STEP_STARTED, "a", attempt=1)
    details = {"cursor": "c" * 400}
    for index in range(100_000):  # heartbeats: journaled in full, kept only as the last one
        bus.publish(EventType.STEP_HEARTBEAT, "a", details={**details, "n": index})
    writer.close()
    assert journal.stat().st_size > 40_000_000
    program = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from tether.engine.runs import replay
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        state = replay(Path({str(journal)!r}), "stream-1")
        assert state.steps["a"].last_heartbeat["n"] == 99_999
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT)])}
    grown_kib = int(
        subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        ).stdout
    )
    assert grown_kib < 20_000, f"replay grew by {grown_kib} KiB for a 40 MB journal"
