"""Where the skill pack's files are, and where each one goes in a workspace.

The canonical sources are `skills/` at the repository root. A built wheel carries them as
`tether/pack/skills/` (hatch force-include); an editable install reads the repository's
copy, two folders above the package.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

EDITORS = ("claude", "cursor")
"""The install targets `tether init` knows, in the order it installs them."""

AGENTS_FILE = "AGENTS.md"
_IGNORED_NAMES = {".DS_Store", "__pycache__", "Thumbs.db"}


class PackNotFound(RuntimeError):
    """This installation of tether has no skill pack (a broken or partial install)."""


@dataclass(frozen=True)
class PackFile:
    """One file of the pack and its place in a workspace."""

    source: Path
    """The file inside the pack."""
    target: str
    """Workspace-relative POSIX path it installs to, e.g. `.claude/skills/tether-docs/SKILL.md`."""
    editor: str
    """Which `tether init` flag installs it: `claude` or `cursor`."""
    section: bool = False
    """True: the content is a marked section of the target (AGENTS.md), not the whole file."""

    def content(self) -> bytes:
        return self.source.read_bytes()


def pack_root() -> Path:
    """The folder holding the pack: the copy in the package, else the repository's."""
    here = Path(__file__).resolve().parent
    candidates = (here / "skills", here.parents[2] / "skills")
    for candidate in candidates:
        if (candidate / "claude").is_dir():
            return candidate
    looked = " and ".join(str(path) for path in candidates)
    raise PackNotFound(
        f"tether's skill pack is missing from this installation (looked in {looked})"
    )


def pack_files(editors: Iterable[str] = EDITORS, root: Path | None = None) -> list[PackFile]:
    """The pack's files for `editors`, in a stable order."""
    base = pack_root() if root is None else root
    wanted = set(editors)
    files: list[PackFile] = []
    if "claude" in wanted:
        files += [
            PackFile(path, f".claude/skills/{_relative(path, base / 'claude')}", "claude")
            for path in _walk(base / "claude")
        ]
    if "cursor" in wanted:
        files += [
            PackFile(path, f".cursor/{_relative(path, base / 'cursor')}", "cursor")
            for path in _walk(base / "cursor")
        ]
        agents = base / "agents" / AGENTS_FILE
        if agents.is_file():
            files.append(PackFile(agents, AGENTS_FILE, "cursor", section=True))
    return files


def skill_names(root: Path | None = None) -> list[str]:
    """Names of the Claude Code skills in the pack (one folder each)."""
    base = (pack_root() if root is None else root) / "claude"
    return sorted(path.name for path in base.iterdir() if path.is_dir())


def _walk(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not _IGNORED_NAMES.intersection(path.relative_to(folder).parts)
    )


def _relative(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()
