"""The built-in `check` workflow's steps: run each quality tool the workspace uses.

A tool the workspace does not use (no configuration for it) or does not have installed is
skipped with the reason, so `tether run check` works unchanged in any project.
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed, StepSkipped
from tether.steps.process import run_process


def _pyproject(workspace: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _tool_table(workspace: Path, name: str) -> dict[str, Any] | None:
    table = _pyproject(workspace).get("tool", {}).get(name)
    return table if isinstance(table, dict) else None


def _executable(workspace: Path, name: str) -> str | None:
    # The workspace's venv, then the environment tether itself runs in, then PATH.
    here = Path(sys.executable).parent
    for folder in (workspace / ".venv" / "bin", workspace / ".venv" / "Scripts", here):
        candidate = folder / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def _package_json(workspace: Path) -> dict[str, Any]:
    try:
        data = json.loads((workspace / "package.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


async def _run_tool(ctx: StepContext, argv: list[str]) -> dict[str, Any]:
    target = ctx.workspace
    result = await run_process(ctx, argv, cwd=target, kill_grace=ctx.step.kill_grace)
    if result.exit_code != 0:
        first = next((line for line in result.tail.splitlines() if line.strip()), "")
        raise StepFailed(f"{Path(argv[0]).name} exited {result.exit_code}: {first[:200]}")
    return {"exit_code": 0, "command": argv, "text": result.tail}


def _require(workspace: Path, tool: str) -> str:
    found = _executable(workspace, tool)
    if found is None:
        raise StepSkipped(f"{tool} is configured but not installed (not in .venv or on PATH)")
    return found


async def ruff(ctx: StepContext) -> dict[str, Any]:
    workspace = ctx.workspace
    configured = _tool_table(workspace, "ruff") is not None or any(
        (workspace / name).exists() for name in ("ruff.toml", ".ruff.toml")
    )
    if not configured:
        raise StepSkipped("ruff is not used here (no [tool.ruff] or ruff.toml)")
    target = str(ctx.inputs.get("target", "."))
    return await _run_tool(ctx, [_require(workspace, "ruff"), "check", target])


async def mypy(ctx: StepContext) -> dict[str, Any]:
    workspace = ctx.workspace
    table = _tool_table(workspace, "mypy")
    configured = table is not None or any(
        (workspace / name).exists() for name in ("mypy.ini", ".mypy.ini")
    )
    if not configured:
        raise StepSkipped("mypy is not used here (no [tool.mypy] or mypy.ini)")
    argv = [_require(workspace, "mypy")]
    if not (table and (table.get("files") or table.get("packages"))):
        argv.append(str(ctx.inputs.get("target", ".")))
    return await _run_tool(ctx, argv)


async def pytest(ctx: StepContext) -> dict[str, Any]:
    workspace = ctx.workspace
    configured = (
        (_tool_table(workspace, "pytest") is not None)
        or (workspace / "pytest.ini").exists()
        or (workspace / "conftest.py").exists()
        or (workspace / "tests").is_dir()
    )
    if not configured:
        raise StepSkipped("pytest is not used here (no [tool.pytest], pytest.ini or tests/)")
    return await _run_tool(ctx, [_require(workspace, "pytest"), "-q", "-p", "no:cacheprovider"])


async def npm_test(ctx: StepContext) -> dict[str, Any]:
    script = _package_json(ctx.workspace).get("scripts", {}).get("test")
    if not isinstance(script, str) or "no test specified" in script:
        raise StepSkipped("npm test is not used here (no package.json with a test script)")
    return await _run_tool(ctx, [_require(ctx.workspace, "npm"), "test", "--silent"])


async def tsc(ctx: StepContext) -> dict[str, Any]:
    workspace = ctx.workspace
    package = _package_json(workspace)
    declared = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    if not (workspace / "tsconfig.json").exists() or "typescript" not in declared:
        raise StepSkipped("TypeScript is not used here (no tsconfig.json with typescript)")
    compiler = workspace / "node_modules" / ".bin" / "tsc"
    if not compiler.exists():
        raise StepSkipped("typescript is declared but not installed: run npm install")
    return await _run_tool(ctx, [str(compiler), "--noEmit"])
