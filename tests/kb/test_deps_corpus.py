"""Dependency detection against the 42 real files in ../shared/corpus."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import orjson
import pytest

from tests.kb.corpus_expectations import EXPECTED_DETAILS, EXPECTED_LOCKED, EXPECTED_NAMES
from tether.kb.deps import Detection, detect_dependencies, parse_dependency_file
from tether.kb.deps.files import read_lock

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*__*")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent (shared/ not beside the repo)"
)


def rebuild(repo: str, destination: Path) -> Path:
    """Lay out one repository's corpus files at their original paths under `destination`."""
    for name in CORPUS_FILES:
        owner, project, *path = name.split("__")
        if f"{owner}__{project}" == repo:
            target = destination.joinpath(*path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CORPUS / name, target)
    return destination


def names_by_group(detection: Detection) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for dependency in detection.dependencies:
        groups.setdefault(dependency.group, set()).add(dependency.name)
    return groups


def test_corpus_has_the_42_files() -> None:
    assert len(CORPUS_FILES) == 42


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_every_corpus_file_parses_without_crashing(name: str) -> None:
    detection = parse_dependency_file(CORPUS / name, CORPUS)
    assert isinstance(detection, Detection)
    for dependency in detection.dependencies:
        assert dependency.name and dependency.ecosystem in ("pypi", "npm")
        assert dependency.source == name
    for problem in detection.problems:
        assert str(problem).startswith(f"{name}:")
    orjson.dumps(detection.to_json())  # serialisable as the CLI prints it


def test_corpus_files_other_than_locks_declare_dependencies() -> None:
    empty = [
        name
        for name in CORPUS_FILES
        if not name.endswith((".lock", "package-lock.json", "__requirements.txt"))
        and not parse_dependency_file(CORPUS / name, CORPUS).dependencies
    ]
    assert empty == ["ansible__ansible__pyproject.toml"]  # its dependencies live in a file


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_names_match_the_hand_checked_expectation(name: str) -> None:
    found = names_by_group(parse_dependency_file(CORPUS / name, CORPUS))
    assert found == EXPECTED_NAMES[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_DETAILS))
def test_specs_markers_and_lines_are_as_written(name: str) -> None:
    detection = parse_dependency_file(CORPUS / name, CORPUS)
    by_name = {dependency.name: dependency for dependency in detection.dependencies}
    for package, fields in EXPECTED_DETAILS[name].items():
        dependency = by_name[package]
        for field_name, expected in fields.items():
            assert getattr(dependency, field_name) == expected, (package, field_name)


@pytest.mark.parametrize("name", sorted(EXPECTED_LOCKED))
def test_lock_versions_match_the_hand_checked_expectation(name: str) -> None:
    locked = read_lock(CORPUS / name, CORPUS)
    assert locked.problems == []
    for package, version in EXPECTED_LOCKED[name].items():
        assert locked.versions[package] == version


@pytest.mark.parametrize(
    "name", ["pappasam__jedi-language-server__uv.lock", "Textualize__rich__poetry.lock"]
)
def test_fast_lock_scan_agrees_with_a_full_toml_parse(name: str, tmp_path: Path) -> None:
    data = tomllib.loads((CORPUS / name).read_text())
    expected: dict[str, str] = {}
    for package in data["package"]:
        expected.setdefault(package["name"], package["version"])
    path = tmp_path / name.rsplit("__", 1)[-1]
    shutil.copyfile(CORPUS / name, path)
    assert read_lock(path, tmp_path).versions == expected


def test_bakerydemo_include_chain_resolves(tmp_path: Path) -> None:
    root = rebuild("wagtail__bakerydemo", tmp_path)
    detection = parse_dependency_file(root / "requirements.txt", root)
    assert detection.problems == []
    sources = {dependency.name: dependency.source for dependency in detection.dependencies}
    assert sources["django"] == "requirements/base.txt"
    assert sources["psycopg"] == "requirements/production.txt"
    expected = (
        EXPECTED_NAMES["wagtail__bakerydemo__requirements__base.txt"]["main"]
        | EXPECTED_NAMES["wagtail__bakerydemo__requirements__production.txt"]["main"]
    )
    assert set(sources) == expected


