"""Substituted values reach a `shell = true` command as data, never as code (issue #12.1)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.test_run_cli import tether, write_workflow
from tests.engine.conftest import RunWorkflow
from tether.engine.errors import WorkflowError
from tether.engine.templating import render_options

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
    ],
)
def test_references_that_cannot_be_quoted_are_refused_at_load(
    run: str, reason: str, tmp_path: Path
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
    with pytest.raises(WorkflowError, match=reason.replace("$", r"\$").replace("(", r"\(")):
        load_workflow(path, builtin_kinds())
    raw = path.read_text().replace("${params.v}", "${raw:params.v}")
    path.write_text(raw)
    load_workflow(path, builtin_kinds())  # the raw form is the explicit way out
