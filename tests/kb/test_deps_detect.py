"""detect_dependencies over whole workspaces: which files, de-duplication, versions."""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path, PurePosixPath

import pytest

from tests.kb.dependency_files import by_name, write
from tether.kb.deps import (
    DEPENDENCY_FILE_GLOBS,
    detect_dependencies,
    is_dependency_file,
    parse_dependency_file,
)


def test_one_entry_per_package_with_the_most_direct_group(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "app"\ndependencies = []\n'
        '[project.optional-dependencies]\nweb = ["httpx>=0.27"]\n'
        '[dependency-groups]\ndev = ["pytest", "httpx"]\n',
    )
    write(tmp_path, "requirements.txt", "httpx==0.28.1\n")
    write(tmp_path, "requirements-dev.txt", "pytest==8.0\nruff\n")
    found = by_name(detect_dependencies(tmp_path))
    assert [(d.name, d.group) for d in found.values()] == [
        ("httpx", "main"),
        ("pytest", "dev"),
        ("ruff", "dev"),
    ]
    assert found["httpx"].source == "requirements.txt"  # main beats optional
    assert found["pytest"].source == "pyproject.toml"  # same rank: the first file read wins


def test_versions_lock_first_then_installed(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "app"\ndependencies = ["jedi", "Pygls", "rich"]\n',
    )
    write(
        tmp_path,
        "uv.lock",
        'version = 1\n\n[[package]]\nname = "jedi"\nversion = "0.19.2"\n'
        'source = { registry = "https://pypi.org/simple" }\n',
    )
    installed = {"Jedi": "0.18.0", "pygls": "2.0.0"}
    found = by_name(detect_dependencies(tmp_path, installed))
    assert found["jedi"].version == "0.19.2"  # the lock wins over what is installed
    assert found["pygls"].version == "2.0.0"  # installed, found by canonical name
    assert found["rich"].version is None


def test_npm_versions_from_lock_then_node_modules(tmp_path: Path) -> None:
    write(
        tmp_path,
        "package.json",
        json.dumps({"dependencies": {"lodash": "^4", "left-pad": "^1", "@s/x": "^2"}}),
    )
    write(
        tmp_path,
        "package-lock.json",
        json.dumps(
            {"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.21"}}}
        ),
    )
    write(tmp_path, "node_modules/left-pad/package.json", json.dumps({"version": "1.3.0"}))
    write(tmp_path, "node_modules/@s/x/package.json", "{ not json")
    found = by_name(detect_dependencies(tmp_path))
    assert found["lodash"].version == "4.17.21"
    assert found["left-pad"].version == "1.3.0"
    assert found["@s/x"].version is None


def test_npm_workspaces_are_followed(tmp_path: Path) -> None:
    write(
        tmp_path,
        "package.json",
        json.dumps(
            {
                "workspaces": ["packages/*", "!packages/skipped", "../outside"],
                "devDependencies": {"jest": "^30"},
            }
        ),
    )
    write(tmp_path, "packages/a/package.json", json.dumps({"dependencies": {"react": "^19"}}))
    write(tmp_path, "packages/skipped/package.json", json.dumps({"dependencies": {"vue": "^3"}}))
    write(tmp_path, "packages/a/node_modules/react/package.json", json.dumps({"version": "19.1.0"}))
    write(tmp_path, "node_modules/evil/package.json", json.dumps({"dependencies": {"x": "1"}}))
    detection = detect_dependencies(tmp_path)
    found = by_name(detection)
    assert set(found) == {"jest", "react"}
    assert found["react"].source == "packages/a/package.json"
    assert found["react"].version == "19.1.0"  # node_modules beside the member's package.json
    assert [str(p) for p in detection.problems] == [
        "package.json: workspaces pattern '../outside': not a folder inside the workspace"
    ]


def test_yarn_classic_workspaces_object_and_double_star(tmp_path: Path) -> None:
    write(tmp_path, "package.json", json.dumps({"workspaces": {"packages": ["libs/**"]}}))
    write(tmp_path, "libs/deep/inner/package.json", json.dumps({"dependencies": {"zod": "^3"}}))
    write(tmp_path, "libs/node_modules/pkg/package.json", json.dumps({"dependencies": {"no": "1"}}))
    assert set(by_name(detect_dependencies(tmp_path))) == {"zod"}


