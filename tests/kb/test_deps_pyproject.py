"""pyproject.toml: PEP 621, PEP 735, Poetry, PDM, uv and dynamic metadata."""

from __future__ import annotations

from pathlib import Path

from tests.kb.dependency_files import by_name, parse_file
from tether.kb.deps import Detection


def parse(root: Path, text: str) -> Detection:
    return parse_file(root, "pyproject.toml", text)


def test_pep621_dependencies_and_extras_with_lines(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        '[project]\nname = "demo"\ndependencies = [\n  "httpx >=0.23,<1",\n'
        "  'Typing_Extensions; python_version < \"3.12\"',\n]\n\n"
        '[project.optional-dependencies]\ncli = ["click==8.*"]\n',
    )
    found = by_name(detection)
    assert detection.problems == []
    assert (found["httpx"].spec, found["httpx"].group, found["httpx"].line) == (
        ">=0.23,<1",
        "main",
        4,
    )
    assert found["typing-extensions"].marker == 'python_version < "3.12"'
    assert found["typing-extensions"].line == 5
    assert (found["click"].group, found["click"].line) == ("optional:cli", 9)


def test_dependency_groups_with_include_group(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        "[dependency-groups]\n"
        'test = ["pytest>=8"]\n'
        'dev = [{ include-group = "test" }, "ruff"]\n'
        'docs = ["mkdocs", { include-group = "nope" }]\n',
    )
    found = by_name(detection)
    assert found["pytest"].group == "group:test"
    assert found["ruff"].group == "dev"
    assert found["mkdocs"].group == "group:docs"
    assert [p.reason for p in detection.problems] == [
        "dependency-groups.docs: include-group 'nope' is not a group"
    ]


def test_dependency_group_include_cycle_is_reported(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        "[dependency-groups]\n"
        'a = [{ include-group = "b" }, "one"]\n'
        'b = [{ include-group = "a" }, "two"]\n',
    )
    assert {d.name for d in detection.dependencies} == {"one", "two"}
    assert [p.reason for p in detection.problems] == [
        "dependency-groups: include-group cycle: a -> b -> a"
    ]


def test_poetry_tables_groups_extras_and_python_skipped(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        '[tool.poetry]\nname = "demo"\n\n'
        "[tool.poetry.dependencies]\n"
        'python = "^3.11"\n'
        'requests = "^2.31"\n'
        'rich = { version = ">=13", extras = ["jupyter"], optional = true }\n'
        'lib = { git = "https://github.com/org/lib.git", rev = "abc" }\n'
        'multi = [{ version = "<2", python = "<3.9" }, { version = ">=2", python = ">=3.9" }]\n'
        'anything = "*"\n\n'
        '[tool.poetry.extras]\nfancy = ["rich"]\n\n'
        '[tool.poetry.dev-dependencies]\npytest = "^8"\n\n'
        '[tool.poetry.group.docs.dependencies]\nmkdocs = "*"\n\n'
        '[tool.poetry.group.dev.dependencies]\nruff = "*"\n',
    )
    found = by_name(detection)
    assert detection.problems == []
    assert "python" not in found
    assert (found["requests"].spec, found["requests"].group, found["requests"].line) == (
        "^2.31",
        "main",
        6,
    )
    assert found["rich"].group == "optional:fancy" and found["rich"].extras == ("jupyter",)
    assert found["lib"].direct_url == "git+https://github.com/org/lib.git@abc"
    assert found["multi"].spec == "<2 || >=2"
    assert found["anything"].spec == ""
    assert found["pytest"].group == "dev"
    assert found["mkdocs"].group == "group:docs"
    assert found["ruff"].group == "dev"


def test_pdm_and_uv_dev_dependencies(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        '[project]\nname = "demo"\ndependencies = ["demo-lib"]\n\n'
        '[tool.uv]\ndev-dependencies = ["pytest"]\n\n'
        '[tool.uv.sources]\ndemo-lib = { git = "https://example.org/lib", tag = "v1" }\n\n'
        "[tool.pdm.dev-dependencies]\n"
        'lint = ["ruff", "-e file:///${PROJECT_ROOT}/plugins/x#egg=demo-plugin"]\n'
        'test = ["demo[extra]", "hypothesis"]\n',
    )
    found = by_name(detection)
    assert detection.problems == []
    assert found["pytest"].group == "dev"
    assert found["ruff"].group == "group:lint"
    assert found["demo-plugin"].group == "group:lint"
    assert found["demo-lib"].direct_url == "git+https://example.org/lib@v1"
    assert "demo" not in found  # the project itself


def test_dynamic_dependencies_are_noted(tmp_path: Path) -> None:
    detection = parse(tmp_path, '[project]\nname = "x"\ndynamic = ["version", "dependencies"]\n')
    assert detection.dependencies == []
    assert detection.notes == [
        "pyproject.toml: dependencies are dynamic (set by the build backend; not read)"
    ]


def test_dynamic_dependencies_follow_setuptools_files(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("django\n")
    (tmp_path / "extra.txt").write_text("redis\n")
    detection = parse(
        tmp_path,
        '[project]\nname = "x"\ndynamic = ["dependencies", "optional-dependencies"]\n'
        "[tool.setuptools.dynamic]\n"
        'dependencies = { file = ["requirements.txt", "gone.txt"] }\n'
        'optional-dependencies.cache = { file = "extra.txt" }\n',
    )
    found = by_name(detection)
    assert found["django"].group == "main" and found["django"].source == "requirements.txt"
    assert found["redis"].group == "optional:cache"
    assert [p.reason for p in detection.problems] == [
        "tool.setuptools.dynamic.dependencies: file not found: gone.txt"
    ]


def test_malformed_toml_is_one_problem_with_its_line(tmp_path: Path) -> None:
    detection = parse(tmp_path, '[project]\nname = "x"\ndependencies = [\n  "a",\n  oops\n]\n')
    assert detection.dependencies == []
    assert len(detection.problems) == 1
    problem = detection.problems[0]
    assert (problem.path, problem.line) == ("pyproject.toml", 5)
    assert problem.reason.startswith("invalid TOML: ")


def test_wrong_types_are_reported_and_the_rest_still_parses(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        '[project]\nname = "x"\ndependencies = ["ok", 3, "bad spec ~~"]\n'
        'optional-dependencies = "nope"\n'
        '[dependency-groups]\ndev = "pytest"\n'
        '[tool.poetry.dependencies]\nweird = 5\n"bad name!" = "1"\n',
    )
    assert [d.name for d in detection.dependencies] == ["ok"]
    reasons = [p.reason for p in detection.problems]
    assert reasons[0] == "project.dependencies: expected a requirement string, got 3"
    assert reasons[1].startswith("invalid requirement 'bad spec ~~'")
    assert "project.optional-dependencies must be a table" in reasons
    assert "dependency-groups.dev must be an array" in reasons
    assert any(r.startswith("tool.poetry.dependencies.weird: expected") for r in reasons)
    assert any("invalid package name 'bad name!'" in r for r in reasons)


def test_hostile_names_give_one_line_problems(tmp_path: Path) -> None:
    detection = parse(tmp_path, '[dependency-groups]\n"a\\nb" = "x"\n')
    assert [str(p) for p in detection.problems] == [
        "pyproject.toml:1: dependency-groups.a b must be an array"
    ]
