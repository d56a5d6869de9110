"""A public API outline of installed Python modules, read with `ast` and never imported.

For each module: its docstring summary, then its public classes (docstring, public
methods) and functions with their signatures. `__all__` decides what is public when a
module declares it statically; otherwise names starting with "_" are private. The work is
bounded in files, bytes per file and total output, so a huge package costs little.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True, slots=True)
class OutlineLimits:
    max_files: int = 40
    """Modules parsed per distribution."""
    max_file_bytes: int = 400_000
    """Larger source files are skipped (generated tables, vendored code)."""
    max_output_chars: int = 60_000
    """Outline size cap; modules past it are listed by name only."""
    max_depth: int = 2
    """Package nesting followed below each top-level package."""


@dataclass(frozen=True, slots=True)
class _RelativeImports:
    names: dict[str, tuple[Path, str]]
    """Imported name -> (file it comes from, its name there)."""
    star_sources: list[Path]


@dataclass(frozen=True, slots=True)
class ModuleSource:
    name: str
    """Dotted module name, e.g. "httpx._client"."""
    path: Path


def discover_modules(
    site_dir: Path, relative_files: Iterable[str], limits: OutlineLimits
) -> list[ModuleSource]:
    """Public modules of a distribution, from the file list in its RECORD.

    Only `.py`/`.pyi` files that resolve inside `site_dir` are considered (a RECORD can
    name anything). Modules are ordered shallow first so the limit keeps the most useful.
    """
    root = site_dir.resolve()
    by_name: dict[str, Path] = {}
    for relative in relative_files:
        if not relative.endswith((".py", ".pyi")) or ".." in Path(relative).parts:
            continue
        parts = Path(relative).with_suffix("").parts
        if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts or any(not part.isidentifier() for part in parts):
            continue  # scripts, data directories, "../../bin" and the like
        if any(part.startswith("_") for part in parts) or len(parts) > limits.max_depth + 1:
            continue
        if any(part in {"tests", "test", "testing", "conftest"} for part in parts[1:]):
            continue
        name = ".".join(parts)
        path = site_dir / relative
        # Prefer the .py over a .pyi stub only when both exist (stubs have no docstrings).
        if name in by_name and by_name[name].suffix == ".py":
            continue
        by_name[name] = path
    ordered = sorted(by_name.items(), key=lambda item: (item[0].count("."), item[0]))
    modules: list[ModuleSource] = []
    for name, path in ordered:
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if not resolved.is_relative_to(root) or not resolved.is_file():
            continue
        modules.append(ModuleSource(name, resolved))
        if len(modules) >= limits.max_files:
            break
    return modules


def outline_modules(modules: Sequence[ModuleSource], limits: OutlineLimits) -> str:
    """Markdown: one `### module` section per module and one `#### entry` per API entry."""
    return _Outliner(limits).outline(modules)


class _Outliner:
    """Parses each file at most once per outline and counts the files it reads."""

    def __init__(self, limits: OutlineLimits) -> None:
        self.limits = limits
        self.trees: dict[Path, ast.Module | None] = {}
        self.imports: dict[Path, _RelativeImports] = {}
        self.definitions: dict[Path, dict[str, _Definition]] = {}

    def outline(self, modules: Sequence[ModuleSource]) -> str:
        parts: list[str] = []
        used = 0
        skipped: list[str] = []
        for module in modules:
            if used >= self.limits.max_output_chars:
                skipped.append(module.name)
                continue
            text = self.outline_module(module)
            if text:
                parts.append(text)
                used += len(text)
        if skipped:
            parts.append("### Other modules\n\n" + ", ".join(f"`{name}`" for name in skipped))
        return "\n\n".join(parts)

    def parse(self, path: Path) -> ast.Module | None:
        if path in self.trees:
            return self.trees[path]
        tree: ast.Module | None = None
        if len(self.trees) < self.limits.max_files * 2:
            try:
                if path.stat().st_size <= self.limits.max_file_bytes:
                    tree = ast.parse(path.read_bytes(), filename=str(path))
            except (OSError, SyntaxError, ValueError, RecursionError) as error:
                # Unreadable or Python-2-era files exist in old packages; outline the rest.
                logger.debug("outline: skipping %s: %s", path, error)
        self.trees[path] = tree
        return tree

    def outline_module(self, module: ModuleSource) -> str:
        tree = self.parse(module.path)
        if tree is None:
            return ""
        public = _declared_all(tree)
        lines = [f"### module `{module.name}`"]
        docstring = _summary(ast.get_docstring(tree))
        if docstring:
            lines += ["", docstring]
        entries: list[str] = []
        defined: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
                if _is_public(node.name, public):
                    entries.append(_entry(f"{module.name}.{node.name}", node))
        if public:
            unresolved: list[str] = []
            room = self.limits.max_output_chars // 2 - sum(len(entry) for entry in entries)
            for name in dict.fromkeys(public):
                if name in defined:
                    continue
                # Past the module's share of the output, names are listed, not outlined.
                found = self.find_reexport(module.path, tree, name) if room > 0 else None
                if found is None:
                    unresolved.append(name)
                else:
                    entry = _entry(f"{module.name}.{name}", found)
                    entries.append(entry)
                    room -= len(entry)
            if unresolved:
                lines += ["", "Also exports: " + ", ".join(f"`{name}`" for name in unresolved)]
        if len(lines) == 1 and not entries:
            return ""
        return "\n".join([*lines, "", *entries]).rstrip()

    def find_reexport(self, path: Path, tree: ast.Module, name: str) -> _Definition | None:
        """The definition behind `from .module import name` or `from .module import *`."""
        imports = self.relative_imports(path, tree)
        explicit = imports.names.get(name)
        if explicit is not None:
            return self.find_definition(*explicit)
        for source in imports.star_sources:
            found = self.find_definition(source, name)
            if found is not None:
                return found
        return None

    def relative_imports(self, path: Path, tree: ast.Module) -> _RelativeImports:
        """What a module imports relatively, resolved to files once per module."""
        cached = self.imports.get(path)
        if cached is not None:
            return cached
        imports = _RelativeImports({}, [])
        for node in tree.body:
            if not isinstance(node, ast.ImportFrom) or node.level < 1:
                continue
            source = _relative_module_path(path, node.level, node.module)
            if source is None:
                continue
            for alias in node.names:
                if alias.name == "*":
                    imports.star_sources.append(source)
                else:
                    imports.names.setdefault(alias.asname or alias.name, (source, alias.name))
        self.imports[path] = imports
        return imports

    def find_definition(self, path: Path, name: str) -> _Definition | None:
        definitions = self.definitions.get(path)
        if definitions is None:
            tree = self.parse(path)
            definitions = {}
            for node in tree.body if tree is not None else []:
                if isinstance(node, _DEFINITIONS):
                    definitions.setdefault(node.name, node)
            self.definitions[path] = definitions
        return definitions.get(name)


def _relative_module_path(path: Path, level: int, module: str | None) -> Path | None:
    package_dir = path.parent
    for _ in range(level - 1):
        package_dir = package_dir.parent
    base = package_dir.joinpath(*module.split(".")) if module else package_dir
    for candidate in (base.with_suffix(".py"), base / "__init__.py", base.with_suffix(".pyi")):
        if candidate.is_file():
            return candidate
    return None


def _entry(qualified: str, node: _Definition) -> str:
    if isinstance(node, ast.ClassDef):
        return _class_entry(qualified, node)
    return _function_entry(qualified, node)


def _declared_all(tree: ast.Module) -> list[str] | None:
    """`__all__` when it is a literal list/tuple of strings (possibly extended with +=)."""
    names: list[str] | None = None
    for node in tree.body:
        value: ast.expr | None = None
        extend = False
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id == "__all__":
                value = node.value
        elif (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "__all__"
        ):
            value, extend = node.value, True
        if value is None:
            continue
        if isinstance(value, ast.List | ast.Tuple) and all(
            isinstance(element, ast.Constant) and isinstance(element.value, str)
            for element in value.elts
        ):
            found = [
                element.value
                for element in value.elts
                if isinstance(element, ast.Constant) and isinstance(element.value, str)
            ]
            names = [*(names or []), *found] if extend else found
    return names


def _is_public(name: str, declared: list[str] | None) -> bool:
    if declared is not None:
        return name in declared
    return not name.startswith("_")


def _function_entry(qualified: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async " if isinstance(node, ast.AsyncFunctionDef) else ""
    header = f"#### `{prefix}{qualified}{_signature(node)}`"
    doc = _summary(ast.get_docstring(node))
    return f"{header}\n\n{doc}\n" if doc else header + "\n"


def _class_entry(qualified: str, node: ast.ClassDef) -> str:
    bases = ", ".join(_unparse(base) for base in node.bases)
    lines = [f"#### `class {qualified}{f'({bases})' if bases else ''}`"]
    doc = _summary(ast.get_docstring(node), max_lines=8)
    if doc:
        lines += ["", doc]
    methods: list[str] = []
    for child in node.body:
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if child.name.startswith("_") and child.name != "__init__":
            continue
        prefix = "async " if isinstance(child, ast.AsyncFunctionDef) else ""
        method_doc = _summary(ast.get_docstring(child), max_lines=1)
        line = f"- `{prefix}{child.name}{_signature(child, drop_self=True)}`"
        methods.append(f"{line}: {method_doc}" if method_doc else line)
    if methods:
        lines += ["", *methods]
    return "\n".join(lines) + "\n"


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef, drop_self: bool = False) -> str:
    arguments = node.args
    rendered: list[str] = []
    positional = arguments.posonlyargs + arguments.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += list(arguments.defaults)
    for index, (argument, default) in enumerate(zip(positional, defaults, strict=True)):
        if drop_self and index == 0 and argument.arg in {"self", "cls", "mcs", "metacls"}:
            continue
        rendered.append(_argument(argument, default))
        if arguments.posonlyargs and index == len(arguments.posonlyargs) - 1:
            rendered.append("/")
    if arguments.vararg is not None:
        rendered.append("*" + _argument(arguments.vararg, None))
    elif arguments.kwonlyargs:
        rendered.append("*")
    for argument, kw_default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        rendered.append(_argument(argument, kw_default))
    if arguments.kwarg is not None:
        rendered.append("**" + _argument(arguments.kwarg, None))
    returns = f" -> {_unparse(node.returns)}" if node.returns is not None else ""
    return f"({', '.join(rendered)}){returns}"


def _argument(argument: ast.arg, default: ast.expr | None) -> str:
    text = argument.arg
    if argument.annotation is not None:
        text += f": {_unparse(argument.annotation)}"
        if default is not None:
            text += f" = {_unparse(default)}"
    elif default is not None:
        text += f"={_unparse(default)}"
    return text


def _unparse(node: ast.expr, limit: int = 80) -> str:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        return "..."
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _summary(docstring: str | None, max_lines: int = 6) -> str:
    """The first paragraph of a docstring, at most `max_lines` lines."""
    if not docstring:
        return ""
    paragraph = docstring.strip().split("\n\n", 1)[0]
    lines = [line.strip() for line in paragraph.splitlines()][:max_lines]
    return " ".join(line for line in lines if line)
