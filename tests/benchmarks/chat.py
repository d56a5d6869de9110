"""The chat end-to-end scenarios with the real Claude Code CLI, timed; and the size of the
largest non-terminal `tether run`/`resume` output. Prints one JSON object.

Each scenario of tests/chat runs REPEAT times on a fresh fixture project (wall time of the
whole scenario: project setup, Claude Code, tether). Output sizes: the largest tether
run/resume output any scenario's model received, and the output of a workflow built to
print far more than the bound (120 failing steps, 8 lines of 250 characters each), run
directly and (scenario b_190k_workflow) through Claude Code.

Run: .venv/bin/python tests/benchmarks/chat.py [REPEAT]   (needs `make claude-code`)
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "server"), str(ROOT)]

from tests.chat import test_build_loop_in_claude_code as build  # noqa: E402
from tests.chat import test_long_check_in_claude_code as long_check  # noqa: E402
from tests.chat import test_skills_in_claude_code as skills  # noqa: E402
from tests.chat.harness import ChatSetup, claude_code, prepare  # noqa: E402
from tests.cli.test_plain_output_bound import LOUD_FAILURE  # noqa: E402
from tests.helpers import tether, write_workflow  # noqa: E402

from tether.cli.render_plain import OUTPUT_LIMIT  # noqa: E402

Scenario = Callable[[ChatSetup], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {
    "a_listing": skills.test_a_listing_has_every_skill_with_its_description,
    "b_check": skills.test_b_check_runs_as_the_skill_prescribes,
    "b_failing_check": skills.test_b_a_failing_check_reaches_the_model_with_no_resume_line,
    "b_190k_workflow": skills.test_b_a_workflow_printing_190k_characters_keeps_its_last_line,
    "c_build_loop": build.test_c_the_build_loop_reaches_succeeded_through_the_printed_commands,
    "d_check_longer_than_budget": (
        long_check.test_d_a_check_longer_than_the_budget_finishes_through_the_continuation
    ),
    "e_docs": skills.test_e_docs_answers_at_the_installed_version,
    "f_permissions_user_invoked": skills.test_f_a_user_invoked_skill_runs_tether_without_a_prompt,
    "f_permissions_model_invoked": skills.test_f_a_model_invoked_skill_runs_tether_without_a_prompt,
}


def tether_outputs(setup: ChatSetup) -> list[int]:
    sizes = []
    for result in setup.results:
        for command, output, _ in result.bash_results():
            if shlex.split(command)[1] in ("run", "resume"):
                sizes.append(len(output))
    return sizes


async def run_scenario(binary: Path, scenario: Scenario) -> tuple[float, list[int]]:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        setup = prepare(binary, Path(folder))
        await scenario(setup)
        return time.perf_counter() - started, tether_outputs(setup)


def loud_output() -> int:
    with tempfile.TemporaryDirectory() as folder:
        write_workflow(Path(folder), "loud", "".join(LOUD_FAILURE.format(n=n) for n in range(120)))
        done = tether(Path(folder), "run", "loud", "--budget", "200s", timeout=240)
        return len(done.stdout)


async def main(repeat: int) -> dict[str, object]:
    binary, why = claude_code()
    if binary is None:
        raise SystemExit(why)
    walls: dict[str, list[float]] = {}
    sizes: list[int] = []
    for _ in range(repeat):
        for name, scenario in SCENARIOS.items():
            wall, outputs = await run_scenario(binary, scenario)
            walls.setdefault(name, []).append(wall)
            sizes += outputs
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "claude_code": subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip(),
        "repeat": repeat,
        "scenario_wall_s": {
            name: {
                "median": round(statistics.median(values), 2),
                "min": round(min(values), 2),
                "max": round(max(values), 2),
            }
            for name, values in walls.items()
        },
        "largest_tether_output_chars_in_scenarios": max(sizes, default=0),
        "loud_workflow_output_chars": loud_output(),
        "output_bound_chars": OUTPUT_LIMIT,
        "issue_goal_chars": 20_000,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)), indent=2))
