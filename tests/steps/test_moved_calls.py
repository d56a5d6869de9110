"""The built-in workflows' python functions moved from `tether.steps` to
`tether.workflows`: the old `call` paths still resolve, and a run journaled before the
move still resumes (a resume refuses a finished step whose definition hash changed)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import tether, write_workflow
from tether.config import TetherConfig
from tether.engine.loader import resolve_workflow
from tether.steps.python_call import MOVED_MODULES, resolve_callable
from tether.steps.registry import builtin_kinds

# The python steps' definition hashes as released before the move (taken from main then).
HASHES_BEFORE_THE_MOVE = {
    "build": {"context": "b104c35da1be3d44", "check": "134eb1c31ec50f37"},
    "check": {
        "ruff": "b79848705f7ad0b1",
        "mypy": "fdc8eeded076930f",
        "pytest": "23efc5a6716965b3",
        "npm-test": "56d0acb7a98afac5",
        "tsc": "8204745f3907a7b7",
    },
    "context": {"pick": "4713c3561ea0f6ab"},
    "fix": {
        "check-0": "c41f14917082464e",
        "check-1": "f7e396d979b2ea8f",
        "check-2": "4e0e28cee4fccdab",
        "check-3": "e642151d7c066797",
        "check-4": "fb13805bd707e389",
        "check-5": "c342de8a7314be05",
    },
    "review": {
        "diff": "305df3d0258c550d",
        "context": "2b1a4be18154b8d4",
        "check": "4ce4b60624b0631a",
    },
}

LEGACY = """
[[steps]]
id = "pick"
kind = "python"
call = "tether.steps.library_choice:pick_libraries"
inputs = { prompt = "use httpx" }

[[steps]]
id = "ask"
kind = "agent"
needs = ["pick"]
task = "say yes"
"""


def test_built_in_steps_keep_their_definition_hashes(tmp_path: Path) -> None:
    kinds = dict(builtin_kinds(TetherConfig()))
    for workflow, hashes in HASHES_BEFORE_THE_MOVE.items():
        spec = resolve_workflow(workflow, tmp_path, kinds)
        current = {step.id: step.definition_hash for step in spec.steps if step.kind == "python"}
        assert current == hashes, workflow
        assert all(
            str(step.options["call"]).startswith("tether.workflows.")
            for step in spec.steps
            if step.kind == "python"
        )


def test_old_call_paths_resolve_to_the_moved_functions(tmp_path: Path) -> None:
    for old, new in MOVED_MODULES.items():
        assert old.startswith("tether.steps.") and new.startswith("tether.workflows.")
    old_ruff = resolve_callable("tether.steps.checks:ruff", str(tmp_path))
    assert old_ruff is resolve_callable("tether.workflows.checks:ruff", str(tmp_path))


def test_a_run_paused_with_the_old_call_resumes_after_the_file_moves_to_the_new(
    tmp_path: Path,
) -> None:
    path = write_workflow(tmp_path, "legacy", LEGACY)
    started = tether(tmp_path, "run", "legacy", "--json")
    assert started.returncode == 3, started.stderr
    run = json.loads(started.stdout)
    assert run["status"] == "waiting" and run["steps"][0]["status"] == "succeeded"

    path.write_text(
        LEGACY.replace("tether.steps.library_choice", "tether.workflows.library_choice")
    )
    resumed = tether(tmp_path, "resume", run["run_id"], "--result", "yes", "--json")
    assert resumed.returncode == 0, resumed.stderr
    ended = json.loads(resumed.stdout)
    assert ended["status"] == "succeeded"
    assert ended["steps"][0]["attempts"] == 1  # the finished step was not run again
