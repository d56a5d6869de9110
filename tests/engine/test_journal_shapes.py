"""Journal lines that are valid JSON of the wrong shape are a damaged journal, named by
file and line, never a raw traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tether.engine.journal import JournalError
from tether.engine.runs import replay

RUN = "shapes-1"
START = {"seq": 1, "ts": 1.0, "type": "run_started", "run_id": RUN, "workflow": "w"}
BAD_LINES = {
    "step event without a step": {"type": "step_finished", "status": "succeeded"},
    "unknown step status": {"type": "step_finished", "step": "a", "status": "bogus"},
    "params not a table": {"type": "run_started", "params": [1, 2]},
    "rerun of an unknown step": {"type": "run_resumed", "rerun": ["ghost"]},
    "step hashes not a table": {"type": "run_started", "step_hashes": 5},
    "attempt not a number": {"type": "step_started", "step": "a", "attempt": "x"},
    "finished without status": {"type": "run_finished"},
}


def _journal(tmp_path: Path, bad: dict[str, object]) -> Path:
    run_dir = tmp_path / ".tether" / "runs" / RUN
    run_dir.mkdir(parents=True)
    second = {"seq": 2, "ts": 2.0, "run_id": RUN, **bad}
    path = run_dir / "events.jsonl"
    path.write_bytes(orjson.dumps(START) + b"\n" + orjson.dumps(second) + b"\n")
    return path


@pytest.mark.parametrize("bad", list(BAD_LINES.values()), ids=list(BAD_LINES))
def test_a_wrong_shape_line_is_a_damaged_journal_error(
    tmp_path: Path, bad: dict[str, object]
) -> None:
    path = _journal(tmp_path, bad)
    with pytest.raises(JournalError, match=rf"^{path}:2: damaged journal line"):
        replay(path, RUN)


def test_show_reports_it_in_one_line(tmp_path: Path) -> None:
    _journal(tmp_path, BAD_LINES["step event without a step"])
    result = subprocess.run(
        [sys.executable, "-m", "tether", "show", RUN],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "events.jsonl:2: damaged journal line" in result.stderr
