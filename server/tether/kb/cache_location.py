"""Where the shared docs cache lives on disk, and creating it private to the user."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

CACHE_DIR_ENV = "TETHER_CACHE_DIR"
"""Environment variable that overrides the cache directory."""

DIRECTORY_MODE = 0o700


def default_cache_directory(environ: Mapping[str, str] | None = None) -> Path:
    """`$TETHER_CACHE_DIR` when set and non-empty, else the platform's user cache dir + /docs."""
    env = os.environ if environ is None else environ
    override = env.get(CACHE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    base = _linux_user_cache_dir(env)
    if base is None:
        import platformdirs  # lazily: ~20-25 ms of imports (tempfile, shutil, lzma, bz2)

        base = Path(platformdirs.user_cache_dir("tether"))
    return base / "docs"


def _linux_user_cache_dir(env: Mapping[str, str]) -> Path | None:
    """platformdirs' answer on Linux in the usual cases, without importing it: an absolute
    `$XDG_CACHE_HOME`, else an absolute `$HOME` + /.cache; None (ask platformdirs) otherwise."""
    if not sys.platform.startswith("linux"):
        return None
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg.startswith("/"):
        return Path(xdg) / "tether"
    home = env.get("HOME", "")
    if home.startswith("/"):
        return Path(home.rstrip("/") + "/.cache") / "tether"
    return None


def ensure_private_directory(directory: Path) -> Path:
    """Create `directory` (and parents) if missing; the directory itself is created mode 0700.

    An existing directory is left as it is: it may be a path the user chose on purpose.
    Raises OSError when it cannot be created.
    """
    if directory.is_dir():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=DIRECTORY_MODE)
    except FileExistsError:
        if directory.is_dir():
            return directory  # another process created it between the check and mkdir
        raise NotADirectoryError(f"{directory} exists and is not a directory") from None
    # mkdir's mode is filtered by the umask; say exactly what we mean.
    directory.chmod(DIRECTORY_MODE)
    return directory
