"""The checks behind `tether doctor`: each returns findings (ok / warning / problem, with
the fix) and none may take more than a couple of seconds, network or not.

Blocking work (site-packages scans, opening the cache) runs in daemon threads so that a
stuck filesystem or interpreter cannot hold up the report: its check just says it timed out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tether.config import TetherConfig
    from tether.project.environment import ProjectEnvironment

logger = logging.getLogger(__name__)

OK = "ok"
WARNING = "warning"
PROBLEM = "problem"

CONTEXT7_PROBE_TIMEOUT = 2.0
"""Seconds the Context7 reachability probe may take, connection included."""
CHECK_TIMEOUT = 3.5
"""Seconds any one check may take before it is reported as timed out."""
_SIZE_SCAN_LIMIT = 20_000
"""Files counted when measuring the cache folder; past it the size is a lower bound."""


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    name: str
    status: str
    """ok, warning or problem."""
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


Check = Callable[[], Awaitable[list[Finding]]]


async def bounded(name: str, check: Check, timeout: float = CHECK_TIMEOUT) -> list[Finding]:
    """Run one check within `timeout`; a check that overruns or crashes becomes a finding,
    so that one broken check never hides the others from the report."""
    try:
        async with asyncio.timeout(timeout):
            return await check()
    except TimeoutError:
        return [Finding(name, WARNING, f"check did not finish within {timeout:g} s")]
    except Exception as error:
        logger.warning("doctor check %s crashed", name, exc_info=True)
        return [
            Finding(
                name,
                PROBLEM,
                f"check crashed: {type(error).__name__}: {error}",
                "please report this line with the rest of this output",
            )
        ]


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    from tether.engine.threads import run_in_daemon_thread

    return await run_in_daemon_thread(function, *args, name="tether-doctor")


# -- versions and configuration -----------------------------------------------------------


def versions() -> list[Finding]:
    import tether

    python = sys.version.split()[0]
    findings = [
        Finding("tether", OK, f"{tether.__version__} at {Path(tether.__file__).resolve().parent}"),
    ]
    findings.append(Finding("python", OK, f"{python} at {sys.executable}"))
    findings.append(command_on_path())
    return findings


def command_on_path() -> Finding:
    """Chat agents run `tether` by name: it must be on their PATH."""
    import shutil

    found = shutil.which("tether")
    if found:
        return Finding("tether on PATH", OK, found)
    folder = Path(sys.executable).parent
    return Finding(
        "tether on PATH",
        WARNING,
        "`tether` is not on PATH, so chat agents (Claude Code, Cursor) cannot run it",
        f"activate the environment (source {folder}/activate) or add {folder} to PATH",
    )


def configuration(workspace: Path) -> tuple[TetherConfig, list[Finding]]:
    from tether.config import CONFIG_PATH, load_config

    config, problems = load_config(workspace)
    path = workspace / CONFIG_PATH
    if problems:
        fix = f"edit {path}; the default is used for each setting named"
        return config, [Finding("config", WARNING, problem, fix) for problem in problems]
    where = str(path) if path.is_file() else "defaults (no .tether/config.toml)"
    return config, [Finding("config", OK, where)]


# -- local docs: which interpreter and site-packages --------------------------------------


async def site_packages(workspace: Path, config: TetherConfig) -> list[Finding]:
    from tether.project.environment import find_environment, installed_versions

    def scan() -> tuple[ProjectEnvironment, int]:
        environment = find_environment(workspace, config.interpreter)
        return environment, len(installed_versions(environment.site_dirs))

    environment, count = await in_thread(scan)
    fix = (
        "create the project's .venv in the workspace, activate its environment, or set "
        "`interpreter` in .tether/config.toml"
    )
    interpreter = Finding(
        "interpreter",
        WARNING if environment.fallback else OK,
        f"{environment.python} ({environment.origin})",
        fix if environment.fallback else "",
    )
    found = environment.site_dirs
    if not found:
        return [interpreter, Finding("site-packages", WARNING, "none found", fix)]
    shown = ", ".join(str(path) for path in found[:2]) + (" …" if len(found) > 2 else "")
    return [interpreter, Finding("site-packages", OK, f"{shown} ({count} packages)")]


# -- the docs cache -------------------------------------------------------------------------


def cache(config: TetherConfig) -> list[Finding]:
    """Blocking (file system, SQLite): run it in a thread."""
    from tether.kb.cache_location import default_cache_directory

    directory = (
        Path(config.docs.cache_dir).expanduser() if config.docs.cache_dir else None
    ) or default_cache_directory()
    fix_where = "set TETHER_CACHE_DIR (or docs.cache_dir) to a writable folder"
    if directory.exists() and not directory.is_dir():
        return [Finding("cache", PROBLEM, f"{directory} is not a directory", fix_where)]
    if not directory.exists():
        parent = _nearest_existing(directory)
        if parent is None or not os.access(parent, os.W_OK | os.X_OK):
            return [
                Finding("cache", PROBLEM, f"{directory} cannot be created ({parent})", fix_where)
            ]
        return [Finding("cache", OK, f"{directory} (not created yet; made at the first lookup)")]
    writable = _can_write(directory)
    if writable is not None:
        return [Finding("cache", PROBLEM, f"{directory} is not writable: {writable}", fix_where)]
    size, files, complete = _folder_size(directory)
    state, detail, entries = _open_store(directory)
    summary = f"{directory} ({_megabytes(size)}{'' if complete else '+'} in {files} files"
    from tether.kb.docindex.cache import index_usage

    indexes, _ = index_usage(directory / "index")
    summary += f", {entries} entries" if entries is not None else ""
    summary += f", {indexes} package indexes)"
    if state == "unavailable":
        return [
            Finding(
                "cache",
                PROBLEM,
                f"{summary}: database unavailable: {detail}",
                "run `tether cache clear`, or delete the folder",
            )
        ]
    if state != "open":
        return [Finding("cache", WARNING, f"{summary}: database {state} (busy elsewhere?)")]
    return [Finding("cache", OK, f"{summary}, writable")]


def _nearest_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def _can_write(directory: Path) -> str | None:
    """None when a file can be created in `directory`, else why not."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".tether-doctor-"):
            return None
    except OSError as error:
        return error.strerror or str(error)


