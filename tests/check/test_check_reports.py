"""Reading each check tool's machine-readable output into lines an agent can act on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tether.project.environment import find_environment
from tether.workflows import check_reports

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="2" skipped="1" tests="6">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="1"/>
<testcase classname="tests.test_a" name="test_bad[2]" file="tests/test_a.py" line="4">
  <failure message="AssertionError: totals differ&#10;assert 3 == 4">long traceback</failure>
</testcase>
<testcase classname="tests.test_a.TestGroup" name="test_method" file="tests/test_a.py" line="9">
  <failure message="assert False">traceback</failure>
</testcase>
<testcase classname="tests.test_b" name="test_fixture" file="tests/test_b.py" line="2">
  <error message="failed on setup with &quot;KeyError: 'x'&quot;">trace</error>
</testcase>
<testcase classname="tests.test_b" name="test_later" file="tests/test_b.py" line="7">
  <skipped message="not yet"/>
</testcase>
<testcase classname="tests.test_b" name="test_fine" file="tests/test_b.py" line="9"/>
</testsuite></testsuites>
"""


def test_junit_names_each_failing_test_with_its_first_message_line(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    report = check_reports.read_junit(path)
    assert report is not None
    assert report.errors == [
        "tests/test_a.py::test_bad[2]: AssertionError: totals differ",
        "tests/test_a.py::TestGroup::test_method: assert False",
        "tests/test_b.py::test_fixture: failed on setup with \"KeyError: 'x'\"",
    ]
    assert (report.total_errors, report.passed) == (3, 2)
    assert check_reports.read_junit(tmp_path / "missing.xml") is None


def test_ruff_json_becomes_path_line_code_message(tmp_path: Path) -> None:
    text = json.dumps(
        [
            {
                "filename": str(tmp_path / "pkg" / "a.py"),
                "location": {"row": 3, "column": 1},
                "code": "F401",
                "message": "`os` imported but unused",
            },
            {"filename": "b.py", "location": {"row": 1}, "code": None, "message": "bad syntax"},
        ]
    )
    report = check_reports.read_ruff_json(text, tmp_path)
    assert report is not None
    assert report.errors == [
        "pkg/a.py:3: F401 `os` imported but unused",
        "b.py:1: syntax-error bad syntax",
    ]
    assert check_reports.read_ruff_json("not json", tmp_path) is None


def test_mypy_notes_never_stand_in_for_errors(tmp_path: Path) -> None:
    lines = [
        {"file": "m.py", "line": 2, "severity": "note", "message": "see here", "code": None},
        {"file": "m.py", "line": 5, "severity": "error", "message": "bad", "code": "arg-type"},
        "Success: no issues found",
    ]
    text = "\n".join(json.dumps(line) if isinstance(line, dict) else line for line in lines)
    report = check_reports.read_mypy_json(text, tmp_path)
    assert report.errors == ["m.py:5: arg-type bad"]


def test_tsc_errors_and_npm_first_error_lines() -> None:
    tsc = "src/a.ts(3,5): error TS2322: Type 'string' is not assignable to type 'number'.\n"
    assert check_reports.read_tsc(tsc).errors == [
        "src/a.ts:3: TS2322 Type 'string' is not assignable to type 'number'."
    ]
    npm = "> x@1 test\n> node test.js\n\nok 1 adds\nnot ok 2 subtracts\n  Error: 1 !== 2\n"
    assert check_reports.first_error_lines(npm, 5) == ["not ok 2 subtracts", "Error: 1 !== 2"]


def test_uv_and_pdm_environments_are_found_where_their_files_say(
    tmp_path: Path, project_venv: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "uv.lock").write_text("version = 1\n")
    (workspace / "envs").mkdir()
    (workspace / "envs" / "dev").symlink_to(project_venv, target_is_directory=True)
    environ = {"UV_PROJECT_ENVIRONMENT": "envs/dev", "PATH": os.environ.get("PATH", "")}
    found = find_environment(workspace, env=environ)
    assert (found.python, found.fallback) == (str(workspace / "envs/dev/bin/python"), False)
    assert found.origin == "uv's UV_PROJECT_ENVIRONMENT envs/dev"
    assert found.script("pytest") == str(workspace / "envs/dev/bin/pytest")

    other = tmp_path / "pdm"
    other.mkdir()
    (other / ".pdm-python").write_text(f"{project_venv / 'bin' / 'python'}\n")
    found = find_environment(other, env={"PATH": os.environ.get("PATH", "")})
    assert found.origin == "pdm's .pdm-python"
    assert found.script("mypy") == str(project_venv / "bin" / "mypy")
    assert found.site_dirs and all("project-env" in str(path) for path in found.site_dirs)

    bare = tmp_path / "bare"
    bare.mkdir()
    assert find_environment(bare, env={}).fallback  # and every caller says so


def test_poetry_and_hatch_are_asked_only_when_the_project_uses_them(
    tmp_path: Path, project_venv: Path
) -> None:
    """Stand-ins for the two managers on PATH answer where the environment is, and log
    each call: a project without their files never has them asked."""
    tools = tmp_path / "bin"
    tools.mkdir()
    calls = tmp_path / "calls"
    for name in ("poetry", "hatch"):
        script = tools / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\necho {project_venv}\n')
        script.chmod(0o755)
    environ = {"PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}

    poetry = tmp_path / "poetry-project"
    poetry.mkdir()
    (poetry / "pyproject.toml").write_text('[tool.poetry]\nname = "p"\n')
    found = find_environment(poetry, env=environ)
    assert (found.origin, found.python) == (
        "poetry's environment",
        str(project_venv / "bin/python"),
    )

    hatch = tmp_path / "hatch-project"
    hatch.mkdir()
    (hatch / "hatch.toml").write_text("[envs.default]\n")
    assert find_environment(hatch, env=environ).origin == "hatch's environment"

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "pyproject.toml").write_text('[project]\nname = "plain"\n')
    assert find_environment(plain, env=environ).fallback
    assert calls.read_text().splitlines() == ["poetry env info --path", "hatch env find default"]
