"""The `agent` step kind: a durable hand-off to the chat agent, and its instruction."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.steps.workflow_files import new_execution
from tether.engine.errors import WorkflowError
from tether.engine.execution import Execution
from tether.engine.loader import load_workflow
from tether.engine.platform import lock_owner
from tether.engine.state import RunState
from tether.steps.registry import builtin_kinds

UPSTREAM = """
[params]
feature = "subtract"

[[steps]]
id = "facts"
kind = "command"
run = ["sh", "-c", "printf 'line one\\nline two'"]
"""

AGENT = """
[[steps]]
id = "do"
kind = "agent"
needs = ["facts"]
task = "Implement ${params.feature}"
inputs = { facts = "${steps.facts.output.text}", whole = "${steps.facts.output}" }
context = { pack = "${run.workspace}/pack.md" }
files = ["src/*.py", "../secrets.txt", "missing.py"]
report = "the files you changed"

[[steps]]
id = "after"
kind = "command"
needs = ["do"]
run = ["echo", "got: ${steps.do.output.result}"]
"""


async def start(workspace: Path, text: str) -> tuple[RunState, Execution]:
    execution = new_execution(workspace, "hand.toml", text, builtin_kinds())
    return await execution.run(), execution


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    (tmp_path / "src" / "b.py").write_text("y = 2\n")
    (tmp_path / "pack.md").write_text("# Context pack\n\nuse `calc.add` like so\n")
    return tmp_path


async def test_an_agent_step_waits_with_an_instruction_naming_everything_it_needs(
    workspace: Path,
) -> None:
    state, execution = await start(workspace, UPSTREAM + AGENT)

    assert state.status == "waiting"
    assert lock_owner(execution.run_dir / "lock") is None
    request = state.steps["do"].waiting
    assert set(request) >= {"instruction_file", "step", "resume", "result_file"}
    assert request["step"] == "do"
    instruction = Path(request["instruction_file"])
    assert instruction == execution.run_dir / "agent" / "do.md"
    text = instruction.read_text()
    assert "## Task\n\nImplement subtract" in text
    assert "use `calc.add` like so" in text and str(workspace / "pack.md") in text
    assert "## Input: facts\n\n```\nline one\nline two\n```" in text
    assert '"exit_code": 0' in text  # a non-text input is shown as JSON
    assert "- `src/a.py`\n- `src/b.py`" in text
    assert "../secrets.txt: outside the workspace (ignored)" in text
    assert "missing.py: no such file yet" in text
    assert "the files you changed" in text
    expected = (
        f"tether resume {state.run_id} --budget 50s -C {workspace.resolve()} "
        f"--result-file {execution.run_dir / 'agent' / 'do.result.md'}"
    )
    assert request["resume"] == expected
    assert f"    {expected}\n" in text


async def test_resuming_with_a_result_completes_the_step_and_the_run(workspace: Path) -> None:
    state, _ = await start(workspace, UPSTREAM + AGENT)
    kinds = builtin_kinds()
    resumed = Execution.resume(workspace, state.run_id, kinds, results={"do": "changed a.py"})
    final = await resumed.run()
    assert final.status == "succeeded"
    assert final.steps["do"].output == {"result": "changed a.py", "via": "agent"}
    assert final.steps["after"].output["text"].strip() == "got: changed a.py"
    assert final.steps["facts"].attempts == 1  # finished steps never run again


async def test_resuming_without_a_result_waits_again(workspace: Path) -> None:
    state, _ = await start(workspace, UPSTREAM + AGENT)
    again = await Execution.resume(workspace, state.run_id, builtin_kinds()).run()
    assert again.status == "waiting"
    assert again.steps["do"].waiting["step"] == "do"


async def test_when_false_skips_the_agent_step(workspace: Path) -> None:
    text = '[[steps]]\nid = "maybe"\nkind = "agent"\ntask = "x"\nwhen = false\n'
    state, execution = await start(workspace, text)
    assert state.status == "succeeded"
    assert state.steps["maybe"].status == "skipped"
    assert not (execution.run_dir / "agent").exists()


def test_agent_options_are_checked_at_load_time(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    kinds = builtin_kinds()
    cases = {
        'task = ""': "needs `task`",
        'task = "x"\ninputs = 3': "inputs: must be a table",
        'task = "x"\nfiles = 3': "files: must be a list",
        'task = "x"\nprompt = "y"': "prompt: unknown field for an agent step",
    }
    for body, message in cases.items():
        path.write_text(f'[[steps]]\nid = "a"\nkind = "agent"\n{body}\n')
        with pytest.raises(WorkflowError, match=message):
            load_workflow(path, kinds)
