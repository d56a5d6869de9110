"""What the docs index holds: one record per symbol or documentation section."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    FUNCTION = "function"
    CLASS = "class"
    METHOD = "method"
    PROPERTY = "property"
    FIXTURE = "fixture"
    MODULE = "module"
    DECLARATION = "declaration"
    """A TypeScript export (function, class, interface, type, const...)."""
    SECTION = "section"
    """A part of the README or of shipped documentation, split at its headings."""


SYMBOL_KINDS = frozenset(Kind) - {Kind.SECTION}


@dataclass(slots=True)
class Record:
    kind: Kind
    name: str
    """Short name ("Timeout", "children"), or a section's title."""
    qualname: str
    """What the answer shows: the shortest public name ("httpx.Timeout",
    "psutil.Process.children"), or "README > Timeouts" for a section."""
    aliases: list[str] = field(default_factory=list)
    """Other names of the same thing: defining module path, other re-exports."""
    signature: str = ""
    summary: str = ""
    """One line."""
    doc: str = ""
    """The whole docstring or section text (capped)."""
    examples: list[str] = field(default_factory=list)
    """Code examples (markdown fenced blocks) that show this symbol in use."""
    prior: float = 1.0
    """How likely this record is to be what someone asking wants, before the query:
    a package's top-level export over a submodule's name over a section of prose."""
    order: int = 0
    """Position in the package's own order (declaration order, document order)."""

    @property
    def is_symbol(self) -> bool:
        return self.kind in SYMBOL_KINDS
