"""The `docs` step kind: look up docs for many libraries at once, bounded and in order.

`mode = "pack"` (default) writes a markdown context pack for the query into the run
directory; `mode = "prewarm"` only fills the cache. Libraries are a list of names, a
comma-separated string, or "detected"/"" for every dependency the workspace declares
(direct before optional before dev). Each finished library is emitted as a partial item
{library, index, total, status}, which progress front ends show as "docs: 3/12 httpx".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed
from tether.engine.kinds import DEFAULT_CANCEL_GRACE
from tether.engine.spec import StepSpec
from tether.engine.threads import run_in_daemon_thread

if TYPE_CHECKING:
    from tether.config import TetherConfig
    from tether.kb.service import DocsResult, DocsService

_FIELDS = {"libraries", "query", "max_tokens", "mode", "concurrency", "refresh"}
_MODES = ("pack", "prewarm")
# A library lookup never waits for the last sliver of the step's time: it keeps this much
# back so the step can still write its pack and finish.
_RESERVE = 0.2


@dataclass(frozen=True)
class Wanted:
    name: str
    version: str | None


class DocsKind:
    name = "docs"

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = [(key, "unknown field for a docs step") for key in options if key not in _FIELDS]
        libraries = options.get("libraries", "detected")
        if not isinstance(libraries, str | list) or (
            isinstance(libraries, list) and not all(isinstance(n, str) for n in libraries)
        ):
            problems.append(
                ("libraries", 'a list of names, a comma-separated string or "detected"')
            )
        if options.get("mode", "pack") not in _MODES:
            problems.append(("mode", f"must be one of {', '.join(_MODES)}"))
        for field in ("max_tokens", "concurrency"):
            value = options.get(field, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append((field, "must be a whole number >= 1"))
        if not isinstance(options.get("query", ""), str):
            problems.append(("query", "must be a string"))
        return problems

    def cancel_grace(self, step: StepSpec) -> float:
        return DEFAULT_CANCEL_GRACE

    async def execute(self, ctx: StepContext) -> Any:
        from tether.config import load_config
        from tether.kb.service import docs_service_for

        config, _problems = load_config(ctx.workspace)
        wanted = await run_in_daemon_thread(
            _wanted, ctx.options.get("libraries", ""), ctx.workspace, config
        )
        if not wanted:
            return {"pack": None, "libraries": [], "counts": {}}
        try:
            service = docs_service_for(ctx.workspace, config)
        except ValueError as error:
            raise StepFailed(str(error)) from error
        try:
            results = await _look_up_all(ctx, service, wanted, config)
            # Stale hits started background refreshes: let them land (within the step's
            # time) so that a prewarm really leaves fresh entries behind.
            async with asyncio.timeout(max(0.0, ctx.remaining() - _RESERVE)):
                await service.settle()
        except TimeoutError:
            ctx.logger.info("background refreshes still running at the deadline; dropped")
        finally:
            await service.aclose()
        rows = [
            {"name": w.name, "version": r.version, "provider": r.provider, "status": _status(r)}
            for w, r in zip(wanted, results, strict=True)
        ]
        counts: dict[str, int] = {}
        for result in results:
            counts[_status(result)] = counts.get(_status(result), 0) + 1
        pack = None
        if ctx.options.get("mode", "pack") == "pack":
            pack = str(await run_in_daemon_thread(_write_pack, ctx, results))
        if counts.get("failed") == len(rows):
            raise StepFailed(f"no docs for any of {len(rows)} libraries: {results[0].errors[:1]}")
        return {"pack": pack, "libraries": rows, "counts": counts}


def _status(result: DocsResult) -> str:
    if not result.found:
        return "failed"
    return "fresh" if result.from_cache and not result.stale else "fetched"


def _wanted(libraries: Any, workspace: Path, config: TetherConfig) -> list[Wanted]:
    from tether.kb.deps import detect_dependencies
    from tether.kb.deps.model import group_rank
    from tether.project.environment import find_site_packages, installed_versions

    names = libraries if isinstance(libraries, list) else str(libraries).split(",")
    names = [name.strip() for name in names if name.strip() and name.strip() != "detected"]
    installed = installed_versions(find_site_packages(workspace, config.interpreter))
    if names:
        return [Wanted(name, installed.get(name.lower().replace("_", "-"))) for name in names]
    detection = detect_dependencies(workspace, installed)
    ordered = sorted(detection.dependencies, key=lambda dep: group_rank(dep.group))
    return [Wanted(dep.name, dep.version) for dep in ordered]


async def _look_up_all(
    ctx: StepContext, service: DocsService, wanted: list[Wanted], config: TetherConfig
) -> list[DocsResult]:
    concurrency = int(ctx.options.get("concurrency", config.docs.prewarm_concurrency))
    query = str(ctx.options.get("query", ""))
    max_tokens = int(ctx.options.get("max_tokens", config.docs.max_tokens))
    semaphore = asyncio.Semaphore(concurrency)
    done = 0

    async def one(item: Wanted) -> DocsResult:
        nonlocal done
        async with semaphore:
            result = await _lookup_one(ctx, service, item, query, max_tokens, config)
        done += 1
        ctx.emit(
            {"library": item.name, "index": done, "total": len(wanted), "status": _status(result)}
        )
        return result

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in wanted]
    return [task.result() for task in tasks]


async def _lookup_one(
    ctx: StepContext,
    service: DocsService,
    item: Wanted,
    query: str,
    max_tokens: int,
    config: TetherConfig,
) -> DocsResult:
    from tether.kb.providers.base import InvalidLibraryName
    from tether.kb.service import DocsResult

    try:
        return await service.lookup(
            item.name,
            query,
            version=item.version,
            max_tokens=max_tokens,
            refresh=bool(ctx.options.get("refresh", False)),
            offline=config.docs.offline,
            timeout=max(0.01, min(config.docs.lookup_timeout, ctx.remaining() - _RESERVE)),
        )
    except InvalidLibraryName as error:  # one bad name fails that library, not the step
        return DocsResult(item.name, item.version, None, "", errors=[str(error)])


def _write_pack(ctx: StepContext, results: list[DocsResult]) -> Path:
    path = ctx.run_dir / f"context-pack-{ctx.step.id}.md"
    query = str(ctx.options.get("query", ""))
    parts = [f"# Context pack{f': {query}' if query else ''}", ""]
    for result in results:
        if result.found:
            parts += [result.render_markdown(), ""]
    missing = [r.library for r in results if not r.found]
    if missing:
        parts.append(f"_No docs found for: {', '.join(missing)}_")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
