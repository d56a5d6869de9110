"""What an agent or a model is told for a step: task, context pack, inputs, files in scope.

`agent` and `llm` steps share these options, so an `llm` step that falls back to an
agent hands over exactly what the model would have seen:

- `context`: a context pack (a path, or a docs step's output `{pack = PATH, ...}`);
- `inputs`: a table of upstream outputs (`${steps.X.output...}`), each shown under its key;
- `files`: paths or glob patterns relative to the workspace that are in scope;
- `report`: what the result should contain.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

BRIEF_FIELDS = frozenset({"context", "inputs", "files", "report"})
MAX_FILES_LISTED = 200
_BACKTICKS = re.compile(r"`+")


@dataclass(frozen=True)
class Brief:
    task: str
    """What to do, after ${...} substitution."""
    guidance: str = ""
    """Standing instructions (an llm step's `system`)."""
    context: Path | None = None
    """The context pack to read first, if any."""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    """Upstream outputs by name."""
    files: tuple[str, ...] = ()
    """Patterns in scope; empty means the whole workspace."""
    report: str = ""
    """What the result should contain."""


def brief_problems(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Load-time checks of the shared options (values may still be ${...} strings)."""
    problems: list[tuple[str, str]] = []
    context = options.get("context")
    if context is not None and not isinstance(context, str | dict):
        problems.append(("context", "must be a path string or a docs step's output"))
    if not isinstance(options.get("inputs", {}), dict):
        problems.append(("inputs", "must be a table"))
    files = options.get("files", [])
    if not isinstance(files, str) and not (
        isinstance(files, list) and all(isinstance(item, str) for item in files)
    ):
        problems.append(("files", "must be a list of paths or patterns (or one string)"))
    if not isinstance(options.get("report", ""), str):
        problems.append(("report", "must be a string"))
    return problems


def brief_from_options(options: Mapping[str, Any], task: str, guidance: str = "") -> Brief:
    """The brief of a step whose options were rendered and validated."""
    inputs = options.get("inputs", {})
    files = options.get("files", [])
    if isinstance(files, str):
        files = [part.strip() for part in re.split(r"[,\n]", files) if part.strip()]
    return Brief(
        task=task,
        guidance=guidance,
        context=_context_path(options.get("context")),
        inputs=inputs if isinstance(inputs, Mapping) else {},
        files=tuple(str(item) for item in files if str(item).strip()),
        report=str(options.get("report", "")),
    )


def _context_path(value: Any) -> Path | None:
    if isinstance(value, Mapping):
        value = value.get("pack")
    if isinstance(value, str) and value.strip():
        return Path(value)
    return None


def fenced(text: str, language: str = "") -> str:
    """`text` in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def render_value(value: Any) -> str:
    """Fenced, so that nothing an upstream step printed can pass for an instruction;
    text as it is, anything else as JSON."""
    if isinstance(value, str):
        return fenced(value.strip() or "(empty)")
    return fenced(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode(), "json")


def read_context(path: Path, limit: int) -> tuple[str, bool]:
    """Up to `limit` characters of a context pack, and whether it was cut. Blocking."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            text = handle.read(limit + 1)
    except OSError as error:
        return f"(cannot read the context pack: {error.strerror or error})", False
    return text[:limit], len(text) > limit


def files_in_scope(workspace: Path, patterns: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Files matching `patterns` inside the workspace, and notes on patterns refused or
    matching nothing. Blocking; at most MAX_FILES_LISTED files."""
    found: list[str] = []
    notes: list[str] = []
    root = workspace.resolve()
    for pattern in patterns:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            notes.append(f"{pattern}: outside the workspace (ignored)")
            continue
        try:
            # islice: a pattern like **/* in a big tree must not walk all of it.
            matches = sorted(itertools.islice(root.glob(pattern), MAX_FILES_LISTED + 1))
        except (ValueError, OSError) as error:
            notes.append(f"{pattern}: {error}")
            continue
        if not matches:
            notes.append(f"{pattern}: no such file yet")
        for match in matches:
            if len(found) >= MAX_FILES_LISTED:
                notes.append(f"more than {MAX_FILES_LISTED} files match; list cut")
                return found, notes
            try:
                relative = match.resolve().relative_to(root).as_posix()
            except ValueError:
                continue  # a symlink leading out of the workspace
            if relative not in found:
                found.append(relative)
    return found, notes


def material_sections(
    brief: Brief, workspace: Path, *, context_limit: int
) -> list[tuple[str, str]]:
    """(heading, body) sections for context pack, inputs and files in scope. Blocking."""
    sections: list[tuple[str, str]] = []
    if brief.guidance.strip():
        sections.append(("Guidance", brief.guidance.strip()))
    if brief.context is not None:
        excerpt, cut = read_context(brief.context, context_limit)
        note = f"Docs for the libraries involved, from `{brief.context}`"
        note += " (excerpt; read the file for the rest)." if cut else "."
        sections.append(("Context pack", f"{note}\n\n{excerpt.strip()}"))
    for key, value in brief.inputs.items():
        sections.append((f"Input: {key}", render_value(value)))
    if brief.files:
        found, notes = files_in_scope(workspace, brief.files)
        lines = [f"- `{name}`" for name in found] + [f"- ({note})" for note in notes]
        sections.append(("Files in scope", f"In `{workspace}`:\n" + "\n".join(lines)))
    else:
        sections.append(("Files in scope", f"The whole workspace: `{workspace}`."))
    return sections
