"""`when`: a step option that skips the step unless its (templated) value is true.

Used by agent and llm steps whose need depends on an upstream result, e.g. the `fix`
workflow's unrolled rounds: `when = "${steps.check-1.output.continue}"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.engine.errors import StepSkipped

WHEN_FIELD = "when"
_FALSE_TEXT = frozenset({"", "false", "0", "no", "off", "none", "null"})


def is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    return bool(value)


def skip_unless_wanted(options: Mapping[str, Any]) -> None:
    """Raise StepSkipped when the step has a `when` that is false."""
    if WHEN_FIELD in options and not is_true(options[WHEN_FIELD]):
        raise StepSkipped(f"when is {options[WHEN_FIELD]!r}: nothing to do")
