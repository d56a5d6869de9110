"""A real VS Code for tests: code-server (Code-OSS) with the extension's .vsix installed,
a workspace with two demo workflows, and headless Chromium driven by drive.mjs.

Used by tests/editor/test_vscode_e2e.py and tests/benchmarks/vscode_progress.py. Nothing
here reaches the network: the clients come from install.sh's cache, the extension gallery
points at a dead loopback address and the user settings turn off everything that calls
home. code-server runs in its own process group and is stopped through it: its extension
host (and the language server under it) outlive code-server's own pid otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
EXTENSION = REPO / "editor-client" / "vscode"
CHROMIUM = Path("/usr/bin/chromium")
EXTENSION_ID = "tether.tether"

# Two steps long enough for a person (and the test) to see each in the notification.
DEMO_WORKFLOW = """\
name = "demo"
description = "Two short steps"

[[steps]]
id = "first"
kind = "command"
run = [{python}, "-c", "import time; time.sleep(1.5); print('first done')"]

[[steps]]
id = "second"
kind = "command"
needs = ["first"]
run = [{python}, "-c", "import time; time.sleep(1.5); print('second done')"]
"""

# Naps until cancelled.
SLOW_WORKFLOW = """\
name = "slow"
description = "One long nap, to cancel"

[[steps]]
id = "nap"
kind = "command"
run = [{python}, "-c", "import time; time.sleep(120)"]
"""

# What keeps VS Code quiet and off the network (REAL-CLIENTS.md).
USER_SETTINGS: dict[str, Any] = {
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoUpdate": False,
    "extensions.autoCheckUpdates": False,
    "extensions.ignoreRecommendations": True,
    "workbench.enableExperiments": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.welcomePage.walkthroughs.openOnInstall": False,
    "security.workspace.trust.enabled": False,
    "remote.autoForwardPorts": False,
    "chat.disableAIFeatures": True,
    "npm.fetchOnlinePackageInfo": False,
    "git.enabled": False,
    "typescript.disableAutomaticTypeAcquisition": True,
}


class ClientsUnavailable(Exception):
    """The real clients cannot be installed here; the message says why."""


@dataclass(frozen=True)
class Clients:
    node: Path
    code_server: Path
    node_modules: Path


def install_clients() -> Clients:
    """Runs install.sh (a no-op when its cache is complete) and returns the clients."""
    if sys.platform != "linux":
        raise ClientsUnavailable("the VS Code end-to-end test runs on Linux only")
    process = subprocess.run(
        ["bash", str(HERE / "install.sh")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if process.returncode != 0:
        tail = "\n".join(process.stderr.strip().splitlines()[-15:])
        raise ClientsUnavailable(f"install.sh failed (exit {process.returncode}):\n{tail}")
    lines = process.stdout.strip().splitlines()
    clients = Path(lines[-1])
    node = Path(lines[-2])
    return Clients(
        node=node,
        code_server=clients / "node_modules" / ".bin" / "code-server",
        node_modules=clients / "node_modules",
    )


def client_env(clients: Clients, home: Path) -> dict[str, str]:
    """Node 24 first on PATH; every place code-server writes is under `home`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VSCODE_", "ELECTRON_", "NODE_OPTIONS"))
    }
    env["PATH"] = f"{clients.node.parent}{os.pathsep}{env.get('PATH', '')}"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
    # A dead loopback gallery: nothing is looked up or downloaded.
    env["EXTENSIONS_GALLERY"] = json.dumps(
        {
            "serviceUrl": "http://127.0.0.1:9/gallery",
            "itemUrl": "http://127.0.0.1:9/items",
            "resourceUrlTemplate": "http://127.0.0.1:9/resource",
        }
    )
    env["NODE_PATH"] = str(clients.node_modules)
    return env


def build_vsix(clients: Clients, out: Path) -> Path:
    """Packages the extension as it is in the tree now (npm ci first if needed)."""
    env = dict(os.environ, PATH=f"{clients.node.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not (EXTENSION / "node_modules" / "@vscode" / "vsce").is_dir():
        _run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], EXTENSION, env, 600)
    vsix = out / "tether.vsix"
    _run(["npx", "vsce", "package", "--no-dependencies", "-o", str(vsix)], EXTENSION, env, 300)
    return vsix


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> None:
    process = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed (exit {process.returncode}):\n"
            f"{process.stdout[-2000:]}\n{process.stderr[-2000:]}"
        )


