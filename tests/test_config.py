"""Settings: files, environment and client options merge field by field; bad values fall back."""

from __future__ import annotations

from pathlib import Path

from tether.config import TetherConfig, load_config, merge, reference_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_reference_is_generated_from_the_code() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed.strip() == reference_markdown().strip(), (
        "docs/configuration.md is stale: run `python -m tether.config > docs/configuration.md`"
    )


def test_client_options_in_camel_case_are_applied() -> None:
    problems: list[str] = []
    config = merge(
        TetherConfig(),
        {
            "progressInterval": 2,
            "prewarm": {"onStart": False, "onSave": True},
            "docs": {"providers": ["local"], "offline": True},
            "context7": {"url": None},
            "defaultBudget": "40s",
            "logLevel": "debug",
        },
        "initializationOptions",
        problems,
    )
    assert problems == []
    assert config.progress_interval == 2
    assert config.prewarm.on_start is False
    assert config.docs.providers == ("local",)
    assert config.docs.offline is True
    assert config.default_budget == "40s"
    assert config.log_level == "debug"


def test_one_bad_value_falls_back_alone_and_is_reported() -> None:
    problems: list[str] = []
    config = merge(
        TetherConfig(),
        {"progressInterval": "soon", "logLevel": "loud", "docs": {"offline": True}, "bogus": 1},
        "options",
        problems,
    )
    assert config.progress_interval == 5.0
    assert config.log_level == "info"
    assert config.docs.offline is True
    assert len(problems) == 3
    assert any(p.startswith("options.progressInterval:") and "default" in p for p in problems)
    assert any("options.bogus: unknown setting" in p for p in problems)


def test_config_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / ".tether").mkdir()
    (tmp_path / ".tether" / "config.toml").write_text(
        '[runs]\nkeep = 7\ndurability = "every-event"\n[docs]\nlookup_timeout = "750ms"\n'
    )
    config, problems = load_config(tmp_path, env={"CONTEXT7_API_URL": "http://127.0.0.1:1"})
    assert problems == []
    assert config.runs.keep == 7
    assert config.runs.durability == "every-event"
    assert config.docs.lookup_timeout == 0.75
    assert config.context7.url == "http://127.0.0.1:1"


def test_a_broken_config_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / ".tether").mkdir()
    (tmp_path / ".tether" / "config.toml").write_text("[runs\nkeep = ")
    config, problems = load_config(tmp_path, env={})
    assert config == TetherConfig()
    assert len(problems) == 1 and "config.toml" in problems[0]
