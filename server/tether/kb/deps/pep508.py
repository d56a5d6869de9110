"""One PEP 508 requirement string -> a Dependency, keeping the specifier as written."""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tether.kb.deps.model import PYPI, Dependency, DependencyProblem

# Longer than any real requirement (hashes are options, stripped before this point);
# keeps a hostile line from costing more than a bounded parse.
MAX_REQUIREMENT_CHARS = 4096

_NAME_AND_EXTRAS = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*")


def shorten(text: str, limit: int = 80) -> str:
    """`text` on one line, cut to `limit` characters, for messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _written_spec(rest: str, parsed: SpecifierSet) -> str:
    """The specifier as written (order kept, whitespace and parentheses removed)."""
    written = re.sub(r"\s+", "", rest.split(";", 1)[0]).strip("()")
    # Same clauses as packaging read (it only reorders them): keep the written order.
    if written and sorted(written.split(",")) == sorted(str(clause) for clause in parsed):
        return written
    return str(parsed)


def parse_requirement(
    text: str, *, source: str, line: int | None, group: str
) -> Dependency | DependencyProblem:
    """Parse a PEP 508 string such as `httpx[socks] >=0.23,<1 ; python_version < "3.12"`."""
    text = text.strip()
    if len(text) > MAX_REQUIREMENT_CHARS:
        return DependencyProblem(source, line, f"requirement too long ({len(text)} characters)")
    try:
        requirement = Requirement(text)
    except (InvalidRequirement, RecursionError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        return DependencyProblem(
            source, line, f"invalid requirement {shorten(text)!r}: {shorten(detail, 120)}"
        )
    prefix = _NAME_AND_EXTRAS.match(text)
    extras: tuple[str, ...] = tuple(sorted(requirement.extras))
    spec = str(requirement.specifier)
    if prefix is not None:
        if prefix.group(2) is not None:
            written = tuple(e.strip() for e in prefix.group(2).split(",") if e.strip())
            if {canonicalize_name(e) for e in written} == {
                canonicalize_name(e) for e in requirement.extras
            }:
                extras = written
        if requirement.url is None:
            spec = _written_spec(text[prefix.end() :], requirement.specifier)
    return Dependency(
        name=canonicalize_name(requirement.name),
        display_name=requirement.name,
        ecosystem=PYPI,
        spec="" if requirement.url else spec,
        version=None,
        group=group,
        source=source,
        line=line,
        extras=extras,
        marker=str(requirement.marker) if requirement.marker is not None else None,
        direct_url=requirement.url,
    )