def make_workspace(root: Path, python: str, **settings: Any) -> Path:
    workspace = root / "project"
    workflows = workspace / ".tether" / "workflows"
    workflows.mkdir(parents=True)
    quoted = json.dumps(python)
    (workflows / "demo.toml").write_text(DEMO_WORKFLOW.format(python=quoted), encoding="utf-8")
    (workflows / "slow.toml").write_text(SLOW_WORKFLOW.format(python=quoted), encoding="utf-8")
    vscode = workspace / ".vscode"
    vscode.mkdir()
    workspace_settings = {
        "tether.interpreter": [python],
        "tether.docs.offline": True,
        "tether.prewarm.onStart": False,
        "tether.prewarm.onSave": False,
        # Heartbeats every half second: the status item must keep the step through them.
        "tether.progressInterval": 0.5,
        **settings,
    }
    (vscode / "settings.json").write_text(json.dumps(workspace_settings, indent=2), "utf-8")
    return workspace


@dataclass
class CodeServer:
    url: str
    user_data: Path
    process: subprocess.Popen[bytes]
    log: Path
    killed: list[int] = field(default_factory=list)
    """Pids of its group still alive after SIGTERM's grace (then SIGKILLed)."""

    @property
    def logs(self) -> Path:
        return self.user_data / "logs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def code_server(clients: Clients, root: Path, vsix: Path) -> Iterator[CodeServer]:
    """code-server with a fresh user-data-dir and the extension installed, until exit."""
    home = root / "home"
    user_data = root / "user-data"
    extensions = root / "extensions"
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS), "utf-8")
    env = client_env(clients, home)
    base = [
        str(clients.code_server),
        "--user-data-dir",
        str(user_data),
        "--extensions-dir",
        str(extensions),
    ]
    _run([*base, "--install-extension", str(vsix)], root, env, 120)
    port = free_port()
    log = root / "code-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *base,
                "--bind-addr",
                f"127.0.0.1:{port}",
                "--auth",
                "none",
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
                "--disable-getting-started-override",
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = CodeServer(f"http://127.0.0.1:{port}", user_data, process, log)
    try:
        _wait_healthy(server)
        yield server
    finally:
        server.killed = stop_group(process)


def _wait_healthy(server: CodeServer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"code-server exited: {server.log.read_text('utf-8')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)  # polling an HTTP endpoint: there is no event to await
    raise RuntimeError(f"code-server did not answer /healthz within {timeout} s")


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            # Fields after the command (which may contain spaces) start after the last ')'.
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def stop_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> list[int]:
    """SIGTERM to code-server's whole group, SIGKILL to what is left after `grace`.
    Returns the pids that needed SIGKILL."""
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while group_members(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
    left = group_members(pgid)
    if left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    return left


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line or working directory contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            status = (entry / "stat").read_text()
            if status[status.rindex(")") + 2] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = ""
            with contextlib.suppress(OSError):
                cwd = os.readlink(entry / "cwd")
            if text in cmdline or text in cwd:
                found.append((int(entry.name), cmdline.strip()))
    return found


def drive(
    clients: Clients,
    server: CodeServer,
    workspace: Path,
    root: Path,
    artifacts: Path,
    *,
    scenario: str,
    repeats: int = 0,
    timeout: float = 600,
) -> dict[str, Any]:
    """Runs drive.mjs against `server`; returns what it observed."""
    # Kept beside the screenshots: what the driver saw is the first thing to read on a failure.
    artifacts.mkdir(parents=True, exist_ok=True)
    output = artifacts / f"drive-{scenario}.json"
    output.unlink(missing_ok=True)
    config = {
        "url": server.url,
        "workspace": str(workspace),
        "logs": str(server.logs),
        "artifacts": str(artifacts),
        "output": str(output),
        "profile": str(root / f"chromium-{scenario}"),
        "chromium": str(CHROMIUM),
        "scenario": scenario,
        "repeats": repeats,
        "badInterpreter": str(root / "no-such-python"),
        "tether": str(Path(sys.executable).parent / "tether"),
    }
    config_path = root / f"drive-{scenario}.config.json"
    config_path.write_text(json.dumps(config), "utf-8")
    env = client_env(clients, root / "home")
    with (root / f"drive-{scenario}.log").open("wb") as log:
        driver = subprocess.Popen(
            [str(clients.node), str(HERE / "drive.mjs"), str(config_path)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            driver.wait(timeout=timeout)
        finally:
            # Chromium lives in the driver's group; nothing of it may outlive the test.
            stop_group(driver, grace=5)
    if not output.exists():
        driver_log = (root / f"drive-{scenario}.log").read_text("utf-8")
        raise RuntimeError(f"drive.mjs wrote nothing: {driver_log[-3000:]}")
    result: dict[str, Any] = json.loads(output.read_text("utf-8"))
    # The editor's logs (extension host, Tether output) go with the screenshots.
    logs = artifacts / f"logs-{scenario}"
    shutil.rmtree(logs, ignore_errors=True)
    shutil.copytree(server.logs, logs, dirs_exist_ok=True)
    return result


def log_files(server: CodeServer, pattern: str) -> list[Path]:
    return sorted(server.logs.rglob(pattern))
