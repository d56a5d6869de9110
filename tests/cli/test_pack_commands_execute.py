"""Every `tether ...` command the skill pack names (Claude skills, Cursor rule and commands,
the AGENTS.md section) executes as written in a fixture project: placeholders filled in
the way an agent would, run through a shell, and none is a usage error or a crash."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.cli.test_skillpack import COMMANDS
from tests.helpers import shell

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "calc_project"
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b")


def filled(command: str, run_id: str) -> str:
    """The command as an agent would type it here: every placeholder replaced."""
    for name, value in [
        ("WHAT TO BUILD", "add a subtract function"),
        ("RUN_ID", run_id),
        ("STEP", "plan"),
        ("FILE", f".tether/runs/{run_id}/agent/plan.result.md"),
        ("WORKFLOW", "check"),
        ("LIB", "click"),
        ("QUERY", "command group"),
    ]:
        command = command.replace(name, value)
    left = PLACEHOLDER.findall(command)
    assert not left, f"`{command}`: no value for {left}"
    return command


def order(command: str) -> int:
    """Starting commands first, then continuing the run, cancelling it last."""
    verb = shlex.split(command)[1]
    return {"resume": 1, "cancel": 2}.get(verb, 0)


@pytest.mark.timeout(600)
def test_every_command_in_the_pack_runs_as_written(tmp_path: Path) -> None:
    project = tmp_path / "calc"
    shutil.copytree(FIXTURE, project)
    (project / ".tether").mkdir()
    (project / ".tether" / "config.toml").write_text("[docs]\noffline = true\n")
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("def answer() -> int:\n    return 42\n")
    (project / "tests" / "test_app.py").write_text(
        "from src.app import answer\n\n\ndef test_answer() -> None:\n    assert answer() == 42\n"
    )
    # `-p target=src` narrows pytest to src/: give it a test there (else: nothing to check).
    (project / "src" / "test_answer.py").write_text(
        "from src.app import answer\n\n\ndef test_it() -> None:\n    assert answer() == 42\n"
    )
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "NO_COLOR": "1",
        "TETHER_CACHE_DIR": str(tmp_path / "cache"),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    env.pop("OPENAI_API_KEY", None)
    started = shell('tether run build -p prompt="a waiting run" --budget 50s', project, env)
    assert started.returncode == 3, started.stdout + started.stderr
    run_id = shlex.split(started.stdout.strip().splitlines()[-1])[2]
    result = project / ".tether" / "runs" / run_id / "agent" / "plan.result.md"

    commands = sorted({filled(command, run_id) for _, command in COMMANDS}, key=order)
    outcomes = []
    for command in commands:
        if "--result-file" in command:
            result.write_text("1. add subtract\n")  # the agent's work, then the command
        done = shell(command, project, env)
        outcomes.append((command, done.returncode, done.stdout, done.stderr))
    bad = [
        f"`{command}` exited {code}:\n{out[-1500:]}\n{err[-1500:]}"
        for command, code, out, err in outcomes
        if code not in (0, 3) or "Traceback" in err
    ]
    assert not bad, "\n\n".join(bad)
    assert len(outcomes) >= 15
