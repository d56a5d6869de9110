"""A run as a tool result: the run JSON of `--json`, bounded in size, and what to call
next while the run can be continued."""

from __future__ import annotations

from typing import Any

from tether.mcp.results import MAX_JSON_CHARS, fit_list, json_text

_BULKY = ("output", "partial", "error")
# Characters kept of each bulky value, tried in turn until the whole run fits.
_CAPS = (2000, 400, 80, 0)


def bound_run(record: dict[str, Any], limit: int = MAX_JSON_CHARS) -> dict[str, Any]:
    """`record` (the run JSON) cut to fit `limit`: the largest step outputs are shortened
    first, with `truncated` set on each step that was; the full run stays on disk
    (`tether show RUN_ID --json`)."""
    if len(json_text(record)) <= limit:
        return record
    steps = [dict(step) for step in record.get("steps", [])]
    candidate = record
    for cap in _CAPS:
        for step in steps:
            for key in _BULKY:
                text = json_text(step.get(key))
                if step.get(key) is not None and len(text) > cap:
                    step[key] = _shorten(text, cap)
                    step["truncated"] = True
        candidate = {**record, "steps": steps}
        if len(json_text(candidate)) <= limit:
            return candidate
    return fit_list(candidate, "steps", limit)


def _shorten(text: str, cap: int) -> str:
    return f"{text[:cap]}... ({len(text) - cap} more characters)"


def next_call(record: dict[str, Any], waiting_steps: list[str]) -> dict[str, Any] | None:
    """The tool call that continues the run, or None when nothing can be continued."""
    if record.get("resume_command") is None:
        return None
    arguments: dict[str, Any] = {"run_id": record["run_id"]}
    if waiting_steps:
        arguments["result"] = "<the result the step's instruction asks for>"
        arguments["step"] = (
            waiting_steps[0] if len(waiting_steps) == 1 else f"<one of {', '.join(waiting_steps)}>"
        )
    return {"tool": "resume_run", "arguments": arguments}
