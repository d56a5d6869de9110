"""A small project with its OWN virtual environment (pytest, ruff, mypy installed in it,
not tether's), built once per test session, and copies of it to run `tether` on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import helpers

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "checked_project"
TOOLS = ("pytest", "ruff", "mypy")


@pytest.fixture(scope="session")
def project_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv outside tether's, with the project's tools: pip installs them (from the
    local pip cache when warm, so a session pays this once, in seconds)."""
    venv = tmp_path_factory.mktemp("project-env") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            *TOOLS,
        ],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    for tool in TOOLS:
        assert (venv / "bin" / tool).is_file(), f"{tool} missing from the project venv"
    return venv


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for every copy of the project: strict mypy from cold takes seconds."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.fixture
def project(tmp_path: Path, project_venv: Path) -> Callable[[str], Path]:
    """`project(".venv")` or `project("venv")`: a copy of the fixture whose environment
    folder of that name is the session's venv (a symlink, as good as the real thing)."""

    def make(venv_name: str = ".venv") -> Path:
        root = tmp_path / "money"
        shutil.copytree(FIXTURE, root)
        if venv_name:
            (root / venv_name).symlink_to(project_venv, target_is_directory=True)
        return root

    return make


@pytest.fixture
def env(tmp_path: Path, mypy_cache: Path) -> dict[str, str]:
    """tether's environment as a user's shell has it: no venv activated."""
    environ = {**os.environ, "NO_COLOR": "1", "TETHER_CACHE_DIR": str(tmp_path / "cache")}
    environ["MYPY_CACHE_DIR"] = str(mypy_cache)
    for name in (
        "VIRTUAL_ENV",
        "OPENAI_API_KEY",
        "PYTEST_ADDOPTS",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    ):
        environ.pop(name, None)
    return environ


def tether(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`tether ARGS` run in `cwd` by a real process with `env` (the project's own
    environment, not tether's), stdin closed."""
    return helpers.tether(cwd, *args, env=env, timeout=timeout)


def break_split(root: Path) -> None:
    """A change that loses cents when an amount is split in 3 or 7: two tests fail."""
    amount = root / "money" / "amount.py"
    amount.write_text(amount.read_text().replace("share + (1 if i < left else 0)", "share"))
