"""Settings as every CLI command loads them: problems become one warning line each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tether.config import TetherConfig
    from tether.engine.kinds import StepKind


def load_settings(workspace: Path) -> TetherConfig:
    """The workspace's settings; a bad value is reported on stderr and its default used."""
    from tether.config import load_config

    config, problems = load_config(workspace)
    for problem in problems:
        click.echo(f"tether: warning: {problem}", err=True)
    return config


def step_kinds(config: TetherConfig) -> dict[str, StepKind]:
    """The step kinds for this workspace (the llm kind needs to know if a model is set)."""
    from tether.steps.registry import builtin_kinds

    return builtin_kinds(config)
