"""`tether runs`, `show`, `cancel` and `resume` as a chat agent calls them: real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

SERVER = Path(__file__).resolve().parents[2] / "server"

# The python steps the workflows below call; written into each workspace.
STEPS_PY = """
import asyncio
from pathlib import Path


def _log(ctx, text):
    with Path(ctx.inputs["log"]).open("a") as log:
        log.write(text + "\\n")


async def work(ctx):
    ctx.on_cleanup(lambda: _log(ctx, f"cleanup {ctx.step.id}"))
    _log(ctx, f"start {ctx.step.id} heartbeat={ctx.last_heartbeat}")
    ctx.heartbeat({"cursor": ctx.attempt})
    ctx.emit(f"partial from {ctx.step.id}")
    await asyncio.sleep(float(ctx.inputs.get("seconds", 0)))
    if ctx.inputs.get("fail"):
        raise RuntimeError(f"{ctx.step.id} broke")
    _log(ctx, f"done {ctx.step.id}")
    return {"step": ctx.step.id, "attempt": ctx.attempt}


async def side_effect(ctx):
    await asyncio.sleep(float(ctx.inputs["before"]))
    with Path(ctx.inputs["file"]).open("a") as out:
        out.write(ctx.step.id + "\\n")
    await asyncio.sleep(float(ctx.inputs["after"]))
    return ctx.step.id
"""


def step(
    step_id: str,
    seconds: float = 0.0,
    needs: tuple[str, ...] = (),
    *,
    fail: bool = False,
    extra: str = "",
) -> str:
    needs_list = ", ".join(f'"{n}"' for n in needs)
    failing = ", fail = true" if fail else ""
    return f"""
[[steps]]
id = "{step_id}"
kind = "python"
call = "wsteps:work"
needs = [{needs_list}]
inputs = {{ log = "${{params.log}}", seconds = "{seconds}"{failing}{extra} }}
"""


class Workspace:
    """A workspace directory with workflows, and the `tether` CLI run in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "log.txt"
        root.mkdir(parents=True, exist_ok=True)
        (root / "wsteps.py").write_text(STEPS_PY)

    def write(self, name: str, body: str, *, header: str = "") -> None:
        folder = self.root / ".tether" / "workflows"
        folder.mkdir(parents=True, exist_ok=True)
        text = f'{header}\n[params]\nlog = "{self.log}"\n{body}'
        (folder / f"{name}.toml").write_text(text)

    def env(self) -> dict[str, str]:
        path = os.pathsep.join([str(SERVER), os.environ.get("PYTHONPATH", "")])
        return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tether", *args]

    def tether(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str) -> Any:
        done = self.tether(*args, "--json")
        assert done.stderr == "", done.stderr
        return orjson.loads(done.stdout)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def count(self, prefix: str) -> int:
        return sum(line.startswith(prefix) for line in self.lines())

    def runs_dir(self) -> Path:
        return self.root / ".tether" / "runs"


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The CLI's contract for bad input: exit 2, exactly one line on stderr, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tether: error: "), done.stderr
    return lines[0]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


RUN_KEYS = {"run_id", "workflow", "status", "resume_command", "steps"}
STEP_KEYS = {"id", "status", "attempts", "duration_ms", "output", "partial", "error"}
SUMMARY_KEYS = {"run_id", "workflow", "status", "age_seconds", "duration_ms", "live"}


def test_show_json_and_runs_json_match_the_brief(ws: Workspace) -> None:
    ws.write("done", step("a") + step("b", needs=("a",), fail=True))
    ws.write("slow", step("a") + step("b", 3, ("a",)))
    finished = ws.json("run", "done")
    paused = ws.json("run", "slow", "--budget", "0.5s", "--on-budget", "pause")

    # show --json is exactly the object the run printed.
    shown = ws.json("show", finished["run_id"])
    assert shown == finished
    assert set(shown) == RUN_KEYS
    assert shown["workflow"] == "done"
    assert shown["status"] == "failed"
    assert shown["resume_command"] == f"tether resume {finished['run_id']} --budget 50s"
    a, b = shown["steps"]
    assert set(a) == STEP_KEYS and set(b) == STEP_KEYS
    assert (a["id"], a["status"], a["attempts"], a["error"]) == ("a", "succeeded", 1, None)
    assert a["output"] == {"step": "a", "attempt": 1}
    assert a["partial"] == ["partial from a"]
    assert isinstance(a["duration_ms"], int) and a["duration_ms"] >= 0
    assert (b["id"], b["status"], b["output"]) == ("b", "failed", None)
    assert b["error"] == "RuntimeError: b broke"
    assert b["partial"] == ["partial from b"]

    shown_paused = ws.json("show", paused["run_id"])
    assert paused["resume_command"] == f"tether resume {paused['run_id']} --budget 0.5s"
    assert shown_paused["resume_command"] == f"tether resume {paused['run_id']} --budget 50s"
    assert {k: v for k, v in shown_paused.items() if k != "resume_command"} == {
        k: v for k, v in paused.items() if k != "resume_command"
    }
    assert [s["status"] for s in shown_paused["steps"]] == ["succeeded", "cancelled"]

    listed = ws.json("runs")
    assert [r["run_id"] for r in listed] == [paused["run_id"], finished["run_id"]], "newest first"
    for row, expected in zip(listed, [paused, finished], strict=True):
        assert set(row) == SUMMARY_KEYS
        assert row["workflow"] == expected["workflow"]
        assert row["status"] == expected["status"]
        assert row["live"] is False
        assert isinstance(row["age_seconds"], float) and 0 <= row["age_seconds"] < 60
        assert isinstance(row["duration_ms"], int) and 0 <= row["duration_ms"] < 10_000
    assert 400 <= listed[0]["duration_ms"] <= 3000, "the paused run ran for its 0.5s budget"


