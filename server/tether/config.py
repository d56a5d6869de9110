"""tether's settings: one typed structure, read from `.tether/config.toml`, environment
variables and (in the editor) the client's initializationOptions / workspace settings.

Every field documents itself below; docs/configuration.md is generated from these
docstrings (`python -m tether.config`). An invalid value never stops tether: it is
reported as a problem and the default is used, field by field.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from tether.engine.durations import parse_duration
from tether.engine.redaction import register as register_secret

CONFIG_PATH = Path(".tether") / "config.toml"


@dataclass(frozen=True)
class DocsConfig:
    providers: tuple[str, ...] = ("local", "context7")
    """Providers asked for documentation, in order: `local` (installed packages), `context7`."""
    offline: bool = False
    """Never use the network for docs: local provider and cache only."""
    lookup_timeout: float = 5.0
    """Seconds one library lookup may take, always inside any caller's deadline."""
    prewarm_concurrency: int = 8
    """Libraries pre-warmed at once."""
    max_tokens: int = 4000
    """Default size of a docs answer, in tokens (characters / 4)."""
    cache_dir: str | None = None
    """Cache directory; default: $TETHER_CACHE_DIR, else the user cache dir."""


@dataclass(frozen=True)
class Context7Config:
    url: str | None = None
    """Context7 API base URL; default $CONTEXT7_API_URL, else https://context7.com."""
    api_key_env: str = "CONTEXT7_API_KEY"
    """Name of the environment variable holding the Context7 key (the key is never stored)."""


@dataclass(frozen=True)
class PrewarmConfig:
    on_start: bool = True
    """Editor: pre-warm docs for all dependencies in the background after start."""
    on_save: bool = True
    """Editor: pre-warm changed dependencies when a dependency file is saved."""


@dataclass(frozen=True)
class RunsConfig:
    keep: int = 50
    """Finished runs kept in .tether/runs; older ones are pruned (paused, waiting and live
    runs never are)."""
    durability: str = "step"
    """Journal fsync policy: `none`, `step` (step boundaries and run end), `every-event`."""


@dataclass(frozen=True)
class LLMConfigSection:
    base_url: str | None = None
    """OpenAI-compatible endpoint root, e.g. https://api.openai.com/v1; unset = no model."""
    model: str | None = None
    """Model name for `llm` steps; unset = no model (steps with fallback = "agent" wait)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the key (the key is never stored)."""


@dataclass(frozen=True)
class McpConfig:
    call_budget: str = "30s"
    """MCP server: how long one run tool call waits before it returns the run still going
    and the call that continues it (below the usual 60 s client limits)."""


@dataclass(frozen=True)
class TetherConfig:
    progress_interval: float = 5.0
    """Editor: seconds between progress reports while anything runs."""
    default_budget: str = "50s"
    """How long a language-server request (`tether.run`, `tether/run`, `tether.resume`)
    without its own `budget` waits before answering with the run still going and its
    continuation; the run goes on in the server. A request with `on_budget: "pause"`
    pauses the run at the budget instead."""
    log_level: str = "info"
    """Language server log level: error, warning, info, debug."""
    interpreter: str | None = None
    """Python interpreter whose installed packages the local docs provider reads."""
    docs: DocsConfig = field(default_factory=DocsConfig)
    context7: Context7Config = field(default_factory=Context7Config)
    prewarm: PrewarmConfig = field(default_factory=PrewarmConfig)
    runs: RunsConfig = field(default_factory=RunsConfig)
    llm: LLMConfigSection = field(default_factory=LLMConfigSection)
    mcp: McpConfig = field(default_factory=McpConfig)


_CHOICES: dict[str, tuple[str, ...]] = {
    "log_level": ("error", "warning", "info", "debug"),
    "durability": ("none", "step", "every-event"),
}
_DURATIONS = {"progress_interval", "lookup_timeout"}
_POSITIVE_INTS = {"keep", "prewarm_concurrency", "max_tokens"}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def merge(config: Any, data: Mapping[str, Any], where: str, problems: list[str]) -> Any:
    """`config` with the values in `data` (snake_case or camelCase keys) applied.

    Hand-written rather than a cattrs structure: cattrs rejects the whole structure on
    one bad value, and a tool people rely on daily should keep every good setting and
    fall back to the default only for the bad one.

    Unknown keys and bad values are added to `problems` as one line each, and skipped.
    """
    if not isinstance(data, Mapping):
        problems.append(f"{where}: expected a table, got {type(data).__name__}")
        return config
    known = {f.name: f for f in fields(config)}
    changes: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _snake(str(raw_key)).replace("-", "_")
        if key not in known:
            problems.append(f"{where}.{raw_key}: unknown setting (ignored)")
            continue
        current = getattr(config, key)
        path = f"{where}.{raw_key}"
        if is_dataclass(current):
            changes[key] = merge(current, value, path, problems)
            continue
        try:
            changes[key] = _coerce(key, value, current)
        except ValueError as error:
            problems.append(f"{path}: {error}; using the default {current!r}")
    return replace(config, **changes)