def _folder_size(directory: Path) -> tuple[int, int, bool]:
    total = files = 0
    for root, _dirs, names in os.walk(directory):
        for name in names:
            files += 1
            if files > _SIZE_SCAN_LIMIT:
                return total, files - 1, False
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue  # removed while we counted: not worth a line
    return total, files, True


def _open_store(directory: Path) -> tuple[str, str | None, int | None]:
    from tether.kb.store import DocsStore

    store = DocsStore(directory)
    try:
        store.wait_disk_opened(1.0)
        stats = store.stats()
        return stats.disk_state, stats.disk_detail, stats.disk.entries
    finally:
        store.close()


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


# -- Context7 -------------------------------------------------------------------------------


async def context7(config: TetherConfig) -> list[Finding]:
    key_env = config.context7.api_key_env
    has_key = bool(os.environ.get(key_env, "").strip())
    key_finding = (
        Finding("context7 key", OK, f"set (${key_env}; value not shown)")
        if has_key
        else Finding(
            "context7 key",
            WARNING,
            f"${key_env} is not set: anonymous access, lower rate limits",
            f"export {key_env}=... (a free key from context7.com)",
        )
    )
    if "context7" not in config.docs.providers:
        return [Finding("context7", OK, "not used (docs.providers leaves it out)")]
    if config.docs.offline:
        return [Finding("context7", OK, "not contacted (docs.offline = true)"), key_finding]
    return [await probe_context7(config, has_key), key_finding]


async def probe_context7(config: TetherConfig, has_key: bool) -> Finding:
    """One search request, bounded by CONTEXT7_PROBE_TIMEOUT in total."""
    import httpx

    from tether.kb.providers.context7 import Context7Settings

    settings = Context7Settings.resolve(config.context7.url)
    url = f"{settings.base_url}/api/v2/libs/search"
    headers = {"Accept": "application/json"}
    key = os.environ.get(config.context7.api_key_env, "").strip()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    offline_fix = (
        "check the network or proxy; without Context7, docs come from installed packages and "
        "the cache (set docs.offline = true in .tether/config.toml to stop trying)"
    )
    started = time.monotonic()
    try:
        async with (
            asyncio.timeout(CONTEXT7_PROBE_TIMEOUT),
            httpx.AsyncClient(timeout=CONTEXT7_PROBE_TIMEOUT, follow_redirects=False) as client,
        ):
            response = await client.get(
                url, params={"libraryName": "react", "query": "hooks"}, headers=headers
            )
    except TimeoutError:
        return Finding(
            "context7",
            WARNING,
            f"no answer within {CONTEXT7_PROBE_TIMEOUT:g} s from {settings.base_url}",
            offline_fix,
        )
    except httpx.HTTPError as error:
        reason = str(error) or type(error).__name__
        return Finding(
            "context7", WARNING, f"cannot reach {settings.base_url}: {reason}", offline_fix
        )
    elapsed_ms = (time.monotonic() - started) * 1000
    status = response.status_code
    where = f"{settings.base_url} (HTTP {status}, {elapsed_ms:.0f} ms)"
    if status == 200:
        return Finding("context7", OK, f"reachable at {where}")
    if status in (401, 403):
        fix = (
            f"check ${config.context7.api_key_env}"
            if has_key
            else f"set ${config.context7.api_key_env}"
        )
        return Finding("context7", PROBLEM, f"key refused at {where}", fix)
    if status == 429:
        return Finding(
            "context7",
            WARNING,
            f"rate limited at {where}",
            f"set ${config.context7.api_key_env} for higher limits",
        )
    return Finding("context7", WARNING, f"unexpected answer from {where}", offline_fix)


