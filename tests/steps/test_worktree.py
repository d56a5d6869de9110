"""Worktree isolation: snapshots hold uncommitted edits, vanish on every exit, never collide."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.steps.workflow_files import new_execution
from tether.engine.context import StepContext
from tether.engine.errors import WorkflowError
from tether.engine.loader import load_workflow
from tether.engine.state import RunState
from tether.steps.registry import builtin_kinds
from tether.steps.worktree import worktree_root

HERE = "tests.steps.test_worktree"
ROOT = Path(__file__).resolve().parents[2]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / ".gitignore").write_text("*.log\n")
    (path / "kept.txt").write_text("committed\n")
    (path / "edited.txt").write_text("old\n")
    (path / "deleted.txt").write_text("going\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "init")
    return path


def user_status(repo: Path) -> list[str]:
    """`git status`, without tether's own run folder."""
    lines = git(repo, "status", "--porcelain").splitlines()
    return [line for line in lines if ".tether/" not in line]


def registered_worktrees(repo: Path) -> list[str]:
    listing = git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]


# --- step functions (called by the workflows below) ---------------------------------


def _mark(ctx: StepContext) -> None:
    Path(ctx.inputs["marks"]).mkdir(parents=True, exist_ok=True)
    (Path(ctx.inputs["marks"]) / ctx.step.id).write_text(str(ctx.workspace))


async def record_workspace(ctx: StepContext) -> dict[str, Any]:
    _mark(ctx)
    workspace = ctx.workspace
    files = {
        path.relative_to(workspace).as_posix(): path.read_text()
        for path in sorted(workspace.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(workspace).parts
    }
    return {"workspace": str(workspace), "files": files}


async def fail_in_worktree(ctx: StepContext) -> None:
    _mark(ctx)
    raise RuntimeError("broken on purpose")


async def sleep_in_worktree(ctx: StepContext) -> None:
    _mark(ctx)
    await asyncio.sleep(30)


async def meet_sibling(ctx: StepContext) -> str:
    """Returns only once the sibling step is running too (both worktrees exist at once)."""
    _mark(ctx)
    other = Path(ctx.inputs["marks"]) / str(ctx.inputs["sibling"])
    async with asyncio.timeout(10):
        while not other.exists():
            await asyncio.sleep(0.01)
    return str(ctx.workspace)


def die_once(ctx: StepContext) -> str:
    """Kills its whole process the first time (a crash mid-step), succeeds after."""
    marker = Path(ctx.inputs["marks"]) / "died"
    if not marker.exists():
        _mark(ctx)
        marker.write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)
    return str(ctx.workspace)


# --- helpers ------------------------------------------------------------------------


def isolated_step(step_id: str, function: str, extra: str = "", **inputs: str) -> str:
    rendered = ", ".join(f'{key} = "{value}"' for key, value in inputs.items())
    return f"""
[[steps]]
id = "{step_id}"
kind = "python"
call = "{HERE}:{function}"
isolation = "worktree"
inputs = {{ {rendered} }}
{extra}
"""


async def run_in(workspace: Path, text: str) -> RunState:
    return await new_execution(workspace, "iso.toml", text, builtin_kinds()).run()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    return tmp_path / "marks"


# --- tests --------------------------------------------------------------------------


