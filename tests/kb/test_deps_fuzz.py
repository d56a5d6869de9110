"""Hypothesis: no requirement line, requirements file, pyproject or package.json makes
detection raise; every problem it reports is one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.kb.deps import Dependency, DependencyProblem, detect_dependencies, parse_dependency_file
from tether.kb.deps.pep508 import parse_requirement
from tether.kb.deps.reference import Skipped, parse_reference

# Pieces that pip and PEP 508 give meaning to, so that generated lines reach deep paths.
_TOKENS = st.sampled_from(
    [
        "requests", "Django_Filter", "a.b-c", "pkg", "[", "]", "socks,http2", ",", ";", " ; ",
        "@", " @ ", "==", ">=", "<", "~=", "!=", "===", "*", ".*", "1.0", "2.3.4rc1", "+local",
        "(", ")", "#", " # ", "#egg=", "egg=name==1.0", "&subdirectory=x", "\\", "-e ", "-r ",
        "-c ", "--hash=sha256:abc", "--index-url ", "-rfile.txt", "git+", "https://", "file:",
        "./", "../", "/", ".whl", ".tar.gz", "-py3-none-any", "python_version", "sys_platform",
        " and ", " or ", "'3.8'", '"win32"', "extra == 'x'", "\t", " ", "é", "\x00", "\u2028",
        "${VAR}", "requirements.txt",
    ]
)  # fmt: skip
_LINES = st.one_of(
    st.text(max_size=120),
    st.lists(_TOKENS, max_size=14).map("".join),
)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Whole files cost a write and a parse each; fewer examples keep the suite fast (a local
# run with 4,000 examples per test found nothing more).
FUZZ_FILES = settings(FUZZ, max_examples=80)


@FUZZ
@given(_LINES)
def test_a_requirement_string_never_raises(line: str) -> None:
    for parse in (parse_requirement, parse_reference):
        result = parse(line, source="f.txt", line=1, group="main")
        assert isinstance(result, Dependency | DependencyProblem | Skipped)
        if isinstance(result, DependencyProblem):
            assert "\n" not in result.reason


@FUZZ_FILES
@given(
    st.lists(_LINES, max_size=20),
    st.sampled_from(["\n", "\r\n", "\r", "\\\n"]),
)
def test_a_requirements_file_never_raises(tmp_path: Path, lines: list[str], newline: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(newline.join(lines).encode("utf-8", "surrogatepass"))
    detection = parse_dependency_file(path, tmp_path)
    for problem in detection.problems:
        assert "\n" not in str(problem)
        assert problem.path.endswith(".txt") or problem.path == "requirements.txt"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


_KEYS = st.sampled_from(
    [
        "dependencies", "optional-dependencies", "dynamic", "name", "dev-dependencies",
        "include-group", "version", "extras", "optional", "markers", "git", "rev", "path",
        "python", "file", "dev", "test", "requests", "workspace", "evil\nkey", "",
    ]
)  # fmt: skip
_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(-5, 5), _LINES),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=12,
)
_TABLES = st.sampled_from(
    [
        "project", "dependency-groups", "tool.poetry", "tool.poetry.dependencies",
        "tool.poetry.group.dev", "tool.poetry.extras", "tool.pdm.dev-dependencies", "tool.uv",
        "tool.uv.sources", "tool.setuptools.dynamic", "packages", "dev-packages",
        "tool.hatch.metadata.hooks.uv-dynamic-versioning", '"evil\\ncategory"',
        'project."optional-dependencies"',
    ]
)  # fmt: skip


@FUZZ_FILES
@given(st.dictionaries(_TABLES, st.dictionaries(_KEYS, _VALUES, max_size=5), max_size=5))
@pytest.mark.parametrize("file_name", ["pyproject.toml", "Pipfile"])
def test_any_pyproject_or_pipfile_shape_never_raises(
    tmp_path: Path, file_name: str, tables: dict[str, dict[str, Any]]
) -> None:
    text = "".join(
        f"[{table}]\n" + "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in body.items())
        for table, body in tables.items()
    )
    (tmp_path / file_name).write_text(text, encoding="utf-8", errors="surrogatepass")
    detection = parse_dependency_file(tmp_path / file_name, tmp_path)
    assert all("\n" not in str(problem) for problem in detection.problems)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _LINES),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_KEYS, _LINES), children, max_size=4),
    ),
    max_leaves=15,
)
_SECTIONS = st.sampled_from(
    ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies", "workspaces"]
)


@FUZZ_FILES
@given(st.dictionaries(_SECTIONS, _JSON, max_size=5), _JSON)
def test_any_package_json_and_lock_shape_never_raises(
    tmp_path: Path, manifest: dict[str, Any], lock: Any
) -> None:
    (tmp_path / "package.json").write_text(json.dumps(manifest), errors="surrogatepass")
    (tmp_path / "package-lock.json").write_text(
        json.dumps({"packages": lock}), errors="surrogatepass"
    )
    detection = detect_dependencies(tmp_path)
    assert all(d.ecosystem == "npm" for d in detection.dependencies)
