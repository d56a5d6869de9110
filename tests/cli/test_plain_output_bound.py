"""Non-terminal output of `tether run` stays within 20,000 characters whatever the workflow
prints, and keeps what a chat agent acts on: the run id and continuation on the first line,
the closing line last (real `tether` processes on generated workflows)."""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.helpers import tether, write_workflow
from tether.cli.render_plain import OUTPUT_LIMIT, bounded_summary
from tether.cli.summary import SummarySections

LOUD_FAILURE = (
    '[[steps]]\nid = "s{n}"\nkind = "command"\ncontinue_on_error = true\n'
    'run = ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do printf \'%0250d\\\\n\' $i; done; exit 1"]\n'
)


def test_many_loud_failures_stay_within_the_limit_and_end_with_what_to_do(
    tmp_path: Path,
) -> None:
    write_workflow(tmp_path, "loud", "".join(LOUD_FAILURE.format(n=n) for n in range(120)))
    result = tether(tmp_path, "run", "loud", "--budget", "200s", timeout=240)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(result.stdout) <= OUTPUT_LIMIT
    run_id = lines[0].split()[lines[0].split().index("run") + 1]
    assert lines[0].endswith(f"on exit 3 continue with: tether resume {run_id} --budget 200s")
    assert f"  ... cut; `tether show {run_id}` has every step" in lines  # the cut says where
    assert "[progress cut here to keep this output short]" in lines
    assert lines[-1].startswith("  failed: fix the failures above")
    # The skills' fallback when output was cut: `show --json` names resume_command within
    # the ~2 KB head that Claude Code keeps of an over-long output.
    shown = tether(tmp_path, "show", run_id, "--json", timeout=240).stdout
    assert len(shown) > 30_000 and 0 < shown.index('"resume_command"') < 2_000


def test_a_huge_instruction_is_cut_and_the_hand_in_command_is_still_last(tmp_path: Path) -> None:
    task = "\n".join(f"line {n}: " + "x" * 90 for n in range(800))  # ~80,000 characters
    steps = "".join(
        f'[[steps]]\nid = "prep{n}"\nkind = "command"\nrun = ["true"]\n' for n in range(60)
    )
    needs = ", ".join(f'"prep{n}"' for n in range(60))
    agent = f'[[steps]]\nid = "ask"\nkind = "agent"\nneeds = [{needs}]\ntask = """{task}"""\n'
    write_workflow(tmp_path, "ask", steps + agent)
    result = tether(tmp_path, "run", "ask", "--budget", "200s", timeout=240)
    assert result.returncode == 3, result.stderr
    assert len(result.stdout) <= OUTPUT_LIMIT
    lines = result.stdout.splitlines()
    words = shlex.split(lines[-1])
    assert words[:2] == ["tether", "resume"] and words[-2] == "--result-file"
    instruction = tmp_path / ".tether" / "runs" / words[2] / "agent" / "ask.md"
    assert f"... (instruction cut; read {instruction})" in lines
    assert "  ask is waiting for a result; read " + str(instruction) in lines
    assert "line 0: " + "x" * 90 in lines  # the instruction's head is printed


def test_the_bound_keeps_status_waiting_and_closing_lines_whole() -> None:
    sections = SummarySections(
        "run r1 (w): waiting after 1s",
        steps=[f"  succeeded  s{n} (1s, 1 attempt(s))" for n in range(1000)],
        waiting=["  ask is waiting for a result; read /i.md"],
        instruction=["x" * 80] * 1000,
        instruction_file="/i.md",
        closing=["tether resume r1 --budget 50s --result-file /r.md"],
    )
    lines = bounded_summary(sections, "r1", 5_000)
    assert sum(len(line) + 1 for line in lines) <= 5_000
    assert lines[0] == sections.status and lines[-1] == sections.closing[0]
    assert sections.waiting[0] in lines
    assert "  ... cut; `tether show r1` has every step" in lines
    assert "... (instruction cut; read /i.md)" in lines
    short = bounded_summary(
        SummarySections("run r1 (w): failed", ["  a"], [], [], None, []), "r1", 50
    )
    assert short == ["run r1 (w): failed", "  a"]
