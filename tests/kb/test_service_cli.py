"""`tether docs` and `tether cache`: through click's CliRunner, and as real processes
talking to the fake Context7 server with a private cache directory."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fakes.context7 import FakeContext7
from tether.cli.docs_command import cache, docs
from tether.kb.store import CacheEntry, CacheKey, DocsStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "TETHER_CACHE_DIR": str(tmp_path / "cache"),
        "CONTEXT7_API_URL": "http://127.0.0.1:9",  # nothing listens: must not be needed
        "CONTEXT7_API_KEY": "",
        "PYTHONPATH": str(REPO / "server") + os.pathsep + str(REPO),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    return {**os.environ, **values}


def test_docs_prints_a_header_then_ranked_markdown(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        docs, ["httpx", "AsyncClient", "--offline", "--max-tokens", "800", "-C", str(REPO)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("> tether docs: **httpx ") and "provider: local" in lines[0]
    # A symbol asked for by name is answered exactly: signature first, then its docs.
    assert lines[2].startswith("### `httpx.AsyncClient(") and lines[2].endswith("(class)")
    assert len(result.stdout) <= 800 * 4 + len(lines[0]) + 10


def test_docs_json_is_one_object(env: dict[str, str]) -> None:
    result = CliRunner().invoke(docs, ["click", "--json", "--offline", "-C", str(REPO)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["found"] is True and payload["provider"] == "local"
    assert payload["library"] == "click" and payload["version"]
    assert "## API" in payload["content"] and "click.command(" in payload["content"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b/c", "x" * 300, "bad name"])
def test_hostile_library_name_exits_2_with_one_line(env: dict[str, str], name: str) -> None:
    result = CliRunner().invoke(docs, [name, "-C", str(REPO)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("tether: error: library name")


def test_no_docs_exits_1_with_one_line_per_provider(env: dict[str, str]) -> None:
    result = CliRunner().invoke(docs, ["surely-not-installed-pkg", "--offline", "-C", str(REPO)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "tether: no documentation found for surely-not-installed-pkg",
        "  local: surely-not-installed-pkg is not installed in this project",
        "  context7: skipped (offline)",
    ]


def test_missing_workspace_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(docs, ["httpx", "-C", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert ": not a directory" in result.stderr


def test_cache_stats_and_clear(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(docs, ["httpx", "--offline", "-C", str(REPO)]).exit_code == 0
    stats = runner.invoke(cache, ["stats", "--json", "-C", str(REPO)])
    assert stats.exit_code == 0, stats.output
    payload = json.loads(stats.stdout)
    assert payload["directory"] == env["TETHER_CACHE_DIR"]
    assert payload["indexes"]["entries"] == 1 and payload["indexes"]["bytes"] > 0
    plain = runner.invoke(cache, ["stats", "-C", str(REPO)])
    assert "indexes: 1 " in plain.stdout
    cleared = runner.invoke(cache, ["clear", "--json", "-C", str(REPO)])
    assert json.loads(cleared.stdout)["removed"] == 1
    after = json.loads(runner.invoke(cache, ["stats", "--json", "-C", str(REPO)]).stdout)
    assert after["disk"]["entries"] == 0 and after["indexes"]["entries"] == 0


def test_command_module_imports_neither_httpx_nor_diskcache(env: dict[str, str]) -> None:
    code = (
        "import sys, tether.cli.docs_command;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'diskcache'}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert completed.stdout.strip() == "[]"


# -- real processes against the fake Context7 ------------------------------------------------


async def run_tether(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tether",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_process_fetches_from_context7_once_then_serves_the_disk_cache(
    env: dict[str, str], tmp_path: Path
) -> None:
    workspace = tmp_path / "project"
    workspace.mkdir()
    async with FakeContext7() as fake:
        env = {**env, "CONTEXT7_API_URL": fake.url}
        code, out, err = await run_tether(env, "docs", "widget", "timeouts", "-C", str(workspace))
        assert code == 0, err
        assert out.startswith("> tether docs: **widget** · provider: context7")
        assert "Widget: Timeouts" in out
        assert (fake.count("search"), fake.count("context")) == (1, 1)

        code, out, err = await run_tether(
            {**env, "PYTHONPROFILEIMPORTTIME": "1"},
            "docs",
            "widget",
            "timeouts",
            "-C",
            str(workspace),
        )
        assert code == 0
        assert "cache: disk" in out.splitlines()[0]
        assert fake.count() == 2  # nothing new: served from the shared disk cache
        # A cache hit imports neither the HTTP client nor the Context7 provider.
        assert "| httpx" not in err and "tether.kb.providers.context7" not in err

        fake.mode, fake.burst = "server_error", 100
        code, out, err = await run_tether(
            env, "docs", "widget", "timeouts", "--refresh", "-C", str(workspace)
        )
        assert code == 0
        assert "stale" in out.splitlines()[0]
        assert "tether: note: context7:" in err and "server error 500" in err


async def test_process_offline_sends_nothing(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeContext7() as fake:
        env = {**env, "CONTEXT7_API_URL": fake.url}
        code, out, err = await run_tether(env, "docs", "widget", "--offline", "-C", str(tmp_path))
    assert code == 1
    assert out == ""
    assert "context7: skipped (offline)" in err
    assert fake.count() == 0


async def test_process_reports_a_rejected_key_and_exits_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    async with FakeContext7("unauthorized") as fake:
        env = {**env, "CONTEXT7_API_URL": fake.url, "CONTEXT7_API_KEY": "ctx7sk-wrong"}
        code, out, err = await run_tether(env, "docs", "widget", "--json", "-C", str(tmp_path))
    assert code == 1
    payload = json.loads(out)
    assert payload["found"] is False
    assert any("Context7 rejected the API key" in error for error in payload["errors"])
    assert "Context7 rejected the API key" in err
    assert fake.requests[0].headers["authorization"] == "Bearer ctx7sk-wrong"


# -- configuration the docs command reads (.tether/config.toml) ------------------------------


def write_config(workspace: Path, text: str) -> None:
    (workspace / ".tether").mkdir(parents=True, exist_ok=True)
    (workspace / ".tether" / "config.toml").write_text(text)


async def test_config_offline_and_providers_change_what_is_asked(
    env: dict[str, str], tmp_path: Path
) -> None:
    offline = tmp_path / "offline"
    write_config(offline, "[docs]\noffline = true\n")
    local_only = tmp_path / "local-only"
    write_config(local_only, '[docs]\nproviders = ["local"]\n')
    async with FakeContext7() as fake:
        env = {**env, "CONTEXT7_API_URL": fake.url}
        code, _out, err = await run_tether(env, "docs", "widget", "-C", str(offline))
        assert code == 1 and "context7: skipped (offline)" in err
        code, _out, err = await run_tether(env, "docs", "widget", "-C", str(local_only))
        assert code == 1 and "context7" not in err
        assert fake.count() == 0
        code, _out, _err = await run_tether(env, "docs", "widget", "-C", str(tmp_path))
        assert code == 0 and fake.count() == 2


async def test_config_key_variable_max_tokens_and_context7_url(
    env: dict[str, str], tmp_path: Path
) -> None:
    async with FakeContext7(api_key="ctx7sk-from-my-var") as fake:
        write_config(
            tmp_path,
            f'[docs]\nmax_tokens = 20\n[context7]\nurl = "{fake.url}"\napi_key_env = "MY_C7_KEY"\n',
        )
        env = {**env, "MY_C7_KEY": "ctx7sk-from-my-var", "CONTEXT7_API_KEY": "ignored"}
        code, out, err = await run_tether(env, "docs", "requests", "-C", str(tmp_path))
    assert code == 0, err
    assert fake.requests[0].headers["authorization"] == "Bearer ctx7sk-from-my-var"
    body = out.split("\n", 2)[2]
    assert len(body) <= 20 * 4 + 1


async def test_process_serves_a_stale_entry_and_its_refresh_lands_before_exit(
    env: dict[str, str], tmp_path: Path
) -> None:
    now = time.time()
    with DocsStore(Path(env["TETHER_CACHE_DIR"])) as store:
        store.set(
            CacheKey.of("context7", "widget", None, "timeouts"),
            CacheEntry(
                content="### Widget: old docs",
                provider="context7",
                library="widget",
                version="",
                fetched_at=now - 8 * 86400,
                fresh_until=now - 86400,  # past its TTL, before its hard expiry
                expires_at=now + 22 * 86400,
                meta={},
            ),
        )
    async with FakeContext7() as fake:
        env = {**env, "CONTEXT7_API_URL": fake.url}
        code, out, err = await run_tether(env, "docs", "widget", "timeouts", "-C", str(tmp_path))
        assert code == 0, err
        assert "stale" in out.splitlines()[0] and "old docs" in out
        assert fake.count("context") == 1  # refreshed in the background, before the exit
        code, out, err = await run_tether(env, "docs", "widget", "timeouts", "-C", str(tmp_path))
    assert code == 0
    assert "stale" not in out.splitlines()[0] and "Widget: Timeouts" in out
    assert fake.count("context") == 1


STORE_USER = """
import sys, time
from pathlib import Path
from tether.kb.store import CacheEntry, CacheKey, DocsStore