def test_runs_and_show_as_text(ws: Workspace) -> None:
    assert ws.tether("runs").stdout.strip() == "no runs"
    ws.write("done", step("a") + step("b", needs=("a",), fail=True))
    run_id = ws.json("run", "done")["run_id"]
    listing = ws.tether("runs").stdout.splitlines()
    assert listing[0].split() == ["RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION"]
    assert listing[1].split()[:3] == [run_id, "done", "failed"]
    text = ws.tether("show", run_id).stdout
    assert "a: succeeded" in text and '{"step":"a","attempt":1}' in text
    assert "error:   RuntimeError: b broke" in text
    assert "| partial from b" in text
    assert last_line(text) == f"tether resume {run_id} --budget 50s"


HOSTILE = ["../x", "/etc/passwd", "", "ABC", "a" * 129, "..", "a/../../b", ".x", "x y"]


@pytest.mark.parametrize("command", ["resume", "show", "cancel"])
def test_hostile_run_ids_are_refused_before_touching_the_disk(tmp_path: Path, command: str) -> None:
    ws = Workspace(tmp_path / "empty")
    before = sorted(ws.root.rglob("*"))
    processes = [ws.popen(command, run_id) for run_id in HOSTILE]  # at once: faster
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        assert "invalid run id" in one_error_line(done)
    assert sorted(ws.root.rglob("*")) == before
    assert not (ws.root / ".tether").exists()


def test_unknown_run(ws: Workspace) -> None:
    for command in ("resume", "show", "cancel"):
        assert "no run 'nope'" in one_error_line(ws.tether(command, "nope"))


def test_damaged_journal_is_one_clear_line(ws: Workspace) -> None:
    ws.write("slow", step("a") + step("b", 3, ("a",)))
    run_id = ws.json("run", "slow", "--budget", "0.3s", "--on-budget", "pause")["run_id"]
    journal = ws.runs_dir() / run_id / "events.jsonl"
    lines = journal.read_bytes().split(b"\n")
    lines[1] = b"{garbage"
    journal.write_bytes(b"\n".join(lines))
    for command in ("show", "resume", "cancel"):
        line = one_error_line(ws.tether(command, run_id))
        assert f"{journal}:2: damaged journal line" in line
    listed = ws.json("runs")
    assert listed[0]["run_id"] == run_id


def test_torn_last_line_does_not_stop_show_or_resume(ws: Workspace) -> None:
    ws.write("slow", step("a") + step("b", 3, ("a",)))
    run_id = ws.json("run", "slow", "--budget", "0.3s", "--on-budget", "pause")["run_id"]
    journal = ws.runs_dir() / run_id / "events.jsonl"
    with journal.open("ab") as out:
        out.write(b'{"seq": 99, "type": "step_sta')
    assert ws.json("show", run_id)["status"] == "paused"
    ws.write("slow", step("a") + step("b", 0, ("a",)))
    assert ws.tether("resume", run_id).returncode == 0
    assert ws.json("show", run_id)["status"] == "succeeded"


def test_workflow_changed_refuses_then_force_reruns(ws: Workspace) -> None:
    ws.write("slow", step("a") + step("b", 3, ("a",)))
    run_id = ws.json("run", "slow", "--budget", "0.3s", "--on-budget", "pause")["run_id"]
    ws.write("slow", step("a", extra=', edited = "yes"') + step("b", 0, ("a",)))
    line = one_error_line(ws.tether("resume", run_id))
    assert "finished step(s) a changed" in line and "--force" in line
    forced = ws.tether("resume", run_id, "--force")
    assert forced.returncode == 0, forced.stderr
    assert ws.count("start a") == 2 and ws.count("done b") == 1


