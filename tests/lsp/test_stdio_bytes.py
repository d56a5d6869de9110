"""The real `tether serve`, fed raw bytes over stdio: bad framing and bad params never
leave it deaf, silent or dead (issue #12, items 11-13)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

SERVER = Path(__file__).resolve().parents[2] / "server"
TIMEOUT = 30.0  # generous: the machine running the suite may be loaded
VALID_REQUESTS = 10


def frame(message: dict[str, Any], *, declared: int | None = None) -> bytes:
    body = json.dumps(message).encode()
    length = len(body) if declared is None else declared
    return b"Content-Length: %d\r\n\r\n" % length + body


def workflows_request(request_id: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "workspace/executeCommand",
        "params": {"command": "tether.workflows", "arguments": []},
    }


class RawClient:
    """Speaks to the server byte by byte; reads its answers with the standard framing."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.null_id_errors: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, workspace: Path, extra_env: dict[str, str] | None = None) -> RawClient:
        env = {
            **os.environ,
            **(extra_env or {}),
            "PYTHONPATH": os.pathsep.join([str(SERVER), os.environ.get("PYTHONPATH", "")]),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tether",
            "serve",
            cwd=workspace,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=2**20,
        )
        client = cls(process)
        await client.send(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {
                        "processId": None,
                        "rootUri": workspace.as_uri(),
                        "capabilities": {},
                    },
                }
            )
        )
        await client.answers([0])
        await client.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        return client

    async def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        headers = await self.process.stdout.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        message: dict[str, Any] = json.loads(await self.process.stdout.readexactly(length))
        return message

    async def answers(self, ids: list[int], timeout: float = TIMEOUT) -> dict[int, dict[str, Any]]:
        """The answers to `ids` (all of them, or as many as came within `timeout`)."""
        found: dict[int, dict[str, Any]] = {}
        try:
            async with asyncio.timeout(timeout):
                while not set(ids) <= set(found):
                    message = await self.receive()
                    if "method" in message:
                        continue  # a notification or a request of the server's own
                    if message.get("id") is None:
                        self.null_id_errors.append(message["error"])
                    elif message["id"] in ids:
                        found[message["id"]] = message
        except TimeoutError:
            pass
        return found

    async def serves_valid_requests(self, first_id: int = 100) -> int:
        """How many of ten valid requests get an answer."""
        ids = list(range(first_id, first_id + VALID_REQUESTS))
        await self.send(b"".join(frame(workflows_request(i)) for i in ids))
        answered = await self.answers(ids)
        assert all("result" in answer for answer in answered.values()), answered
        return len(answered)

    async def stop(self) -> int:
        await self.send(frame({"jsonrpc": "2.0", "id": 9999, "method": "shutdown"}))
        await self.answers([9999])
        await self.send(frame({"jsonrpc": "2.0", "method": "exit"}))
        return await asyncio.wait_for(self.process.wait(), TIMEOUT)

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


@pytest.fixture
async def raw(tmp_path: Path) -> Any:
    client = await RawClient.start(tmp_path)
    try:
        yield client
    finally:
        client.kill()
        await client.process.wait()


@pytest.mark.parametrize("error", [+300, -5, +5], ids=["too-long", "too-short", "slightly-long"])
async def test_a_wrong_content_length_is_followed_by_resynchronising(
    raw: RawClient, error: int
) -> None:
    broken = workflows_request(1)
    body_length = len(json.dumps(broken).encode())
    await raw.send(frame(broken, declared=body_length + error))
    assert await raw.serves_valid_requests() == VALID_REQUESTS
    assert [e["code"] for e in raw.null_id_errors] == [-32700], "the broken message is reported"
    assert await raw.stop() == 0


@pytest.mark.parametrize(
    "params",
    [
        {"command": "tether.workflows", "arguments": 5},
        None,
        {"command": 7},
        "text",
    ],
    ids=["arguments-5", "params-null", "command-not-a-string", "params-a-string"],
)
async def test_execute_command_with_malformed_params_gets_invalid_params(
    raw: RawClient, params: Any
) -> None:
    request = {"jsonrpc": "2.0", "id": 7, "method": "workspace/executeCommand", "params": params}
    await raw.send(frame(request))
    answer = (await raw.answers([7])).get(7)
    assert answer is not None, "a request with an id must be answered"
    assert answer["error"]["code"] == -32602
    assert await raw.serves_valid_requests() == VALID_REQUESTS


async def test_requests_that_are_not_json_rpc_are_answered(raw: RawClient) -> None:
    await raw.send(frame({"id": 8, "method": "workspace/executeCommand"}))  # no "jsonrpc"
    await raw.send(frame({"jsonrpc": "2.0", "id": 9, "method": 5}))
    answered = await raw.answers([8, 9])
    assert {key: value["error"]["code"] for key, value in answered.items()} == {
        8: -32600,
        9: -32600,
    }
    await raw.send(b"Content-Length: 3\r\n\r\n[1]")  # JSON, but no message
    await raw.send(b"Content-Length: 4\r\n\r\n{{}}")  # no JSON at all
    assert await raw.serves_valid_requests() == VALID_REQUESTS
    assert [e["code"] for e in raw.null_id_errors] == [-32600, -32700]


@pytest.mark.parametrize(
    "oversized",
    [
        b"X-Padding: " + b"a" * (17 * 2**20) + b"\r\n",
        b"Content-Length: 20\r\nX-Padding: " + b"a" * (17 * 2**20) + b"\r\n\r\n",
        b"Content-Length: 999999999999\r\n\r\n",
    ],
    ids=["17-MiB-line", "17-MiB-header-block", "huge-declared-body"],
)
async def test_an_oversized_message_is_refused_and_serving_goes_on(
    raw: RawClient, oversized: bytes
) -> None:
    await raw.send(oversized)
    assert await raw.serves_valid_requests() == VALID_REQUESTS
    assert [e["code"] for e in raw.null_id_errors] == [-32600]
    assert raw.process.returncode is None
    assert await raw.stop() == 0
