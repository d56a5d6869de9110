"""`tether init` keeps machine-local state out of git: `.tether/runs/` goes in `.gitignore`.

Run directories hold journals, locks and process-group records of this machine; a clone
that received them would show other people's runs and could be fed planted files. The
workflows and `config.toml` under `.tether/` are meant to be shared, so only the local
folders are ignored, not `.tether/` as a whole.
"""

from __future__ import annotations

from pathlib import Path

from tether.pack.install import CREATED, FAILED, UNCHANGED, UPDATED, Outcome

GITIGNORE = ".gitignore"
LOCAL_STATE = (".tether/runs/",)
"""Folders under the workspace that only make sense on this machine."""
_HEADER = "# tether: machine-local run state (journals, locks), never committed"


def ensure_local_state_ignored(workspace: Path, *, dry_run: bool = False) -> Outcome:
    """Append the local-state patterns the workspace's .gitignore lacks; say what it did."""
    path = workspace / GITIGNORE
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as error:
        return Outcome(GITIGNORE, FAILED, "all", f"cannot read it: {error}")
    present = {line.strip() for line in (text or "").splitlines()}
    missing = [pattern for pattern in LOCAL_STATE if not _covered(pattern, present)]
    if not missing:
        return Outcome(GITIGNORE, UNCHANGED, "all")
    action = CREATED if text is None else UPDATED
    detail = f"ignores {', '.join(missing)}"
    if dry_run:
        return Outcome(GITIGNORE, action, "all", detail)
    separator = "" if not text or text.endswith("\n") else "\n"
    block = "\n".join([_HEADER, *missing]) + "\n"
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(separator + ("\n" if text else "") + block)
    except OSError as error:
        return Outcome(GITIGNORE, FAILED, "all", f"cannot write it: {error.strerror}")
    return Outcome(GITIGNORE, action, "all", detail)


def _covered(pattern: str, present: set[str]) -> bool:
    """Whether a line already ignores `pattern` (itself or its `.tether` parent)."""
    folder = pattern.rstrip("/")
    candidates = set()
    for name in (folder, ".tether"):
        for spelled in (name, name + "/", name + "/*", name + "/**"):
            candidates |= {spelled, "/" + spelled}
    return bool(candidates & present)
