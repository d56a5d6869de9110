"""Red checks inside `build` fail it; documented knobs do what they say (`required`
parameters, `retry_on_exit`); `tether deps` says when nothing is declared."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from tests.check.conftest import break_split, tether
from tests.cli.test_build_workflow import hand_in


def test_a_red_check_inside_build_fails_the_build_and_says_what_failed(
    project: Callable[[str], Path], env: dict[str, str]
) -> None:
    root = project(".venv")
    (root / ".tether").mkdir()
    (root / ".tether" / "config.toml").write_text("[docs]\noffline = true\n")
    elsewhere = root.parent  # as a chat agent runs it: every printed command carries -C
    started = tether(elsewhere, env, "run", "build", "-p", "prompt=Split amounts", "-C", str(root))
    assert started.returncode == 3, started.stdout + started.stderr
    implementing, _ = hand_in(started, "1. simplify Amount.split", elsewhere, env)
    assert "implement is waiting for a result" in implementing.stdout
    break_split(root)  # the "implementation" loses cents
    finished, _ = hand_in(implementing, "Simplified Amount.split", elsewhere, env)
    assert finished.returncode == 1, finished.stdout + finished.stderr
    lines = finished.stdout.splitlines()
    assert any("(build): failed — failed: check" in line for line in lines)
    assert "    error: checks failing: pytest" in lines
    assert any(line.startswith("    | pytest: 2 failed, 12 passed · python ") for line in lines)
    assert "    | tests/test_amount.py::test_split_adds_up[3]: assert 999 == 1000" in lines
    assert any(line.startswith("  skipped    review") for line in lines)


def test_build_without_its_required_prompt_is_a_usage_error(
    tmp_path: Path, env: dict[str, str]
) -> None:
    result = tether(tmp_path, env, "run", "build")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "workflow 'build' needs 'prompt': give -p prompt=..." in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / ".tether" / "runs").exists()  # no failed run to resume
    blank = tether(tmp_path, env, "run", "build", "-p", "prompt=  ")
    assert blank.returncode == 2


def test_retry_on_exit_retries_a_command_that_exits_with_a_listed_code(
    tmp_path: Path, env: dict[str, str]
) -> None:
    workflows = tmp_path / ".tether" / "workflows"
    workflows.mkdir(parents=True)
    # Fails with exit 1 on its first two attempts (a flaky suite), then passes.
    flaky = (
        "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; "
        'echo "attempt $n"; [ $n -ge 3 ]'
    )
    (workflows / "flaky.toml").write_text(
        "[[steps]]\n"
        'id = "test"\n'
        'kind = "command"\n'
        "shell = true\n"
        f"run = '{flaky}'\n"  # a TOML literal string
        'retries = { attempts = 3, initial = "0s", max = "0s" }\n'
        "retry_on_exit = [1]\n"
    )
    result = tether(tmp_path, env, "run", "flaky")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded  test" in result.stdout and "3 attempt(s)" in result.stdout
    (tmp_path / "count").unlink()
    (workflows / "flaky.toml").write_text(
        (workflows / "flaky.toml").read_text().replace("retry_on_exit = [1]", "retry_on_exit = [2]")
    )
    unlisted = tether(tmp_path, env, "run", "flaky")
    assert unlisted.returncode == 1
    assert "1 attempt(s)" in unlisted.stdout  # exit 1 is not listed: no retry


def test_retry_on_exit_must_be_a_list_of_non_zero_codes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    workflows = tmp_path / ".tether" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.toml").write_text(
        '[[steps]]\nid = "x"\nkind = "command"\nrun = ["true"]\nretry_on_exit = "1"\n'
    )
    result = tether(tmp_path, env, "run", "bad")
    assert result.returncode == 2
    assert "retry_on_exit: must be a list of non-zero exit codes" in result.stderr


def test_deps_says_so_when_nothing_is_declared(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "bare"\nversion = "1"\n')
    result = tether(tmp_path, env, "deps")
    assert result.returncode == 0
    assert result.stdout.startswith(f"no dependencies declared in {tmp_path} (read: ")


def test_a_printed_command_names_the_interpreter_it_used(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Without any project environment, check says it used tether's own interpreter."""
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\n")
    (tmp_path / "ok.py").write_text("VALUE = 1\n")
    result = tether(tmp_path, env, "run", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    own = f"python {sys.executable} (no project environment found: tether's own)"
    assert own in result.stdout, result.stdout
