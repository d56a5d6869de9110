"""The project's Python environment: which interpreter and tools are the project's own.

One rule for every command (check, docs, deps, doctor, the language server), in order:
1. a virtualenv in the workspace: `.venv/`, then `venv/`;
2. the activated one, `$VIRTUAL_ENV`;
3. the `interpreter` set in `.tether/config.toml` (or the editor's settings);
4. the environment a project manager keeps elsewhere, where the project's files say it
   uses one: uv (`UV_PROJECT_ENVIRONMENT`), pdm (`.pdm-python`), poetry, hatch;
5. otherwise tether's own interpreter, marked `fallback` so that every caller says so.

Read from disk, plus at most one short subprocess (the configured interpreter, or a
project manager asked where its environment is); no project code is imported here.
These functions block; async callers run them in a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tether.project.files import ProjectFileError, read_pyproject, tool_table
from tether.project.package_names import canonicalize_name

logger = logging.getLogger(__name__)

INTERPRETER_TIMEOUT = 5.0
"""Seconds the configured interpreter gets to report its prefix and site-packages."""
MANAGER_TIMEOUT = 10.0
"""Seconds poetry or hatch get to say where the project's environment is."""

_VENV_NAMES = (".venv", "venv")

# Printed by an interpreter: its prefix and its site-packages, user site included.
_SITE_QUERY = (
    "import json,site,sys;"
    "paths=list(site.getsitepackages());"
    "u=site.getusersitepackages() if site.ENABLE_USER_SITE else None;"
    "paths+=[u] if u else [];"
    "print(json.dumps({'prefix':sys.prefix,'site':paths}))"
)


@dataclass(frozen=True)
class ProjectEnvironment:
    """The interpreter a project's code and tools run with, and why that one."""

    python: str
    """The interpreter's path as found (symlinks kept: a venv's python is a symlink)."""
    origin: str
    """Why this one, in words: "venv/ in the workspace", "$VIRTUAL_ENV", ..."""
    site_dirs: tuple[Path, ...]
    """Its site-packages folders that exist, most specific first."""
    fallback: bool = False
    """True: no project environment was found; this is tether's own interpreter."""

    @property
    def scripts_dir(self) -> Path:
        """Where the environment's console scripts (pytest, mypy, ruff) are installed."""
        return Path(self.python).parent

    def script(self, name: str) -> str | None:
        """The console script `name` installed in this environment, or None."""
        for candidate in (self.scripts_dir / name, self.scripts_dir / f"{name}.exe"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return None

    def describe(self) -> str:
        """One line for summaries: the interpreter and why it was chosen."""
        return f"python {self.python} ({self.origin})"


def find_environment(
    workspace: Path, interpreter: str | None = None, env: Mapping[str, str] | None = None
) -> ProjectEnvironment:
    """The project environment of `workspace` by the rule in this module's docstring."""
    environ = os.environ if env is None else env
    for name in _VENV_NAMES:
        found = _venv(workspace / name, f"{name}/ in the workspace")
        if found:
            return found
    virtual_env = environ.get("VIRTUAL_ENV")
    if virtual_env:
        found = _venv(Path(virtual_env), "$VIRTUAL_ENV")
        if found:
            return found
    if interpreter:
        found = _ask_interpreter(interpreter, "`interpreter` setting")
        if found:
            return found
    found = _managed_environment(workspace, environ)
    if found:
        return found
    return ProjectEnvironment(
        sys.executable,
        "no project environment found: tether's own",
        tuple(_running_site_packages()),
        fallback=True,
    )


def find_site_packages(workspace: Path, interpreter: str | None = None) -> list[Path]:
    """The site-packages folders of the project in `workspace`, most specific first."""
    return list(find_environment(workspace, interpreter).site_dirs)


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


def _venv(folder: Path, origin: str) -> ProjectEnvironment | None:
    if not (folder / "pyvenv.cfg").is_file():
        return None
    windows = folder / "Scripts" / "python.exe"
    python = windows if windows.exists() else folder / "bin" / "python"
    candidates = sorted((folder / "lib").glob("python*/site-packages"))  # POSIX layout
    candidates += sorted((folder / "lib64").glob("python*/site-packages"))
    candidates.append(folder / "Lib" / "site-packages")  # Windows layout
    return ProjectEnvironment(str(python), origin, tuple(_existing(candidates)))


def _managed_environment(workspace: Path, environ: Mapping[str, str]) -> ProjectEnvironment | None:
    """uv, pdm, poetry or hatch, asked only when the project's files say it uses them."""
    try:
        pyproject = read_pyproject(workspace)
    except ProjectFileError:
        pyproject = {}  # callers that need the file report it; here it only hints
    uv_env = environ.get("UV_PROJECT_ENVIRONMENT")
    if uv_env and ((workspace / "uv.lock").is_file() or tool_table(pyproject, "uv") is not None):
        found = _venv(workspace / uv_env, f"uv's UV_PROJECT_ENVIRONMENT {uv_env}")
        if found:
            return found
    pdm_python = workspace / ".pdm-python"
    if pdm_python.is_file():
        python = pdm_python.read_text(encoding="utf-8", errors="replace").strip()
        if python:
            found = _ask_interpreter(python, "pdm's .pdm-python")
            if found:
                return found
    if (workspace / "poetry.lock").is_file() or tool_table(pyproject, "poetry") is not None:
        found = _ask_manager(["poetry", "env", "info", "--path"], workspace, "poetry", environ)
        if found:
            return found
    if (workspace / "hatch.toml").is_file() or tool_table(pyproject, "hatch") is not None:
        found = _ask_manager(["hatch", "env", "find", "default"], workspace, "hatch", environ)
        if found:
            return found
    return None


def _ask_manager(
    argv: list[str], workspace: Path, manager: str, environ: Mapping[str, str]
) -> ProjectEnvironment | None:
    import shutil  # lazily: ~5 ms of imports (bz2, lzma) that `tether docs` does not need

    program = shutil.which(argv[0], path=environ.get("PATH"))
    if program is None:
        return None
    try:
        completed = subprocess.run(
            [program, *argv[1:]],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=MANAGER_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env=dict(environ),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("%s: cannot ask where the environment is: %s", manager, error)
        return None
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        return None
    return _venv(Path(lines[-1].strip()), f"{manager}'s environment")


def _ask_interpreter(interpreter: str, origin: str) -> ProjectEnvironment | None:
    try:
        completed = subprocess.run(
            [interpreter, "-I", "-c", _SITE_QUERY],
            capture_output=True,
            text=True,
            timeout=INTERPRETER_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("interpreter %s: cannot ask for its site-packages: %s", interpreter, error)
        return None
    if completed.returncode != 0:
        logger.warning(
            "interpreter %s: exited %d asking for its site-packages: %s",
            interpreter,
            completed.returncode,
            completed.stderr.strip()[-200:],
        )
        return None
    try:
        answer = json.loads(completed.stdout)
        paths = answer["site"]
    except (ValueError, KeyError, TypeError):
        logger.warning("interpreter %s: unreadable site-packages answer", interpreter)
        return None
    if not isinstance(paths, list):
        return None
    site = _existing([Path(path) for path in paths if isinstance(path, str)])
    return ProjectEnvironment(interpreter, origin, tuple(site))


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
