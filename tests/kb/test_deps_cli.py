"""`tether deps`: through click's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tether.cli.deps_command import deps

SERVER = Path(__file__).resolve().parents[2] / "server"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\ndependencies = ["fakepkg>=1", "httpx[http2]>=0.27"]\n'
        '[dependency-groups]\ndev = ["pytest"]\n'
    )
    (tmp_path / "requirements.txt").write_text("fakepkg\n-r missing.txt\nbad==\n")
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"lodash": "^4.17.0"}}))
    # A project virtualenv with one installed distribution, found like the docs provider does.
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    info = site / "fakepkg-1.2.3.dist-info"
    info.mkdir(parents=True)
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.2.3\n")
    return tmp_path


def test_plain_output_lines_and_problems_on_stderr(workspace: Path) -> None:
    result = CliRunner().invoke(deps, ["-C", str(workspace)])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines == [
        ["fakepkg", ">=1", "1.2.3", "main", "pyproject.toml:3"],
        ["httpx", ">=0.27", "-", "main", "pyproject.toml:3"],
        ["pytest", "-", "-", "dev", "pyproject.toml:5"],
        ["lodash", "^4.17.0", "-", "main", "package.json:1"],
    ]
    problems = result.stderr.splitlines()
    assert problems[0] == "requirements.txt:2: included file not found: missing.txt"
    # The rest of the line is packaging's own explanation, which varies by its version.
    assert problems[1].startswith("requirements.txt:3: invalid requirement 'bad==': ")
    assert len(problems) == 2


def test_json_output_is_one_object(workspace: Path) -> None:
    result = CliRunner().invoke(deps, ["--json", "--directory", str(workspace)])
    assert result.exit_code == 0
    data = orjson.loads(result.stdout)
    assert set(data) == {"dependencies", "problems", "notes"}
    fakepkg = data["dependencies"][0]
    assert fakepkg == {
        "name": "fakepkg",
        "display_name": "fakepkg",
        "ecosystem": "pypi",
        "spec": ">=1",
        "version": "1.2.3",
        "group": "main",
        "source": "pyproject.toml",
        "line": 3,
        "extras": [],
        "marker": None,
        "direct_url": None,
    }
    assert data["dependencies"][1]["extras"] == ["http2"]
    assert data["problems"][0] == {
        "path": "requirements.txt",
        "line": 2,
        "reason": "included file not found: missing.txt",
    }


def test_missing_directory_exits_2_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(deps, ["-C", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert result.stderr == f"tether: error: -C {tmp_path / 'absent'}: not a directory\n"


def test_real_subprocess_json(workspace: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SERVER)}
    env.pop("VIRTUAL_ENV", None)
    completed = subprocess.run(
        [sys.executable, "-m", "tether", "deps", "--json", "-C", str(workspace)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    data = orjson.loads(completed.stdout)
    names = [(d["name"], d["version"]) for d in data["dependencies"]]
    assert names == [("fakepkg", "1.2.3"), ("httpx", None), ("pytest", None), ("lodash", None)]
    assert [p["line"] for p in data["problems"]] == [2, 3]
    assert completed.stderr == b""


def test_real_subprocess_missing_directory(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SERVER)}
    completed = subprocess.run(
        [sys.executable, "-m", "tether", "deps", "-C", str(tmp_path / "absent")],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == b""
    assert completed.stderr.decode().startswith("tether: error: -C ")
    assert completed.stderr.decode().rstrip().endswith(": not a directory")


def test_notes_follow_problems_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    result = CliRunner().invoke(deps, ["-C", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == (
        "note: pyproject.toml: dependencies are dynamic (set by the build backend; not read)\n"
    )
