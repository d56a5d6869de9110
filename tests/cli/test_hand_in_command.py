"""A waiting step has ONE hand-in command: the run's last line and the instruction's
"Run exactly this command" are the same text, budget included, however the run started."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from tests.helpers import shell

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "calc_project"


def test_the_last_line_is_the_instructions_command(tmp_path: Path) -> None:
    project = tmp_path / "calc"
    shutil.copytree(FIXTURE, project)
    (project / ".tether").mkdir()
    (project / ".tether" / "config.toml").write_text("[docs]\noffline = true\n")
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "NO_COLOR": "1",
        "TETHER_CACHE_DIR": str(tmp_path / "cache"),
    }
    env.pop("OPENAI_API_KEY", None)
    done = shell('tether run build -p prompt="add subtract" --budget 50s', project, env)
    for step in ("plan", "implement"):
        assert done.returncode == 3, done.stdout + done.stderr
        last = done.stdout.strip().splitlines()[-1]
        words = shlex.split(last)
        instruction = project / ".tether" / "runs" / words[2] / "agent" / f"{step}.md"
        assert f"    {last}" in instruction.read_text().splitlines()
        assert words[3:5] == ["--budget", "50s"] and words[-2] == "--result-file"
        Path(words[-1]).write_text(f"{step} done\n")
        done = shell(last, project, env)
