"""The built-in `fix`, `review` and `context` workflows in agent mode, on the fixture project."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tether.config import TetherConfig
from tether.engine.execution import Execution
from tether.engine.loader import apply_params, resolve_workflow
from tether.engine.state import RunState
from tether.steps.registry import builtin_kinds
from tether.steps.worktree import worktree_root

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "calc_project"
BROKEN = "def add(a: int, b: int) -> int:\n    return a - b\n"
FIXED = "def add(a: int, b: int) -> int:\n    return a + b\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TETHER_CACHE_DIR", str(tmp_path / "cache"))
    # The fixture's own pytest needs none of the plugins installed here (3 s -> 0.5 s).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    target = tmp_path / "calc"
    shutil.copytree(FIXTURE, target)
    (target / ".tether").mkdir()
    (target / ".tether" / "config.toml").write_text("[docs]\noffline = true\n")
    return target


async def start(workspace: Path, workflow: str, **params: str) -> RunState:
    kinds = builtin_kinds(TetherConfig())
    spec = resolve_workflow(workflow, workspace, kinds)
    execution = Execution.new(spec, apply_params(spec, params), workspace, kinds)
    return await execution.run()


async def hand_in(workspace: Path, state: RunState, result: str) -> RunState:
    kinds = builtin_kinds(TetherConfig())
    [waiting] = state.waiting_steps
    resumed = Execution.resume(workspace, state.run_id, kinds, results={waiting.id: result})
    return await resumed.run()


def instruction_of(state: RunState) -> str:
    [waiting] = state.waiting_steps
    return Path(waiting.waiting["instruction_file"]).read_text()


async def test_fix_on_green_checks_skips_every_round(project: Path) -> None:
    state = await start(project, "fix")
    assert state.status == "succeeded"
    assert state.steps["check-0"].output["green"] is True
    assert state.steps["check-0"].output["continue"] is False
    assert state.steps["fix-1"].status == "skipped"
    assert all(state.steps[f"check-{k}"].status == "skipped" for k in range(1, 6))


async def test_fix_hands_red_checks_to_the_agent_until_green(project: Path) -> None:
    package = project / "calc" / "__init__.py"
    package.write_text(package.read_text().replace(FIXED, BROKEN))
    state = await start(project, "fix")
    assert state.status == "waiting"
    assert [record.id for record in state.waiting_steps] == ["fix-1"]
    text = instruction_of(state)
    assert "fix round 1 of 3" in text
    assert "Failing: pytest" in text
    assert "assert -1 == 5" in text  # the failing test's own output

    package.write_text(package.read_text().replace(BROKEN, FIXED))
    final = await hand_in(project, state, "add() added instead of subtracting")
    assert final.status == "succeeded"
    assert final.steps["check-1"].output["green"] is True
    assert final.steps["fix-2"].status == "skipped"


async def test_fix_fails_when_no_round_is_left(project: Path) -> None:
    package = project / "calc" / "__init__.py"
    package.write_text(package.read_text().replace(FIXED, BROKEN))
    state = await start(project, "fix", rounds="0")
    assert state.status == "failed"
    assert "still failing after 0 fix round(s): pytest" in (state.steps["check-0"].error or "")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


async def test_review_sees_the_diff_and_checks_run_on_a_snapshot(project: Path) -> None:
    (project / ".gitignore").write_text(".tether/\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "init")
    package = project / "calc" / "__init__.py"
    package.write_text(package.read_text() + "\n\ndef twice(a: int) -> int:\n    return 2 * a\n")
    (project / "notes.txt").write_text("a new file\n")

    state = await start(project, "review", prompt="naming")
    assert state.status == "waiting", [(r.id, r.error) for r in state.steps.values()]
    assert state.steps["diff"].output["files"] == ["calc/__init__.py", "notes.txt"]
    assert state.steps["check"].output["green"] is True
    assert state.steps["context"].output["chosen"]["libraries"] == ["click"]
    text = instruction_of(state)
    for needed in ("+def twice(a: int) -> int:", "+a new file", "All checks pass", "Focus: naming"):
        assert needed in text, needed
    assert list(worktree_root(project).iterdir()) == []

    final = await hand_in(project, state, "Ready.")
    assert final.status == "succeeded"
    assert final.steps["review"].output == {"result": "Ready.", "via": "agent"}


async def test_review_with_nothing_changed_skips_everything(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    (project / ".gitignore").write_text(".tether/\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "init")
    state = await start(project, "review")
    assert state.status == "succeeded"
    assert "nothing to review" in (state.steps["diff"].reason or "")
    assert state.steps["review"].status == "skipped"


async def test_context_picks_the_dependency_a_prompt_names_and_writes_a_pack(
    project: Path,
) -> None:
    state = await start(project, "context", prompt="How do I add a click option?")
    assert state.status == "succeeded", [(r.id, r.error) for r in state.steps.values()]
    assert state.steps["pick"].output["mentioned"] == ["click"]
    pack = Path(state.steps["docs"].output["pack"])
    assert "click" in pack.read_text().lower()


async def test_review_refuses_a_base_that_is_not_a_revision(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    state = await start(project, "review", base="--output=/tmp/x")
    assert state.status == "failed"
    assert "is not a revision" in (state.steps["diff"].error or "")
