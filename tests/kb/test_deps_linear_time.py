"""No dependency file costs more than a bounded time to read, however hostile (#12.10).

A 400 KB line once made `tether deps` take over a minute (a regex quadratic on long runs
of spaces) and kept the language server's pre-warm thread busy past exit. Every parser is
fed long runs of the characters that regexes and tokenisers backtrack on, inside the
structure that reaches each parser's deepest path, with a time bound per input.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.kb.deps import detect_dependencies
from tether.kb.deps.files import is_dependency_file

# Per input: linear parsers read these files in well under 0.5 s even on a loaded machine;
# the quadratic regexes took minutes.
BOUND_SECONDS = 3.0
LONG = 400_000

# Where hostile text lands, per file: (text before it, text after it).
CONTEXTS: dict[str, list[tuple[str, str]]] = {
    "requirements.txt": [("", "\n"), ("pkg", " # c\n"), ("-r ", "\n"), ("a==1 \\\n", "\n")],
    "setup.cfg": [
        ("[options]\ninstall_requires =\n    a", "\n"),
        ("[options.extras_require]\nx = a", "\n"),
        ("[metadata]\nname", "\n"),
        ("[options]\ninstall_requires = file: ", "\n"),
    ],
    "pyproject.toml": [
        ('[project]\ndependencies = ["a', '"]\n'),
        ('[project]\ndependencies = ["a=={{', '"]\n'),
        ('[tool.poetry.dependencies]\na = "', '"\n'),
        ("[project]\n", "\n"),
    ],
    "Pipfile": [('[packages]\na = "', '"\n'), ("[packages]\n", "\n")],
    "Pipfile.lock": [('{"default": {"a": {"version": "', '"}}}')],
    "package.json": [('{"dependencies": {"a": "', '"}}'), ('{"workspaces": ["', '"]}')],
    "package-lock.json": [('{"packages": {"node_modules/a": {"version": "', '"}}}')],
    "npm-shrinkwrap.json": [('{"packages": {"', '": {}}}')],
    "uv.lock": [('version = 1\n\n[[package]]\nname = "a', '"\nversion = "1"\n'), ("", "\n")],
    "poetry.lock": [('[[package]]\nname = "a"\nversion = "', '"\n'), ("[[package]]", "\n")],
    "requirements/dev.in": [("", "\n")],
}
# What the hostile run is made of: whitespace, comment and quote characters, brackets.
CHUNKS = [" ", "\t", " #", "# ", "a ", "{{", "[", "[[", "=", '"', "'", "\\", "-", ".", "a\t", "é"]


def parse_time(name: str, text: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        started = time.monotonic()
        detection = detect_dependencies(workspace)
        elapsed = time.monotonic() - started
    assert all("\n" not in str(problem) for problem in detection.problems)
    return elapsed


def test_every_dependency_file_kind_is_covered() -> None:
    assert all(is_dependency_file(Path(name)) for name in CONTEXTS)


@pytest.mark.parametrize("name", ["requirements.txt", "setup.cfg"])
def test_a_400_kb_line_of_spaces_is_read_at_once(name: str) -> None:
    """The reported case: `a` + 400 KB of spaces + `b`, in the two quadratic parsers."""
    before, after = CONTEXTS[name][0]
    elapsed = parse_time(name, before + "a" + " " * LONG + "b" + after)
    assert elapsed < BOUND_SECONDS


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.sampled_from(sorted(CONTEXTS)).flatmap(
        lambda name: st.tuples(st.just(name), st.sampled_from(CONTEXTS[name]))
    ),
    st.lists(st.sampled_from(CHUNKS), min_size=1, max_size=3).map("".join),
    st.sampled_from([LONG // 4, LONG]),  # long enough that quadratic means minutes
    st.sampled_from(["", "x", "#", "=", "\n"]),
)
def test_no_parser_is_slow_on_long_hostile_runs(
    where: tuple[str, tuple[str, str]], chunk: str, length: int, tail: str
) -> None:
    name, (before, after) = where
    text = before + (chunk * (length // len(chunk) + 1))[:length] + tail + after
    assert parse_time(name, text) < BOUND_SECONDS, (name, repr(chunk), length)
