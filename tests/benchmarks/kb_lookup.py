"""Docs lookup benchmark: prints one JSON object.

1. `tether docs X` as a cold process on a cache hit (goal: median <= 250 ms), next to
   `tether --version` for the interpreter + CLI floor on the same machine.
2. The local provider documenting 100 installed distributions (time per distribution).
3. DocsService.lookup on a warm tier-1 hit, in process (p50/p99).
4. The shape of a prewarm: 50 lookups under a semaphore of 8 against the fake Context7 at
   200 ms per request (each library's id known from its repository URL: one request each).

Run from the repository root:  .venv/bin/python tests/benchmarks/kb_lookup.py
Options: --runs N (cold-process runs, default 15), --site DIR (extra site-packages to
draw distributions from; default: the base interpreter's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(REPO))

from tests.fakes.context7 import FakeContext7, FakeLibrary, snippet_docs  # noqa: E402

from tether.engine.retry import RetryPolicy  # noqa: E402
from tether.kb.providers.context7 import Context7Provider, Context7Settings  # noqa: E402
from tether.kb.providers.local import LocalProvider  # noqa: E402
from tether.kb.service import DocsService  # noqa: E402
from tether.kb.store import DocsStore  # noqa: E402
from tether.project.environment import installed_versions  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "p90_ms": round(percentile(samples, 0.9) * 1000, 1),
        "min_ms": round(min(samples) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "runs": len(samples),
    }


def timed_runs(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run(argv, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - started)
        if completed.returncode != 0:
            raise SystemExit(f"{argv} failed: {completed.stderr.decode()[-500:]}")
    return samples


def cold_process(runs: int, cache_dir: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "TETHER_CACHE_DIR": str(cache_dir),
        "CONTEXT7_API_URL": "http://127.0.0.1:9",  # a cache hit must not need the network
        "PYTHONPATH": str(REPO / "server"),
    }
    docs = [sys.executable, "-m", "tether", "docs", "httpx", "AsyncClient", "-C", str(REPO)]
    timed_runs(docs, env, 1)  # fills the cache
    version = timed_runs([sys.executable, "-m", "tether", "--version"], env, runs)
    hits = timed_runs(docs, env, runs)
    return {
        "command": " ".join(["python -m tether docs httpx AsyncClient -C <repo>"]),
        "cache_hit": summary_ms(hits),
        "version_floor": summary_ms(version),
        "goal_median_ms": 250,
    }


async def local_provider(site: Path, count: int, index_dir: Path) -> dict[str, object]:
    """Each distribution's first answer: its index is built (then cached per version)."""
    names = sorted(installed_versions([site]))[:count]
    provider = LocalProvider(REPO, site_dirs=[site], index_dir=index_dir)
    per_distribution: list[float] = []
    sizes: list[int] = []
    empty = 0
    started = time.perf_counter()
    for name in names:
        begun = time.perf_counter()
        result = await provider.fetch(name, None, "", timeout=30)
        per_distribution.append(time.perf_counter() - begun)
        if result is None or "\n" not in result.content.strip():
            empty += 1
        else:
            sizes.append(len(result.content))
    total = time.perf_counter() - started
    return {
        "site_packages": str(site),
        "distributions": len(names),
        "total_s": round(total, 2),
        "per_distribution": summary_ms(per_distribution),
        "p99_ms": round(percentile(per_distribution, 0.99) * 1000, 1),
        "without_summary_or_readme": empty,
        "median_doc_chars": int(statistics.median(sizes)) if sizes else 0,
    }


async def warm_tier1(cache_dir: Path, lookups: int) -> dict[str, object]:
    venv_site = REPO / ".venv" / "lib" / "python3.11" / "site-packages"
    local = LocalProvider(REPO, site_dirs=[venv_site], index_dir=cache_dir / "index")
    service = DocsService(DocsStore(cache_dir), [local], lookup_timeout=5)
    samples: list[float] = []
    try:
        await service.lookup("httpx", "AsyncClient")  # fetch and fill tier 1
        for _ in range(lookups):
            started = time.perf_counter()
            result = await service.lookup("httpx", "AsyncClient")
            samples.append(time.perf_counter() - started)
            assert result.from_cache == "index"
    finally:
        await service.aclose()
    return {
        "lookups": lookups,
        "p50_us": round(percentile(samples, 0.5) * 1e6, 1),
        "p99_us": round(percentile(samples, 0.99) * 1e6, 1),
        "note": "whole lookup: name check, installed version (memoised for 1 s), the "
        "package's open index, its answer (memoised per query and budget)",
    }


async def prewarm_shape(cache_dir: Path, libraries: int, concurrency: int) -> dict[str, object]:
    fakes = [
        FakeLibrary(f"/bench/lib{index}", f"lib{index}", snippet_docs(f"Lib{index}"))
        for index in range(libraries)
    ]

    async def finder(library: str) -> str | None:
        return f"https://github.com/bench/{library}"

    async with FakeContext7("slow", libraries=fakes, delay=0.2) as fake:
        provider = Context7Provider(
            Context7Settings(base_url=fake.url, retry=RetryPolicy(attempts=1)),
            repository_finder=finder,
        )
        service = DocsService(DocsStore(cache_dir), [provider], lookup_timeout=5)
        gate = asyncio.Semaphore(concurrency)

        async def warm(name: str) -> bool:
            async with gate:
                return (await service.lookup(name, refresh=True)).found

        started = time.perf_counter()
        try:
            found = await asyncio.gather(*(warm(f"lib{index}") for index in range(libraries)))
        finally:
            await service.aclose()
        elapsed = time.perf_counter() - started
    return {
        "libraries": libraries,
        "concurrency": concurrency,
        "latency_per_request_ms": 200,
        "wall_s": round(elapsed, 2),
        "found": sum(found),
        "requests": fake.count(),
        "sequential_would_be_s": round(libraries * 0.2, 1),
        "goal_s": 1.6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--site", type=Path, default=None)
    parser.add_argument("--lookups", type=int, default=2000)
    options = parser.parse_args()
    base_site = options.site or Path(
        sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["purelib"]
    )
    with tempfile.TemporaryDirectory(prefix="tether-kb-bench-") as scratch:
        root = Path(scratch)
        report = {
            "benchmark": "kb_lookup",
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cold_process": cold_process(options.runs, root / "cli-cache"),
            "local_provider": asyncio.run(local_provider(base_site, 100, root / "indexes")),
            "warm_tier1_lookup": asyncio.run(warm_tier1(root / "svc-cache", options.lookups)),
            "prewarm_shape": asyncio.run(prewarm_shape(root / "prewarm-cache", 50, 8)),
        }
    sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
