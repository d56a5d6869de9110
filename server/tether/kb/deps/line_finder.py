"""Line numbers for values of parsed TOML, JSON and INI files.

tomllib, json and configparser return values without positions, so the line of a
dependency is found afterwards by searching the text from the enclosing table or key.
Searches use str.find and one regex per key, so a whole file costs well under a millisecond.
"""

from __future__ import annotations

import bisect
import re

_TOML_HEADER = re.compile(r"^[ \t]*\[\[?([^\]\n]+)\]\]?", re.MULTILINE)
_HEADER_PART = re.compile(r"\"[^\"]*\"|'[^']*'|[^.\s]+")


def _header_key(raw: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _HEADER_PART.findall(raw))


class LineFinder:
    """Maps positions in one text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0]
        position = text.find("\n")
        while position != -1:
            self._starts.append(position + 1)
            position = text.find("\n", position + 1)
        self._tables: dict[tuple[str, ...], int] | None = None

    def line_at(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def table(self, *path: str) -> int:
        """Offset of a TOML/INI table header (`[a.b]`), or 0 when it is not written as one."""
        if self._tables is None:
            self._tables = {}
            for match in _TOML_HEADER.finditer(self.text):
                self._tables.setdefault(_header_key(match.group(1)), match.start())
        return self._tables.get(path, 0)

    def key(self, key: str, start: int = 0) -> int | None:
        """Offset of the first `key =` (or JSON `"key":`) at or after `start`."""
        pattern = re.compile(
            r"^[ \t]*[\"']?" + re.escape(key) + r"[\"']?[ \t]*[=:]|\"" + re.escape(key) + r"\"\s*:",
            re.MULTILINE,
        )
        match = pattern.search(self.text, start)
        return match.start() if match else None

    def find(self, needle: str, start: int = 0) -> int | None:
        """Line of the first occurrence of `needle` at or after `start`."""
        if not needle:
            return None
        offset = self.text.find(needle, start)
        return None if offset == -1 else self.line_at(offset)

    def find_any(self, needles: tuple[str, ...], start: int = 0) -> int | None:
        for needle in needles:
            line = self.find(needle, start)
            if line is not None:
                return line
        return None
