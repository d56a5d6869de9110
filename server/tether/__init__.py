"""tether: a workflow engine for AI coding agents that never hangs.

The public API is deliberately small: the step context handed to python steps, and the
exception that marks a failure as worth retrying.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["StepContext", "StepSkipped", "TransientError", "__version__"]

if TYPE_CHECKING:
    from tether.engine.context import StepContext
    from tether.engine.errors import StepSkipped, TransientError


def __getattr__(name: str) -> Any:
    # Lazy so that `tether --version` and plain imports of submodules stay cheap.
    if name == "StepContext":
        from tether.engine.context import StepContext

        return StepContext
    if name in ("TransientError", "StepSkipped"):
        from tether.engine import errors

        return getattr(errors, name)
    raise AttributeError(name)
