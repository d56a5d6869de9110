"""A fake Anthropic Messages API on loopback (real HTTP, real SSE), for driving real clients.

Point a client at `fake.url` (Claude Code: `ANTHROPIC_BASE_URL`). Every request is logged
in `requests` (and, with `log_path`, appended to a JSON-lines file, which is what you read
when a real client does something unexpected). Conversation turns are played by a `Policy`:
a function of the `Conversation` in the request, so a reply can depend on what the client
sent back, e.g. run the last line of the previous Bash result. `scripted(*turns)` plays
turn N from the N-th function; the turn number is the count of assistant messages already
in the request.

Requests that are not conversation turns get plausible answers without the policy:
`/v1/messages/count_tokens`, and tool-less side requests (titles, summaries, quota
probes), which get a short text. The stream is the real event sequence: message_start,
content_block_start / content_block_delta (text_delta, input_json_delta) /
content_block_stop per block, message_delta (stop_reason), message_stop.

A policy that raises is recorded in `errors` and the turn ends the conversation with a
text naming the error, so the client exits and the test can raise it.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.fakes.http_server import FakeHTTPServer, Request, Response

SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}
SKILL_LISTING = "The following skills are available for use with the Skill tool:"


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: dict[str, Any]


Block = Text | ToolUse


def bash(
    command: str, description: str = "run a command", timeout_ms: int | None = None
) -> ToolUse:
    arguments: dict[str, Any] = {"command": command, "description": description}
    if timeout_ms is not None:
        arguments["timeout"] = timeout_ms
    return ToolUse("Bash", arguments)


def skill(name: str) -> ToolUse:
    return ToolUse("Skill", {"skill": name})


@dataclass(frozen=True)
class ToolResult:
    tool_use_id: str
    text: str
    is_error: bool


def _text_of(content: Any) -> str:
    """A message's or tool result's content as text (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text_of(block) for block in content)
    if isinstance(content, dict):
        if content.get("type") == "text":
            return str(content.get("text", ""))
        if content.get("type") == "tool_result":
            return _text_of(content.get("content", ""))
    return ""


@dataclass
class Conversation:
    """The request body of one conversation turn, with the reads scripts need."""

    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def turn(self) -> int:
        return sum(1 for message in self.messages if message.get("role") == "assistant")

    @property
    def tool_names(self) -> list[str]:
        return [str(tool.get("name")) for tool in self.body.get("tools", [])]

    def tool_results(self) -> list[ToolResult]:
        results = []
        for message in self.messages:
            content = message.get("content")
            if message.get("role") != "user" or not isinstance(content, list):
                continue
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    results.append(
                        ToolResult(
                            str(block.get("tool_use_id")),
                            _text_of(block.get("content", "")),
                            bool(block.get("is_error", False)),
                        )
                    )
        return results

    def last_tool_result(self) -> ToolResult:
        results = self.tool_results()
        if not results:
            raise AssertionError(f"turn {self.turn}: no tool result in the request yet")
        return results[-1]

    def all_text(self) -> str:
        """Every message's text (system-role messages and reminders included), joined."""
        return "\n".join(_text_of(message.get("content")) for message in self.messages)

    def skill_listing(self) -> dict[str, str]:
        """`name: description` lines of the skill listing Claude Code puts in the messages."""
        text = self.all_text()
        start = text.rfind(SKILL_LISTING)
        if start < 0:
            return {}
        listing: dict[str, str] = {}
        for line in text[start + len(SKILL_LISTING) :].splitlines()[1:]:
            if not line.startswith("- "):
                if listing:
                    break
                continue
            name, _, description = line[2:].partition(": ")
            listing[name] = description
        return listing


Policy = Callable[[Conversation], Sequence[Block]]


def scripted(*turns: Policy) -> Policy:
    """Turn N is played by turns[N]; after the last, the conversation ends with "done"."""

    def play(conversation: Conversation) -> Sequence[Block]:
        if conversation.turn < len(turns):
            return turns[conversation.turn](conversation)
        return [Text("done")]

    return play


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise AssertionError("the tool result is empty")
    return lines[-1].strip()


