"""The contract between the engine and step kinds (command, python, docs, agent, ...).

The engine knows kinds only through this protocol; front ends hand it a registry, so the
engine never imports the kinds themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tether.engine.context import StepContext
    from tether.engine.spec import StepSpec

# Seconds a step may take to honour cancellation before the engine abandons it.
DEFAULT_CANCEL_GRACE = 1.0


class StepKind(Protocol):
    name: str

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Problems with a step's kind-specific options, as (field, message) pairs."""
        ...

    def cancel_grace(self, step: StepSpec) -> float:
        """How long after cancellation the step may still be cleaning up legitimately."""
        ...

    async def execute(self, ctx: StepContext) -> Any:
        """Run one attempt; return the step's JSON-serialisable output."""
        ...


KindRegistry = Mapping[str, StepKind]
