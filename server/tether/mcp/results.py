"""Tool results: structured JSON for programs, the same JSON as text for the model, and
a size bound so that no answer floods a chat's context."""

from __future__ import annotations

from typing import Any

import orjson
from mcp.types import CallToolResult, TextContent

MAX_JSON_CHARS = 16_000
"""One copy of a result's JSON. A result carries it twice (text for the model, structured
content for programs); 2 x 16,000 characters stays under Claude Code's 10,000-token
warning at about four characters a token."""


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def json_result(value: dict[str, Any], text: str | None = None) -> CallToolResult:
    """`value` as structured content, and as text unless `text` says it better."""
    return CallToolResult(
        content=[TextContent(type="text", text=json_text(value) if text is None else text)],
        structured_content=value,
    )


def fit_list(payload: dict[str, Any], key: str, limit: int = MAX_JSON_CHARS) -> dict[str, Any]:
    """`payload` with its list under `key` cut from the end until the JSON fits `limit`;
    `omitted` then counts what was left out, so that a cut is never silent."""
    items = payload[key]
    if len(json_text(payload)) <= limit:
        return payload
    low, high = 0, len(items)  # the most items that fit lies in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        trial = {**payload, key: items[:middle], "omitted": len(items) - middle}
        if len(json_text(trial)) <= limit:
            low = middle
        else:
            high = middle - 1
    return {**payload, key: items[:low], "omitted": len(items) - low}
