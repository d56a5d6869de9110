"""The step kinds front ends hand to the engine."""

from __future__ import annotations

from tether.engine.kinds import StepKind
from tether.steps.command import CommandKind
from tether.steps.docs import DocsKind
from tether.steps.python_call import PythonKind


def builtin_kinds() -> dict[str, StepKind]:
    kinds: list[StepKind] = [CommandKind(), PythonKind(), DocsKind()]
    return {kind.name: kind for kind in kinds}
