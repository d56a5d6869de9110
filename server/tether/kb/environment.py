"""Where the project's Python packages are installed, and at which versions.

Read from disk only: the project's interpreter is asked for its paths (a short subprocess
with a timeout) when no virtualenv is found, but no project code is ever imported here.
These functions block (directory scans, one subprocess); async callers run them in a
worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

logger = logging.getLogger(__name__)

INTERPRETER_TIMEOUT = 5.0
"""Seconds the configured interpreter gets to report its site-packages."""

_VENV_NAMES = (".venv", "venv")

# Printed by the project's interpreter: its site-packages, user site included when enabled.
_SITE_QUERY = (
    "import json,site,sys;"
    "paths=list(site.getsitepackages());"
    "u=site.getusersitepackages() if site.ENABLE_USER_SITE else None;"
    "paths+=[u] if u else [];"
    "print(json.dumps(paths))"
)


def find_site_packages(workspace: Path, interpreter: str | None = None) -> list[Path]:
    """The site-packages directories of the project in `workspace`, most specific first.

    Order of preference: a virtualenv in the workspace (`.venv`, then `venv`), then
    `$VIRTUAL_ENV`, then the configured `interpreter` (asked in a subprocess), then the
    interpreter running tether. Only directories that exist are returned.
    """
    for name in _VENV_NAMES:
        found = _venv_site_packages(workspace / name)
        if found:
            return found
    virtual_env = os.environ.get("VIRTUAL_ENV")
    if virtual_env:
        found = _venv_site_packages(Path(virtual_env))
        if found:
            return found
    if interpreter:
        found = _ask_interpreter(interpreter)
        if found:
            return found
    return _running_site_packages()


def installed_versions(site_dirs: Sequence[Path]) -> dict[str, str]:
    """Canonical distribution name -> installed version, read from metadata on `site_dirs`.

    When a name is installed in more than one directory, the first directory wins, as it
    would on `sys.path`. Distributions with broken metadata are skipped.
    """
    from importlib import metadata

    versions: dict[str, str] = {}
    for dist in metadata.distributions(path=[str(path) for path in site_dirs]):
        name = dist.metadata["Name"] if dist.metadata else None
        version = dist.version
        if not name or not version:
            continue
        versions.setdefault(canonicalize_name(name), version)
    return versions


def _venv_site_packages(venv: Path) -> list[Path]:
    if not (venv / "pyvenv.cfg").is_file():
        return []
    candidates = sorted((venv / "lib").glob("python*/site-packages"))  # POSIX layout
    candidates += sorted((venv / "lib64").glob("python*/site-packages"))
    candidates.append(venv / "Lib" / "site-packages")  # Windows layout
    return _existing(candidates)


def _ask_interpreter(interpreter: str) -> list[Path]:
    import subprocess

    try:
        completed = subprocess.run(
            [interpreter, "-I", "-c", _SITE_QUERY],
            capture_output=True,
            text=True,
            timeout=INTERPRETER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("interpreter %s: cannot ask for its site-packages: %s", interpreter, error)
        return []
    if completed.returncode != 0:
        logger.warning(
            "interpreter %s: exited %d asking for its site-packages: %s",
            interpreter,
            completed.returncode,
            completed.stderr.strip()[-200:],
        )
        return []
    try:
        paths = json.loads(completed.stdout)
    except ValueError:
        logger.warning("interpreter %s: unreadable site-packages answer", interpreter)
        return []
    if not isinstance(paths, list):
        return []
    return _existing([Path(path) for path in paths if isinstance(path, str)])


def _running_site_packages() -> list[Path]:
    import sysconfig

    purelib = sysconfig.get_paths().get("purelib")
    candidates = [Path(purelib)] if purelib else []
    candidates += [Path(entry) for entry in sys.path if entry.endswith("site-packages")]
    return _existing(candidates)


def _existing(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            resolved = path.resolve()
            if resolved not in found:
                found.append(resolved)
    return found
