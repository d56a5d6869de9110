"""Docs answer quality and latency on a set of questions: prints one JSON object.

For each (library, question, gold regex) row, `tether docs LIBRARY QUESTION` is answered at
--max-tokens 500 and 2000 by the same service the CLI uses (local provider, offline), and
the answer scores when the gold regex matches within its first 2,000 characters as printed
(header included). Reported per question set: the share answered at each budget, the
misses, the index build time per library (first answer), the warm in-process latency
(a repeated question) and the cold latency of a fresh `tether docs` process once the
library is indexed.

Run from the repository root:  .venv/bin/python tests/benchmarks/docs_quality.py
Options: --questions TSV (repeatable; default: ../shared/benchmarks/docs-questions.tsv for
the Python packages of this repository's .venv, tests/benchmarks/docs-questions-npm.tsv for
the packages in --npm-workspace, and tests/benchmarks/docs-questions-python-more.tsv),
--npm-workspace DIR (default editor-client/vscode, whose node_modules `make vscode`
installs), --cold N (fresh processes timed, default 15).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))

from tether.kb.service import DocsService, build_docs_service  # noqa: E402

BUDGETS = (500, 2000)
WINDOW = 2000
DEV_SET = REPO.parent / "shared" / "benchmarks" / "docs-questions.tsv"
DEV_SET_FALLBACK = Path("/work/shared/benchmarks/docs-questions.tsv")
NPM_SET = REPO / "tests" / "benchmarks" / "docs-questions-npm.tsv"
MORE_PYTHON_SET = REPO / "tests" / "benchmarks" / "docs-questions-python-more.tsv"


@dataclass(frozen=True)
class Question:
    library: str
    question: str
    gold: re.Pattern[str]


def read_questions(path: Path) -> list[Question]:
    rows = [
        line.split("\t")
        for line in path.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [Question(lib, q, re.compile(gold)) for lib, q, gold in rows[1:]]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def score(
    service: DocsService, questions: list[Question]
) -> tuple[dict[str, object], list[float]]:
    hits = dict.fromkeys(BUDGETS, 0)
    misses: dict[int, list[str]] = {budget: [] for budget in BUDGETS}
    builds: dict[str, float] = {}
    warm: list[float] = []
    for question in questions:
        for budget in BUDGETS:
            started = time.perf_counter()
            result = await service.lookup(
                question.library, question.question, max_tokens=budget, offline=True
            )
            elapsed = time.perf_counter() - started
            if result.meta.get("index_built_now"):
                builds[question.library] = elapsed
            answer = result.render_markdown() if result.found else ""
            if question.gold.search(answer[:WINDOW]):
                hits[budget] += 1
            else:
                misses[budget].append(f"{question.library}: {question.question}")
            for _ in range(20):  # the same question again: answered from this process
                started = time.perf_counter()
                await service.lookup(
                    question.library, question.question, max_tokens=budget, offline=True
                )
                warm.append(time.perf_counter() - started)
    total = len(questions)
    report: dict[str, object] = {"questions": total}
    for budget in BUDGETS:
        report[f"answered_at_{budget}"] = f"{hits[budget]}/{total}"
        report[f"share_at_{budget}"] = round(hits[budget] / total, 3) if total else None
        report[f"misses_at_{budget}"] = misses[budget]
    build_times = list(builds.values())
    if build_times:
        report["index_build_ms"] = {
            "median": round(statistics.median(build_times) * 1000, 1),
            "max": round(max(build_times) * 1000, 1),
            "libraries": len(build_times),
        }
    return report, warm


def cold_runs(
    workspace: Path, questions: list[Question], cache_dir: Path, runs: int
) -> list[float]:
    env = {**os.environ, "TETHER_CACHE_DIR": str(cache_dir)}
    env.pop("VIRTUAL_ENV", None)
    tether = REPO / ".venv" / "bin" / "tether"
    samples = []
    for index in range(runs):
        question = questions[index % len(questions)]
        argv = [str(tether), "docs", question.library, question.question]
        argv += ["--offline", "--max-tokens", "500", "-C", str(workspace)]
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return samples


async def run_set(
    workspace: Path, questions: list[Question], cache_dir: Path, cold: int
) -> dict[str, object]:
    service = build_docs_service(workspace, cache_dir=cache_dir, providers=["local"])
    try:
        report, warm = await score(service, questions)
    finally:
        await service.aclose()
    report["warm_ms"] = {
        "median": round(statistics.median(warm) * 1000, 3),
        "p99": round(percentile(warm, 0.99) * 1000, 3),
        "samples": len(warm),
    }
    if cold:
        samples = cold_runs(workspace, questions, cache_dir, cold)
        report["cold_process_ms"] = {
            "median": round(statistics.median(samples) * 1000, 1),
            "min": round(min(samples) * 1000, 1),
            "max": round(max(samples) * 1000, 1),
            "runs": len(samples),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--questions", type=Path, action="append")
    parser.add_argument("--npm-workspace", type=Path, default=REPO / "editor-client" / "vscode")
    parser.add_argument("--cold", type=int, default=15)
    args = parser.parse_args()
    dev_set = DEV_SET if DEV_SET.is_file() else DEV_SET_FALLBACK
    sets: list[tuple[str, Path, Path]] = []
    for path in args.questions or [dev_set, NPM_SET, MORE_PYTHON_SET]:
        is_npm = path.resolve() == NPM_SET.resolve()
        sets.append((path.name, path, args.npm_workspace if is_npm else REPO))
    output: dict[str, object] = {"machine": f"{os.cpu_count()} cpus, load {os.getloadavg()}"}
    for name, path, workspace in sets:
        if not path.is_file():
            output[name] = {"skipped": f"{path} not found"}
            continue
        if workspace != REPO and not (workspace / "node_modules").is_dir():
            output[name] = {"skipped": f"no node_modules in {workspace} (run `make vscode`)"}
            continue
        with tempfile.TemporaryDirectory(prefix="tether-docs-quality-") as cache:
            output[name] = asyncio.run(
                run_set(workspace, read_questions(path), Path(cache), args.cold)
            )
    sys.stdout.write(orjson.dumps(output, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
