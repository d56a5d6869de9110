"""Which dependencies a prompt concerns: named, imported by named files, else all (capped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.workflows.library_choice import choose_libraries

PYPROJECT = """
[project]
name = "app"
version = "1"
dependencies = ["httpx>=0.27", "PyYAML", "python-dateutil", "orjson", "rich"]

[project.optional-dependencies]
dev = ["pytest"]
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "package.json").write_text('{"dependencies": {"@tanstack/query": "5", "zod": "3"}}')
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "client.py").write_text(
        "import os\nimport yaml\nfrom dateutil import parser\nfrom . import sibling\n"
    )
    (tmp_path / "web.ts").write_text(
        "import { z } from 'zod';\nimport q from \"@tanstack/query/core\";\nimport './local';\n"
    )
    (tmp_path / "broken.py").write_text("def (:\n")
    return tmp_path


def test_names_in_the_prompt_come_first(workspace: Path) -> None:
    choice = choose_libraries(workspace, "Retry HTTPX calls and print with rich.", [], 8)
    assert choice.libraries == ["httpx", "rich"]
    assert choice.mentioned == ["httpx", "rich"]


def test_imports_of_files_the_prompt_names_count(workspace: Path) -> None:
    choice = choose_libraries(workspace, "Fix the parsing in app/client.py and web.ts", [], 8)
    assert choice.files == ["app/client.py", "web.ts"]
    assert choice.imported == ["pyyaml", "python-dateutil", "zod", "@tanstack/query"]


def test_files_given_as_input_count_and_broken_ones_are_ignored(workspace: Path) -> None:
    choice = choose_libraries(workspace, "tidy up", ["broken.py", "app/client.py"], 8)
    assert choice.libraries == ["pyyaml", "python-dateutil"]


def test_hostile_or_missing_paths_are_never_read(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path.parent / "outside.py"
    outside.write_text("import httpx\n")
    prompt = f"look at ../outside.py and {outside} and nothere.py"
    choice = choose_libraries(workspace, prompt, ["/etc/passwd.py", "../outside.py"], 8)
    assert choice.files == []
    assert choice.imported == []


def test_when_unsure_every_direct_dependency_capped(workspace: Path) -> None:
    choice = choose_libraries(workspace, "make it faster", [], 3)
    assert len(choice.libraries) == 3
    assert "pytest" not in choice.libraries
    assert "first 3 of" in choice.reason


def test_a_workspace_without_dependencies_chooses_nothing(tmp_path: Path) -> None:
    assert choose_libraries(tmp_path, "anything about httpx", [], 8).libraries == []