def _coerce(key: str, value: Any, current: Any) -> Any:
    if key in _DURATIONS:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("must be greater than zero")
        return seconds
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise ValueError(f"{value!r} is not one of {', '.join(_CHOICES[key])}")
        return value
    if key in _POSITIVE_INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected a whole number >= 1, got {value!r}")
        return value
    if key == "default_budget":
        parse_duration(value)
        return str(value)
    if key == "call_budget":
        if not 0 < parse_duration(value) <= 600:
            raise ValueError("must be more than 0 and at most 10m")
        return str(value)
    if key == "providers":
        if not isinstance(value, list | tuple) or not all(
            v in ("local", "context7") for v in value
        ):
            raise ValueError(f"expected a list of 'local'/'context7', got {value!r}")
        return tuple(value)
    if isinstance(current, bool) or (current is None and isinstance(value, bool)):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if value is None or value == "":
        if isinstance(current, str) and current:
            raise ValueError("must not be empty")
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def load_config(
    workspace: Path, env: Mapping[str, str] | None = None
) -> tuple[TetherConfig, list[str]]:
    """Defaults, then `.tether/config.toml`, then environment variables."""
    environ = os.environ if env is None else env
    problems: list[str] = []
    config = TetherConfig()
    path = workspace / CONFIG_PATH
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            problems.append(f"{path}: {error}; using defaults")
        else:
            config = merge(config, data, str(path), problems)
    if environ.get("CONTEXT7_API_URL") and config.context7.url is None:
        config = replace(config, context7=replace(config.context7, url=environ["CONTEXT7_API_URL"]))
    if environ.get("TETHER_CACHE_DIR") and config.docs.cache_dir is None:
        config = replace(config, docs=replace(config.docs, cache_dir=environ["TETHER_CACHE_DIR"]))
    # The keys tether sends are secrets from the moment they are known (engine/redaction).
    for key_env in (config.llm.api_key_env, config.context7.api_key_env):
        register_secret(environ.get(key_env))
    return config, problems


def reference_markdown() -> str:
    """The configuration reference, generated from the field docstrings above."""
    import ast
    import inspect

    source = ast.parse(inspect.getsource(__import__(__name__, fromlist=["x"])))
    lines = [
        "# Configuration reference",
        "",
        "Set in `.tether/config.toml` (snake_case keys, tables as below) or, in an editor,",
        "through the client's settings (camelCase keys under `tether`). Invalid values are",
        "reported and the default is used.",
        "",
    ]
    sections = {"TetherConfig": "top level"}
    for node in source.body:
        if not isinstance(node, ast.ClassDef) or not node.name.endswith(("Config", "Section")):
            continue
        title = sections.get(node.name) or f"[{_table_name(node.name)}]"
        lines += [f"## {title}", "", "| key | default | meaning |", "|---|---|---|"]
        body = node.body
        for index, item in enumerate(body):
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                doc = ""
                if index + 1 < len(body) and isinstance(body[index + 1], ast.Expr):
                    value = body[index + 1].value  # type: ignore[attr-defined]
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        doc = " ".join(value.value.split())
                default = ast.unparse(item.value) if item.value is not None else ""
                if default.startswith("field("):
                    continue
                lines.append(f"| `{item.target.id}` | `{default}` | {doc} |")
        lines.append("")
    return "\n".join(lines)


def _table_name(class_name: str) -> str:
    base = class_name.removesuffix("ConfigSection").removesuffix("Config")
    return {
        "Docs": "docs",
        "Context7": "context7",
        "Prewarm": "prewarm",
        "Runs": "runs",
        "LLM": "llm",
        "Mcp": "mcp",
    }[base]


if __name__ == "__main__":
    print(reference_markdown())
