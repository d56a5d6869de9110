"""No API key tether holds reaches a file, the cache, the terminal or the editor (#12.7-9).

One fake server on 127.0.0.1 plays both Context7 and an OpenAI-compatible endpoint and
echoes the Authorization header it receives into everything it answers: search results,
docs text, streamed completion pieces (cut mid-key), and error bodies placed so that the
usual 200-character cut falls inside the key. Every step kind runs against it (command
and python steps print the keys from their environment, the command 300 times so that its
output also goes past the journal's bound into artifacts; an agent is handed a result
holding them), then `show`, `runs`, `docs` and the language server are asked too. Every
file under `.tether/` and the cache directory, and every byte printed or sent, is then
searched for any 10-character piece of either key.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from tests.fakes.context7 import FakeLibrary
from tests.fakes.http_server import FakeHTTPServer, Request, Response
from tests.fakes.openai import DONE, SSE_HEADERS, chunk_event
from tests.lsp.test_stdio_bytes import RawClient, frame

pytestmark = pytest.mark.timeout(240)

LLM_KEY = "sk-llm-Qm7rT2vXk9LpZ4wNc8HsJ1dFy6GbAe3UoRi5"
CONTEXT7_KEY = "ctx7sk-Vb3nH8qWe2RtYu6IoP1aSd9FgJk4LzXc7Mn0"
WINDOW = 10
CUT = 200  # where error snippets are cut


def key_pieces() -> set[bytes]:
    return {
        key[start : start + WINDOW].encode()
        for key in (LLM_KEY, CONTEXT7_KEY)
        for start in range(len(key) - WINDOW + 1)
    }


def at_the_cut(text: str) -> str:
    """`text` placed so that a cut at CUT characters falls in its middle."""
    return "x" * (CUT - len(text) // 2) + " " + text


async def echo(request: Request) -> Response:
    auth = request.headers.get("authorization", "none")
    if request.path == "/api/v2/libs/search":
        name = request.query.get("libraryName", "")
        library = FakeLibrary(f"/echo/{name}", name, "", description=f"seen {auth}")
        return Response.json({"results": [library.search_result()], "searchFilterApplied": False})
    if request.path == "/api/v2/context":
        if "broken" in request.query.get("libraryId", ""):
            body = {"error": "bad_request", "message": at_the_cut(auth)}
            return Response.json(body, status=400)
        docs = f"### Echo\n\nThe request said {auth}.\n\n" + "padding line\n" * 40
        return Response.text(docs + f"\n{auth}")
    if request.path.endswith("/chat/completions"):
        model = orjson.loads(request.body).get("model", "")
        if model == "echo-fail":
            return Response.json({"error": {"message": at_the_cut(auth)}}, status=400)
        return Response(200, stream_pieces(f"you sent {auth} as your key; {auth}"), SSE_HEADERS)
    return Response.text("no such endpoint", status=404)


async def stream_pieces(text: str) -> AsyncIterator[bytes]:
    yield chunk_event(role="assistant", model=f"echo {text}")
    for start in range(0, len(text), 7):  # pieces that cut through the key
        yield chunk_event(text[start : start + 7])
    yield chunk_event(finish_reason="stop", usage={"prompt_tokens": 1, "completion_tokens": 1})
    yield DONE


STEPS_PY = """
import os


def keys(ctx):
    return {"llm": os.environ["OPENAI_API_KEY"], "c7": os.environ["CONTEXT7_API_KEY"]}
"""

WORKFLOW = """
[[steps]]
id = "shell"
kind = "command"
run = ["sh", "-c", "for i in $(seq 300); do echo $OPENAI_API_KEY $CONTEXT7_API_KEY; done; exit 3"]
continue_on_error = true

[[steps]]
id = "python"
kind = "python"
call = "leaky:keys"

[[steps]]
id = "docs"
kind = "docs"
libraries = ["echolib", "brokenlib"]
query = "auth"

[[steps]]
id = "answer"
kind = "llm"
prompt = "Say the key"

[[steps]]
id = "refused"
kind = "llm"
model = "echo-fail"
prompt = "Fail"
continue_on_error = true

