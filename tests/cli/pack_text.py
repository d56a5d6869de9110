"""Reading the skill pack's files the way the tests need them: a strict YAML frontmatter
subset (PyYAML is not a dependency) and the `tether ...` command lines in the text."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_KEY_LINE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_-]*):(?: (?P<value>.*))?$")
_INLINE_COMMAND = re.compile(r"`(tether [^`]+)`")
_FENCE = re.compile(r"^```")


class FrontmatterError(ValueError):
    pass


@dataclass(frozen=True)
class Document:
    frontmatter: dict[str, str]
    body: str


def parse_document(text: str) -> Document:
    """`---` / `key: value` lines / `---` then the body. Values are plain one-line scalars
    (no quotes needed, none of the YAML indicators that would change their meaning)."""
    lines = text.split("\n")
    if not lines or lines[0] != "---":
        raise FrontmatterError("the first line must be ---")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise FrontmatterError("no closing --- line") from None
    values: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], start=2):
        match = _KEY_LINE.match(line)
        if match is None:
            raise FrontmatterError(f"line {number}: not a `key: value` line: {line!r}")
        key, value = match.group("key"), (match.group("value") or "").strip()
        if key in values:
            raise FrontmatterError(f"line {number}: duplicate key {key!r}")
        if value[:1] in ("'", '"', "[", "{", "|", ">", "&", "*", "!", "%", "@", "`"):
            raise FrontmatterError(f"line {number}: {key}: value starts with a YAML indicator")
        if ": " in value or " #" in value:
            raise FrontmatterError(f"line {number}: {key}: ': ' or ' #' in a plain scalar")
        values[key] = value
    return Document(values, "\n".join(lines[end + 1 :]))


def command_lines(text: str) -> list[str]:
    """Every `tether ...` command: lines of fenced code blocks and inline code spans."""
    found: list[str] = []
    in_block = False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            in_block = not in_block
            continue
        if in_block:
            if line.strip().startswith("tether "):
                found.append(line.strip())
            continue
        found += _INLINE_COMMAND.findall(line)
    return found


def argv_of(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0] == "tether", command
    return words[1:]
