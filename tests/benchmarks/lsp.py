"""Language server benchmark: start to `initialize` answered, `tether.docs` on a cache hit,
step finished -> client has its progress report, idle RSS.

Run from the repository root:  .venv/bin/python tests/benchmarks/lsp.py
Options: --starts N --docs N --steps N. Prints one JSON object.

Speaks raw LSP over pipes (no client library in the measured path). Step latency is the
client's receive time minus the step_finished event's timestamp in the run's journal (same
machine, same wall clock).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPOSITORY = Path(__file__).resolve().parents[2]
GOALS = {
    "start_to_initialize_median_ms": 600,
    "docs_cache_hit_p99_ms": 10,
    "step_to_progress_p99_ms": 50,
    "idle_rss_mb": 80,
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class RawClient:
    """Just enough LSP: requests with ids, answers to the server's requests, a log of
    notifications with their receive time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.notifications: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, workspace: Path, env: dict[str, str]) -> RawClient:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tether",
            "serve",
            cwd=str(workspace),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return cls(process)

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any) -> Any:
        msg_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = future
        self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return await future

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            length = 0
            while True:
                line = await stdout.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            message = json.loads(await stdout.readexactly(length))
            received = time.time()
            if "method" in message and "id" in message:  # a request from the server
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append((received, message))
                self.changed.set()
            else:
                future = self.pending.pop(message["id"], None)
                if future is not None and not future.done():
                    if "error" in message:
                        future.set_exception(RuntimeError(message["error"]["message"]))
                    else:
                        future.set_result(message.get("result"))

    async def initialize(self, workspace: Path, options: dict[str, Any]) -> None:
        capabilities = {"window": {"workDoneProgress": True}, "workspace": {}}
        await self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": workspace.as_uri(),
                "capabilities": capabilities,
                "initializationOptions": options,
            },
        )
        self.notify("initialized", {})

    async def command(self, name: str, argument: dict[str, Any]) -> Any:
        return await self.request(
            "workspace/executeCommand", {"command": name, "arguments": [argument]}
        )

    async def close(self) -> None:
        try:
            async with asyncio.timeout(5):
                await self.request("shutdown", None)
                self.notify("exit", None)
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.reader.cancel()


def make_workspace(root: Path, steps: int) -> Path:
    workflows = root / ".tether" / "workflows"
    workflows.mkdir(parents=True)
    lines = ['name = "chain"']
    for index in range(steps):
        lines += ["[[steps]]", f'id = "s{index}"', 'kind = "command"', 'run = ["true"]']
        if index:
            lines.append(f'needs = ["s{index - 1}"]')
    (workflows / "chain.toml").write_text("\n".join(lines) + "\n")
    (root / ".tether" / "config.toml").write_text(
        f'interpreter = "{sys.executable}"\n[docs]\noffline = true\n'
    )
    return root


def server_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPOSITORY / "server")
    env["TETHER_CACHE_DIR"] = str(tmp / "cache")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        env["CONTEXT7_API_URL"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env.pop("CONTEXT7_API_KEY", None)
    return env


OPTIONS = {"prewarm": {"onStart": False, "onSave": False}}


async def measure_start(workspace: Path, env: dict[str, str], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client = await RawClient.start(workspace, env)
        await client.initialize(workspace, OPTIONS)
        samples.append((time.perf_counter() - started) * 1000)
        await client.close()
    return samples


async def measure_session(
    workspace: Path, env: dict[str, str], docs: int, steps: int
) -> dict[str, Any]:
    client = await RawClient.start(workspace, env)
    await client.initialize(workspace, OPTIONS)
    await asyncio.sleep(1.0)  # let `initialized` work settle before measuring idle memory
    process = psutil.Process(client.process.pid)
    idle_rss = process.memory_info().rss / 2**20

    warm = await client.command("tether.docs", {"library": "click", "query": "command"})
    assert warm["provider"] == "local", warm
    docs_ms = []
    for _ in range(docs):
        started = time.perf_counter()
        await client.command("tether.docs", {"library": "click", "query": "command"})
        docs_ms.append((time.perf_counter() - started) * 1000)

    result = await client.command("tether.run", {"workflow": "chain"})
    assert result["status"] == "succeeded", result
    run_id = result["run_id"]
    journal = workspace / ".tether" / "runs" / run_id / "events.jsonl"
    finished = {}
    for line in journal.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "step_finished":
            finished[event["step"]] = event["ts"]
    step_ms = []
    for received, message in client.notifications:
        if message["method"] != "$/progress":
            continue
        value = message["params"]["value"]
        text = value.get("message", "")
        step = text.split(" ", 1)[0]
        if value.get("kind") == "report" and " succeeded" in text and step in finished:
            step_ms.append((received - finished[step]) * 1000)
    busy_rss = process.memory_info().rss / 2**20
    await client.close()
    return {
        "idle_rss_mb": round(idle_rss, 1),
        "rss_after_work_mb": round(busy_rss, 1),
        "docs_ms": docs_ms,
        "step_ms": step_ms,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="tether-lsp-bench-"))
    try:
        workspace = make_workspace(tmp / "ws", args.steps)
        env = server_env(tmp)
        starts = await measure_start(workspace, env, args.starts)
        session = await measure_session(workspace, env, args.docs, args.steps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    docs_ms, step_ms = session["docs_ms"], session["step_ms"]
    figures = {
        "start_to_initialize_median_ms": round(statistics.median(starts), 1),
        "start_to_initialize_min_ms": round(min(starts), 1),
        "start_to_initialize_max_ms": round(max(starts), 1),
        "docs_cache_hit_p50_ms": round(percentile(docs_ms, 0.5), 2),
        "docs_cache_hit_p99_ms": round(percentile(docs_ms, 0.99), 2),
        "step_to_progress_p50_ms": round(percentile(step_ms, 0.5), 2),
        "step_to_progress_p99_ms": round(percentile(step_ms, 0.99), 2),
        "step_to_progress_samples": len(step_ms),
        "idle_rss_mb": session["idle_rss_mb"],
        "rss_after_work_mb": session["rss_after_work_mb"],
    }
    met = {
        "start_to_initialize_median_ms": figures["start_to_initialize_median_ms"]
        <= GOALS["start_to_initialize_median_ms"],
        "docs_cache_hit_p99_ms": figures["docs_cache_hit_p99_ms"] <= GOALS["docs_cache_hit_p99_ms"],
        "step_to_progress_p99_ms": figures["step_to_progress_p99_ms"]
        <= GOALS["step_to_progress_p99_ms"],
        "idle_rss_mb": figures["idle_rss_mb"] <= GOALS["idle_rss_mb"],
    }
    print(
        json.dumps(
            {
                "benchmark": "lsp",
                "command": "python tests/benchmarks/lsp.py " + " ".join(sys.argv[1:]),
                "figures": figures,
                "goals": GOALS,
                "goals_met": met,
                "samples": {"starts": args.starts, "docs": args.docs, "steps": args.steps},
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
