"""`tether run check` on a real project with its own venv: from anywhere in it, with the
project's tools, and a summary an agent can act on (issue: check tells the truth)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.check.conftest import FIXTURE, break_split, tether

# A test only the project's own interpreter passes: tether's environment has tether.
ONLY_IN_THE_PROJECT_ENV = """
import importlib.util


def test_runs_in_the_projects_own_environment() -> None:
    assert importlib.util.find_spec("tether") is None
"""


def runs_of(root: Path) -> list[str]:
    runs = root / ".tether" / "runs"
    return sorted(path.name for path in runs.iterdir()) if runs.is_dir() else []


def test_from_a_subdirectory_the_whole_project_is_checked(
    project: Callable[[str], Path], env: dict[str, str]
) -> None:
    root = project(".venv")
    (root / "tests" / "test_env.py").write_text(ONLY_IN_THE_PROJECT_ENV)
    result = tether(root / "money", env, "run", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    python = f"python {root / '.venv' / 'bin' / 'python'} (.venv/ in the workspace)"
    assert "succeeded  pytest" in result.stdout
    assert f"15 passed · {python}" in result.stdout
    assert f"no problems · {python}" in result.stdout  # ruff
    assert f"no errors · {python}" in result.stdout  # mypy
    assert not (root / "money" / ".tether").exists()  # no stray workspace in the subfolder
    assert len(runs_of(root)) == 1  # the run is the project's: visible from the root
    listed = tether(root, env, "runs")
    assert runs_of(root)[0] in listed.stdout


def test_a_venv_folder_named_venv_is_the_projects_environment(
    project: Callable[[str], Path], env: dict[str, str]
) -> None:
    root = project("venv")
    (root / "tests" / "test_env.py").write_text(ONLY_IN_THE_PROJECT_ENV)
    activated = {**env, "VIRTUAL_ENV": str(root / "venv")}
    result = tether(root, activated, "run", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"15 passed · python {root / 'venv' / 'bin' / 'python'} (venv/ in the workspace)" in (
        result.stdout
    )


def test_an_unparsable_pyproject_is_a_configuration_error(
    project: Callable[[str], Path], env: dict[str, str]
) -> None:
    root = project(".venv")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', "version = 0.1.0"))
    result = tether(root / "tests", env, "run", "check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"tether: error: {pyproject}:3: not valid TOML: "
        "Expected newline or end of document after a statement (column 14)"
    )
    assert result.stdout == ""
    assert runs_of(root) == []  # refused before any run started


def test_nothing_to_check_is_not_a_pass(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "notes"\nversion = "1"\n')
    (root / "README.md").write_text("Just notes.\n")
    result = tether(root, env, "run", "check")
    assert result.returncode == 5, result.stdout + result.stderr
    summary = result.stdout.splitlines()
    first = next(line for line in summary if line.startswith("nothing to check here: "))
    for reason in (
        "ruff: ruff is not used here",
        "mypy: mypy is not used here",
        "pytest: pytest is not used here",
        "npm-test: npm test is not used here",
        "tsc: TypeScript is not used here",
    ):
        assert reason in first


def test_failing_tests_are_named_with_their_assertion_messages(
    project: Callable[[str], Path], env: dict[str, str]
) -> None:
    root = project(".venv")
    break_split(root)
    # A warning in the output must not stand in for the failure.
    (root / "tests" / "test_warns.py").write_text(
        "import warnings\n\n\ndef test_warns() -> None:\n"
        '    warnings.warn("this API is deprecated", DeprecationWarning, stacklevel=1)\n'
    )
    (root / "money" / "report.py").write_text(
        "import os\n\n\ndef total(cents: list[int]) -> str:\n    return sum(cents)\n"
    )
    result = tether(root, env, "run", "check")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    python = f"python {root / '.venv' / 'bin' / 'python'} (.venv/ in the workspace)"
    assert f"    error: pytest: 2 failed, 13 passed · {python}" in lines
    assert "    | tests/test_amount.py::test_split_adds_up[3]: assert 999 == 1000" in lines
    assert "    | tests/test_amount.py::test_split_adds_up[7]: assert 994 == 1000" in lines
    assert "    | money/report.py:1: F401 `os` imported but unused" in lines  # ruff
    assert (  # mypy
        '    | money/report.py:5: return-value Incompatible return value type (got "int", '
        'expected "str")'
    ) in lines
    assert "deprecated" not in "\n".join(line for line in lines if "error:" in line)


def test_target_limits_pytest_to_a_folder_or_file(
    project: Callable[[str], Path], env: dict[str, str]
) -> None:
    root = project(".venv")
    break_split(root)  # only tests/test_amount.py fails
    result = tether(root, env, "run", "check", "-p", "target=tests/test_parse.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed · python" in result.stdout  # test_parse.py's 8, not all 14
    whole = tether(root, env, "run", "check")
    assert whole.returncode == 1
    assert "pytest: 2 failed, 12 passed" in whole.stdout


def test_a_configured_tool_missing_from_the_project_env_fails_the_check(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = tmp_path / "money"
    shutil.copytree(FIXTURE, root)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    result = tether(root, env, "run", "check")
    assert result.returncode == 1, result.stdout + result.stderr
    python = f"python {root / 'venv' / 'bin' / 'python'} (venv/ in the workspace)"
    assert (
        f"    error: pytest is configured but not installed in the project's environment "
        f"({python}): install it there"
    ) in result.stdout.splitlines()
    assert "mypy is configured but not installed" in result.stdout
