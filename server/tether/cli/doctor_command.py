"""`tether doctor`: one screen to paste into a bug report. Every line says ok, warning or
problem, with the fix; the exit status is 1 when there is a problem, else 0.

Never prints a secret: for keys it says only whether the variable is set.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tether.cli.errors import EXIT_FAILED, EXIT_OK
from tether.cli.workspace import resolve_workspace

if TYPE_CHECKING:
    from tether.cli.doctor_checks import Finding

_NAME_WIDTH = 18
_STATUS_WIDTH = 8


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("-C", "directory", default=".", metavar="DIR", help="Workspace directory.")
def doctor(as_json: bool, directory: str) -> None:
    """Check tether's installation, configuration, docs sources and editor setup."""
    from tether.cli.doctor_checks import PROBLEM, WARNING

    workspace = resolve_workspace(directory)
    findings, stuck = run_checks(workspace)
    problems = sum(1 for finding in findings if finding.status == PROBLEM)
    warnings = sum(1 for finding in findings if finding.status == WARNING)
    if as_json:
        from tether.cli.output import print_json

        print_json(
            {
                "workspace": str(workspace),
                "problems": problems,
                "warnings": warnings,
                "checks": [finding.to_json() for finding in findings],
            }
        )
    else:
        click.echo("\n".join(report_lines(workspace, findings, problems, warnings)))
    code = EXIT_FAILED if problems else EXIT_OK
    if stuck:
        # A check gave up on a blocking call (a DNS lookup that stalls): the interpreter
        # would join that worker thread at exit. The report is out; leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def run_checks(workspace: Path) -> tuple[list[Finding], bool]:
    """All checks, the slow ones concurrently, within a few seconds whatever happens; and
    whether a worker thread is still stuck in a call that a check gave up on."""
    from tether.cli import doctor_checks as checks

    config, config_findings = checks.configuration(workspace)

    async def synchronous(function: object, *args: object) -> list[Finding]:
        result: list[Finding] = await checks.in_thread(function, *args)  # type: ignore[arg-type]
        return result

    async def gather() -> list[list[Finding]]:
        return list(
            await asyncio.gather(
                checks.bounded("site-packages", lambda: checks.site_packages(workspace, config)),
                checks.bounded("cache", lambda: synchronous(checks.cache, config)),
                checks.bounded("context7", lambda: checks.context7(config)),
                checks.bounded("llm", lambda: synchronous(checks.llm, config)),
                checks.bounded("workflows", lambda: synchronous(checks.workflows, workspace)),
                checks.bounded("editors", lambda: synchronous(checks.editor_packs, workspace)),
            )
        )

    # Not asyncio.run: it would join a worker thread stuck in a check; ours are daemons and
    # the process exits right after the report.
    loop = asyncio.new_event_loop()
    groups = loop.run_until_complete(gather())
    # httpx resolves names in the loop's default executor; a lookup that stalls stays there.
    try:
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), 0.2))
        stuck = False
    except TimeoutError:
        stuck = True
    findings = checks.versions() + config_findings
    for group in groups:
        findings += group
    return findings, stuck


def report_lines(
    workspace: Path, findings: list[Finding], problems: int, warnings: int
) -> list[str]:
    lines = [f"tether doctor · workspace {workspace}"]
    for finding in findings:
        lines.append(
            f"{finding.status:<{_STATUS_WIDTH}} {finding.name:<{_NAME_WIDTH}} {finding.detail}"
        )
        if finding.fix and finding.status != "ok":
            lines.append(f"{'':<{_STATUS_WIDTH}} {'':<{_NAME_WIDTH}} fix: {finding.fix}")
    verdict = "no problems" if not problems else f"{problems} problem(s)"
    lines.append(f"{verdict}, {warnings} warning(s)")
    return lines
