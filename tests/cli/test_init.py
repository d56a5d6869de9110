"""`tether init`: installs the pack, is a no-op the second time, keeps what the user
changed (unless --force), and this repository's own .claude/ is exactly what it installs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tether.cli.init_command import init
from tether.pack.install import MANIFEST_PATH, install_pack
from tether.pack.section import BEGIN, END
from tether.pack.source import pack_files, pack_root

REPO = Path(__file__).resolve().parents[2]
GITIGNORE = ".gitignore"
ALL_TARGETS = sorted(pack_file.target for pack_file in pack_files())


def run_init(workspace: Path, *flags: str) -> Result:
    return CliRunner().invoke(init, [*flags, "-C", str(workspace)])


def actions(result: Result) -> dict[str, str]:
    """What init did to each file of the pack or MCP config (.gitignore is tested apart)."""
    payload = json.loads(result.stdout)
    return {
        entry["path"]: entry["action"] for entry in payload["files"] if entry["path"] != GITIGNORE
    }


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_first_run_creates_every_file_and_says_so(tmp_path: Path) -> None:
    result = run_init(tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:-1] == [f"created     {target}" for target in ALL_TARGETS] + [
        "created     .gitignore (ignores .tether/runs/)"
    ]
    assert lines[-1] == f"tether init: {len(ALL_TARGETS) + 1} created in {tmp_path.resolve()}"
    for pack_file in pack_files():
        installed = (tmp_path / pack_file.target).read_bytes()
        if pack_file.section:
            assert installed.decode() == f"{BEGIN}\n{pack_file.content().decode()}{END}\n"
        else:
            assert installed == pack_file.content()


def test_second_run_writes_nothing_and_says_so(tmp_path: Path) -> None:
    assert run_init(tmp_path).exit_code == 0
    before = snapshot(tmp_path)
    again = run_init(tmp_path)
    assert again.exit_code == 0
    assert snapshot(tmp_path) == before  # not one byte, not one mtime
    assert again.stdout.splitlines()[-1].startswith("tether init: nothing to write")
    assert all(line.startswith("unchanged") for line in again.stdout.splitlines()[:-1])


def test_flags_choose_the_editor(tmp_path: Path) -> None:
    claude, cursor = tmp_path / "claude", tmp_path / "cursor"
    claude.mkdir()
    cursor.mkdir()
    assert run_init(claude, "--claude").exit_code == 0
    assert sorted(p.name for p in claude.iterdir()) == [".claude", GITIGNORE, ".tether"]
    assert run_init(cursor, "--cursor").exit_code == 0
    assert sorted(p.name for p in cursor.iterdir()) == [
        ".cursor",
        GITIGNORE,
        ".tether",
        "AGENTS.md",
    ]


def test_a_user_modified_file_survives_and_force_replaces_it(tmp_path: Path) -> None:
    assert run_init(tmp_path).exit_code == 0
    skill = tmp_path / ".claude" / "skills" / "tether-docs" / "SKILL.md"
    mine = skill.read_text() + "\nAlways use version 2.\n"
    skill.write_text(mine)
    kept = run_init(tmp_path)
    assert kept.exit_code == 0
    assert skill.read_text() == mine
    assert (
        "kept        .claude/skills/tether-docs/SKILL.md (user-modified: changed since tether "
        "init wrote it; --force replaces it)" in kept.stdout.splitlines()
    )
    assert "1 file(s) you changed were kept" in kept.stdout
    forced = run_init(tmp_path, "--force", "--json")
    assert forced.exit_code == 0
    assert actions(forced)[".claude/skills/tether-docs/SKILL.md"] == "overwritten"
    assert skill.read_bytes() == (pack_root() / "claude" / "tether-docs" / "SKILL.md").read_bytes()
    assert set(actions(run_init(tmp_path, "--json")).values()) == {"unchanged"}


def test_a_file_init_never_wrote_is_kept(tmp_path: Path) -> None:
    rule = tmp_path / ".cursor" / "rules" / "tether.mdc"
    rule.parent.mkdir(parents=True)
    rule.write_text("my own rule\n")
    result = run_init(tmp_path, "--json")
    assert actions(result)[".cursor/rules/tether.mdc"] == "kept"
    assert rule.read_text() == "my own rule\n"


def test_a_newer_pack_updates_files_the_user_left_alone(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(pack_root(), pack)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    first = install_pack(workspace, ["claude"], files=pack_files(["claude"], root=pack))
    assert {o.action for o in first.outcomes} == {"created"}
    source = pack / "claude" / "tether-check" / "SKILL.md"
    source.write_text(source.read_text() + "\nA new rule in the next release.\n")
    second = install_pack(workspace, ["claude"], files=pack_files(["claude"], root=pack))
    by_path = {o.path: o.action for o in second.outcomes}
    assert by_path[".claude/skills/tether-check/SKILL.md"] == "updated"
    assert list(by_path.values()).count("unchanged") == 3
    installed = workspace / ".claude" / "skills" / "tether-check" / "SKILL.md"
    assert installed.read_text().endswith("A new rule in the next release.\n")


def test_agents_md_gets_a_section_and_the_user_text_stays(tmp_path: Path) -> None:
    agents = tmp_path / "AGENTS.md"
    agents.write_text("# Our agents\n\nRun make before committing.\n")
    first = run_init(tmp_path, "--cursor", "--json")
    assert actions(first)["AGENTS.md"] == "updated"
    text = agents.read_text()
    assert text.startswith("# Our agents\n\nRun make before committing.\n\n" + BEGIN + "\n")
    assert text.endswith(END + "\n")
    # The user edits around the section: init leaves the file alone.
    agents.write_text(text.replace("Run make", "Run make test") + "\n## More of ours\n")
    edited = agents.read_text()
    assert actions(run_init(tmp_path, "--cursor", "--json"))["AGENTS.md"] == "unchanged"
    assert agents.read_text() == edited
    # ... and inside it: kept, until --force, which rewrites only the section.
    agents.write_text(edited.replace("tether run check", "tether run lint"))
    assert actions(run_init(tmp_path, "--cursor", "--json"))["AGENTS.md"] == "kept"
    assert actions(run_init(tmp_path, "--cursor", "--force", "--json"))["AGENTS.md"] == (
        "overwritten"
    )
    assert agents.read_text() == edited


def test_agents_md_with_broken_markers_is_left_alone(tmp_path: Path) -> None:
    agents = tmp_path / "AGENTS.md"
    agents.write_text(f"mine\n{BEGIN}\nhalf a section\n")
    result = run_init(tmp_path, "--cursor")
    assert result.exit_code == 1
    assert agents.read_text() == f"mine\n{BEGIN}\nhalf a section\n"
    line = next(line for line in result.stdout.splitlines() if "AGENTS.md" in line)
    assert line.startswith("failed      AGENTS.md (expected one tether:begin and one tether:end")
    assert (tmp_path / ".cursor" / "rules" / "tether.mdc").is_file()  # the rest installed


def test_a_directory_in_the_way_fails_that_file_only(tmp_path: Path) -> None:
    (tmp_path / ".claude" / "skills" / "tether-docs" / "SKILL.md").mkdir(parents=True)
    result = run_init(tmp_path, "--claude", "--json")
    assert result.exit_code == 1
    assert actions(result)[".claude/skills/tether-docs/SKILL.md"] == "failed"
    assert (tmp_path / ".claude" / "skills" / "tether-check" / "SKILL.md").is_file()


@pytest.mark.parametrize("garbage", [b"{not json", b"[1, 2]", b'{"files": 3}', b"\xff\xfe"])
def test_a_garbage_manifest_is_reported_and_replaced(tmp_path: Path, garbage: bytes) -> None:
    assert run_init(tmp_path).exit_code == 0
    skill = tmp_path / ".claude" / "skills" / "tether-docs" / "SKILL.md"
    skill.write_text("edited\n")
    (tmp_path / MANIFEST_PATH).write_bytes(garbage)
    result = run_init(tmp_path)
    assert result.exit_code == 0
    assert any(
        line.startswith("note: .tether/pack-manifest.json") for line in result.stdout.splitlines()
    )
    assert skill.read_text() == "edited\n"  # without a record, a difference is the user's
    manifest = json.loads((tmp_path / MANIFEST_PATH).read_text())
    assert ".claude/skills/tether-docs/SKILL.md" not in manifest["files"]
    assert len(manifest["files"]) == len(ALL_TARGETS) - 1


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = run_init(tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"tether: error: -C {tmp_path / 'nope'}: not a directory"
    ]


def test_this_repository_has_the_pack_exactly_as_init_installs_it(tmp_path: Path) -> None:
    assert run_init(tmp_path).exit_code == 0
    for folder in (".claude", ".cursor"):
        installed = {p: data for p, (data, _) in snapshot(tmp_path / folder).items()}
        ours = {p: data for p, (data, _) in snapshot(REPO / folder).items()}
        assert installed == ours, f"{folder}/ differs from `tether init`: run it in the repo"
    section = (tmp_path / "AGENTS.md").read_text()
    assert section in (REPO / "AGENTS.md").read_text()


def test_files_that_match_are_adopted_into_a_lost_manifest(tmp_path: Path) -> None:
    assert run_init(tmp_path).exit_code == 0
    (tmp_path / MANIFEST_PATH).unlink()
    result = run_init(tmp_path)
    assert result.stdout.splitlines()[-2:] == [
        "note: recorded the installed files in .tether/pack-manifest.json",
        f"tether init: nothing to write, the pack is already installed "
        f"({len(ALL_TARGETS) + 1} unchanged)",
    ]
    recorded = json.loads((tmp_path / MANIFEST_PATH).read_text())["files"]
    assert sorted(recorded) == ALL_TARGETS


def test_init_in_this_repository_is_a_no_op() -> None:
    report = install_pack(REPO, ["claude", "cursor"], dry_run=True)
    assert {outcome.action for outcome in report.outcomes} == {"unchanged"}
    recorded = json.loads((REPO / MANIFEST_PATH).read_text())["files"]
    assert sorted(recorded) == ALL_TARGETS


def test_mcp_writes_both_editors_entries_and_keeps_other_servers(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"other": {"command": "other-server"}}, "note": 1})
    )
    result = run_init(tmp_path, "--mcp", "--json")
    assert result.exit_code == 0, result.output
    assert actions(result) == {".mcp.json": "updated", ".cursor/mcp.json": "created"}
    claude = json.loads((tmp_path / ".mcp.json").read_text())
    assert claude["note"] == 1 and claude["mcpServers"]["other"] == {"command": "other-server"}
    entry = claude["mcpServers"]["tether"]
    assert entry["type"] == "stdio" and entry["args"][-1] == "mcp"
    cursor = json.loads((tmp_path / ".cursor" / "mcp.json").read_text())
    assert cursor["mcpServers"]["tether"]["args"][-3:] == ["mcp", "-C", "${workspaceFolder}"]
    assert not (tmp_path / ".claude").exists()  # --mcp installs no skills
    before = snapshot(tmp_path)
    again = run_init(tmp_path, "--mcp", "--json")
    assert actions(again) == {".mcp.json": "unchanged", ".cursor/mcp.json": "unchanged"}
    assert snapshot(tmp_path) == before


def test_mcp_keeps_a_changed_entry_unless_forced_and_never_touches_broken_json(
    tmp_path: Path,
) -> None:
    assert run_init(tmp_path, "--mcp", "--claude").exit_code == 0
    config = tmp_path / ".mcp.json"
    mine = json.loads(config.read_text())
    mine["mcpServers"]["tether"]["env"] = {"X": "1"}
    config.write_text(json.dumps(mine))
    kept = run_init(tmp_path, "--mcp", "--claude", "--json")
    assert actions(kept) == {".mcp.json": "kept"}
    assert json.loads(config.read_text()) == mine
    forced = run_init(tmp_path, "--mcp", "--claude", "--force", "--json")
    assert actions(forced) == {".mcp.json": "overwritten"}
    assert "env" not in json.loads(config.read_text())["mcpServers"]["tether"]
    config.write_text("{not json")
    broken = run_init(tmp_path, "--mcp", "--claude")
    assert broken.exit_code == 1
    assert "failed      .mcp.json (not valid JSON" in broken.stdout
    assert config.read_text() == "{not json"


@pytest.mark.parametrize("flags", [(), ("--mcp",), ("--claude",)])
def test_init_keeps_run_state_out_of_git(tmp_path: Path, flags: tuple[str, ...]) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / GITIGNORE).write_text("*.log")  # the user's own, without a final newline
    assert run_init(tmp_path, *flags).exit_code == 0
    run_files = tmp_path / ".tether" / "runs" / "check-1" / "events.jsonl"
    run_files.parent.mkdir(parents=True)
    run_files.write_text("{}\n")
    (tmp_path / ".tether" / "workflows").mkdir()
    (tmp_path / ".tether" / "workflows" / "w.toml").write_text("")
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert ".tether/workflows/w.toml" in staged  # shared workflows stay shareable
    assert not [path for path in staged if path.startswith(".tether/runs/")]
    assert (tmp_path / GITIGNORE).read_text().startswith("*.log\n")
    again = run_init(tmp_path, *flags, "--json")
    files = json.loads(again.stdout)["files"]
    assert {"path": GITIGNORE, "action": "unchanged", "editor": "all", "detail": ""} in files