# -- LLM ----------------------------------------------------------------------------------


def llm(config: TetherConfig) -> list[Finding]:
    section = config.llm
    if section.base_url is None and section.model is None:
        return [
            Finding(
                "llm",
                OK,
                'no model configured: llm steps with fallback = "agent" hand their work to '
                "the chat agent",
            )
        ]
    if section.base_url is None or section.model is None:
        missing = "base_url" if section.base_url is None else "model"
        return [
            Finding(
                "llm",
                PROBLEM,
                f"llm.{missing} is not set (both are needed to call a model)",
                f"set llm.{missing} in .tether/config.toml, or remove the [llm] table",
            )
        ]
    from tether.llm.config import LLMConfig

    try:
        LLMConfig(base_url=section.base_url, model=section.model, api_key_env=section.api_key_env)
    except ValueError as error:
        return [Finding("llm", PROBLEM, str(error), "fix the [llm] table in .tether/config.toml")]
    findings = [Finding("llm", OK, f"model {section.model} at {section.base_url}")]
    if os.environ.get(section.api_key_env, "").strip():
        findings.append(Finding("llm key", OK, f"set (${section.api_key_env}; value not shown)"))
    else:
        findings.append(
            Finding(
                "llm key",
                WARNING,
                f"${section.api_key_env} is not set",
                f"export {section.api_key_env}=... (a local server may need none)",
            )
        )
    return findings


# -- workflows ------------------------------------------------------------------------------


def workflows(workspace: Path) -> list[Finding]:
    from tether.engine.errors import WorkflowError
    from tether.engine.loader import find_workflows, load_workflow
    from tether.steps.registry import builtin_kinds

    kinds = builtin_kinds()
    good: list[str] = []
    findings: list[Finding] = []
    for name, path in sorted(find_workflows(workspace).items()):
        try:
            load_workflow(path, kinds)
        except WorkflowError as error:
            findings.append(Finding("workflows", PROBLEM, str(error), f"fix {path}"))
        else:
            good.append(name)
    findings.insert(0, Finding("workflows", OK, ", ".join(good) or "none"))
    return findings


# -- editor integrations --------------------------------------------------------------------


def editor_packs(workspace: Path) -> list[Finding]:
    from tether.pack.install import CREATED, FAILED, KEPT, UNCHANGED, install_pack
    from tether.pack.source import AGENTS_FILE, EDITORS, PackNotFound

    labels = {"claude": "claude skills", "cursor": "cursor rules"}
    try:
        reports = {name: install_pack(workspace, [name], dry_run=True) for name in EDITORS}
    except PackNotFound as error:
        return [Finding("skill pack", PROBLEM, str(error), "reinstall tether")]
    # Installed = at least one of its own files is there (a user's AGENTS.md alone is not).
    installed = {
        name: any(o.action != CREATED and o.path != AGENTS_FILE for o in report.outcomes)
        for name, report in reports.items()
    }
    findings: list[Finding] = []
    for name, report in reports.items():
        label, fix = labels[name], f"run `tether init --{name}`"
        if not installed[name]:
            status = OK if any(installed.values()) else WARNING
            findings.append(Finding(label, status, "not installed", fix))
            continue
        by_action: dict[str, list[str]] = {}
        for outcome in report.outcomes:
            text = f"{outcome.path}: {outcome.detail}" if outcome.action == FAILED else outcome.path
            by_action.setdefault(outcome.action, []).append(text)
        behind = [
            path
            for action, paths in by_action.items()
            if action not in (UNCHANGED, KEPT, FAILED)
            for path in paths
        ]
        if FAILED in by_action:
            findings.append(Finding(label, WARNING, "; ".join(by_action[FAILED])))
        if behind:
            findings.append(
                Finding(label, WARNING, f"missing or out of date: {', '.join(behind)}", fix)
            )
        if KEPT in by_action:
            kept = ", ".join(by_action[KEPT])
            findings.append(Finding(label, OK, f"installed; changed by you (kept): {kept}"))
        elif not behind and FAILED not in by_action:
            count = len(report.outcomes)
            findings.append(Finding(label, OK, f"installed, up to date ({count} files)"))
    findings.append(_vscode_extension())
    return findings


def _vscode_extension() -> Finding:
    """Whether the tether extension is installed in VS Code or Cursor for this user."""
    home = Path.home()
    roots = [
        home / ".vscode" / "extensions",
        home / ".vscode-server" / "extensions",
        home / ".cursor" / "extensions",
    ]
    found = [
        path
        for root in roots
        if root.is_dir()
        for path in sorted(root.glob("tether.tether-*"))
        if path.is_dir()
    ]
    if found:
        return Finding("vscode extension", OK, ", ".join(str(path) for path in found))
    return Finding(
        "vscode extension",
        OK,
        "not found in ~/.vscode or ~/.cursor (only needed in VS Code or Cursor)",
        "see docs/editor-setup.md",
    )
