"""Install the skill pack into a workspace: idempotent, and never over a user's edits.

`.tether/pack-manifest.json` records the SHA-256 of what `tether init` last wrote to each
file (for AGENTS.md: of tether's section). A file whose content no longer matches that hash
was changed by the user and is kept unless `force` is given; a file that matches is brought
up to date; a file that already has the pack's content is left untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from tether.pack.section import (
    SectionMarkersBroken,
    append_section,
    find_section,
    replace_section,
)
from tether.pack.source import PackFile, pack_files

logger = logging.getLogger(__name__)

MANIFEST_PATH = Path(".tether") / "pack-manifest.json"
MANIFEST_VERSION = 1

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
KEPT = "kept"
OVERWRITTEN = "overwritten"
FAILED = "failed"
WRITING_ACTIONS = (CREATED, UPDATED, OVERWRITTEN)


@dataclass(frozen=True)
class Outcome:
    """What init did (or, in a dry run, would do) to one file."""

    path: str
    """Workspace-relative path; `AGENTS.md` for the section."""
    action: str
    """created, updated, unchanged, kept (user-modified), overwritten (--force) or failed."""
    editor: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "path": self.path,
            "action": self.action,
            "editor": self.editor,
            "detail": self.detail,
        }


@dataclass
class InstallReport:
    workspace: Path
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Things worth saying that concern no single file (an unreadable manifest)."""
    manifest_written: bool = False

    @property
    def wrote(self) -> bool:
        return any(outcome.action in WRITING_ACTIONS for outcome in self.outcomes)

    @property
    def failed(self) -> bool:
        return any(outcome.action == FAILED for outcome in self.outcomes)

    def count(self, action: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": str(self.workspace),
            "wrote": self.wrote,
            "files": [outcome.to_json() for outcome in self.outcomes],
            "notes": list(self.notes),
            "manifest_written": self.manifest_written,
        }


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def install_pack(
    workspace: Path,
    editors: Iterable[str],
    *,
    force: bool = False,
    dry_run: bool = False,
    files: list[PackFile] | None = None,
) -> InstallReport:
    """Install the pack's files for `editors` into `workspace`; `dry_run` only reports."""
    report = InstallReport(workspace)
    recorded = _read_manifest(workspace, report)
    updated = dict(recorded)
    for pack_file in pack_files(editors) if files is None else files:
        installer = _install_section if pack_file.section else _install_file
        outcome, new_hash = installer(workspace, pack_file, recorded, force=force, dry_run=dry_run)
        report.outcomes.append(outcome)
        if new_hash is not None:
            updated[pack_file.target] = new_hash
    if not dry_run and updated != recorded:
        try:
            _write_manifest(workspace, updated)
            report.manifest_written = True
        except OSError as error:
            logger.warning("cannot write %s: %s", workspace / MANIFEST_PATH, error)
            report.notes.append(
                f"{MANIFEST_PATH}: cannot write ({error}); later runs will treat the files as yours"
            )
    return report


def _install_file(
    workspace: Path,
    pack_file: PackFile,
    recorded: dict[str, str],
    *,
    force: bool,
    dry_run: bool,
) -> tuple[Outcome, str | None]:
    path = workspace / pack_file.target
    desired = pack_file.content()
    wanted_hash = digest(desired)

    def outcome(action: str, detail: str = "") -> Outcome:
        return Outcome(pack_file.target, action, pack_file.editor, detail)

    if path.is_dir():
        return outcome(FAILED, "is a directory; move it away to install this file"), None
    try:
        current = path.read_bytes() if path.exists() else None
    except OSError as error:
        return outcome(FAILED, f"cannot read: {error.strerror or error}"), None
    if current == desired:
        return outcome(UNCHANGED), wanted_hash
    if current is None:
        action = CREATED
    elif recorded.get(pack_file.target) == digest(current):
        action = UPDATED
    elif force:
        action = OVERWRITTEN
    else:
        return outcome(KEPT, _kept_reason(pack_file.target, recorded)), None
    return _carry_out(path, desired, outcome(action), wanted_hash, dry_run=dry_run)


def _install_section(
    workspace: Path,
    pack_file: PackFile,
    recorded: dict[str, str],
    *,
    force: bool,
    dry_run: bool,
) -> tuple[Outcome, str | None]:
    path = workspace / pack_file.target
    body = pack_file.content().decode("utf-8")
    body = body if body.endswith("\n") else body + "\n"
    wanted_hash = digest(body.encode("utf-8"))

    def outcome(action: str, detail: str = "") -> Outcome:
        return Outcome(pack_file.target, action, pack_file.editor, detail)

    if path.is_dir():
        return outcome(FAILED, "is a directory; move it away to install the tether section"), None
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as error:
        return outcome(FAILED, f"cannot read as UTF-8 text: {error}"), None
    try:
        section = find_section(text) if text is not None else None
    except SectionMarkersBroken as error:
        return outcome(FAILED, f"{error}; fix or delete the markers, then run init again"), None
    if section is None:
        new_text = append_section(text, body)
        action = CREATED if text is None else UPDATED
        detail = "" if text is None else "tether section added"
    else:
        current = section.body(text or "")
        if current == body:
            return outcome(UNCHANGED), wanted_hash
        if recorded.get(pack_file.target) == digest(current.encode("utf-8")):
            action, detail = UPDATED, "tether section"
        elif force:
            action, detail = OVERWRITTEN, "tether section"
        else:
            return outcome(KEPT, "tether section " + _kept_reason(pack_file.target, recorded)), None
        new_text = replace_section(text or "", section, body)
    return _carry_out(
        path, new_text.encode("utf-8"), outcome(action, detail), wanted_hash, dry_run=dry_run
    )


def _carry_out(
    path: Path, data: bytes, planned: Outcome, wanted_hash: str, *, dry_run: bool
) -> tuple[Outcome, str | None]:
    """Write `data` as planned (a dry run only reports the plan); the hash to record is
    returned only once the file really holds it."""
    if dry_run:
        return planned, None
    try:
        _write_atomically(path, data)
    except OSError as error:
        failed = replace(planned, action=FAILED, detail=f"cannot write: {error.strerror or error}")
        return failed, None
    return planned, wanted_hash


def _kept_reason(target: str, recorded: dict[str, str]) -> str:
    if target in recorded:
        return "changed since tether init wrote it; --force replaces it"
    return "not written by tether init; --force replaces it"


def _read_manifest(workspace: Path, report: InstallReport) -> dict[str, str]:
    path = workspace / MANIFEST_PATH
    if not path.exists():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        report.notes.append(f"{MANIFEST_PATH}: unreadable ({error}); files that differ are kept")
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        report.notes.append(f"{MANIFEST_PATH}: no 'files' table; files that differ are kept")
        return {}
    return {
        str(name): value
        for name, value in files.items()
        if isinstance(value, str) and len(value) == 64
    }


def _write_manifest(workspace: Path, hashes: dict[str, str]) -> None:
    from tether import __version__

    payload = {
        "version": MANIFEST_VERSION,
        "tether": __version__,
        "files": dict(sorted(hashes.items())),
    }
    _write_atomically(
        workspace / MANIFEST_PATH, orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n"
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and a rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        temporary.chmod(0o644)  # mkstemp makes it 0600; these are ordinary project files
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
