"""tether's section of a shared file (AGENTS.md), between two markers so that `tether init`
can update its own text and leave everything the user wrote around it alone."""

from __future__ import annotations

from dataclasses import dataclass

BEGIN = "<!-- tether:begin (written by `tether init`; edit outside these markers) -->"
END = "<!-- tether:end -->"
_BEGIN_PREFIX = "<!-- tether:begin"


class SectionMarkersBroken(ValueError):
    """The markers are missing one half, repeated or out of order."""


@dataclass(frozen=True)
class Section:
    """Where the section sits in a file's text: `text[start:end]` is the body."""

    start: int
    end: int

    def body(self, text: str) -> str:
        return text[self.start : self.end]


def find_section(text: str) -> Section | None:
    """The section of `text`, None when it has no markers at all."""
    begins = _count_lines_starting(text, _BEGIN_PREFIX)
    ends = _count_lines_starting(text, END)
    if begins == 0 and ends == 0:
        return None
    if begins != 1 or ends != 1:
        raise SectionMarkersBroken(
            f"expected one tether:begin and one tether:end marker, found {begins} and {ends}"
        )
    begin_at = _line_start(text, _BEGIN_PREFIX)
    end_at = _line_start(text, END)
    if end_at < begin_at:
        raise SectionMarkersBroken("the tether:end marker comes before tether:begin")
    body_start = text.find("\n", begin_at)
    body_start = end_at if body_start == -1 or body_start > end_at else body_start + 1
    return Section(body_start, end_at)


def replace_section(text: str, section: Section, body: str) -> str:
    return text[: section.start] + body + text[section.end :]


def append_section(text: str | None, body: str) -> str:
    """`text` with the section added at its end (a new file when `text` is None)."""
    block = f"{BEGIN}\n{body}{END}\n"
    if not text:
        return block
    separator = "\n" if text.endswith("\n") else "\n\n"
    return text + separator + block


def _lines(text: str) -> list[tuple[int, str]]:
    offsets: list[tuple[int, str]] = []
    position = 0
    for line in text.splitlines(keepends=True):
        offsets.append((position, line))
        position += len(line)
    return offsets


def _count_lines_starting(text: str, prefix: str) -> int:
    return sum(1 for _, line in _lines(text) if line.startswith(prefix))


def _line_start(text: str, prefix: str) -> int:
    return next(offset for offset, line in _lines(text) if line.startswith(prefix))
