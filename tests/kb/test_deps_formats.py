"""setup.cfg, Pipfile, package.json and the lock files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kb.dependency_files import by_name, parse_file
from tether.kb.deps import parse_dependency_file
from tether.kb.deps.files import read_lock


def test_setup_cfg_sections_comments_and_no_interpolation(tmp_path: Path) -> None:
    detection = parse_file(
        tmp_path,
        "setup.cfg",
        "[metadata]\nurl = https://x.org/%%20\n\n[options]\ninstall_requires =\n"
        '    multidict >=4.5, < 7.0\n    colorama;sys_platform=="win32"  # windows only\n'
        "setup_requires = setuptools-scm\ntests_require = pytest\n\n"
        "[options.extras_require]\nspeedups =\n  # comment inside the value\n  aiodns >= 3.2.0\n",
    )
    found = by_name(detection)
    assert detection.problems == []
    assert (found["multidict"].spec, found["multidict"].line) == (">=4.5,<7.0", 6)
    assert found["colorama"].marker == 'sys_platform == "win32"'
    assert "setuptools-scm" not in found  # build-time only
    assert found["pytest"].group == "dev"
    assert (found["aiodns"].group, found["aiodns"].line) == ("optional:speedups", 14)


def test_setup_cfg_file_directive_and_malformed_file(tmp_path: Path) -> None:
    (tmp_path / "reqs.txt").write_text("flask\n")
    detection = parse_file(tmp_path, "setup.cfg", "[options]\ninstall_requires = file: reqs.txt\n")
    assert [(d.name, d.source) for d in detection.dependencies] == [("flask", "reqs.txt")]
    broken = parse_file(tmp_path, "setup.cfg", "install_requires = x\n")
    assert broken.dependencies == []
    assert broken.problems[0].line == 1
    assert broken.problems[0].reason.startswith("invalid setup.cfg: ")


def test_pipfile_categories_markers_and_locations(tmp_path: Path) -> None:
    detection = parse_file(
        tmp_path,
        "Pipfile",
        '[[source]]\nurl = "https://pypi.org/simple"\nname = "pypi"\n\n'
        '[packages]\n"requests" = {path = ".", editable = true, extras = ["socks"]}\n'
        'flask = "==3.*"\n\n'
        "[dev-packages]\n"
        'pytest = {version = "*", sys_platform = "== \'linux\'", '
        "markers = \"python_version >= '3.13'\"}\n\n"
        '[docs]\nmkdocs = "*"\n\n[requires]\npython_version = "3.11"\n',
    )
    found = by_name(detection)
    assert detection.problems == []
    assert found["requests"].direct_url == "." and found["requests"].extras == ("socks",)
    assert found["flask"].spec == "==3.*"
    assert found["pytest"].group == "dev" and found["pytest"].spec == ""
    assert found["pytest"].marker == 'python_version >= "3.13" and sys_platform == "linux"'
    assert found["mkdocs"].group == "group:docs"


def test_package_json_sections_aliases_and_specs(tmp_path: Path) -> None:
    manifest = {
        "dependencies": {"lodash": "^4.17.0", "@scope/Pkg": "file:./pkg", "x": "user/repo#v1"},
        "optionalDependencies": {"fsevents": "~2.3.3"},
        "peerDependencies": {"vite": "^5 || ^6"},
        "devDependencies": {"slash3": "npm:slash@^3.0.0", "vite": "workspace:*", "bad": 3},
    }
    detection = parse_file(tmp_path, "package.json", json.dumps(manifest, indent=2))
    found = by_name(detection)
    assert found["lodash"].spec == "^4.17.0" and found["lodash"].group == "main"
    assert found["lodash"].line == 3
    assert found["@scope/pkg"].display_name == "@scope/Pkg"
    assert found["@scope/pkg"].direct_url == "file:./pkg"
    assert found["x"].direct_url == "user/repo#v1"
    assert found["fsevents"].group == "optional:optionalDependencies"
    assert found["slash"].display_name == "slash3" and found["slash"].spec == "^3.0.0"
    peer = [d for d in detection.dependencies if d.name == "vite"]
    assert [(d.group, d.spec) for d in peer] == [
        ("group:peerDependencies", "^5 || ^6"),
        ("dev", "workspace:*"),
    ]
    assert [p.reason for p in detection.problems] == [
        "devDependencies.bad: version must be a string"
    ]


def test_package_json_invalid_json_and_invalid_names(tmp_path: Path) -> None:
    broken = parse_file(tmp_path, "package.json", '{\n  "dependencies": {\n    "a": "1",\n  }\n}\n')
    assert broken.dependencies == []
    assert broken.problems[0].line == 4
    assert broken.problems[0].reason.startswith("invalid JSON: ")
    not_object = parse_file(tmp_path, "package.json", "[1, 2]")
    assert not_object.problems[0].reason == "expected a JSON object at the top level"
    names = parse_file(
        tmp_path, "package.json", json.dumps({"dependencies": {"../evil": "1", "ok": "1"}})
    )
    assert [d.name for d in names.dependencies] == ["ok"]
    assert names.problems[0].reason == "dependencies: invalid package name '../evil'"


@pytest.mark.parametrize("version", [1, 2, 3])
def test_package_lock_versions_all_formats(tmp_path: Path, version: int) -> None:
    lock: dict[str, object] = {"lockfileVersion": version}
    if version == 1:
        lock["dependencies"] = {
            "lodash": {"version": "4.17.21"},
            "slash3": {"version": "npm:slash@3.0.0"},
            "gitdep": {"version": "github:user/repo#abc"},
        }
    else:
        lock["packages"] = {
            "": {"name": "root"},
            "node_modules/lodash": {"version": "4.17.21"},
            "node_modules/slash3": {"name": "slash", "version": "3.0.0"},
            "node_modules/a/node_modules/lodash": {"version": "3.0.0"},
            "node_modules/local": {"resolved": "packages/local", "link": True},
            "packages/local": {"version": "0.1.0"},
        }
    path = tmp_path / "package-lock.json"
    path.write_text(json.dumps(lock))
    versions = read_lock(path, tmp_path).versions
    assert versions["lodash"] == "4.17.21"
    assert versions["slash3"] == "3.0.0"
    assert "gitdep" not in versions
    if version > 1:
        assert versions["local"] == "0.1.0"


def test_toml_lock_falls_back_to_a_full_parse_and_reports_errors(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    # Hand-edited: a comment between the header and the name defeats the line scan.
    path.write_text('version = 1\n\n[[package]]\n# edited\nname = "Foo"\nversion = "1.0"\n')
    assert read_lock(path, tmp_path).versions == {"foo": "1.0"}
    path.write_text('[[package]]\nname = "foo"\nversion = \n')
    locked = read_lock(path, tmp_path)
    assert locked.versions == {}
    assert locked.problems[0].line == 3


def test_toml_lock_keeps_the_highest_of_forked_versions(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text(
        '[[package]]\nname = "numpy"\nversion = "1.26.4"\n\n'
        '[[package]]\nname = "numpy"\nversion = "2.1.0"\n\n'
        '[[package]]\nname = "root"\nsource = { editable = "." }\n'
    )
    assert read_lock(path, tmp_path).versions == {"numpy": "2.1.0"}


def test_pipfile_lock_and_lock_notes(tmp_path: Path) -> None:
    lock = {"default": {"requests": {"version": "==2.33.0"}}, "develop": {"pytest": {}}}
    (tmp_path / "Pipfile.lock").write_text(json.dumps(lock))
    assert read_lock(tmp_path / "Pipfile.lock", tmp_path).versions == {"requests": "2.33.0"}
    detection = parse_dependency_file(tmp_path / "Pipfile.lock", tmp_path)
    assert detection.dependencies == []
    assert detection.notes == ["Pipfile.lock: lock file with versions of 1 packages"]
