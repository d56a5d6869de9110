"""pip requirements files: options, includes, continuations, references, problems."""

from __future__ import annotations

from pathlib import Path

from tests.kb.dependency_files import by_name, parse_file, write
from tether.kb.deps import Detection, parse_dependency_file


def parse(root: Path, text: str, name: str = "requirements.txt") -> Detection:
    return parse_file(root, name, text)


def test_comments_blank_lines_trailing_tabs_and_spacing(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        "# header\n\nPyYAML >= 5.1  # why\npip==19.2.3\t\t\nresolvelib >= 0.5.3, < 1.1.0\n"
        "Django_Filter==1.0 # inline\n",
    )
    found = by_name(detection)
    assert detection.problems == []
    assert found["pyyaml"].spec == ">=5.1" and found["pyyaml"].display_name == "PyYAML"
    assert found["pyyaml"].line == 3
    assert found["pip"].spec == "==19.2.3"
    assert found["resolvelib"].spec == ">=0.5.3,<1.1.0"
    assert found["django-filter"].line == 6


def test_hashes_and_backslash_continuations(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        "bytecode==0.18.1 \\\n    --hash=sha256:aaaa \\\n    --hash=sha256:bbbb\n"
        "    # via ddtrace\n"
        "ddtrace==4.10.5 \\\n    --hash=sha256:cccc\n",
    )
    found = by_name(detection)
    assert detection.problems == []
    assert (found["bytecode"].spec, found["bytecode"].line) == ("==0.18.1", 1)
    assert (found["ddtrace"].spec, found["ddtrace"].line) == ("==4.10.5", 5)


def test_a_comment_line_ending_in_a_backslash_does_not_continue(tmp_path: Path) -> None:
    detection = parse(tmp_path, "# note \\\nrequests\n")
    assert [d.name for d in detection.dependencies] == ["requests"]


def test_extras_markers_and_direct_references(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        'coverage[toml] >= 6.5.0,< 8.0\nattrs ; python_version < "3.9"\n'
        "pkg @ git+https://example.org/pkg.git@v1\n",
    )
    found = by_name(detection)
    assert found["coverage"].extras == ("toml",)
    assert found["coverage"].spec == ">=6.5.0,<8.0"
    assert found["attrs"].marker == 'python_version < "3.9"'
    assert found["pkg"].direct_url == "git+https://example.org/pkg.git@v1"
    assert found["pkg"].spec == ""


def test_editable_vcs_with_egg_version_and_wheel_urls(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        "-e git+https://github.com/edx/drf.git@1ceda7c#egg=djangorestframework==3.6.3\n"
        "--editable git+https://example.org/x.git#egg=other-pkg\n"
        "https://example.org/dl/gradio-4.37.2+custom.20-py3-none-any.whl\n"
        "https://example.org/dl/llama_cpp-0.1.0-py3-none-win_amd64.whl"
        '; platform_system == "Windows"\n'
        "./vendor/thing-1.0.tar.gz\n",
    )
    found = by_name(detection)
    assert detection.problems == []
    assert found["djangorestframework"].spec == "==3.6.3"
    assert found["djangorestframework"].direct_url.startswith("git+https://github.com/edx/drf.git")  # type: ignore[union-attr]
    assert found["other-pkg"].spec == ""
    assert found["gradio"].spec == "==4.37.2+custom.20"
    assert found["llama-cpp"].marker == 'platform_system == "Windows"'
    assert found["thing"].direct_url == "./vendor/thing-1.0.tar.gz"


def test_references_without_a_name_are_noted_not_errors(tmp_path: Path) -> None:
    detection = parse(
        tmp_path, "-e .[all]\ngit+https://example.org/repo.git\nrequests\n-e ../lib\n"
    )
    assert [d.name for d in detection.dependencies] == ["requests"]
    assert detection.problems == []
    assert len(detection.notes) == 3
    assert "requirements.txt:4: local path '../lib' skipped" in detection.notes[2]
    assert detection.notes[0] == "requirements.txt:1: '.[all]' is the project itself; skipped"
    assert "requirements.txt:2: URL" in detection.notes[1]


def test_global_options_are_ignored_and_unknown_options_reported(tmp_path: Path) -> None:
    detection = parse(
        tmp_path,
        "--index-url https://example.org/simple\n--extra-index-url=https://x.org\n"
        "--pre\n--frobnicate\nrequests --no-such-option\nhttpx\n",
    )
    assert [d.name for d in detection.dependencies] == ["httpx"]
    assert [str(p) for p in detection.problems] == [
        "requirements.txt:4: unknown option '--frobnicate'",
        "requirements.txt:5: unknown option '--no-such-option'; line skipped",
    ]


