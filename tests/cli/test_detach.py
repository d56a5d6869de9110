"""Detached runs: a budget bounds the wait, never the work. Real `tether` processes, real
detached owners, real signals."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from tests.cli.test_runs import Workspace, last_line
from tests.helpers import pair_workflow
from tether.engine.journal import read_events
from tether.engine.platform import group_alive, lock_owner

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX sessions and signals")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def command_workflow(ws: Workspace, name: str, script: str, *, header: str = "") -> None:
    """A workflow of one command step running `script` in the workspace."""
    ws.write(
        name,
        f"""
[[steps]]
id = "work"
kind = "command"
run = ["sh", "-c", {orjson.dumps(script).decode()}]
""",
        header=header,
    )


def argv_of(continuation: str) -> list[str]:
    """The printed continuation as an argv for this interpreter's tether."""
    argv = shlex.split(continuation)
    assert argv[:2] == ["tether", "resume"], continuation
    return argv[1:]


def timed(
    ws: Workspace, *args: str, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = ws.tether(*args, timeout=timeout)
    return done, time.monotonic() - started


def owner_pid(ws: Workspace, run_id: str) -> int:
    owner = lock_owner(ws.runs_dir() / run_id / "lock")
    assert owner is not None and owner.pid is not None, "the run has a live owner"
    return owner.pid


def wait_for(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.02)


def test_a_12s_step_driven_with_3s_budgets_runs_once_and_succeeds(ws: Workspace) -> None:
    command_workflow(ws, "long", "echo start >> marker.txt; sleep 12; echo done")
    began = time.monotonic()
    done, took = timed(ws, "run", "long", "--budget", "3s")
    invocations = [(done.returncode, took)]
    while done.returncode == 3:
        assert took <= 3 + 1, f"an invocation took {took:.2f}s with a 3 s budget"
        continuation = last_line(done.stdout)
        assert continuation.endswith("--budget 3s"), continuation
        done, took = timed(ws, *argv_of(continuation))
        invocations.append((done.returncode, took))
        assert len(invocations) < 20, invocations
    total = time.monotonic() - began
    assert done.returncode == 0, (done.stdout, done.stderr, invocations)
    assert took <= 3 + 1, invocations
    assert (ws.root / "marker.txt").read_text() == "start\n", "the step ran exactly once"
    assert total < 12 + 3, f"total {total:.1f}s: {invocations}"
    assert len(invocations) >= 4, invocations


def test_killing_the_cli_with_its_process_group_leaves_the_run_going(ws: Workspace) -> None:
    command_workflow(ws, "long", "echo start >> marker.txt; sleep 3; echo done")
    cli = subprocess.Popen(
        ws.command("run", "long", "--budget", "60s"),
        cwd=ws.root,
        env=ws.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a chat tool runs it
    )
    assert cli.stdout is not None
    run_id = None
    for line in cli.stdout:
        if found := re.search(r"run (\S+) started", line):
            run_id = found[1]
        if "work: started" in line:
            break
    assert run_id is not None
    wait_for((ws.root / "marker.txt").exists)  # the step's own code is running
    os.killpg(cli.pid, signal.SIGKILL)
    cli.communicate()
    assert cli.returncode == -signal.SIGKILL

    done, _ = timed(ws, "resume", run_id, "--budget", "60s")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert f"run {run_id} (long): succeeded" in done.stdout
    assert (ws.root / "marker.txt").read_text() == "start\n", done.stdout


FIRST_THEN_SECOND = pair_workflow(before_b="echo $$$$ >> pids.txt; ")  # $$ is tether's escape for $


def test_a_killed_owner_is_seen_stopped_and_resumed_without_orphans(ws: Workspace) -> None:
    ws.write("pair", FIRST_THEN_SECOND)
    done, _ = timed(ws, "run", "pair", "--budget", "1s")
    assert done.returncode == 3, (done.stdout, done.stderr)
    run_id = last_line(done.stdout).split()[2]
    pids = ws.root / "pids.txt"
    wait_for(pids.exists)
    first_b = int(pids.read_text().split()[0])
    # A waiter, attached now or a moment later: either way it must see the owner gone.
    waiter = ws.popen("resume", run_id, "--budget", "60s")
    os.kill(owner_pid(ws, run_id), signal.SIGKILL)

    stdout, stderr = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, (stdout, stderr)
    assert f"run {run_id} (pair): succeeded" in stdout
    assert (ws.root / "marker.txt").read_text().splitlines() == ["a", "b", "b"], (
        "a finished before the crash and never ran again; b ran again"
    )
    # The dead owner's step (its own process group) was reaped, not orphaned. (A zombie
    # re-parented to an init that never reaps does not count: group_alive skips it.)
    assert not group_alive(first_b)


def test_a_dead_owners_run_shows_as_stopped_with_its_continuation(ws: Workspace) -> None:
    command_workflow(ws, "long", "sleep 60")
    done, _ = timed(ws, "run", "long", "--budget", "0.5s")
    run_id = last_line(done.stdout).split()[2]
    os.kill(owner_pid(ws, run_id), signal.SIGKILL)
    wait_for(lambda: ws.json("show", run_id)["status"] == "paused")
    shown = ws.json("show", run_id)
    assert shown["resume_command"] == f"tether resume {run_id} --budget 50s"
    assert ws.tether("cancel", run_id).returncode == 0


def test_two_waiters_on_one_run_both_see_the_end(ws: Workspace) -> None:
    command_workflow(ws, "long", "sleep 3; echo done")
    done, _ = timed(ws, "run", "long", "--budget", "0.5s")
    assert done.returncode == 3
    run_id = last_line(done.stdout).split()[2]
    waiters = [ws.popen("resume", run_id, "--budget", "60s") for _ in range(2)]
    results = [waiter.communicate(timeout=60) for waiter in waiters]
    assert [waiter.returncode for waiter in waiters] == [0, 0], results
    for stdout, _stderr in results:
        assert f"run {run_id} (long): succeeded" in stdout


def test_a_reused_pid_does_not_make_a_dead_run_look_live(ws: Workspace) -> None:
    command_workflow(ws, "long", "sleep 60")
    done, _ = timed(ws, "run", "long", "--budget", "0.3s")
    run_id = last_line(done.stdout).split()[2]
    os.kill(owner_pid(ws, run_id), signal.SIGKILL)
    wait_for(lambda: lock_owner(ws.runs_dir() / run_id / "lock") is None)
    # The dead owner's pid now names another live process (here: this test's).
    (ws.runs_dir() / run_id / "lock").write_text(str(os.getpid()))
    assert [(r["status"], r["live"]) for r in ws.json("runs")] == [("paused", False)]
    shown = ws.tether("show", run_id)
    assert "live in process" not in shown.stdout
    assert last_line(shown.stdout) == f"tether resume {run_id} --budget 50s"
    assert ws.tether("cancel", run_id).stdout.strip() == f"run {run_id} cancelled"


def test_the_workflow_timeout_holds_across_a_kill_and_a_resume(ws: Workspace) -> None:
    command_workflow(ws, "slow", "sleep 60", header='timeout = "3s"')
    done, _ = timed(ws, "run", "slow", "--budget", "0.2s")
    run_id = last_line(done.stdout).split()[2]
    time.sleep(1.5)  # the step is silent: no event is written while it runs
    killed = time.time()
    os.kill(owner_pid(ws, run_id), signal.SIGKILL)
    done, _ = timed(ws, "resume", run_id, "--budget", "30s")
    assert done.returncode == 1, (done.stdout, done.stderr)
    events = list(read_events(ws.runs_dir() / run_id / "events.jsonl"))
    started = next(e.ts for e in events if e.type == "run_started")
    resumed = next(e.ts for e in events if e.type == "run_resumed")
    finished = events[-1]
    assert finished.type == "run_finished" and finished.data["status"] == "timed_out"
    active = (killed - started) + (finished.ts - resumed)
    assert active <= 3.5, f"ran {active:.2f}s in all under a 3 s timeout"
    assert finished.data["active_ms"] <= 3500


def test_check_with_a_budget_in_a_loop_runs_pytest_once(ws: Workspace) -> None:
    """tether's own `check` on a project whose tests take longer than the budget."""
    (ws.root / "tests").mkdir()
    (ws.root / "tests" / "test_slow.py").write_text(
        "import time\nfrom pathlib import Path\n\n\n"
        "def test_slow():\n"
        "    with (Path(__file__).parent.parent / 'pytest-runs.txt').open('a') as out:\n"
        "        out.write('run\\n')\n"
        "    time.sleep(5)\n"
    )
    done, took = timed(ws, "run", "check", "--budget", "2s")
    rounds = 1
    while done.returncode == 3:
        assert took <= 2 + 1, took
        done, took = timed(ws, *argv_of(last_line(done.stdout)))
        rounds += 1
        assert rounds < 30
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "succeeded  pytest" in done.stdout
    assert (ws.root / "pytest-runs.txt").read_text() == "run\n", "pytest ran once"
    assert rounds >= 2


def test_detach_alone_returns_at_once_and_on_budget_pause_keeps_the_old_way(
    ws: Workspace,
) -> None:
    command_workflow(ws, "long", "sleep 2; echo done")
    done, took = timed(ws, "run", "long", "--detach")
    assert done.returncode == 3 and took < 5, (done.stdout, done.stderr)
    run_id = done.stdout.split()[1]
    assert last_line(done.stdout) == f"tether resume {run_id} --budget 50s"
    done, _ = timed(ws, *argv_of(last_line(done.stdout)))
    assert done.returncode == 0

    paused = ws.json("run", "long", "--budget", "0.3s", "--on-budget", "pause")
    assert paused["status"] == "paused"
    assert paused["resume_command"] == f"tether resume {paused['run_id']} --budget 0.3s"


def test_bad_on_budget_is_a_usage_error(ws: Workspace) -> None:
    done = ws.tether("run", "long", "--budget", "1s", "--on-budget", "later")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--on-budget" in done.stderr


def test_resume_of_an_unknown_run_is_one_line(ws: Workspace) -> None:
    done = ws.tether("resume", "nope", "--budget", "1s")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("tether: error: no run 'nope'")


def test_ctrl_c_while_only_waiting_stops_the_wait_not_the_run(ws: Workspace) -> None:
    ws.write(
        "two",
        """
[[steps]]
id = "a"
kind = "command"
run = ["sleep", "1"]

[[steps]]
id = "b"
kind = "command"
needs = ["a"]
run = ["sh", "-c", "sleep 3; echo b >> marker.txt"]
""",
    )
    done, _ = timed(ws, "run", "two", "--budget", "0.3s")
    assert done.returncode == 3, (done.stdout, done.stderr)
    run_id = last_line(done.stdout).split()[2]
    waiter = ws.popen("resume", run_id, "--budget", "60s")  # stdin is not a terminal
    assert waiter.stdout is not None
    for line in waiter.stdout:
        if "b: started" in line:
            break
    waiter.send_signal(signal.SIGINT)
    stdout, stderr = waiter.communicate(timeout=30)
    assert waiter.returncode == 130, (stdout, stderr)
    assert stderr.strip() == f"stopped waiting; run {run_id} goes on"
    assert last_line(stdout) == f"tether resume {run_id} --budget 60s"
    done, _ = timed(ws, *argv_of(last_line(stdout)))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert (ws.root / "marker.txt").read_text() == "b\n", "b ran once, to its end"


def test_ctrl_c_at_a_terminal_stops_the_run_this_invocation_started(ws: Workspace) -> None:
    import pty

    command_workflow(ws, "long", "echo start >> marker.txt; sleep 30; echo done >> marker.txt")
    controller, terminal = pty.openpty()
    try:
        cli = subprocess.Popen(
            ws.command("run", "long", "--budget", "60s"),
            cwd=ws.root,
            env=ws.env(),
            stdin=terminal,  # a person at a terminal (progress still goes to a pipe)
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert cli.stdout is not None
        for line in cli.stdout:
            if "work: started" in line:
                break
        wait_for((ws.root / "marker.txt").exists)
        cli.send_signal(signal.SIGINT)
        stdout, stderr = cli.communicate(timeout=30)
    finally:
        os.close(controller)
        os.close(terminal)
    assert cli.returncode == 130, (stdout, stderr)
    run_id = last_line(stdout).split()[2]
    shown = ws.json("show", run_id)
    assert shown["status"] == "paused", shown  # stopped, resumable, not running on
    assert (ws.root / "marker.txt").read_text() == "start\n"
