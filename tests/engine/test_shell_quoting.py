"""Substituted values reach a `shell = true` command as data, never as code (issue #12.1)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.engine.conftest import RunWorkflow
from tests.helpers import tether, write_workflow
from tether.engine.errors import WorkflowError
from tether.engine.templating import render_options, shell_template_problems

# Each template prints the value back exactly once, wherever the reference stands.
TEMPLATES = {
    "unquoted": "printf %s ${params.v}",
    "single-quoted": "printf %s 'before ${params.v} after'",
    "double-quoted": 'printf %s "before ${params.v} after"',
    "in $(...)": 'printf %s "$(printf %s ${params.v})"',
    "in $(...) in single quotes in $(...)": "printf %s \"$(printf %s '<${params.v}>')\"",
}
EXPECTED = {
    "single-quoted": "before {} after",
    "double-quoted": "before {} after",
    "in $(...) in single quotes in $(...)": "<{}>",
}
HOSTILE = [
    "x; touch PWNED",
    "x'; touch PWNED; echo '",
    'x"; touch PWNED; echo "',
    "$(touch PWNED)",
    "`touch PWNED`",
    "x\\'; touch PWNED #",
    "\\",
    "'\n touch PWNED\n'",
    "*",
    "",
    "-n",
]


def shell_prints(template: str, value: str, cwd: Path) -> str:
    run = render_options({"run": template, "shell": True}, {"params": {"v": value}})["run"]
    shell = ["/bin/sh", "-c", run]
    done = subprocess.run(shell, cwd=cwd, capture_output=True, timeout=20, check=True)
    return done.stdout.decode()  # bytes: text mode would turn a \r into a \n


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_printed_back_not_run(name: str, value: str, tmp_path: Path) -> None:
    printed = shell_prints(TEMPLATES[name], value, tmp_path)
    assert printed == EXPECTED.get(name, "{}").format(value)
    assert list(tmp_path.iterdir()) == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40))
def test_any_value_survives_every_quoting_context_exactly(value: str, tmp_path: Path) -> None:
    for name, template in TEMPLATES.items():
        if name.startswith("in $(") and value.endswith("\n"):
            continue  # $(...) strips trailing newlines: the shell's rule, not quoting
        assert shell_prints(template, value, tmp_path) == EXPECTED.get(name, "{}").format(value)


# Shell syntax around a reference: quotes, substitutions, arithmetic, comments, here-docs.
SHELL_PIECES = st.sampled_from(
    [
        "echo ", "'", '"', "$(", ")", "(", "((", "))", "$((", "`", "\\", "$$", "$${", "}",
        "#", "\n", " ", ";", "|", "&&", "<<", "<<-", "<<<", "EOF", "case ", " in ", "esac",
        "a", "x=", "$$'", '$$"', "$1", "$#", "$?", "\t", ">", "${params.v}",
    ]
)  # fmt: skip
INJECTIONS = st.sampled_from(
    [
        "$(touch PWNED1)", "`touch PWNED2`", "'; touch PWNED3; '", '"; touch PWNED4; "',
        "\n touch PWNED5 \n", "\\'; touch PWNED6 #", "a[$(touch PWNED7)]",
        "$(touch PWNED8)'\"`touch PWNED9`",
    ]
)  # fmt: skip


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(
    st.lists(SHELL_PIECES, max_size=8).map("".join),
    st.lists(SHELL_PIECES, max_size=8).map("".join),
    INJECTIONS,
)
def test_no_template_that_loads_lets_a_value_run_as_code(
    before: str, after: str, value: str
) -> None:
    """Whatever shell surrounds a reference, either the workflow is refused at load or the
    value stays data (a scan mistake here would be an injection, so it is fuzzed)."""
    template = before + "${params.v}" + after
    assume(not shell_template_problems(template))
    run = render_options({"run": template, "shell": True}, {"params": {"v": value}})["run"]
    with tempfile.TemporaryDirectory() as folder:
        try:
            subprocess.run(
                ["/bin/sh", "-c", run],
                cwd=folder,
                capture_output=True,
                timeout=10,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            pass
        planted = [name for name in os.listdir(folder) if name.startswith("PWNED")]
    assert planted == [], (template, value, run)


def test_the_raw_form_pastes_shell_code_on_purpose(tmp_path: Path) -> None:
    template = "${raw:params.v}"
    assert shell_prints(template, "printf %s raw; printf %s -ok", tmp_path) == "raw-ok"


async def test_an_upstream_output_cannot_inject_into_a_later_shell_step(
    run_workflow: RunWorkflow, tmp_path: Path
) -> None:
    text = """
