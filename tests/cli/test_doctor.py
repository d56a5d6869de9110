"""`tether doctor` as a real process: one line per check, the right exit status, never a
secret, and a few seconds at most whether Context7 refuses, stalls or answers."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.http_server import FakeHTTPServer, Request, Response

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-doctor-test-0123456789"
# A few seconds is the promise; the bound is generous for a loaded 2-core CI machine.
TIME_LIMIT = 8.0


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "TETHER_CACHE_DIR": str(tmp_path / "cache"),
        "CONTEXT7_API_URL": f"http://127.0.0.1:{closed_port()}",
        "PYTHONPATH": str(REPO / "server") + os.pathsep + str(REPO),
        "PATH": "/usr/bin:/bin",  # no tether on it unless a test says so
    }
    for name in ("CONTEXT7_API_KEY", "OPENAI_API_KEY", "VIRTUAL_ENV"):
        values.pop(name, None)
    return values


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def doctor(env: dict[str, str], workspace: Path, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tether",
        "doctor",
        "-C",
        str(workspace),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    elapsed = time.monotonic() - started
    assert process.returncode is not None
    assert b"Traceback" not in stderr, stderr.decode()
    return process.returncode, stdout.decode(), elapsed


def line(output: str, name: str) -> str:
    """The report line of check `name` (status, padded name, detail)."""
    for text in output.splitlines():
        words = text.split(maxsplit=1)
        if len(words) == 2 and words[1].startswith(f"{name}  "):
            return text
    raise AssertionError(f"no {name!r} line in:\n{output}")


async def test_every_line_has_a_status_and_no_network_means_warnings_only(
    env: dict[str, str], workspace: Path
) -> None:
    code, out, elapsed = await doctor(env, workspace)
    assert code == 0, out
    assert elapsed < TIME_LIMIT
    lines = out.splitlines()
    assert lines[0] == f"tether doctor · workspace {workspace}"
    assert lines[-1].startswith("no problems, ")
    for text in lines[1:-1]:
        status = text.split()[0]
        assert status in ("ok", "warning", "problem", "fix:"), text
    assert line(out, "tether").startswith("ok       tether             0.1.0 at ")
    assert line(out, "python").endswith(f"at {sys.executable}")
    assert line(out, "tether on PATH").startswith("warning") and "not on PATH" in out


async def test_the_tether_command_on_path_is_named(env: dict[str, str], workspace: Path) -> None:
    folder = Path(sys.executable).parent
    code, out, _ = await doctor({**env, "PATH": f"{folder}{os.pathsep}/usr/bin:/bin"}, workspace)
    assert code == 0
    assert line(out, "tether on PATH") == f"ok       tether on PATH     {folder / 'tether'}"
    context7 = line(out, "context7")
    assert context7.startswith("warning") and "cannot reach http://127.0.0.1:" in context7
    assert "$CONTEXT7_API_KEY is not set" in line(out, "context7 key")
    assert "not created yet" in line(out, "cache")
    assert line(out, "claude skills").startswith("warning  claude skills      not installed")
    assert "fix: run `tether init --claude`" in out
    assert line(out, "workflows").startswith("ok") and "check" in line(out, "workflows")


async def test_a_stalling_context7_is_cut_off_after_two_seconds(
    env: dict[str, str], workspace: Path
) -> None:
    never = asyncio.Event()

    async def stall(request: Request) -> Response:
        await never.wait()
        return Response.text("too late")

    async with FakeHTTPServer(stall) as server:
        url = server.url
        code, out, elapsed = await doctor({**env, "CONTEXT7_API_URL": url}, workspace)
        assert [request.path for request in server.requests] == ["/api/v2/libs/search"]
    assert code == 0
    assert 1.5 < elapsed < TIME_LIMIT
    assert f"no answer within 2 s from {url}" in line(out, "context7")


async def test_reachable_context7_and_the_key_is_never_printed(
    env: dict[str, str], workspace: Path
) -> None:
    async def search(request: Request) -> Response:
        return Response.json({"results": []})

    async with FakeHTTPServer(search) as server:
        url = server.url
        code, out, _ = await doctor(
            {**env, "CONTEXT7_API_URL": server.url, "CONTEXT7_API_KEY": SECRET}, workspace
        )
        assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert code == 0
    assert line(out, "context7").startswith(f"ok       context7           reachable at {url}")
    assert "set ($CONTEXT7_API_KEY; value not shown)" in line(out, "context7 key")
    assert SECRET not in out


async def test_a_refused_key_is_a_problem(env: dict[str, str], workspace: Path) -> None:
    async def refuse(request: Request) -> Response:
        return Response.json({"error": "unauthorized"}, status=401)

    async with FakeHTTPServer(refuse) as server:
        code, out, _ = await doctor(
            {**env, "CONTEXT7_API_URL": server.url, "CONTEXT7_API_KEY": SECRET}, workspace, "--json"
        )
    assert code == 1
    report = json.loads(out)
    assert report["problems"] == 1
    (context7,) = [check for check in report["checks"] if check["name"] == "context7"]
    assert context7["status"] == "problem" and "key refused" in context7["detail"]
    assert context7["fix"] == "check $CONTEXT7_API_KEY"
    assert SECRET not in out


async def test_offline_mode_does_not_touch_the_network(
    env: dict[str, str], workspace: Path
) -> None:
    (workspace / ".tether").mkdir()
    (workspace / ".tether" / "config.toml").write_text("[docs]\noffline = true\n")
    code, out, _ = await doctor(env, workspace)
    assert code == 0
    assert "not contacted (docs.offline = true)" in line(out, "context7")


async def test_configuration_mistakes_are_named(env: dict[str, str], workspace: Path) -> None:
    (workspace / ".tether" / "workflows").mkdir(parents=True)
    (workspace / ".tether" / "config.toml").write_text(
        '[llm]\nbase_url = "http://127.0.0.1:1/v1"\n[runs]\nkeep = 0\n'
    )
    broken = workspace / ".tether" / "workflows" / "broken.toml"
    broken.write_text('[[steps]]\nid = "a"\nkind = "nope"\n')
    code, out, _ = await doctor(env, workspace)
    assert code == 1, out
    assert line(out, "config").startswith("warning") and "runs.keep" in line(out, "config")
    assert line(out, "llm").startswith("problem  llm                llm.model is not set")
    assert "fix: set llm.model in .tether/config.toml" in out
    bad = [text for text in out.splitlines() if text.startswith("problem  workflows")]
    assert len(bad) == 1 and str(broken) in bad[0]
    assert out.splitlines()[-1].startswith("2 problem(s)")


async def test_llm_key_presence_without_its_value(env: dict[str, str], workspace: Path) -> None:
    (workspace / ".tether").mkdir()
    (workspace / ".tether" / "config.toml").write_text(
        '[llm]\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "small"\n'
    )
    code, out, _ = await doctor({**env, "OPENAI_API_KEY": SECRET}, workspace)
    assert code == 0
    assert "model small at http://127.0.0.1:1/v1" in line(out, "llm")
    assert "set ($OPENAI_API_KEY; value not shown)" in line(out, "llm key")
    assert SECRET not in out


async def test_installed_packs_and_the_cache_are_reported(
    env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tether.cli.init_command import init

    assert CliRunner().invoke(init, ["-C", str(workspace)]).exit_code == 0
    (workspace / ".cursor" / "rules" / "tether.mdc").write_text("mine\n")
    docs = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tether",
        "docs",
        "click",
        "--offline",
        "-C",
        str(REPO),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(docs.wait(), 60) == 0
    code, out, _ = await doctor(env, workspace)
    assert code == 0
    assert line(out, "claude skills").endswith("installed, up to date (4 files)")
    assert line(out, "cursor rules").endswith(
        "installed; changed by you (kept): .cursor/rules/tether.mdc"
    )
    cache = line(out, "cache")
    assert cache.startswith(f"ok       cache              {tmp_path / 'cache'} (")
    assert "0 entries, 1 package indexes), writable" in cache


async def test_a_cache_path_that_is_a_file_is_a_problem(
    env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    code, out, _ = await doctor({**env, "TETHER_CACHE_DIR": str(blocker)}, workspace)
    assert code == 1
    assert line(out, "cache").startswith(
        f"problem  cache              {blocker} is not a directory"
    )


async def test_the_workspace_venv_is_the_one_read(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = await doctor(env, REPO)
    assert code in (0, 1)
    assert line(out, "site-packages").startswith(f"ok       site-packages      {REPO / '.venv'}")
    assert line(out, "interpreter") == (
        f"ok       interpreter        {REPO / '.venv' / 'bin' / 'python'} (.venv/ in the workspace)"
    )


async def test_missing_workspace_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = await doctor(env, tmp_path / "nope")
    assert code == 2 and out == ""


async def test_a_hanging_interpreter_is_reported_not_waited_for(
    env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    hanging = tmp_path / "python-that-hangs"
    hanging.write_text("#!/bin/sh\nsleep 12\n")
    hanging.chmod(0o755)
    (workspace / ".tether").mkdir()
    (workspace / ".tether" / "config.toml").write_text(f'interpreter = "{hanging}"\n')
    code, out, elapsed = await doctor(env, workspace)
    assert code == 0
    assert elapsed < TIME_LIMIT  # the check gives up at 3.5 s; the interpreter takes 12
    assert line(out, "site-packages").startswith(
        "warning  site-packages      check did not finish within 3.5 s"
    )


async def test_without_a_project_environment_tethers_own_is_named(
    env: dict[str, str], workspace: Path
) -> None:
    code, out, _ = await doctor(env, workspace)
    assert code == 0
    assert line(out, "interpreter").startswith(f"warning  interpreter        {sys.executable} (no ")
    assert "fix: create the project's .venv" in out
