"""The step kinds front ends hand to the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether.engine.kinds import StepKind
from tether.steps.agent import AgentKind
from tether.steps.command import CommandKind
from tether.steps.docs import DocsKind
from tether.steps.isolation import IsolatedKind
from tether.steps.llm import LLMKind
from tether.steps.python_call import PythonKind
from tether.steps.worktree import LiveWorktrees

if TYPE_CHECKING:
    from tether.config import TetherConfig


def builtin_kinds(config: TetherConfig | None = None) -> dict[str, StepKind]:
    """Every built-in kind, each accepting `isolation = "worktree"`.

    With `config`, an `llm` step without `fallback = "agent"` fails to load when no model
    is configured; without it, the llm kind reads the workspace's configuration when a
    step runs. Create one registry per process and reuse it: the llm endpoints' circuit
    breakers and the set of worktrees in use live in it.
    """
    live = LiveWorktrees()
    kinds: list[StepKind] = [
        CommandKind(),
        PythonKind(),
        DocsKind(),
        AgentKind(),
        LLMKind(config),
    ]
    return {kind.name: IsolatedKind(kind, live) for kind in kinds}