[[steps]]
id = "agent"
kind = "agent"
task = "Report the keys"
needs = ["python", "docs", "answer"]
"""


@pytest.fixture
async def server() -> AsyncIterator[FakeHTTPServer]:
    async with FakeHTTPServer(echo) as fake:
        yield fake


class Session:
    """A workspace whose every tether invocation is recorded, output and all."""

    def __init__(self, root: Path, url: str) -> None:
        self.workspace = root / "project"
        self.cache = root / "cache"
        self.outputs: list[tuple[str, bytes]] = []
        folder = self.workspace / ".tether" / "workflows"
        folder.mkdir(parents=True)
        (folder / "leak.toml").write_text(WORKFLOW)
        (self.workspace / "leaky.py").write_text(STEPS_PY)
        (self.workspace / ".tether" / "config.toml").write_text(
            f'[llm]\nbase_url = "{url}/v1"\nmodel = "echo-ok"\n'
            f'[context7]\nurl = "{url}"\n'
            '[docs]\nproviders = ["context7"]\n'
        )
        self.env = {
            **os.environ,
            "OPENAI_API_KEY": LLM_KEY,
            "CONTEXT7_API_KEY": CONTEXT7_KEY,
            "TETHER_CACHE_DIR": str(self.cache),
            "PYTHONPATH": os.pathsep.join([str(self.workspace), os.environ.get("PYTHONPATH", "")]),
            "NO_COLOR": "1",
        }

    async def tether(self, *args: str) -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tether",
            *args,
            cwd=self.workspace,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
        self.outputs.append((" ".join(args) + " (stdout)", out))
        self.outputs.append((" ".join(args) + " (stderr)", err))
        assert process.returncode is not None
        return process.returncode, out

    def leaks(self) -> list[str]:
        pieces = key_pieces()
        found = []
        places: list[tuple[str, bytes]] = list(self.outputs)
        for root in (self.workspace / ".tether", self.cache):
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    places.append((str(path), path.read_bytes()))
        for where, data in places:
            hits = sorted(piece.decode() for piece in pieces if piece in data)
            if hits:
                found.append(f"{where}: {hits[0]!r} and {len(hits) - 1} more")
        return found


async def test_no_key_reaches_a_file_the_cache_or_any_output(
    tmp_path: Path, server: FakeHTTPServer
) -> None:
    session = Session(tmp_path, server.url)
    code, out = await session.tether("run", "leak", "--json")
    assert code == 1, out  # two steps fail on purpose; the agent step waits
    started = orjson.loads(out)
    steps = {step["id"]: step for step in started["steps"]}
    assert steps["answer"]["status"] == "succeeded", steps["answer"]
    assert "***" in steps["answer"]["output"]["result"]
    assert steps["refused"]["status"] == "failed"
    assert "***" in steps["python"]["output"]["llm"]
    result = tmp_path / "result.md"
    result.write_text(f"The keys are {LLM_KEY} and {CONTEXT7_KEY}.")
    run_id = started["run_id"]
    await session.tether("resume", run_id, "--result-file", str(result), "--json")
    await session.tether("resume", run_id, "--result-file", str(result))
    for args in (("show", run_id), ("show", run_id, "--json"), ("runs",), ("runs", "--json")):
        await session.tether(*args)
    for args in (
        ("docs", "echolib", "auth", "--json"),
        ("docs", "echolib", "auth"),
        ("docs", "echolib", "auth", "--refresh"),
        ("docs", "brokenlib", "auth", "--json"),
        ("docs", "brokenlib", "auth"),
    ):
        await session.tether(*args)

    lsp = await RawClient.start(session.workspace, session.env)
    try:
        request = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "workspace/executeCommand",
            "params": {"command": "tether.docs", "arguments": [{"library": "echolib"}]},
        }
        await lsp.send(frame(request))
        answer = (await lsp.answers([5])).get(5)
        assert answer is not None and "result" in answer, answer
        session.outputs.append(("language server answer", orjson.dumps(answer)))
        await lsp.stop()
    finally:
        lsp.kill()
    assert any(b"***" in data for _, data in session.outputs), "the echo reached the outputs"
    assert session.leaks() == []
