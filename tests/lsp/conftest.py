from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.lsp.harness import TestClient, capabilities, server_env, start_server, stop_server

MULTI = """
name = "multi"
description = "three quick steps in a row"

[[steps]]
id = "first"
kind = "command"
run = ["sh", "-c", "echo first"]

[[steps]]
id = "second"
kind = "command"
run = ["sh", "-c", "echo second"]
needs = ["first"]

[[steps]]
id = "third"
kind = "command"
run = ["sh", "-c", "echo third"]
needs = ["second"]
"""

# A process that prints and records its pid, and a python step whose cleanup leaves a file
# behind: cancelling the run must kill the first and run the second. (`exec`: a shell that
# left an orphaned child would keep the engine's group-kill grace busy until it is reaped.)
SLOW = """
name = "slow"
description = "sleeps until stopped"

[[steps]]
id = "sleeper"
kind = "command"
shell = true
run = "echo pid $$$$; echo $$$$ > sleeper.tmp; mv sleeper.tmp sleeper.pid; exec sleep 30"

[[steps]]
id = "guard"
kind = "python"
call = "fixture_steps:guarded_wait"
"""

# A command (and its child) that ignore SIGTERM: only the group's SIGKILL ends them.
STUBBORN = """
name = "stubborn"
description = "ignores SIGTERM"

[[steps]]
id = "stubborn"
kind = "command"
shell = true
run = "trap '' TERM; echo $$$$ > stubborn.tmp; mv stubborn.tmp stubborn.pid; sleep 30; true"
"""

# Pauses at its budget unless `resume-ok` exists: a run that pauses, then resumes to success.
PAUSABLE = """
name = "pausable"
description = "waits for resume-ok"

[[steps]]
id = "quick"
kind = "command"
run = ["sh", "-c", "echo quick"]

[[steps]]
id = "gate"
kind = "command"
shell = true
run = "test -f resume-ok || sleep 30"
needs = ["quick"]
"""

# An agent step waits for a result handed in through tether.resume; the next step uses it.
HANDOFF = """
name = "handoff"
description = "asks the agent, then uses its answer"

[[steps]]
id = "ask"
kind = "agent"
task = "Name a colour"

[[steps]]
id = "after"
kind = "command"
run = ["sh", "-c", "echo agent said ${steps.ask.output.result}"]
needs = ["ask"]
"""

NAP = """
name = "nap"
description = "one step that takes a moment"

[[steps]]
id = "nap"
kind = "command"
run = ["sleep", "1.6"]
"""

NOISY = """
name = "noisy"
description = "writes to stdout every way it can"

[[steps]]
id = "noise"
kind = "python"
call = "fixture_steps:make_noise"
"""

# Stands in for the built-in pre-warm (a project file overrides a built-in by name): it
# records what it was asked for and emits the docs step's per-library items.
PREWARM = """
name = "prewarm"
description = "test double of the docs pre-warm"

[params]
libraries = ""

[[steps]]
id = "docs"
kind = "python"
call = "fixture_steps:fake_prewarm"
inputs = { libraries = "${params.libraries}" }
"""

STEPS = """
import asyncio
from pathlib import Path


async def guarded_wait(ctx):
    ctx.on_cleanup(lambda: (ctx.workspace / "cleaned").write_text(ctx.run_id))
    # Written whole or not at all: tests read it as soon as it exists.
    (ctx.workspace / "guard.tmp").write_text(ctx.run_id)
    (ctx.workspace / "guard.tmp").replace(ctx.workspace / "guard.started")
    await asyncio.sleep(30)
    return {}


def make_noise(ctx):
    import logging
    import os
    import subprocess
    import sys

    print("noise from print")
    sys.stdout.flush()
    os.write(1, b"noise on fd 1\\n")
    subprocess.run(["echo", "noise from a child"], check=True)
    logging.getLogger().warning("noise from the root logger")
    return {"noisy": True}


def fake_prewarm(ctx):
    libraries = [name for name in ctx.inputs["libraries"].split(",") if name]
    with open(ctx.workspace / "prewarm-calls.txt", "a") as calls:
        calls.write(",".join(libraries) or "*")
        calls.write("\\n")
    names = libraries or ["(all)"]
    for index, name in enumerate(names, start=1):
        ctx.emit({"library": name, "index": index, "total": len(names), "status": "fetched"})
    return {"libraries": names}
"""


def make_workspace(root: Path, *, config: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    workflows = root / ".tether" / "workflows"
    workflows.mkdir(parents=True)
    for name, text in {
        "multi": MULTI,
        "slow": SLOW,
        "pausable": PAUSABLE,
        "prewarm": PREWARM,
        "nap": NAP,
        "noisy": NOISY,
        "handoff": HANDOFF,
        "stubborn": STUBBORN,
    }.items():
        (workflows / f"{name}.toml").write_text(textwrap.dedent(text))
    (root / "fixture_steps.py").write_text(STEPS)
    (root / "requirements.txt").write_text("click==8.1.7\n")
    default_config = f'interpreter = "{sys.executable}"\n[docs]\noffline = true\n'
    (root / ".tether" / "config.toml").write_text(config if config is not None else default_config)
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path)


@pytest.fixture(params=["vscode", "neovim"])
def client_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["vscode", "neovim"])
async def shared_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    """One server per client kind for a whole module, in its own workspace
    (`shared_client.workspace`): for tests whose runs do not get in each other's way."""
    tmp = tmp_path_factory.mktemp(f"shared-{request.param}")
    workspace = make_workspace(tmp / "ws")
    started = await start_server(
        workspace, server_env(tmp), capabilities(request.param), {"prewarm": {"onStart": False}}
    )
    started.workspace = workspace
    yield started
    await stop_server(started)


@pytest_asyncio.fixture
async def client(
    workspace: Path, env: dict[str, str], client_name: str
) -> AsyncIterator[TestClient]:
    """A server in `workspace` with pre-warm on start off (tests ask for it explicitly)."""
    started = await start_server(
        workspace, env, capabilities(client_name), {"prewarm": {"onStart": False}}
    )
    yield started
    await stop_server(started)