async def test_snapshot_holds_uncommitted_changes_and_leaves_the_repository_alone(
    repo: Path, marks: Path
) -> None:
    (repo / "edited.txt").write_text("new, unstaged\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "untracked.txt").write_text("untracked\n")
    (repo / "noise.log").write_text("ignored\n")
    (repo / "deleted.txt").unlink()
    status_before = user_status(repo)
    head_before = git(repo, "rev-parse", "HEAD")

    state = await run_in(repo, isolated_step("look", "record_workspace", marks=str(marks)))

    step = state.steps["look"]
    assert step.status == "succeeded", step.error
    assert Path(step.output["workspace"]) != repo
    assert step.output["files"] == {
        ".gitignore": "*.log\n",
        "edited.txt": "new, unstaged\n",
        "kept.txt": "committed\n",
        "staged.txt": "staged\n",
        "untracked.txt": "untracked\n",
    }
    assert user_status(repo) == status_before
    assert git(repo, "rev-parse", "HEAD") == head_before
    assert not Path(step.output["workspace"]).exists()
    assert registered_worktrees(repo) == [str(repo.resolve())]


async def test_a_workspace_below_the_repository_top_runs_in_the_same_folder_of_the_snapshot(
    repo: Path, marks: Path
) -> None:
    sub = repo / "pkg"
    sub.mkdir()
    (sub / "mod.py").write_text("x = 1\n")
    state = await run_in(sub, isolated_step("look", "record_workspace", marks=str(marks)))
    step = state.steps["look"]
    assert step.status == "succeeded", step.error
    assert Path(step.output["workspace"]).name == "pkg"
    assert step.output["files"] == {"mod.py": "x = 1\n"}  # and no .tether from pkg/


async def test_a_repository_without_commits_is_snapshotted_too(tmp_path: Path, marks: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "first.txt").write_text("not committed yet\n")
    state = await run_in(fresh, isolated_step("look", "record_workspace", marks=str(marks)))
    assert state.steps["look"].output["files"] == {"first.txt": "not committed yet\n"}


async def test_a_command_step_runs_inside_the_snapshot(repo: Path) -> None:
    text = """
[[steps]]
id = "where"
kind = "command"
run = ["pwd", "-P"]
isolation = "worktree"
"""
    state = await run_in(repo, text)
    where = state.steps["where"]
    assert where.status == "succeeded", where.error
    assert Path(where.output["text"].strip()).parent == worktree_root(repo).resolve()


@pytest.mark.parametrize(
    ("function", "extra", "status"),
    [
        ("record_workspace", "", "succeeded"),
        ("fail_in_worktree", "", "failed"),
        ("sleep_in_worktree", 'timeout = "1s"', "timed_out"),
    ],
)
async def test_the_worktree_is_removed_however_the_step_ends(
    repo: Path, marks: Path, function: str, extra: str, status: str
) -> None:
    started = time.monotonic()
    state = await run_in(repo, isolated_step("s", function, extra, marks=str(marks)))
    assert state.steps["s"].status == status
    used = Path((marks / "s").read_text())
    assert used.parent == worktree_root(repo).resolve()
    assert not used.exists()
    assert registered_worktrees(repo) == [str(repo.resolve())]
    assert list(worktree_root(repo).iterdir()) == []
    assert time.monotonic() - started < 10


async def test_parallel_isolated_steps_get_separate_worktrees(repo: Path, marks: Path) -> None:
    text = isolated_step("a", "meet_sibling", marks=str(marks), sibling="b") + isolated_step(
        "b", "meet_sibling", marks=str(marks), sibling="a"
    )
    state = await run_in(repo, text)
    outputs = [state.steps[name].output for name in ("a", "b")]
    assert all(isinstance(out, str) for out in outputs), [s.error for s in state.steps.values()]
    assert outputs[0] != outputs[1]
    assert not any(Path(out).exists() for out in outputs)
    assert registered_worktrees(repo) == [str(repo.resolve())]


async def test_isolation_outside_a_git_repository_fails_with_a_clear_message(
    tmp_path: Path, marks: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    state = await run_in(plain, isolated_step("s", "record_workspace", marks=str(marks)))
    step = state.steps["s"]
    assert step.status == "failed"
    assert "needs a git repository" in (step.error or "")
    assert not marks.exists()


def test_isolation_is_refused_at_load_for_agent_steps_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    kinds = builtin_kinds()
    path.write_text('[[steps]]\nid = "a"\nkind = "agent"\ntask = "x"\nisolation = "worktree"\n')
    with pytest.raises(WorkflowError, match="agent step waits"):
        load_workflow(path, kinds)
    path.write_text('[[steps]]\nid = "a"\nkind = "command"\nrun = ["true"]\nisolation = "vm"\n')
    with pytest.raises(WorkflowError, match=r"isolation: must be \"worktree\""):
        load_workflow(path, kinds)


def tether(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'server'}"}
    return subprocess.run(
        [sys.executable, "-m", "tether", *args, "-C", str(workspace)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("next_start", ["resume", "new run"])
def test_a_crashed_runs_worktree_is_pruned_on_the_next_start(
    repo: Path, marks: Path, next_start: str
) -> None:
    folder = repo / ".tether" / "workflows"
    folder.mkdir(parents=True)
    (folder / "crash.toml").write_text(isolated_step("s", "die_once", marks=str(marks)))
    crashed = tether(repo, "run", "crash")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    stale = Path((marks / "s").read_text())
    assert stale.is_dir()
    assert str(stale) in registered_worktrees(repo)

    if next_start == "resume":
        run_id = next((repo / ".tether" / "runs").iterdir()).name
        finished = tether(repo, "resume", run_id)
    else:
        finished = tether(repo, "run", "crash")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert not stale.exists()
    assert registered_worktrees(repo) == [str(repo.resolve())]
    assert list(worktree_root(repo).iterdir()) == []


# --- who owns the worktree root (issue #12.2) ---------------------------------------


def _planted_by_another_user(folder: Path) -> None:
    folder.mkdir(parents=True)
    os.chown(folder, 65534, 65534)  # nobody: another local user got there first
    folder.chmod(0o777)


def _planted_open(folder: Path) -> None:
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)


def _planted_symlink(folder: Path) -> None:
    elsewhere = folder.parent.parent / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.symlink_to(elsewhere)


@pytest.mark.parametrize(
    ("plant", "level", "reason"),
    [
        pytest.param(
            _planted_by_another_user,
            "top",
            "belongs to uid 65534",
            marks=pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root"),
        ),
        (_planted_open, "top", "has mode 755"),
        (_planted_open, "workspace", "has mode 755"),
        (_planted_symlink, "workspace", "not a plain folder"),
    ],
)
async def test_a_worktree_root_that_is_not_ours_alone_is_refused(
    repo: Path,
    marks: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    plant: Any,
    level: str,
    reason: str,
) -> None:
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir(mode=0o700)
    monkeypatch.setattr("tempfile.tempdir", str(shared_tmp))
    root = worktree_root(repo)
    plant(root.parent if level == "top" else root)
    state = await run_in(repo, isolated_step("s", "record_workspace", marks=str(marks)))
    step = state.steps["s"]
    assert step.status == "failed"
    assert "refusing to put snapshot worktrees there" in (step.error or "")
    assert reason in (step.error or "")
    assert not marks.exists()  # the step's code never ran
    assert registered_worktrees(repo) == [str(repo.resolve())]


async def test_fresh_worktree_roots_are_created_private(
    repo: Path, marks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir(mode=0o700)
    monkeypatch.setattr("tempfile.tempdir", str(shared_tmp))
    state = await run_in(repo, isolated_step("s", "record_workspace", marks=str(marks)))
    assert state.steps["s"].status == "succeeded", state.steps["s"].error
    root = worktree_root(repo)
    for folder in (root.parent, root):
        info = folder.lstat()
        assert (info.st_uid, info.st_mode & 0o777) == (os.getuid(), 0o700)
