"""pip-style references that are not PEP 508 strings: VCS and archive URLs, local paths.

The package name comes from an `#egg=NAME[==VERSION]` fragment or from a wheel or sdist
file name; a reference that names no package is noted and skipped (pip would have to
build it to learn the name, and detection never builds or runs anything).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from tether.kb.deps.model import PYPI, Dependency, DependencyProblem
from tether.kb.deps.pep508 import MAX_REQUIREMENT_CHARS, shorten

VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar")
_PEP508_DIRECT = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_EGG = re.compile(r"[#&]egg=([^&#\s]+)")


@dataclass(frozen=True)
class Skipped:
    """A reference that names no package: worth a note, not an error."""

    note: str


def is_reference(text: str) -> bool:
    """True for a URL, VCS URL, archive or local path (not for `name @ url`)."""
    head = text.split(";", 1)[0].strip()
    if _PEP508_DIRECT.match(head):
        return False
    return (
        "://" in head
        or head.startswith((*VCS_PREFIXES, "file:", ".", "/", "~", "\\"))
        or head.lower().endswith((".whl", *_SDIST_SUFFIXES))
        or "/" in head
        or "\\" in head
    )


def _split_marker(text: str) -> tuple[str, str | None]:
    # pip separates a URL's marker with "; " because ";" may occur inside a URL.
    separator = "; " if ("://" in text or text.startswith("file:")) else ";"
    if separator in text:
        head, marker = text.split(separator, 1)
        return head.strip(), marker.strip() or None
    return text.strip(), None


def _from_file_name(url: str) -> tuple[str, str] | None:
    """(name, version) from a wheel or sdist file name at the end of the URL or path."""
    # Plain string cuts, not urlsplit: that raises on hostile input such as "a://[".
    path = url.split("#", 1)[0].split("?", 1)[0] if "://" in url else url.split("#", 1)[0]
    file_name = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    try:
        if file_name.lower().endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(file_name)
            return name, str(version)
        if file_name.lower().endswith(_SDIST_SUFFIXES):
            name, version = parse_sdist_filename(file_name)
            return name, str(version)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def parse_reference(
    text: str, *, source: str, line: int | None, group: str
) -> Dependency | DependencyProblem | Skipped:
    text = text.strip()
    if len(text) > MAX_REQUIREMENT_CHARS:
        return DependencyProblem(source, line, f"requirement too long ({len(text)} characters)")
    url, marker = _split_marker(text)
    if marker is not None:
        try:
            marker = str(Marker(marker))
        except (InvalidMarker, RecursionError):
            return DependencyProblem(source, line, f"invalid marker {shorten(marker)!r}")
    egg = _EGG.search(url)
    extras: tuple[str, ...] = ()
    if egg is not None:
        try:
            requirement = Requirement(unquote(egg.group(1)))
        except (InvalidRequirement, RecursionError):
            return DependencyProblem(
                source, line, f"invalid #egg= fragment {shorten(egg.group(1))!r}"
            )
        display_name = requirement.name
        spec = str(requirement.specifier)
        extras = tuple(sorted(requirement.extras))
    else:
        from_name = _from_file_name(url)
        if from_name is None:
            if re.fullmatch(r"\.[/\\]?(\[[^\]]*\])?", url):
                return Skipped(f"{source}:{line}: {url!r} is the project itself; skipped")
            kind = "URL" if "://" in url or url.startswith("file:") else "local path"
            return Skipped(
                f"{source}:{line}: {kind} {shorten(url)!r} skipped: it names no package "
                "(add #egg=NAME or write NAME @ URL)"
            )
        display_name, version = from_name
        spec = f"=={version}"
    return Dependency(
        name=canonicalize_name(display_name),
        display_name=display_name,
        ecosystem=PYPI,
        spec=spec,
        version=None,
        group=group,
        source=source,
        line=line,
        extras=extras,
        marker=marker,
        direct_url=url,
    )