def test_a_malformed_line_is_reported_and_the_rest_still_parses(tmp_path: Path) -> None:
    detection = parse(tmp_path, "requests\nfoo>=>1\n-e\nhttpx==0.27\n")
    assert [d.name for d in detection.dependencies] == ["requests", "httpx"]
    lines = [(p.line, p.reason.split(" ")[0]) for p in detection.problems]
    assert lines == [(2, "invalid"), (3, "-e")]


def test_includes_resolve_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "requirements/base.txt", "django\n")
    write(tmp_path, "requirements/production.txt", "-r base.txt\ngunicorn\n")
    detection = parse(tmp_path, "--requirement requirements/production.txt\n")
    found = by_name(detection)
    assert detection.problems == []
    assert found["django"].source == "requirements/base.txt"
    assert found["gunicorn"].source == "requirements/production.txt"


def test_include_forms_rfile_and_equals(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "alpha\n")
    write(tmp_path, "b.txt", "beta\n")
    detection = parse(tmp_path, "-ra.txt\n--requirement=b.txt\n")
    assert {d.name for d in detection.dependencies} == {"alpha", "beta"}


def test_missing_include_is_a_problem_with_file_and_line(tmp_path: Path) -> None:
    detection = parse(tmp_path, "requests\n-r missing.txt\n")
    assert [str(p) for p in detection.problems] == [
        "requirements.txt:2: included file not found: missing.txt"
    ]
    assert [d.name for d in detection.dependencies] == ["requests"]


def test_include_cycle_is_detected(tmp_path: Path) -> None:
    write(tmp_path, "b.txt", "-r c.txt\nbeta\n")
    write(tmp_path, "c.txt", "-r requirements.txt\ngamma\n")
    detection = parse(tmp_path, "-r b.txt\nalpha\n")
    assert {d.name for d in detection.dependencies} == {"alpha", "beta", "gamma"}
    assert [str(p) for p in detection.problems] == [
        "c.txt:1: include cycle: requirements.txt -> b.txt -> c.txt -> requirements.txt"
    ]


def test_self_include_is_a_cycle(tmp_path: Path) -> None:
    detection = parse(tmp_path, "-r requirements.txt\nalpha\n")
    assert [d.name for d in detection.dependencies] == ["alpha"]
    assert "include cycle: requirements.txt -> requirements.txt" in str(detection.problems[0])


def test_diamond_includes_read_each_file_once(tmp_path: Path) -> None:
    write(tmp_path, "common.txt", "shared\n")
    write(tmp_path, "a.txt", "-r common.txt\n")
    write(tmp_path, "b.txt", "-r common.txt\n")
    detection = parse(tmp_path, "-r a.txt\n-r b.txt\n")
    assert [d.name for d in detection.dependencies] == ["shared"]
    assert detection.problems == []


def test_constraints_are_not_dependencies(tmp_path: Path) -> None:
    write(tmp_path, "constraints.txt", "django<2\n")
    detection = parse(tmp_path, "-c constraints.txt\ncelery\n-c absent.txt\n")
    assert [d.name for d in detection.dependencies] == ["celery"]
    assert [str(p) for p in detection.problems] == [
        "requirements.txt:3: constraints file not found: absent.txt"
    ]


def test_dev_named_files_are_the_dev_group(tmp_path: Path) -> None:
    tests = parse(tmp_path, "pytest\n", name="requirements-tests.txt")
    docs = parse(tmp_path, "mkdocs\n", name="requirements/docs.in")
    production = parse(tmp_path, "gunicorn\n", name="requirements/production.txt")
    assert tests.dependencies[0].group == "dev"
    assert docs.dependencies[0].group == "dev"
    assert production.dependencies[0].group == "main"


def test_unreadable_and_binary_files_are_problems(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"\xff\xfe\x00garbage")
    detection = parse_dependency_file(path, tmp_path)
    assert detection.dependencies == []
    assert str(detection.problems[0]).startswith("requirements.txt: not UTF-8 text")
    missing = parse_dependency_file(tmp_path / "requirements-dev.txt", tmp_path)
    assert str(missing.problems[0]) == "requirements-dev.txt: file not found"
