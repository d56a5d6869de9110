"""Loading a JSON dependency file (package.json and the JSON lock files)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.kb.deps.model import DependencyProblem
from tether.kb.deps.source_file import read_source


@dataclass(frozen=True)
class JsonSource:
    """A JSON object read from a file, or the problem that stopped it."""

    name: str
    text: str
    data: dict[str, Any] | None
    problem: DependencyProblem | None


def load_json(path: Path, workspace: Path) -> JsonSource:
    source = read_source(path, workspace)
    if source.problem is not None or source.text is None:
        return JsonSource(source.name, "", None, source.problem)
    try:
        data = json.loads(source.text)
    except json.JSONDecodeError as error:
        problem = DependencyProblem(source.name, error.lineno, f"invalid JSON: {error.msg}")
        return JsonSource(source.name, source.text, None, problem)
    except RecursionError:
        problem = DependencyProblem(source.name, None, "invalid JSON: nested too deeply")
        return JsonSource(source.name, source.text, None, problem)
    if not isinstance(data, dict):
        problem = DependencyProblem(source.name, 1, "expected a JSON object at the top level")
        return JsonSource(source.name, source.text, None, problem)
    return JsonSource(source.name, source.text, data, None)
