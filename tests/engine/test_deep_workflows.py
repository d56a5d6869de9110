"""Workflow files that are deep or long get a one-line error (or just work), never a
RecursionError; and one bad file never hides the others from `tether workflows`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tether.engine.errors import WorkflowError
from tether.engine.loader import load_workflow
from tether.steps.registry import builtin_kinds


def _step(index: int, needs: int | None) -> str:
    need = f'needs = ["s{needs}"]\n' if needs is not None else ""
    return f'[[steps]]\nid = "s{index}"\nkind = "command"\nrun = ["true"]\n{need}'


def test_a_reverse_ordered_chain_of_a_thousand_steps_loads(tmp_path: Path) -> None:
    count = 1000
    path = tmp_path / "chain.toml"
    path.write_text("".join(_step(i, i + 1 if i + 1 < count else None) for i in range(count)))
    spec = load_workflow(path, builtin_kinds())
    assert len(spec.steps) == count


def test_a_five_thousand_step_cycle_is_one_line(tmp_path: Path) -> None:
    count = 5000
    path = tmp_path / "cycle.toml"
    path.write_text("".join(_step(i, (i + 1) % count) for i in range(count)))
    with pytest.raises(WorkflowError, match="dependency cycle: s0 -> s1") as caught:
        load_workflow(path, builtin_kinds())
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 500


def test_five_thousand_levels_of_toml_nesting_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n" + _step(0, None))
    with pytest.raises(WorkflowError, match="nested too deeply"):
        load_workflow(path, builtin_kinds())


def test_nesting_within_the_parser_limit_but_too_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(_step(0, None) + "inputs = " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(WorkflowError, match="levels deep; at most 64"):
        load_workflow(path, builtin_kinds())


def test_one_bad_file_never_hides_the_others(tmp_path: Path) -> None:
    folder = tmp_path / ".tether" / "workflows"
    folder.mkdir(parents=True)
    (folder / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    count = 5000
    (folder / "cycle.toml").write_text("".join(_step(i, (i + 1) % count) for i in range(count)))
    (folder / "good.toml").write_text(_step(0, None))
    result = subprocess.run(
        [sys.executable, "-m", "tether", "workflows", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    listed = {entry["name"]: entry for entry in orjson.loads(result.stdout)}
    assert "good" in listed and not listed["good"].get("error")
    assert "nested too deeply" in listed["deep"]["error"]
    assert "dependency cycle" in listed["cycle"]["error"]