def test_resume_of_a_succeeded_run_runs_nothing(ws: Workspace) -> None:
    ws.write("quick", step("a"))
    run_id = ws.json("run", "quick")["run_id"]
    again = ws.tether("resume", run_id)
    assert again.returncode == 0
    assert again.stdout.strip() == f"run {run_id} already succeeded; nothing to run"
    assert ws.count("start a") == 1


def test_result_options_are_checked(ws: Workspace) -> None:
    ws.write("slow", step("a") + step("b", 3, ("a",)))
    run_id = ws.json("run", "slow", "--budget", "0.3s", "--on-budget", "pause")["run_id"]
    line = one_error_line(ws.tether("resume", run_id, "--result", "x"))
    assert "no step of run" in line and "waiting for a result" in line
    answer = ws.root / "answer.txt"
    answer.write_text("x")
    assert "not both" in one_error_line(
        ws.tether("resume", run_id, "--result", "x", "--result-file", str(answer))
    )
    assert "--result-file" in one_error_line(
        ws.tether("resume", run_id, "--result-file", str(ws.root / "missing.txt"))
    )
    assert ws.count("start b") == 1, "nothing ran"


def test_cancel_paused_run_and_finished_run(ws: Workspace) -> None:
    ws.write("slow", step("a") + step("b", 3, ("a",)))
    run_id = ws.json("run", "slow", "--budget", "0.3s", "--on-budget", "pause")["run_id"]
    cancelled = ws.tether("cancel", run_id)
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == f"run {run_id} cancelled"
    shown = ws.json("show", run_id)
    assert shown["status"] == "cancelled"
    line = one_error_line(ws.tether("cancel", run_id))
    assert "already finished: cancelled" in line
    # Cancelled is resumable: resuming finishes it.
    ws.write("slow", step("a") + step("b", 0, ("a",)))
    assert ws.tether("resume", run_id).returncode == 0
    assert ws.json("show", run_id)["status"] == "succeeded"


def test_old_runs_are_pruned_beyond_keep_but_never_live_ones(ws: Workspace) -> None:
    from tether.engine.platform import RunLock

    ws.write("quick", step("a"))
    (ws.root / ".tether" / "config.toml").write_text("[runs]\nkeep = 2\n")
    ids = [ws.json("run", "quick")["run_id"] for _ in range(4)]
    # Each run prunes before it starts: the fourth found three and kept the two newest.
    assert [r["run_id"] for r in ws.json("runs")] == [ids[3], ids[2], ids[1]]
    with RunLock(ws.runs_dir() / ids[1] / "lock"):  # ids[1] is live in this process
        ids.append(ws.json("run", "quick")["run_id"])
        listed = ws.json("runs")
        assert [r["run_id"] for r in listed] == [ids[4], ids[3], ids[2], ids[1]]
        assert [r["live"] for r in listed] == [False, False, False, True]
    ids.append(ws.json("run", "quick")["run_id"])
    assert [r["run_id"] for r in ws.json("runs")] == [ids[5], ids[4], ids[3]]
    assert sorted(path.name for path in ws.runs_dir().iterdir()) == sorted(ids[3:])


def test_pruning_keeps_paused_and_waiting_runs(ws: Workspace) -> None:
    ws.write("quick", step("a"))
    ws.write("slow", step("a") + step("b", 30, ("a",)))
    ws.write("build", '[[steps]]\nid = "implement"\nkind = "agent"\ntask = "write it"\n')
    (ws.root / ".tether" / "config.toml").write_text("[runs]\nkeep = 1\n")
    waiting = ws.tether("run", "build", "--json")
    assert waiting.returncode == 3, waiting.stderr
    waiting_id = orjson.loads(waiting.stdout)["run_id"]
    paused_id = ws.json("run", "slow", "--budget", "0.3s")["run_id"]
    quick = [ws.json("run", "quick")["run_id"] for _ in range(3)]
    listed = {r["run_id"]: r["status"] for r in ws.json("runs")}
    # Each run prunes before it starts: the last kept one finished run, then added itself.
    assert set(listed) == {waiting_id, paused_id, quick[1], quick[2]}
    assert listed[waiting_id] == "waiting"
    assert (ws.runs_dir() / paused_id / "events.jsonl").is_file()


def test_a_bad_runs_setting_is_reported_and_the_default_used(ws: Workspace) -> None:
    ws.write("quick", step("a"))
    (ws.root / ".tether" / "config.toml").write_text('[runs]\ndurability = "sometimes"\n')
    done = ws.tether("run", "quick")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"tether: warning: {ws.root / '.tether' / 'config.toml'}.runs.durability: "
        "'sometimes' is not one of none, step, every-event; using the default 'step'"
    ]
