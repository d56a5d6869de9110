"""A journal write that fails half way (a full disk) leaves no torn line behind, and the
run never reports plain success; once space returns, show and resume work."""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import orjson

from tests.helpers import tether

# Many steps of 90 lines each: within each step's journaled head (output_bound), so the
# journal itself grows past the limit.
CHATTY = "max_parallel = 1\n" + "".join(
    f"""
[[steps]]
id = "chatty{index}"
kind = "command"
run = "for i in $$(seq 1 90); do echo line-$$i-padding-padding-padding-padding; done"
shell = true
"""
    for index in range(30)
)
LIMIT = 60_000


def _limit_file_size() -> None:
    # A real kernel write failure part way through a line: EFBIG past RLIMIT_FSIZE
    # (ignoring SIGXFSZ), the same short-write-then-error sequence as ENOSPC.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_a_failed_journal_write_is_cut_back_and_never_reported_as_success(
    tmp_path: Path,
) -> None:
    folder = tmp_path / ".tether" / "workflows"
    folder.mkdir(parents=True)
    (folder / "chatty.toml").write_text(CHATTY)
    result = tether(tmp_path, "run", "chatty", "--json", timeout=120, preexec_fn=_limit_file_size)
    assert result.returncode != 0, result.stdout[-500:]
    assert "journal is incomplete" in result.stdout + result.stderr
    (run_dir,) = (tmp_path / ".tether" / "runs").iterdir()
    journal = (run_dir / "events.jsonl").read_bytes()
    assert journal.endswith(b"\n"), "a torn line was left in the journal"
    for line in journal.splitlines():
        orjson.loads(line)  # every line whole
    # Space is back: the run is readable and resumable.
    shown = tether(tmp_path, "show", run_dir.name, "--json", timeout=120)
    assert "damaged" not in shown.stderr, shown.stderr
    assert shown.returncode in (0, 3), shown.stderr
    resumed = tether(tmp_path, "resume", run_dir.name, "--json", timeout=120)
    assert resumed.returncode == 0, resumed.stdout[-500:] + resumed.stderr
    assert orjson.loads(resumed.stdout)["status"] == "succeeded"
