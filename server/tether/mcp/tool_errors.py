"""Bad tool calls answered with one line: which argument, what is wrong, what was given.

The SDK reports a schema violation with pydantic's multi-line text and silently drops
arguments it does not know; a model reads one line better, and a misspelt argument
should not quietly fall back to its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


def unknown_arguments(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """One line naming the arguments `schema` does not declare, or None when all are known."""
    known = schema.get("properties", {})
    unknown = sorted(name for name in arguments if name not in known)
    if not unknown:
        return None
    allowed = ", ".join(sorted(known)) or "none"
    names = ", ".join(repr(name)[:80] for name in unknown[:5])
    return f"unknown argument {names} (this tool takes: {allowed})"


def describe_invalid(error: ValidationError) -> str:
    """The first problem of a failed argument validation, on one line."""
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "arguments"
    line = f"argument {where!r}: {first['msg']}"
    if first["type"] != "missing":
        line += f" (got {first['input']!r:.80})"
    if len(problems) > 1:
        line += f"; {len(problems) - 1} more problem(s)"
    return line