def test_eox_core_include_resolves_and_missing_constraints_is_reported(tmp_path: Path) -> None:
    root = rebuild("eduNEXT__eox-core", tmp_path)
    detection = parse_dependency_file(root / "requirements" / "base.in", root)
    names = {dependency.name for dependency in detection.dependencies}
    assert {"djangorestframework-oauth", "celery"} <= names
    oauth = next(d for d in detection.dependencies if d.name == "djangorestframework-oauth")
    assert oauth.source == "requirements/github.in"
    assert oauth.direct_url is not None and oauth.direct_url.startswith("git+https://")
    assert [str(p) for p in detection.problems] == [
        "requirements/base.in:2: constraints file not found: constraints.txt "
        "(requirements/constraints.txt)"
    ]


def test_eox_core_compiled_requirements_are_a_lock(tmp_path: Path) -> None:
    root = rebuild("eduNEXT__eox-core", tmp_path)
    detection = detect_dependencies(root)
    versions = {dependency.name: dependency.version for dependency in detection.dependencies}
    # Declared in base.in; pinned in the pip-compile output base.txt.
    assert versions["celery"] == "3.1.25"
    assert versions["django"] == "1.11.29"
    # base.txt's transitive pins (amqp, kombu...) are not dependencies of the project.
    assert "amqp" not in versions
    assert any("compiled from requirements/base.in" in note for note in detection.notes)


def test_fastapi_missing_includes_are_reported_and_the_rest_parses(tmp_path: Path) -> None:
    root = rebuild("tiangolo__fastapi", tmp_path)
    detection = parse_dependency_file(root / "requirements.txt", root)
    assert sorted(str(p) for p in detection.problems) == [
        "requirements-tests.txt:2: included file not found: requirements-docs-tests.txt",
        "requirements.txt:3: included file not found: requirements-docs.txt",
    ]
    groups = names_by_group(detection)
    assert groups["main"] == {"pre-commit", "playwright"}
    assert {"pytest", "coverage", "mypy"} <= groups["dev"]  # from requirements-tests.txt


def test_ansible_dynamic_dependencies_follow_the_setuptools_file(tmp_path: Path) -> None:
    root = rebuild("ansible__ansible", tmp_path)
    detection = parse_dependency_file(root / "pyproject.toml", root)
    assert detection.notes == ["pyproject.toml: dependencies are dynamic (from requirements.txt)"]
    assert names_by_group(detection) == EXPECTED_NAMES["ansible__ansible__requirements.txt"]


def test_pydantic_ai_dynamic_dependencies_from_the_hatch_hook() -> None:
    detection = parse_dependency_file(CORPUS / "pydantic__pydantic-ai__pyproject.toml", CORPUS)
    slim = [d for d in detection.dependencies if d.name == "pydantic-ai-slim" and d.group == "main"]
    assert len(slim) == 1 and slim[0].spec == "" and "openai" in slim[0].extras
    assert any("dependencies are dynamic" in note for note in detection.notes)


@pytest.mark.parametrize(
    ("repo", "package", "version"),
    [
        ("pappasam__jedi-language-server", "pygls", "2.1.1"),
        ("Textualize__rich", "pygments", "2.19.2"),
        ("wagtail__bakerydemo", "eslint", "9.39.2"),
        ("pypa__pipenv", None, None),
    ],
)
def test_detection_fills_versions_from_lock_files(
    repo: str, package: str | None, version: str | None, tmp_path: Path
) -> None:
    root = rebuild(repo, tmp_path)
    if package is None:  # the pipenv example lives in a subfolder with its lock
        root = root / "examples"
        package, version = "requests", "2.33.0"
    detection = detect_dependencies(root)
    found = {d.name: d.version for d in detection.dependencies}
    assert found[package] == version


@pytest.mark.parametrize("repo", sorted({"__".join(name.split("__")[:2]) for name in CORPUS_FILES}))
def test_detection_over_every_rebuilt_repository(repo: str, tmp_path: Path) -> None:
    root = rebuild(repo, tmp_path)
    detection = detect_dependencies(root)
    keys = [(d.ecosystem, d.name) for d in detection.dependencies]
    assert len(keys) == len(set(keys))  # one entry per package
    orjson.dumps(detection.to_json())
