"""Run ids and run directories. Ids are validated before any path is formed from them."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from tether.engine.errors import RunIdError

RUN_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
RUNS_SUBDIR = Path(".tether") / "runs"


def validate_run_id(run_id: str) -> str:
    # fullmatch: `$` would also accept a trailing newline.
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise RunIdError(
            f"invalid run id {run_id!r}: expected 1-128 characters of a-z 0-9 . _ - "
            "starting with a letter or digit"
        )
    return run_id


def new_run_id(workflow: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    prefix = re.sub(r"[^a-z0-9._-]", "-", workflow.lower())[:80] or "run"
    return validate_run_id(f"{prefix}-{stamp}-{secrets.token_hex(3)}")


def runs_dir(workspace: Path) -> Path:
    return workspace / RUNS_SUBDIR


def run_dir(workspace: Path, run_id: str) -> Path:
    return runs_dir(workspace) / validate_run_id(run_id)


CONTINUATION_BUDGET = 50.0
"""Seconds of waiting the continuation asks for when the caller gave no budget: a chat
tool's call must return well within its 60-90 s response window."""


def resume_command(
    run_id: str,
    *,
    budget: float | None = None,
    workspace: Path | None = None,
    result_file: str | None = None,
    step: str | None = None,
) -> str:
    """THE continuation: the exact command that continues a run, printed as the last line
    by every front end. `tether resume RUN_ID --budget 50s` attaches to a live run and
    waits, resumes a stopped one, and with `--result-file` hands a waiting step its result.
    There is no second spelling."""
    seconds = CONTINUATION_BUDGET if budget is None else budget
    parts = ["tether", "resume", run_id, "--budget", f"{seconds:g}s"]
    if workspace is not None:
        parts += ["-C", _quote(str(workspace))]
    if step is not None:
        parts += ["--step", _quote(step)]
    if result_file is not None:
        parts += ["--result-file", _quote(result_file)]
    return " ".join(parts)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
