"""Benchmark: what `tether run check` adds to the project's own test run.

A generated project whose pytest suite takes about 10 s (40 tests of CPU work, about
0.25 s each) uses this repository's environment as its configured interpreter; pytest
plugin autoloading is off for both sides. Alternating, ROUNDS times each:
`pytest -q` run directly in the project, and `tether run check` (a real CLI process: start,
workflow load, the five check steps, junit parsing, journal, summary). Prints one JSON
object: each side's wall times, their medians and the ratio of medians (goal <= 1.1).

    .venv/bin/python tests/benchmarks/check_overhead.py [ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

BIN = Path(sys.executable).parent
TESTS = 40
WORK_PER_TEST = 1_100_000  # loop iterations: about 0.25 s of one core here

TEST_FILE = f"""
import pytest


@pytest.mark.parametrize("seed", range({TESTS}))
def test_work(seed: int) -> None:
    total = 0
    for i in range({WORK_PER_TEST}):
        total += (i * seed) % 7
    assert total >= 0
"""


def make_project(root: Path) -> None:
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "slow"\nversion = "1"\n\n[tool.pytest.ini_options]\n'
        'testpaths = ["tests"]\n'
    )
    (root / "tests" / "test_work.py").write_text(TEST_FILE)
    (root / ".tether").mkdir()
    (root / ".tether" / "config.toml").write_text(f'interpreter = "{sys.executable}"\n')


def timed(argv: list[str], cwd: Path, env: dict[str, str], expect: str) -> float:
    start = time.perf_counter()
    completed = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        # Its own session, as tether gives each step's process: with the kernel's session
        # autogroups a new session gets its own CPU share, which on a loaded machine
        # would otherwise favour check's pytest over the directly run one.
        start_new_session=True,
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{argv[0]} exited {completed.returncode}:\n{completed.stdout[-2000:]}")
    if expect not in completed.stdout:  # both sides really ran every test
        raise SystemExit(f"{argv[0]}: {expect!r} not in its output:\n{completed.stdout[-2000:]}")
    return elapsed


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "slow"
        make_project(project)
        pytest_argv = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"]
        check_argv = [str(BIN / "tether"), "run", "check"]
        pytest_runs: list[float] = []
        check_runs: list[float] = []
        for _ in range(rounds):
            pytest_runs.append(timed(pytest_argv, project, env, f"{TESTS} passed in"))
            check_runs.append(timed(check_argv, project, env, f"{TESTS} passed · python"))
    pytest_median = statistics.median(pytest_runs)
    check_median = statistics.median(check_runs)
    print(
        orjson.dumps(
            {
                "rounds": rounds,
                "tests": TESTS,
                "pytest_wall_s": [round(value, 2) for value in pytest_runs],
                "check_wall_s": [round(value, 2) for value in check_runs],
                "pytest_median_s": round(pytest_median, 2),
                "check_median_s": round(check_median, 2),
                "ratio": round(check_median / pytest_median, 3),
                "ratios": [round(c / p, 3) for c, p in zip(check_runs, pytest_runs, strict=True)],
                "cpus": os.cpu_count(),
                "load_1min": round(os.getloadavg()[0], 2),
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
    )


if __name__ == "__main__":
    main()