with DocsStore(Path(sys.argv[1])) as store:
    store.wait_disk_opened(30)
    key = CacheKey.of("context7", "widget", "1.0", sys.argv[2])
    assert store.get(key) is None
    store.set(key, CacheEntry("docs", "context7", "widget", "1.0", time.time(), None, None, {}))
    assert store.get(key) is not None
"""


def test_cache_stats_counts_what_every_process_did(env: dict[str, str]) -> None:
    cache_dir = env["TETHER_CACHE_DIR"]
    for query in ("first", "second"):
        subprocess.run(
            [sys.executable, "-c", STORE_USER, cache_dir, query],
            env=env,
            check=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    runner = CliRunner()
    payload = json.loads(runner.invoke(cache, ["stats", "--json", "-C", str(REPO)]).stdout)
    totals = payload["all_processes"]
    assert totals["since"] is not None
    assert (totals["memory.hits"], totals["memory.misses"], totals["disk.misses"]) == (2, 2, 2)
    assert payload["memory"]["hits"] == 0  # this process's own figures, labelled as such
    plain = runner.invoke(cache, ["stats", "-C", str(REPO)]).stdout
    assert "(the memory and disk figures above are this process's own)" in plain
    assert "  memory: 2 hits, 2 misses, 0 errors" in plain
    runner.invoke(cache, ["clear", "-C", str(REPO)])
    cleared = json.loads(runner.invoke(cache, ["stats", "--json", "-C", str(REPO)]).stdout)
    assert cleared["all_processes"] == {"since": None}
