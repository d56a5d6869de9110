"""`${...}` substitution in step options: params, upstream outputs and run facts.

`${params.NAME}`, `${steps.ID.output}` (optionally `.key.key` into a JSON object),
`${run.id}`, `${run.dir}`, `${run.workspace}`; `$$` is a literal `$`. A string that is
exactly one reference keeps the referenced value's type; inside longer text, objects and
lists are rendered as JSON.

In the `run` string of a `shell = true` step, every substituted value is quoted for the
shell context it lands in (see `shell_quoting`), so a value is always data, never code;
`${raw:params.NAME}` (any reference with a `raw:` prefix) pastes the text unquoted for
whoever really means to splice shell code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from tether.engine.shell_quoting import placements, quote

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}")
_RUN_FIELDS = ("id", "dir", "workspace")
_RAW = "raw:"


class TemplateError(ValueError):
    """A reference that cannot be resolved; the message names it."""


def iter_references(value: Any) -> Iterator[str]:
    """Every `${...}` reference inside a (nested) option value."""
    if isinstance(value, str):
        for match in _TOKEN.finditer(value):
            if match.group(1) is not None:
                yield match.group(1).strip()
    elif isinstance(value, list):
        for item in value:
            yield from iter_references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_references(item)


def check_reference(reference: str, params: Mapping[str, Any], ancestors: set[str]) -> str | None:
    """Why `reference` cannot work for a step with these ancestors, or None when it can."""
    parts = _without_raw(reference).split(".")
    root = parts[0]
    if root == "params":
        if len(parts) != 2 or parts[1] not in params:
            return f"${{{reference}}} names no declared parameter"
        return None
    if root == "steps":
        if len(parts) < 3 or parts[2] != "output":
            return f"${{{reference}}} must look like ${{steps.ID.output}}"
        if parts[1] not in ancestors:
            return f"${{{reference}}} refers to a step this one does not (transitively) need"
        return None
    if root == "run":
        if len(parts) != 2 or parts[1] not in _RUN_FIELDS:
            return f"${{{reference}}}: run has only {', '.join(_RUN_FIELDS)}"
        return None
    return f"${{{reference}}}: unknown reference (use params., steps. or run.)"


def shell_template_problems(template: str) -> list[str]:
    """Why references in this `shell = true` string cannot be quoted safely (load time)."""
    references = [m.group(1).strip() for m in _TOKEN.finditer(template) if m.group(1) is not None]
    spots = placements(_shell_pieces(template))
    return [
        f"${{{reference}}} {placement.refusal}: it cannot be quoted for the shell there; "
        f"move it or write ${{{_RAW}{_without_raw(reference)}}} to paste it unquoted"
        for reference, placement in zip(references, spots, strict=True)
        if placement.refusal is not None and not reference.startswith(_RAW)
    ]


def render_options(options: Mapping[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
    """A step's options with references substituted; a shell `run` string is quoted."""
    rendered = {key: render(item, scope) for key, item in options.items() if key != "run"}
    if "run" in options:
        run = options["run"]
        shell = options.get("shell") is True and isinstance(run, str)
        rendered["run"] = _render_shell(run, scope) if shell else render(run, scope)
    return rendered


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Substitute references in a nested value. `scope` maps params/steps/run to dicts."""
    if isinstance(value, str):
        return _render_string(value, scope)
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    return value


def _without_raw(reference: str) -> str:
    return reference[len(_RAW) :].strip() if reference.startswith(_RAW) else reference


def _lookup(reference: str, scope: Mapping[str, Any]) -> Any:
    current: Any = scope
    for part in _without_raw(reference).split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            raise TemplateError(f"${{{reference}}} cannot be resolved (no {part!r})")
    return current


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return orjson.dumps(value).decode()
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _render_string(text: str, scope: Mapping[str, Any]) -> Any:
    whole = _TOKEN.fullmatch(text)
    if whole is not None and whole.group(1) is not None:
        return _lookup(whole.group(1).strip(), scope)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "$"
        return _as_text(_lookup(match.group(1).strip(), scope))

    return _TOKEN.sub(replace, text)


def _shell_pieces(template: str) -> list[str | None]:
    """The shell text as the shell will see it, one character each, None per reference."""
    pieces: list[str | None] = []
    end = 0
    for match in _TOKEN.finditer(template):
        pieces.extend(template[end : match.start()])
        pieces.append("$" if match.group(1) is None else None)
        end = match.end()
    pieces.extend(template[end:])
    return pieces


def _render_shell(template: str, scope: Mapping[str, Any]) -> str:
    spots = iter(placements(_shell_pieces(template)))

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "$"
        reference = match.group(1).strip()
        placement = next(spots)
        text = _as_text(_lookup(reference, scope))
        if reference.startswith(_RAW):
            return text
        if placement.refusal is not None:
            raise TemplateError(f"${{{reference}}} {placement.refusal}: cannot be quoted")
        return quote(text, placement.context)

    return _TOKEN.sub(replace, template)
