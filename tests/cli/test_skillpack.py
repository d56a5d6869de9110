"""The skill pack's sources: valid frontmatter, Agent Skills naming rules, and every
`tether ...` command in it accepted by the real CLI's argument parser."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import click
import pytest

from tests.cli.pack_text import FrontmatterError, argv_of, command_lines, parse_document
from tether.cli.main import _COMMANDS, cli
from tether.pack.section import BEGIN, END
from tether.pack.source import pack_files, pack_root, skill_names

PACK = pack_root()
SKILLS = skill_names()
SKILL_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SKILL_KEYS = {"name", "description", "license", "allowed-tools", "metadata"}
PACK_TEXTS = sorted(path for path in PACK.rglob("*") if path.is_file())


def test_the_pack_is_the_repository_skills_folder() -> None:
    assert Path(__file__).resolve().parents[2] / "skills" == PACK
    assert SKILLS == ["tether-build", "tether-check", "tether-docs", "tether-workflows"]


@pytest.mark.parametrize("name", SKILLS)
def test_skill_frontmatter_follows_the_agent_skills_format(name: str) -> None:
    document = parse_document((PACK / "claude" / name / "SKILL.md").read_text(encoding="utf-8"))
    meta = document.frontmatter
    assert set(meta) <= SKILL_KEYS and {"name", "description"} <= set(meta)
    assert meta["name"] == name
    assert SKILL_NAME.match(name) and len(name) <= 64
    description = meta["description"]
    assert 50 <= len(description) <= 1024
    assert "Use when" in description  # says when, not only what
    assert description.count('"') >= 4  # with concrete trigger phrases
    assert len(document.body.splitlines()) < 500
    assert document.body.lstrip().startswith("# ")


def test_cursor_rule_is_description_triggered() -> None:
    document = parse_document((PACK / "cursor" / "rules" / "tether.mdc").read_text())
    assert set(document.frontmatter) == {"description", "globs", "alwaysApply"}
    assert document.frontmatter["alwaysApply"] == "false"
    assert document.frontmatter["globs"] == ""
    assert 50 <= len(document.frontmatter["description"]) <= 1024


def test_cursor_has_a_command_for_each_skill() -> None:
    commands = sorted(path.stem for path in (PACK / "cursor" / "commands").glob("*.md"))
    assert commands == SKILLS


def test_agents_section_has_no_markers_of_its_own() -> None:
    text = (PACK / "agents" / "AGENTS.md").read_text()
    assert BEGIN not in text and END not in text and "tether:" not in text.split("\n")[0]


@pytest.mark.parametrize(
    "text",
    [
        "name: x\n---\n",
        "---\nname: x\n",
        "---\nname: x\nname: y\n---\n",
        "---\ndescription: 'quoted'\n---\n",
        "---\n  indented: x\n---\n",
        "---\ndescription: a: b\n---\n",
    ],
)
def test_the_frontmatter_reader_is_strict(text: str) -> None:
    with pytest.raises(FrontmatterError):
        parse_document(text)


def pack_commands() -> list[tuple[str, str]]:
    found = []
    for path in PACK_TEXTS:
        for command in command_lines(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(PACK)), command))
    return found


COMMANDS = pack_commands()


def test_the_pack_has_commands_for_every_job() -> None:
    subcommands = {argv_of(command)[0] for _, command in COMMANDS}
    assert {"run", "resume", "docs", "show", "workflows"} <= subcommands
    assert len(COMMANDS) > 30


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w}: {c}" for w, c in COMMANDS])
def test_every_command_in_the_pack_parses_with_the_real_cli(where: str, command: str) -> None:
    argv = argv_of(command)
    name, rest = argv[0], argv[1:]
    assert name in _COMMANDS, f"{where}: `{command}`: no such subcommand"
    module_name = _COMMANDS[name].partition(":")[0]
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        pytest.skip(f"{module_name} is not written yet; {name!r} is in the CLI contract")
    parse(name, rest)


def parse(name: str, rest: list[str]) -> None:
    """Parse like `tether NAME REST...` would, down through nested groups, running nothing."""
    with cli.make_context("tether", [name, *rest], resilient_parsing=True) as root:
        command = cli.get_command(root, name)
        assert command is not None
        with command.make_context(name, list(rest), parent=root) as context:
            while isinstance(command, click.Group):
                args = context.protected_args + context.args
                assert args, f"{name}: a subcommand is needed"
                sub = command.get_command(context, args[0])
                assert sub is not None, f"{name} {args[0]}: no such subcommand"
                context = sub.make_context(args[0], args[1:], parent=context)
                command = sub


@pytest.mark.parametrize(
    "argv",
    [["run"], ["run", "check", "--budjet", "50s"], ["resume", "r1", "--result-fil", "x"]],
)
def test_the_parse_check_rejects_bad_commands(argv: list[str]) -> None:
    with pytest.raises(click.UsageError):
        parse(argv[0], argv[1:])


def test_runs_and_resumes_in_the_pack_always_pass_a_budget() -> None:
    for where, command in COMMANDS:
        argv = argv_of(command)
        if argv[0] in ("run", "resume"):
            assert "--budget" in argv, f"{where}: `{command}` has no --budget"
            assert argv[argv.index("--budget") + 1] == "50s", f"{where}: `{command}`"


def test_pack_files_cover_every_source_file() -> None:
    installed = {pack_file.source for pack_file in pack_files()}
    assert installed == set(PACK_TEXTS)


def test_the_wheel_ships_the_pack_where_pack_root_looks_first() -> None:
    """`tether init` from an installed (non-editable) tether reads tether/pack/skills."""
    import tomllib

    pyproject = tomllib.loads((PACK.parent / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel.get("force-include", {}).get("skills") == "tether/pack/skills", (
        "add to pyproject.toml: [tool.hatch.build.targets.wheel.force-include] "
        '"skills" = "tether/pack/skills"'
    )
    sdist = pyproject["tool"]["hatch"]["build"]["targets"]["sdist"]
    assert "skills" in sdist["include"]