@dataclass
class LoggedRequest:
    path: str
    kind: str  # "turn", "side", "count_tokens", "other"
    body: Any
    reply: list[dict[str, Any]] = field(default_factory=list)


class FakeAnthropic:
    """`async with FakeAnthropic(policy) as api:` then run the client against `api.url`."""

    def __init__(
        self, policy: Policy, *, model: str = "claude-fake-1", log_path: Path | None = None
    ) -> None:
        self.policy = policy
        self.model = model
        self.log_path = log_path
        self.server = FakeHTTPServer(self._handle)
        self.log: list[LoggedRequest] = []
        self.errors: list[str] = []
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def turns(self) -> list[Conversation]:
        return [Conversation(entry.body) for entry in self.log if entry.kind == "turn"]

    async def __aenter__(self) -> FakeAnthropic:
        await self.server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.__aexit__(*exc)

    def raise_errors(self) -> None:
        if self.errors:
            raise AssertionError("the scripted model failed:\n" + "\n".join(self.errors))

    async def _handle(self, request: Request) -> Response:
        try:
            body = request.json() if request.body else {}
        except orjson.JSONDecodeError:
            return self._record(request, "other", None, _error(400, "body is not JSON"))
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            tokens = max(1, len(request.body) // 4)
            return self._record(
                request, "count_tokens", body, Response.json({"input_tokens": tokens})
            )
        if request.method != "POST" or request.path != "/v1/messages":
            return self._record(request, "other", body, _error(404, f"no route {request.path}"))
        if not body.get("tools"):
            entry = LoggedRequest(request.path, "side", body)
            return self._answer(entry, [Text("ok")], bool(body.get("stream")))
        entry = LoggedRequest(request.path, "turn", body)
        try:
            blocks = list(self.policy(Conversation(body)))
        except Exception as error:
            self.errors.append(
                f"turn {Conversation(body).turn}: {error!r}\n{traceback.format_exc()}"
            )
            blocks = [Text(f"scripted model error: {error}")]
        return self._answer(entry, blocks, bool(body.get("stream")))

    def _record(self, request: Request, kind: str, body: Any, response: Response) -> Response:
        self._append(LoggedRequest(request.path, kind, body))
        return response

    def _append(self, entry: LoggedRequest) -> None:
        self.log.append(entry)
        if self.log_path is not None:
            with self.log_path.open("ab") as handle:
                handle.write(
                    orjson.dumps(
                        {
                            "path": entry.path,
                            "kind": entry.kind,
                            "body": entry.body,
                            "reply": entry.reply,
                        }
                    )
                    + b"\n"
                )

    def _answer(self, entry: LoggedRequest, blocks: list[Block], stream: bool) -> Response:
        content = [self._content(block) for block in blocks]
        entry.reply = content
        self._append(entry)
        stop_reason = "tool_use" if any(c["type"] == "tool_use" for c in content) else "end_turn"
        message_id = f"msg_fake_{next(self._ids)}"
        usage = {"input_tokens": 10, "output_tokens": 10}
        if not stream:
            message = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage,
            }
            return Response.json(message, headers={"request-id": f"req_{message_id}"})
        events = list(_stream_events(message_id, self.model, content, stop_reason))
        return Response(200, _chunks(events), {**SSE_HEADERS, "request-id": f"req_{message_id}"})

    def _content(self, block: Block) -> dict[str, Any]:
        if isinstance(block, Text):
            return {"type": "text", "text": block.text}
        return {
            "type": "tool_use",
            "id": f"toolu_fake_{next(self._ids):04d}",
            "name": block.name,
            "input": block.input,
        }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _stream_events(
    message_id: str, model: str, content: list[dict[str, Any]], stop_reason: str
) -> list[bytes]:
    events = [
        _event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 1},
                },
            },
        )
    ]
    for index, block in enumerate(content):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {
                "type": "input_json_delta",
                "partial_json": orjson.dumps(block["input"]).decode(),
            }
        events.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        events.append(
            _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        )
        events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": 10},
            },
        )
    )
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events


async def _chunks(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


def _error(status: int, message: str) -> Response:
    return Response.json(
        {"type": "error", "error": {"type": "invalid_request_error", "message": message}}, status
    )
