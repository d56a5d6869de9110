"""No step process outlives its step or its owner, and nothing else is ever killed.

- a descendant that leaves the session (setsid) dies with its step;
- an owner SIGKILLed at any instant of a 16-way parallel spawn leaves nothing that the
  next owner cannot find (the record is written before the fork);
- a planted `process-groups/...` file never gets an unrelated process killed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.engine.conftest import RunWorkflow
from tests.helpers import process_alive
from tether.engine.orphans import GROUPS_DIR, TOKEN_ENV, reap_orphans
from tether.engine.platform import LockHeld, RunLock
from tether.engine.runs import reap_abandoned_runs

ROOT = Path(__file__).resolve().parents[2]


async def test_a_descendant_that_calls_setsid_dies_with_its_step(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    pid_file = tmp_path / "escapee.pid"
    escapee = (
        "import os, time; os.setsid(); "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    script = f'{sys.executable} -c \\"$$0\\" & while [ ! -s {pid_file} ]; do sleep 0.02; done'
    outcome = await run_workflow(f"""
[[steps]]
id = "escape"
kind = "command"
run = ["sh", "-c", "{script}", "{escapee}"]
timeout = "20s"
""")
    assert outcome.step("escape").status == "succeeded", outcome.step("escape").error
    escapee_pid = int(pid_file.read_text())
    assert not process_alive(escapee_pid), "a setsid descendant outlived its step"


def test_sigkill_during_a_parallel_spawn_never_leaves_processes_behind(tmp_path: Path) -> None:
    trials = 24
    survivors: dict[int, list[int]] = {}
    rng = random.Random(11)
    session = f"{os.getpid() % 100000:05d}"
    for trial in range(trials):
        workspace = tmp_path / f"ws{trial}"
        marker = f"{700 + trial}.{session}"  # unique to this test session
        owner = _start_spawning_owner(workspace, marker, steps=16)
        try:
            assert owner.stdout is not None
            assert owner.stdout.readline().strip() == b"go"
            # The targeted instant: somewhere in the fork/record window of the 16 spawns.
            time.sleep(rng.uniform(0.0, 0.25))
            owner_cmdline = psutil.Process(owner.pid).cmdline()
            owner.send_signal(signal.SIGKILL)
            owner.wait(timeout=30)
        finally:
            if owner.returncode is None:
                owner.kill()
        _wait_until_unlocked(workspace)
        _wait_until_forks_have_exec(owner_cmdline)
        reap_abandoned_runs(workspace)
        left = _still_running(_sleepers(marker))
        if left:
            survivors[trial] = left
            for pid in left:
                os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes left behind in trials {sorted(survivors)}"


def test_a_planted_process_record_never_kills_an_unrelated_process(tmp_path: Path) -> None:
    run_dir = tmp_path / ".tether" / "runs" / "planted-1"
    (run_dir / GROUPS_DIR).mkdir(parents=True)
    other_run = tmp_path / "elsewhere"
    token = "0123456789abcdef0123456789abcdef"
    # An unrelated process, in its own group; even one carrying another run's token.
    victim = subprocess.Popen(
        ["sleep", "60"],
        start_new_session=True,
        env={**os.environ, TOKEN_ENV: f"{other_run}#{token}"},
        stdin=subprocess.DEVNULL,
    )
    try:
        start_time = _start_time(victim.pid)
        # The old format (pgid -> leader start time), correct in every detail ...
        (run_dir / GROUPS_DIR / str(victim.pid)).write_text(start_time)
        # ... and the current one, naming the victim's token.
        (run_dir / GROUPS_DIR / token).write_text("{}")
        assert reap_orphans(run_dir) == []
        assert process_alive(victim.pid), "a planted record got an unrelated process killed"
        assert not list((run_dir / GROUPS_DIR).iterdir())  # the records are dropped
    finally:
        victim.kill()
        victim.wait()


def _start_spawning_owner(workspace: Path, marker: str, steps: int) -> subprocess.Popen[bytes]:
    folder = workspace / ".tether" / "workflows"
    folder.mkdir(parents=True)
    body = "".join(
        f'[[steps]]\nid = "s{i}"\nkind = "command"\n'
        f'run = ["sh", "-c", "sleep {marker} & exec sleep {marker}"]\n'
        for i in range(steps)
    )
    (folder / "spawn.toml").write_text(f"max_parallel = {steps}\n" + body)
    program = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from tether.engine.execution import Execution
        from tether.engine.loader import load_workflow
        from tether.steps.registry import builtin_kinds

        async def main():
            workspace = Path({str(workspace)!r})
            kinds = builtin_kinds()
            spec = load_workflow(workspace / ".tether/workflows/spawn.toml", kinds)
            execution = Execution.new(spec, {{}}, workspace, kinds)
            print("go", flush=True)
            await execution.run()

        asyncio.run(main())
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-c", program],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=env,
        cwd=workspace,
    )


def _wait_until_unlocked(workspace: Path) -> None:
    """A child forked but not yet exec'd holds a copy of the dead owner's lock for an
    instant; the successor would skip the run and reap it next time. Wait for that."""
    (run,) = (workspace / ".tether" / "runs").iterdir()
    deadline = time.monotonic() + 10
    while True:
        try:
            with RunLock(run / "lock"):
                return
        except LockHeld:
            assert time.monotonic() < deadline, "the dead owner's lock was never released"
            time.sleep(0.01)


def _wait_until_forks_have_exec(owner_cmdline: list[str]) -> None:
    """A child the owner forked just before dying may not have exec'd yet (it still runs
    the owner's program, without its step's token); a successor arriving microseconds
    later would miss it, one arriving at any human pace would not. Wait for the exec."""
    deadline = time.monotonic() + 10
    while any(
        process.info["cmdline"] == owner_cmdline for process in psutil.process_iter(["cmdline"])
    ):
        assert time.monotonic() < deadline, "a fork of the dead owner never exec'd"
        time.sleep(0.01)


def _sleepers(marker: str) -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.info["cmdline"] == ["sleep", marker] and process.info["status"] != "zombie":
            found.append(process.pid)
    return found


def _still_running(pids: list[int]) -> list[int]:
    """Those of `pids` not gone within 5 s (SIGKILL is delivered, not awaited, by kill)."""
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=5)
    return [process.pid for process in alive if process_alive(process.pid)]


def _start_time(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rsplit(b")", 1)[1].split()[19].decode()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux only")
async def test_an_orphaned_descendant_is_reparented_to_the_owner_not_init(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    pid_file = tmp_path / "orphan.pid"
    # The subshell starts `sleep` and exits at once: `sleep` is orphaned mid-step.
    script = (
        f"(sleep 30 & echo $$! > {pid_file}); while [ ! -s {pid_file} ]; do sleep 0.01; done; "
        f"awk '{{print $$4}}' /proc/$$(cat {pid_file})/stat"
    )
    outcome = await run_workflow(f"""
[[steps]]
id = "orphan"
kind = "command"
run = "{script}"
shell = true
timeout = "20s"
""")
    step = outcome.step("orphan")
    assert step.status == "succeeded", step.error
    assert int(step.output["text"].split()[-1]) == os.getpid()  # the owner adopted it
    assert not process_alive(int(pid_file.read_text()))