[[steps]]
id = "talk"
kind = "command"
run = ["printf", "%s", "it's done'; touch ../PWNED; echo '"]

[[steps]]
id = "use"
kind = "command"
shell = true
needs = ["talk"]
run = "echo 'said: ${steps.talk.output.text}'"
"""
    outcome = await run_workflow(text)
    assert outcome.step("use").output["text"].strip() == (
        "said: it's done'; touch ../PWNED; echo '"
    )
    assert not (tmp_path / "PWNED").exists()


def test_a_parameter_cannot_inject_through_the_cli(tmp_path: Path) -> None:
    write_workflow(
        tmp_path,
        "inj",
        '[params]\nname = "x"\n[[steps]]\nid = "hi"\nkind = "command"\nshell = true\n'
        "run = \"echo hello ${params.name}; echo 'quoted ${params.name}'\"\n",
    )
    done = tether(tmp_path, "run", "inj", "-p", "name=x; touch PWNED", "--json")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "PWNED").exists()
    assert "hello x; touch PWNED" in done.stdout
    assert "quoted x; touch PWNED" in done.stdout


def test_argv_lists_stay_unquoted_and_safe(tmp_path: Path) -> None:
    write_workflow(
        tmp_path,
        "argv",
        '[params]\nname = "x"\n[[steps]]\nid = "hi"\nkind = "command"\n'
        'run = ["printf", "%s", "${params.name}"]\n',
    )
    done = tether(tmp_path, "run", "argv", "-p", "name=a 'b' $(touch PWNED)", "--json")
    assert done.returncode == 0, done.stderr
    assert "a 'b' $(touch PWNED)" in done.stdout
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        ("echo `echo ${params.v}`", "inside backticks"),
        ("true # ${params.v}", "inside a shell comment"),
        ("cat <<EOF\n${params.v}\nEOF", "inside a here-document"),
        ("echo \\${params.v}", "right after a backslash"),
        ("echo $${X:-${params.v}}", "shell's own ${...}"),
        ("echo $$'${params.v}'", "inside $'...'"),
        ("echo $(case a in a) echo ${params.v};; esac)", "after a `case`"),
        ("echo $(( ${params.v} + 1 ))", "inside arithmetic"),
        ("(( x = ${params.v} ))", "inside arithmetic"),
        ("echo $$$(( 1 )) '${params.v}'", None),
    ],
)
def test_references_that_cannot_be_quoted_are_refused_at_load(
    run: str, reason: str | None, tmp_path: Path
) -> None:
    from tether.engine.loader import load_workflow
    from tether.steps.registry import builtin_kinds

    escaped = run.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    path = write_workflow(
        tmp_path,
        "bad",
        f'[params]\nv = "x"\n[[steps]]\nid = "a"\nkind = "command"\nshell = true\n'
        f'run = "{escaped}"\n',
    )
    if reason is None:  # `$$` is the shell's pid: what follows is read as usual
        load_workflow(path, builtin_kinds())
        return
    with pytest.raises(WorkflowError, match=reason.replace("$", r"\$").replace("(", r"\(")):
        load_workflow(path, builtin_kinds())
    raw = path.read_text().replace("${params.v}", "${raw:params.v}")
    path.write_text(raw)
    load_workflow(path, builtin_kinds())  # the raw form is the explicit way out
