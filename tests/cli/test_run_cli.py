"""`tether run` and `tether workflows` as a chat agent sees them: real processes, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.helpers import tether, write_workflow

GOOD_STEP = '[[steps]]\nid = "ok"\nkind = "command"\nrun = ["sh", "-c", "touch ran"]\n'

MALFORMED = {
    "toml-syntax": ("[[steps]\nid = 1\n", "invalid TOML", ":5"),
    "cycle": (
        '[[steps]]\nid = "a"\nkind = "command"\nrun = ["true"]\nneeds = ["b"]\n'
        '[[steps]]\nid = "b"\nkind = "command"\nrun = ["true"]\nneeds = ["a"]\n',
        "dependency cycle",
        ".needs",
    ),
    "unknown-needs": (
        GOOD_STEP + 'needs = ["ghost"]\n',
        "needs unknown step 'ghost'",
        ":9: steps[1] (ok).needs",
    ),
    "duplicate-id": (GOOD_STEP + GOOD_STEP, "duplicate step id 'ok'", ":10: steps[2] (ok).id"),
    "unknown-kind": (
        '[[steps]]\nid = "a"\nkind = "teleport"\n',
        "unknown kind 'teleport'",
        ":7: steps[1] (a).kind",
    ),
    "bad-duration": (GOOD_STEP + 'timeout = "soon"\n', "expected a duration", ".timeout"),
    "missing-run": ('[[steps]]\nid = "a"\nkind = "command"\n', "needs `run`", ".run"),
    "missing-call": ('[[steps]]\nid = "a"\nkind = "python"\n', "needs call", ".call"),
    "bad-template": (
        '[[steps]]\nid = "a"\nkind = "command"\nrun = ["echo", "${params.nope}"]\n',
        "names no declared parameter",
        ":5: steps[1] (a)",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_workflow_exits_2_with_one_line_and_runs_nothing(
    tmp_path: Path, case: str
) -> None:
    text, message, where = MALFORMED[case]
    write_workflow(tmp_path, "bad", GOOD_STEP.replace("ok", "first") + text)
    result = tether(tmp_path, "run", "bad")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tether: error: ")
    assert "bad.toml" in lines[0]
    assert message in lines[0]
    assert where in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ran").exists()
    assert not (tmp_path / ".tether" / "runs").exists()


def test_unknown_workflow_and_unknown_parameter_are_usage_errors(tmp_path: Path) -> None:
    write_workflow(tmp_path, "hello", '[params]\nwho = "x"\n' + GOOD_STEP)
    result = tether(tmp_path, "run", "nope")
    assert result.returncode == 2
    assert "unknown workflow 'nope'" in result.stderr
    assert "hello" in result.stderr
    result = tether(tmp_path, "run", "hello", "-p", "whom=y")
    assert result.returncode == 2
    assert "unknown parameter 'whom'" in result.stderr
    result = tether(tmp_path, "run", "hello", "-p", "novalue")
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr
    result = tether(tmp_path, "run", "hello", "--budget", "later")
    assert result.returncode == 2
    assert not (tmp_path / "ran").exists()


def test_json_output_has_the_brief_shape_and_exit_codes_follow_the_outcome(
    tmp_path: Path,
) -> None:
    write_workflow(
        tmp_path,
        "mixed",
        '[params]\nword = "hi"\n'
        '[[steps]]\nid = "say"\nkind = "command"\nrun = ["echo", "${params.word}"]\n'
        '[[steps]]\nid = "fail"\nkind = "command"\nrun = ["sh", "-c", "echo oops; exit 3"]\n'
        'needs = ["say"]\n',
    )
    result = tether(tmp_path, "run", "mixed", "-p", "word=hello", "--json")
    assert result.returncode == 1
    run = orjson.loads(result.stdout)
    assert set(run) == {"run_id", "workflow", "status", "resume_command", "steps"}
    assert run["workflow"] == "mixed"
    assert run["status"] == "failed"
    assert run["resume_command"] == f"tether resume {run['run_id']} --budget 50s"
    say, fail = run["steps"]
    assert set(say) == {"id", "status", "attempts", "duration_ms", "output", "partial", "error"}
    assert say["status"] == "succeeded"
    assert say["partial"] == ["hello"]
    assert say["output"]["exit_code"] == 0
    assert fail["status"] == "failed"
    assert fail["error"] == "exit code 3: oops"


def test_plain_output_names_failures_with_their_first_lines(tmp_path: Path) -> None:
    write_workflow(
        tmp_path,
        "lint",
        '[[steps]]\nid = "lint"\nkind = "command"\n'
        'run = ["sh", "-c", "echo a.py:1: E501 line too long; echo a.py:9: F401 unused; exit 1"]\n',
    )
    result = tether(tmp_path, "run", "lint")
    assert result.returncode == 1
    assert "| a.py:1: E501 line too long" in result.stdout
    assert "| a.py:9: F401 unused" in result.stdout
    # Exit 1 offers no resume (it would repeat the failure); it says what to do instead.
    assert "tether resume" not in result.stdout.split("\n", 1)[1]
    assert result.stdout.strip().splitlines()[-1].startswith("  failed: fix the failures above")


def test_a_budget_pause_exits_3_and_the_last_line_is_the_resume_command(tmp_path: Path) -> None:
    write_workflow(
        tmp_path, "slow", '[[steps]]\nid = "s"\nkind = "command"\nrun = ["sleep", "5"]\n'
    )
    result = tether(tmp_path, "run", "slow", "--budget", "300ms", "--on-budget", "pause")
    assert result.returncode == 3
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("tether resume slow-") and last.endswith("--budget 0.3s")


def test_workflows_lists_builtins_and_project_overrides(tmp_path: Path) -> None:
    write_workflow(tmp_path, "check", 'description = "project check"\n' + GOOD_STEP)
    result = tether(tmp_path, "workflows", "--json")
    assert result.returncode == 0
    rows = {row["name"]: row for row in orjson.loads(result.stdout)}
    assert rows["check"]["description"] == "project check"
    assert rows["check"]["source"] == ".tether/workflows/check.toml"
    assert rows["prewarm"]["source"] == "builtin"


def test_the_builtin_check_skips_tools_a_workspace_does_not_use(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    (tmp_path / "good.py").write_text("VALUE = 1\n")
    result = tether(tmp_path, "run", "check", "--json")
    run = orjson.loads(result.stdout)
    statuses = {step["id"]: step["status"] for step in run["steps"]}
    assert statuses["ruff"] == "succeeded", run
    assert statuses["mypy"] == statuses["pytest"] == statuses["tsc"] == "skipped"
    assert result.returncode == 0
    (tmp_path / "bad.py").write_text("import os\n")
    result = tether(tmp_path, "run", "check")
    assert result.returncode == 1
    assert "error: ruff: 1 problem(s)" in result.stdout
    assert "| bad.py:1: F401 `os` imported but unused" in result.stdout


def test_version_and_workflows_never_import_the_language_server_stack(tmp_path: Path) -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['tether', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('tether', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('pygls', 'lsprotocol', 'rich', 'httpx', 'diskcache')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "print('IMPORTED', bad, file=sys.stderr)\n"
    )
    for args in (["--version"], ["workflows"]):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "IMPORTED []" in result.stderr, (args, result.stderr)


def test_a_pipe_gets_plain_lines_and_never_imports_rich(tmp_path: Path) -> None:
    write_workflow(tmp_path, "hello", GOOD_STEP)
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['tether', 'run', 'hello']\n"
        "try:\n    runpy.run_module('tether', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('RICH', 'rich' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert "RICH False" in result.stderr
    assert "ok: succeeded" in result.stdout


def test_a_terminal_gets_a_live_table(tmp_path: Path) -> None:
    import pty

    write_workflow(tmp_path, "hello", GOOD_STEP)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tether", "run", "hello"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=30) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "hello" in screen and "step" in screen and "status" in screen
    assert "succeeded" in screen
    assert "\x1b[" in screen  # drawn with terminal control sequences, not plain lines


def test_an_llm_step_without_a_model_or_fallback_fails_at_load(tmp_path: Path) -> None:
    write_workflow(
        tmp_path,
        "ask",
        GOOD_STEP + '[[steps]]\nid = "ask"\nkind = "llm"\nprompt = "hi"\nneeds = ["ok"]\n',
    )
    result = tether(tmp_path, "run", "ask")
    assert result.returncode == 2, result.stderr
    assert "ask.toml" in result.stderr and "llm" in result.stderr
    assert not (tmp_path / "ran").exists()
