"""Benchmark: dependency detection on the corpus (../shared/corpus), warm, in-process.

Each corpus repository is rebuilt at its original paths in a temporary folder, then
`detect_dependencies` runs ROUNDS times on it (what the language server does on every save
of a dependency file); each corpus file is also parsed on its own. Prints one JSON object:
per-repository and per-file medians and p99 in milliseconds.

    .venv/bin/python tests/benchmarks/deps.py [ROUNDS]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "server"))

from tether.kb.deps import detect_dependencies, parse_dependency_file  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(function: object, rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    files = sorted(p for p in CORPUS.glob("*__*"))
    repositories: dict[str, list[Path]] = {}
    for path in files:
        owner, project, *_ = path.name.split("__")
        repositories.setdefault(f"{owner}/{project}", []).append(path)
    result: dict[str, object] = {"rounds": rounds, "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory() as scratch:
        per_repository = {}
        for repository, paths in repositories.items():
            root = Path(scratch) / repository.replace("/", "__")
            for path in paths:
                target = root.joinpath(*path.name.split("__")[2:])
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            found = detect_dependencies(root)
            figures = timed(lambda root=root: detect_dependencies(root), rounds)
            per_repository[repository] = {**figures, "dependencies": len(found.dependencies)}
        result["detect_workspace"] = per_repository
    per_file = {
        path.name: timed(lambda path=path: parse_dependency_file(path, CORPUS), rounds)
        for path in files
    }
    result["parse_file"] = per_file
    medians = [figures["median_ms"] for figures in per_repository.values()]
    result["summary"] = {
        "workspaces": len(medians),
        "detect_median_of_medians_ms": round(statistics.median(medians), 3),
        "detect_slowest_median_ms": max(medians),
        "detect_slowest_p99_ms": max(f["p99_ms"] for f in per_repository.values()),
        "parse_slowest_median_ms": max(f["median_ms"] for f in per_file.values()),
        "all_42_files_parsed_once_ms": round(sum(f["median_ms"] for f in per_file.values()), 3),
    }
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
