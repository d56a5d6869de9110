"""`tether docs LIBRARY [QUERY]` and `tether cache stats|clear`.

Imports stay inside the commands: `tether --version` must not pay for httpx or diskcache,
and a docs answer served from the cache never imports httpx at all.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tether.cli.errors import EXIT_FAILED, EXIT_USAGE, fail
from tether.cli.output import print_json
from tether.cli.settings import load_settings
from tether.cli.workspace import resolve_workspace

if TYPE_CHECKING:
    from tether.config import TetherConfig
    from tether.kb.service import DocsResult, DocsService
    from tether.kb.store import DocsStore


@click.command("docs")
@click.argument("library")
@click.argument("query", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1, max=1_000_000),
    default=None,
    help="Size of the answer in tokens (characters / 4); default from configuration, 4000.",
)
@click.option("--refresh", is_flag=True, help="Ask the providers again, ignoring cached docs.")
@click.option(
    "--offline", is_flag=True, help="Never use the network: installed packages and cache."
)
@click.option("-C", "--directory", default=".", metavar="DIR", help="Workspace folder.")
def docs(
    library: str,
    query: tuple[str, ...],
    as_json: bool,
    max_tokens: int | None,
    refresh: bool,
    offline: bool,
    directory: str,
) -> None:
    """Documentation for LIBRARY (a PyPI or npm package), focused on QUERY.

    Exit status 1 when no provider has docs (each provider's reason is printed on stderr),
    2 for an invalid library name or workspace.
    """
    import asyncio

    from tether.kb.providers.base import InvalidLibraryName, check_library_name

    try:
        name = check_library_name(library)
    except InvalidLibraryName as error:
        fail(str(error), EXIT_USAGE)
    workspace = resolve_workspace(directory)
    config = load_settings(workspace)
    service = _service(workspace, config)
    result = asyncio.run(
        _lookup(
            service,
            name,
            " ".join(query),
            as_json=as_json,
            max_tokens=max_tokens or config.docs.max_tokens,
            refresh=refresh,
            offline=offline or config.docs.offline,
        )
    )
    if not result.found:
        raise SystemExit(EXIT_FAILED)


@click.group("cache")
def cache() -> None:
    """Inspect or empty the shared docs cache."""


@cache.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("-C", "--directory", default=".", metavar="DIR", help="Workspace folder.")
def stats(as_json: bool, directory: str) -> None:
    """Entries, size, hits, misses, errors and latency per cache tier."""
    from tether.kb import shared_stats
    from tether.kb.docindex.cache import index_usage

    with _open_store(directory) as store:
        snapshot = store.stats().to_json()
        entries, size = index_usage(store.directory / "index")
        totals, since = shared_stats.read(store.directory)
    # Installed packages are answered from their own index files, not from the two tiers.
    snapshot["indexes"] = {"entries": entries, "bytes": size}
    # "memory" and "disk" count this process only (it has only just opened the cache);
    # what every process did is summed in the cache directory as processes close.
    snapshot["counters_scope"] = "memory and disk: this process; all_processes: every process"
    snapshot["all_processes"] = {"since": since, **totals}
    if as_json:
        print_json(snapshot)
        return
    click.echo(f"directory: {snapshot['directory']} ({snapshot['disk_state']})")
    if snapshot.get("disk_detail"):
        click.echo(f"note: {snapshot['disk_detail']}")
    for tier in ("memory", "disk"):
        figures = snapshot[tier]
        latency = ""
        if figures.get("latency_p50_us") is not None:
            latency = (
                f", p50 {figures['latency_p50_us']:.0f}us p99 {figures['latency_p99_us']:.0f}us"
            )
        click.echo(
            f"{tier}: {_count(figures.get('entries'))} entries, "
            f"{_count(figures.get('bytes'))} bytes, {figures['hits']} hits, "
            f"{figures['misses']} misses, {figures['errors']} errors{latency}"
        )
    click.echo(
        f"indexes: {snapshot['indexes']['entries']} installed-package indexes, "
        f"{snapshot['indexes']['bytes']} bytes"
    )
    click.echo("(the memory and disk figures above are this process's own)")
    if since is None:
        click.echo("all processes: nothing recorded since the cache was created or cleared")
        return
    from datetime import UTC, datetime

    started = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M UTC")
    click.echo(f"all processes since {started}:")
    for tier in ("memory", "disk"):
        figures = {name: totals.get(f"{tier}.{name}", 0) for name in _COUNTED}
        click.echo(
            f"  {tier}: " + ", ".join(f"{v} {n.replace('_', ' ')}" for n, v in figures.items())
        )
    click.echo(
        f"  indexes: {totals.get('index.built', 0)} built, {totals.get('index.reused', 0)} reused"
    )


@cache.command("clear")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("-C", "--directory", default=".", metavar="DIR", help="Workspace folder.")
def clear(as_json: bool, directory: str) -> None:
    """Remove every cached docs entry (all workspaces share the cache)."""
    from tether.kb.docindex.cache import IndexCache

    with _open_store(directory) as store:
        removed = store.clear() + IndexCache(store.directory / "index").clear()
        where = str(store.directory)
    if as_json:
        print_json({"removed": removed, "directory": where})
    else:
        click.echo(f"removed {removed} cached entries from {where}")


async def _lookup(
    service: DocsService,
    name: str,
    query: str,
    *,
    as_json: bool,
    max_tokens: int,
    refresh: bool,
    offline: bool,
) -> DocsResult:
    import asyncio

    try:
        result = await service.lookup(
            name, query, max_tokens=max_tokens, refresh=refresh, offline=offline
        )
        _report(result, name, as_json)
        # A stale answer started a refresh: let it land in the shared cache before the
        # process ends (the answer is already printed), or the cache would never renew.
        try:
            async with asyncio.timeout(service.lookup_timeout):
                await service.settle()
        except TimeoutError:
            click.echo(
                "tether: note: background refresh did not finish; next call retries", err=True
            )
        return result
    finally:
        await service.aclose()


def _report(result: DocsResult, name: str, as_json: bool) -> None:
    if as_json:
        print_json(result.to_json())
    elif result.found:
        click.echo(result.render_markdown(), nl=False)
    sys.stdout.flush()
    if not result.found:
        if not as_json:
            click.echo(f"tether: no documentation found for {name}", err=True)
        for reason in result.errors:
            click.echo(f"  {reason}", err=True)
        return
    for reason in result.errors:
        click.echo(f"tether: note: {reason}", err=True)


def _service(workspace: Path, config: TetherConfig) -> DocsService:
    from tether.kb.service import docs_service_for

    try:
        return docs_service_for(workspace, config)
    except ValueError as error:
        fail(str(error), EXIT_USAGE)


@contextmanager
def _open_store(directory: str) -> Iterator[DocsStore]:
    """The docs cache the workspace's settings name, closed when the block ends."""
    from tether.kb.store import DocsStore

    config = load_settings(resolve_workspace(directory))
    cache_dir = Path(config.docs.cache_dir).expanduser() if config.docs.cache_dir else None
    store = DocsStore(cache_dir)
    try:
        yield store
    finally:
        store.close()


_COUNTED = ("hits", "misses", "errors", "busy", "deferred_writes", "skipped_writes")


def _count(value: object) -> str:
    return "?" if value is None else str(value)