def test_requirements_folder_and_compiled_outputs(tmp_path: Path) -> None:
    write(tmp_path, "requirements/base.in", "django\n")
    write(tmp_path, "requirements/base.txt", "django==5.0.1\n    # via -r base.in\nasgiref==3.8\n")
    write(tmp_path, "requirements/docs.txt", "mkdocs\n")
    detection = detect_dependencies(tmp_path)
    found = by_name(detection)
    assert set(found) == {"django", "mkdocs"}
    assert found["django"].version == "5.0.1"
    assert found["mkdocs"].group == "dev"
    assert detection.notes == [
        "requirements/base.txt: compiled from requirements/base.in; used for versions only"
    ]


def test_setup_py_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    write(tmp_path, "setup.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    detection = detect_dependencies(tmp_path)
    assert not marker.exists()
    assert detection.notes == [
        "setup.py: never executed; dependencies declared only there are not read"
    ]


def test_bad_input_never_raises(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"\x00\xff\xfe")
    (tmp_path / "setup.cfg").mkdir()  # a folder where a file is expected
    write(tmp_path, "Pipfile", "[packages\n")
    write(tmp_path, "package.json", "null")
    write(tmp_path, "uv.lock", "[[package]]\nname = \n")
    write(tmp_path, "package-lock.json", '{"packages": []}')
    write(tmp_path, "requirements.txt", "-r requirements.txt\n\\\n===\n")
    detection = detect_dependencies(tmp_path)
    assert detection.dependencies == []
    paths = {problem.path for problem in detection.problems}
    assert paths == {"pyproject.toml", "Pipfile", "package.json", "uv.lock", "requirements.txt"}


def test_a_missing_workspace_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    detection = detect_dependencies(tmp_path / "nope")
    assert detection.dependencies == []
    assert detection.problems[0].reason == "workspace is not a folder"


def test_empty_workspace(tmp_path: Path) -> None:
    assert detect_dependencies(tmp_path).to_json() == {
        "dependencies": [],
        "problems": [],
        "notes": [],
    }


def _glob_matches(path: str) -> bool:
    parts = PurePosixPath(path).parts
    for pattern in DEPENDENCY_FILE_GLOBS:
        tail = pattern.removeprefix("**/")
        depth = tail.count("/") + 1
        if len(parts) >= depth and fnmatch.fnmatchcase("/".join(parts[-depth:]), tail):
            return True
    return False


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pyproject.toml", True),
        ("sub/setup.cfg", True),
        ("Pipfile", True),
        ("Pipfile.lock", True),
        ("requirements.txt", True),
        ("requirements-dev.txt", True),
        ("dev-requirements.in", True),
        ("requirements/base.in", True),
        ("requirements/production.txt", True),
        ("requirements/full/requirements.txt", True),
        ("package.json", True),
        ("node_modules/lodash/package.json", True),
        ("package-lock.json", True),
        ("uv.lock", True),
        ("poetry.lock", True),
        ("README.md", False),
        ("MANIFEST.in", False),
        ("notes.txt", False),
        ("pyproject.toml.bak", False),
        ("docs/requirements/index.md", False),
    ],
)
def test_is_dependency_file_agrees_with_the_globs(path: str, expected: bool) -> None:
    assert is_dependency_file(Path(path)) is expected
    assert _glob_matches(path) is expected


def test_every_file_that_detection_reads_is_watched(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "a"\ndependencies = ["x"]\n')
    write(tmp_path, "requirements/base.txt", "y\n")
    write(tmp_path, "package.json", json.dumps({"dependencies": {"z": "1"}}))
    sources = {d.source for d in detect_dependencies(tmp_path).dependencies}
    assert sources == {"pyproject.toml", "requirements/base.txt", "package.json"}
    assert all(_glob_matches(source) and is_dependency_file(Path(source)) for source in sources)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifos_are_never_opened(tmp_path: Path) -> None:
    # Opening a FIFO for reading would block the caller (the language server) forever.
    os.mkfifo(tmp_path / "pipe.txt")
    os.mkfifo(tmp_path / "requirements-dev.txt")
    write(tmp_path, "requirements.txt", "-r pipe.txt\nrequests\n")
    detection = detect_dependencies(tmp_path)
    assert [d.name for d in detection.dependencies] == ["requests"]
    assert [str(p) for p in detection.problems] == [
        "requirements.txt:1: included file not found: pipe.txt"
    ]
    direct = parse_dependency_file(tmp_path / "pipe.txt", tmp_path)
    assert [str(p) for p in direct.problems] == ["pipe.txt: not a regular file"]
