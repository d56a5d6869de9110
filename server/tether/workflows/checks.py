"""The built-in `check` workflow's steps: run each quality tool the workspace uses.

A tool the workspace does not use (no configuration for it) is skipped with the reason,
so `tether run check` works unchanged in any project. Tools run from the project's own
environment (tether.project.environment); pytest and mypy never fall back to tether's own
unless no project environment exists at all, and every result names the interpreter.
Each tool is asked for machine-readable output (check_reports) so that a failure names
failing test ids with their assertion messages, or `path:line: code message`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed, StepSkipped
from tether.project.environment import ProjectEnvironment, find_environment
from tether.project.files import (
    ProjectFileError,
    read_package_json,
    read_pyproject,
    tool_table,
)
from tether.steps.process import ProcessResult, run_process
from tether.workflows import check_reports

FIRST_ERRORS = 10
"""Errors (or failing tests) a failure lists; the count says how many there were."""
_PYTEST_NO_TESTS = 5


@dataclass(frozen=True)
class _Project:
    workspace: Path
    pyproject: dict[str, Any]
    environment: ProjectEnvironment
    target: str

    @property
    def narrowed(self) -> bool:
        """True when `-p target=` limits the check to part of the workspace."""
        return self.target not in ("", ".")


async def _project(ctx: StepContext) -> _Project:
    from tether.config import load_config

    workspace = ctx.workspace

    def read() -> _Project:
        try:
            pyproject = read_pyproject(workspace)
        except ProjectFileError as error:
            raise StepFailed(str(error)) from None
        config, _problems = load_config(workspace)
        environment = find_environment(workspace, config.interpreter)
        return _Project(workspace, pyproject, environment, str(ctx.inputs.get("target", ".")))

    project = await asyncio.to_thread(read)
    if project.narrowed and not (workspace / project.target).exists():
        raise StepFailed(f"target {project.target}: no such file or folder in {workspace}")
    return project


def _python_tool(project: _Project, tool: str) -> str:
    """The project environment's `tool`. Missing, it fails the step (saying where it
    looked): the project uses the tool, so a check that could not run it vouches for
    nothing, and another environment's copy would not see the project's packages."""
    found = project.environment.script(tool)
    if found is None:
        raise StepFailed(
            f"{tool} is configured but not installed in the project's environment "
            f"({project.environment.describe()}): install it there"
        )
    return found


def _standalone_tool(project: _Project, tool: str) -> str:
    """A tool that need not import the project (ruff, npm): its environment, then PATH."""
    found = project.environment.script(tool) or shutil.which(tool)
    if found is None:
        raise StepSkipped(
            f"{tool} is configured but not installed (not in the project's environment or on PATH)"
        )
    return found


def _passed(story: str, project: _Project, executable: str) -> dict[str, Any]:
    summary = f"{story} · {_using(project, executable)}"
    return {"exit_code": 0, "summary": summary, "interpreter": project.environment.python}


def _using(project: _Project, executable: str) -> str:
    in_env = Path(executable).parent == project.environment.scripts_dir
    if in_env:
        return project.environment.describe()
    return f"{executable} (from PATH; {project.environment.describe()})"


def _fail(
    tool: str, story: str, errors: Sequence[str], total: int, project: _Project, executable: str
) -> StepFailed:
    """A multi-line failure: the story and what ran it, then the first errors one a line."""
    shown = list(errors[:FIRST_ERRORS])
    if total > len(shown):
        shown.append(f"... and {total - len(shown)} more")
    head = f"{tool}: {story} · {_using(project, executable)}"
    return StepFailed("\n".join([head, *shown]))


async def _run(ctx: StepContext, argv: list[str], project: _Project) -> ProcessResult:
    env = _tool_env(project.environment)
    return await run_process(
        ctx, argv, cwd=project.workspace, env=env, kill_grace=ctx.step.kill_grace
    )


def _tool_env(environment: ProjectEnvironment) -> dict[str, str]:
    """The project environment's scripts first on PATH, as if it were activated."""
    if environment.fallback:
        return {}
    scripts = str(environment.scripts_dir)
    path = os.environ.get("PATH", "")
    return {"PATH": f"{scripts}{os.pathsep}{path}" if path else scripts}


def _unexpected(tool: str, result: ProcessResult, project: _Project, executable: str) -> StepFailed:
    lines = [line for line in result.tail.splitlines() if line.strip()]
    errors = check_reports.first_error_lines(result.tail, FIRST_ERRORS) or lines[-FIRST_ERRORS:]
    return _fail(tool, f"exited {result.exit_code}", errors, len(errors), project, executable)


