"""The docs step kind and the prewarm workflow, through real CLI processes and real HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
import pytest

from tests.fakes.context7 import FakeContext7

pytestmark = pytest.mark.timeout(60)


def make_workspace(root: Path, requirements: str, config: str = "") -> Path:
    workspace = root / "project"
    workspace.mkdir()
    (workspace / "requirements.txt").write_text(requirements)
    if config:
        (workspace / ".tether").mkdir()
        (workspace / ".tether" / "config.toml").write_text(config)
    return workspace


async def tether(workspace: Path, *args: str, env: dict[str, str]) -> tuple[int, dict, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tether",
        *args,
        "--json",
        "-C",
        str(workspace),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, orjson.loads(out) if out.strip() else {}, err.decode()


def environment(tmp_path: Path, url: str) -> dict[str, str]:
    return {"TETHER_CACHE_DIR": str(tmp_path / "cache"), "CONTEXT7_API_URL": url}


async def test_prewarm_fetches_missing_docs_once_then_reports_them_fresh(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, "requests>=2\nwidget==1.0\n")
    async with FakeContext7("normal") as fake:
        env = environment(tmp_path, fake.url)
        code, run, err = await tether(workspace, "prewarm", env=env)
        assert code == 0, err
        step = run["steps"][0]
        statuses = {row["name"]: row["status"] for row in step["output"]["libraries"]}
        assert statuses == {"requests": "fetched", "widget": "fetched"}
        assert [item["index"] for item in step["partial"]] == [1, 2]
        assert {item["total"] for item in step["partial"]} == {2}
        requests_after_first = fake.count()

        code, run, err = await tether(workspace, "prewarm", env=env)
        assert code == 0, err
        statuses = {row["name"]: row["status"] for row in run["steps"][0]["output"]["libraries"]}
        assert statuses == {"requests": "fresh", "widget": "fresh"}
        assert fake.count() == requests_after_first, "fresh entries must not be fetched again"


async def test_prewarm_with_a_stalled_provider_ends_at_the_lookup_timeout(tmp_path: Path) -> None:
    workspace = make_workspace(
        tmp_path,
        "requests\nwidget\n",
        '[docs]\nlookup_timeout = "300ms"\nproviders = ["context7"]\n',
    )
    async with FakeContext7("stall") as fake:
        loop = asyncio.get_running_loop()
        started = loop.time()
        code, run, err = await tether(workspace, "prewarm", env=environment(tmp_path, fake.url))
        elapsed = loop.time() - started
    assert code == 1, err
    assert run["status"] == "failed"
    assert run["steps"][0]["status"] == "failed"
    assert "no docs for any" in run["steps"][0]["error"]
    assert elapsed < 5, elapsed


async def test_docs_step_writes_a_context_pack_from_installed_packages(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, "click\n", '[docs]\nproviders = ["local"]\n')
    workflows = workspace / ".tether" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "pack.toml").write_text(
        '[[steps]]\nid = "pack"\nkind = "docs"\nlibraries = ["click"]\nquery = "command options"\n'
    )
    code, run, err = await tether(
        workspace, "run", "pack", env={"TETHER_CACHE_DIR": str(tmp_path / "cache")}
    )
    assert code == 0, err
    output = run["steps"][0]["output"]
    assert output["libraries"][0]["provider"] == "local"
    pack = Path(output["pack"])
    assert pack.parent.parent.name == "runs"
    text = pack.read_text()
    assert text.startswith("# Context pack: command options")
    assert "click" in text


def test_docs_step_options_are_validated_at_load(tmp_path: Path) -> None:
    from tether.engine.errors import WorkflowError
    from tether.engine.loader import load_workflow
    from tether.steps.registry import builtin_kinds

    path = tmp_path / "bad.toml"
    path.write_text('[[steps]]\nid = "d"\nkind = "docs"\nmode = "everything"\n')
    with pytest.raises(WorkflowError) as raised:
        load_workflow(path, builtin_kinds())
    assert "mode" in str(raised.value)
    assert "bad.toml:4: steps[0] (d).mode: must be one of pack, prewarm" in str(raised.value)


async def test_a_hostile_library_name_fails_alone_and_touches_nothing(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, "", '[docs]\nproviders = ["local"]\n')
    code, run, err = await tether(
        workspace,
        "prewarm",
        "--libraries",
        "click,../../etc/passwd",
        env={"TETHER_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert code == 0, err
    statuses = {row["name"]: row["status"] for row in run["steps"][0]["output"]["libraries"]}
    assert statuses == {"click": "fetched", "../../etc/passwd": "failed"}