async def ruff(ctx: StepContext) -> dict[str, Any]:
    project = await _project(ctx)
    workspace = project.workspace
    configured = tool_table(project.pyproject, "ruff") is not None or any(
        (workspace / name).exists() for name in ("ruff.toml", ".ruff.toml")
    )
    if not configured:
        raise StepSkipped("ruff is not used here (no [tool.ruff] or ruff.toml)")
    executable = _standalone_tool(project, "ruff")
    with _scratch_file(ctx, "ruff", ".json") as report_path:
        argv = [
            executable,
            "check",
            "--no-fix",
            "--output-format",
            "json",
            "--output-file",
            str(report_path),
            project.target or ".",
        ]
        result = await _run(ctx, argv, project)
        text = report_path.read_text(encoding="utf-8", errors="replace")
    report = check_reports.read_ruff_json(text, workspace) if text.strip() else None
    if result.exit_code == 0:
        return _passed("no problems", project, executable)
    if report is None or not report.errors:
        raise _unexpected("ruff", result, project, executable)
    raise _fail(
        "ruff",
        f"{report.total_errors} problem(s)",
        report.errors,
        report.total_errors,
        project,
        executable,
    )


async def mypy(ctx: StepContext) -> dict[str, Any]:
    project = await _project(ctx)
    workspace = project.workspace
    table = tool_table(project.pyproject, "mypy")
    configured = table is not None or any(
        (workspace / name).exists() for name in ("mypy.ini", ".mypy.ini")
    )
    if not configured:
        raise StepSkipped("mypy is not used here (no [tool.mypy] or mypy.ini)")
    executable = _python_tool(project, "mypy")
    argv = [executable, "--output", "json", "--no-error-summary"]
    if project.narrowed or not (table and (table.get("files") or table.get("packages"))):
        argv.append(project.target or ".")
    result = await _run(ctx, argv, project)
    if result.exit_code == 0:
        return _passed("no errors", project, executable)
    report = check_reports.read_mypy_json(result.tail, workspace)
    if not report.errors:
        raise _unexpected("mypy", result, project, executable)
    raise _fail(
        "mypy",
        f"{report.total_errors} error(s)",
        report.errors,
        report.total_errors,
        project,
        executable,
    )


async def pytest(ctx: StepContext) -> dict[str, Any]:
    project = await _project(ctx)
    workspace = project.workspace
    configured = (
        (tool_table(project.pyproject, "pytest") is not None)
        or (workspace / "pytest.ini").exists()
        or (workspace / "conftest.py").exists()
        or (workspace / "tests").is_dir()
    )
    if not configured:
        raise StepSkipped("pytest is not used here (no [tool.pytest], pytest.ini or tests/)")
    executable = _python_tool(project, "pytest")
    with _scratch_file(ctx, "pytest", ".xml") as junit:
        argv = [
            executable,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit1",
        ]
        if project.narrowed:
            argv.append(project.target)
        result = await _run(ctx, argv, project)
        report = check_reports.read_junit(junit)
    if result.exit_code == _PYTEST_NO_TESTS:
        where = f" in {project.target}" if project.narrowed else ""
        raise StepSkipped(f"pytest collected no tests{where}")
    if result.exit_code == 0:
        passed = report.passed if report and report.passed is not None else "all"
        return _passed(f"{passed} passed", project, executable)
    if report is None or not report.errors:
        raise _unexpected("pytest", result, project, executable)
    story = f"{report.total_errors} failed, {report.passed or 0} passed"
    raise _fail("pytest", story, report.errors, report.total_errors, project, executable)


async def npm_test(ctx: StepContext) -> dict[str, Any]:
    project = await _project(ctx)
    package = _package(project.workspace)
    scripts = package.get("scripts")
    script = scripts.get("test") if isinstance(scripts, dict) else None
    if not isinstance(script, str) or "no test specified" in script:
        raise StepSkipped("npm test is not used here (no package.json with a test script)")
    executable = _standalone_tool(project, "npm")
    result = await _run(ctx, [executable, "test", "--silent"], project)
    if result.exit_code == 0:
        return _passed("passed", project, executable)
    raise _unexpected("npm test", result, project, executable)


async def tsc(ctx: StepContext) -> dict[str, Any]:
    project = await _project(ctx)
    workspace = project.workspace
    package = _package(workspace)
    declared: dict[str, Any] = {}
    for group in ("dependencies", "devDependencies"):
        table = package.get(group)
        if isinstance(table, dict):
            declared.update(table)
    if not (workspace / "tsconfig.json").exists() or "typescript" not in declared:
        raise StepSkipped("TypeScript is not used here (no tsconfig.json with typescript)")
    compiler = workspace / "node_modules" / ".bin" / "tsc"
    if not compiler.exists():
        raise StepSkipped("typescript is declared but not installed: run npm install")
    result = await _run(ctx, [str(compiler), "--noEmit", "--pretty", "false"], project)
    if result.exit_code == 0:
        return _passed("no errors", project, str(compiler))
    report = check_reports.read_tsc(result.tail)
    if not report.errors:
        raise _unexpected("tsc", result, project, str(compiler))
    raise _fail(
        "tsc",
        f"{report.total_errors} error(s)",
        report.errors,
        report.total_errors,
        project,
        str(compiler),
    )


def _package(workspace: Path) -> dict[str, Any]:
    try:
        return read_package_json(workspace)
    except ProjectFileError as error:
        raise StepFailed(str(error)) from None


@contextlib.contextmanager
def _scratch_file(ctx: StepContext, tool: str, suffix: str) -> Any:
    """A fresh file in the run directory for a tool's report, removed afterwards."""
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"{tool}-", suffix=suffix, dir=ctx.run_dir)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
