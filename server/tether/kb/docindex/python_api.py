"""The public API of a Python distribution, read with `ast` and never imported.

A module's public names are its `__all__` when it declares one statically, else its
definitions and explicit re-exports that do not start with "_". Re-exports are followed to
the definition (`from ._config import Timeout`, `from .x import *`, imports under
`if TYPE_CHECKING:`, and lazy imports served by a module `__getattr__`: a dict literal
mapping names to modules, or imports inside `__getattr__` itself), so that
`httpx.Timeout` and `httpx._config.Timeout` are one symbol shown by its public name.
Fixtures (functions decorated with `...fixture`) are public wherever they are defined:
they are used by name, not imported.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tether.kb.docindex.doc_text import docstring_examples, docstring_summary
from tether.kb.docindex.records import Kind, Record

logger = logging.getLogger(__name__)

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
DOC_LIMIT = 4000
MAX_REEXPORT_DEPTH = 8


@dataclass(frozen=True, slots=True)
class ApiLimits:
    max_modules: int = 400
    """Module files parsed per distribution."""
    max_file_bytes: int = 1_000_000
    max_records: int = 20_000
    max_depth: int = 6
    """Package nesting followed below each top-level package."""
    max_total_bytes: int = 4_000_000
    """Source parsed per distribution, all files together."""


@dataclass(frozen=True, slots=True)
class _Ref:
    module: str
    name: str


@dataclass(slots=True)
class _Module:
    name: str
    path: Path
    tree: ast.Module | None
    definitions: dict[str, _Definition] = field(default_factory=dict)
    imports: dict[str, _Ref] = field(default_factory=dict)
    """Name bound here -> where it comes from (explicit imports, lazy maps)."""
    explicit: set[str] = field(default_factory=set)
    """Imports written as re-exports (`import x as x`, relative or same-package imports)."""
    module_aliases: dict[str, str] = field(default_factory=dict)
    """Name bound here by `import a.b as name` -> the module's dotted name."""
    star_sources: list[str] = field(default_factory=list)
    declared_all: list[str] | None = None
    strings: dict[str, str] = field(default_factory=dict)
    """Module-level string constants (docstrings are sometimes assigned from one)."""
    doc_overrides: dict[str, str] = field(default_factory=dict)
    """`name.__doc__ = ...` assignments."""


@dataclass(slots=True)
class _Symbol:
    module: str
    node: _Definition
    names: set[str] = field(default_factory=set)
    """Public qualified names it is reachable by."""


def module_name_for(relative: str) -> str | None:
    """ "pkg/sub/mod.py" -> "pkg.sub.mod"; None for anything that is not an importable module."""
    if not relative.endswith((".py", ".pyi")):
        return None
    parts = list(Path(relative).with_suffix("").parts)
    if not parts or ".." in parts or parts[0].endswith((".dist-info", ".egg-info", ".data")):
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


_NOT_API = frozenset(
    {"tests", "test", "testing", "conftest", "examples", "benchmarks", "docs"}
    | {"vendor", "vendored", "third_party", "typeshed", "extern", "externals"}
)
"""Package parts that hold tests, samples or copies of other projects, not this API."""


def _is_public_module(name: str) -> bool:
    parts = name.split(".")
    if any(part.startswith("_") for part in parts):
        return False
    return not any(part in _NOT_API for part in parts[1:])


class PythonApi:
    """Symbols of the modules in `files` (module name -> source file)."""

    def __init__(self, files: dict[str, Path], limits: ApiLimits | None = None) -> None:
        self.limits = limits or ApiLimits()
        self.files = files
        self._modules: dict[str, _Module] = {}
        self._parsed = 0
        self._bytes = 0
        self._symbols: dict[tuple[str, str], _Symbol] = {}
        self._exports: dict[str, list[tuple[str, _Ref]]] = {}

    # -- public surface -------------------------------------------------------------------

    def records(self) -> list[Record]:
        public = sorted(
            (
                name
                for name in self.files
                if _is_public_module(name) and name.count(".") <= self.limits.max_depth
            ),
            key=lambda name: (name.count("."), name),
        )
        for module_name in public:
            if len(self._symbols) >= self.limits.max_records:
                break
            for exported, ref in self.exports(module_name):
                resolved = self.resolve(ref)
                if resolved is None:
                    continue
                symbol = self._symbols.setdefault(
                    (resolved[0], resolved[1].name), _Symbol(resolved[0], resolved[1])
                )
                symbol.names.add(f"{module_name}.{exported}")
        self._add_fixtures()
        records: list[Record] = []
        modules_seen: set[str] = set()
        for order, symbol in enumerate(self._symbols.values()):
            records.extend(self._symbol_records(symbol, order))
            modules_seen.add(symbol.module)
        for order, module_name in enumerate(public):
            module = self.module(module_name)
            if module is not None and module.tree is not None:
                doc = ast.get_docstring(module.tree) or ""
                if doc.strip():
                    records.append(_module_record(module_name, doc, order))
        return records[: self.limits.max_records]

    def exports(self, module_name: str) -> list[tuple[str, _Ref]]:
        """(public name, where it is defined or imported from) for one module."""
        cached = self._exports.get(module_name)
        if cached is not None:
            return cached
        self._exports[module_name] = []  # a cycle of star imports ends here
        module = self.module(module_name)
        if module is None:
            return []
        found: dict[str, _Ref] = {}
        for source in module.star_sources:
            for name, ref in self.exports(source):
                found.setdefault(name, ref)
        for name in module.definitions:
            found[name] = _Ref(module_name, name)
        for name, ref in module.imports.items():
            found.setdefault(name, ref)
        if module.declared_all is not None:
            wanted = dict.fromkeys(module.declared_all)
            exports = [(name, found[name]) for name in wanted if name in found]
        else:
            starred = {name for source in module.star_sources for name, _ in self.exports(source)}
            exports = [
                (name, ref)
                for name, ref in found.items()
                if not name.startswith("_")
                and (name in module.definitions or name in module.explicit or name in starred)
            ]
        self._exports[module_name] = exports
        return exports

    def resolve(self, ref: _Ref, depth: int = 0) -> tuple[str, _Definition] | None:
        """The module and definition a name finally refers to, within this distribution."""
        if depth > MAX_REEXPORT_DEPTH:
            return None
        module = self.module(ref.module)
        if module is None:
            # `from .sub import thing` where `thing` is a submodule: not a symbol.
            return None
        node = module.definitions.get(ref.name)
        if node is not None:
            return ref.module, node
        target = module.imports.get(ref.name)
        if target is not None:
            return self.resolve(target, depth + 1)
        for source in module.star_sources:
            found = self.resolve(_Ref(source, ref.name), depth + 1)
            if found is not None:
                return found
        return None

    # -- parsing --------------------------------------------------------------------------

    def module(self, name: str) -> _Module | None:
        cached = self._modules.get(name)
        if cached is not None:
            return cached
        path = self.files.get(name)
        if path is None:
            return None
        tree: ast.Module | None = None
        if self._parsed < self.limits.max_modules and self._bytes < self.limits.max_total_bytes:
            self._parsed += 1
            try:
                size = path.stat().st_size
                if size <= self.limits.max_file_bytes:
                    self._bytes += size
                    tree = ast.parse(path.read_bytes(), filename=str(path))
            except (OSError, SyntaxError, ValueError, RecursionError) as error:
                logger.debug("docs index: skipping %s: %s", path, error)
        module = _Module(name, path, tree)
        if tree is not None:
            _scan_module(module, is_package=path.stem == "__init__")
        self._modules[name] = module
        return module

    def _add_fixtures(self) -> None:
        for module_name in sorted(self.files):
            if len(self._symbols) >= self.limits.max_records:
                return
            if module_name not in self._modules and not _mentions(
                self.files[module_name], b"fixture", self.limits.max_file_bytes
            ):
                continue  # reading is cheap, parsing is not: only files that may have one
            module = self.module(module_name)
            if module is None:
                continue
            for name, node in module.definitions.items():
                if isinstance(node, _FunctionNode) and _is_fixture(node):
                    symbol = self._symbols.setdefault(
                        (module_name, name), _Symbol(module_name, node)
                    )
                    symbol.names.add(name)

    # -- records --------------------------------------------------------------------------

    def _symbol_records(self, symbol: _Symbol, order: int) -> Iterator[Record]:
        node = symbol.node
        defined_at = f"{symbol.module}.{node.name}"
        names = sorted(symbol.names or {defined_at}, key=_name_preference)
        display = names[0]
        aliases = list(dict.fromkeys(n for n in [*names[1:], defined_at] if n != display))
        module = self._modules.get(symbol.module)
        override = module.doc_overrides.get(node.name) if module is not None else None
        docstring = ast.get_docstring(node) or inspect_cleandoc(override or "")
        public = _is_public_module(display.rsplit(".", 1)[0]) if "." in display else True
        depth = display.count(".")
        prior = (1.0 if depth <= 1 else 0.9) if public else 0.75
        if isinstance(node, ast.ClassDef):
            init = _method(node, "__init__")
            yield Record(
                Kind.CLASS,
                node.name,
                display,
                aliases,
                # A class is called to make an instance: its __init__'s "-> None" says nothing.
                signature=_signature(init, drop_self=True).removesuffix(" -> None"),
                summary=docstring_summary(docstring),
                doc=_doc_text(docstring, init),
                examples=docstring_examples(docstring),
                prior=prior,
                order=order,
            )
            for child in self._members(symbol.module, node):
                child_doc = ast.get_docstring(child) or ""
                is_property = any(_decorator_name(d) == "property" for d in child.decorator_list)
                yield Record(
                    Kind.PROPERTY if is_property else Kind.METHOD,
                    child.name,
                    f"{display}.{child.name}",
                    [f"{alias}.{child.name}" for alias in aliases],
                    signature="" if is_property else _signature(child, drop_self=True),
                    summary=docstring_summary(child_doc),
                    doc=child_doc[:DOC_LIMIT],
                    examples=docstring_examples(child_doc),
                    prior=prior * 0.9,
                    order=order,
                )
            return
        kind = Kind.FIXTURE if _is_fixture(node) else Kind.FUNCTION
        yield Record(
            kind,
            node.name,
            node.name if kind is Kind.FIXTURE else display,
            [] if kind is Kind.FIXTURE else aliases,
            signature=_signature(node),
            summary=docstring_summary(docstring),
            doc=docstring[:DOC_LIMIT],
            examples=docstring_examples(docstring),
            prior=1.0 if kind is Kind.FIXTURE else prior,
            order=order,
        )

    def _members(self, module_name: str, node: ast.ClassDef, depth: int = 0) -> list[_FunctionNode]:
        """Public methods of a class, inherited ones (from base classes in this
        distribution) included, the class's own first; an override hides the base's."""
        own = [
            child
            for child in node.body
            if isinstance(child, _FunctionNode) and not child.name.startswith("_")
        ]
        if depth >= MAX_REEXPORT_DEPTH:
            return own
        seen = {child.name for child in own}
        module = self.module(module_name)
        for base in node.bases:
            ref = _base_ref(base, module_name, module)
            resolved = self.resolve(ref) if ref is not None else None
            if resolved is None or not isinstance(resolved[1], ast.ClassDef):
                continue
            for inherited in self._members(resolved[0], resolved[1], depth + 1):
                if inherited.name not in seen:
                    seen.add(inherited.name)
                    own.append(inherited)
        return own


def _base_ref(base: ast.expr, module_name: str, module: _Module | None) -> _Ref | None:
    if module is None:
        return None
    if isinstance(base, ast.Subscript):  # Generic[T], Base[str]
        base = base.value
    if isinstance(base, ast.Name):
        if base.id in module.definitions:
            return _Ref(module_name, base.id)
        return module.imports.get(base.id)
    return None


def inspect_cleandoc(text: str) -> str:
    import inspect

    return inspect.cleandoc(text) if text else ""


def _mentions(path: Path, word: bytes, limit: int) -> bool:
    try:
        with path.open("rb") as handle:
            return word in handle.read(limit)
    except OSError:
        return False


def _name_preference(name: str) -> tuple[int, int, int, str]:
    """Public names first, then the shallowest, then the shortest."""
    parts = name.split(".")
    private = sum(part.startswith("_") for part in parts)
    return (private, len(parts), len(name), name)


def _module_record(name: str, docstring: str, order: int) -> Record:
    return Record(
        Kind.MODULE,
        name.rsplit(".", 1)[-1],
        name,
        summary=docstring_summary(docstring),
        doc=docstring[:DOC_LIMIT],
        examples=docstring_examples(docstring),
        prior=0.6,
        order=order,
    )


def _doc_text(docstring: str, init: _FunctionNode | None) -> str:
    init_doc = ast.get_docstring(init) if init is not None else None
    text = docstring if not init_doc else f"{docstring}\n\n{init_doc}"
    return text[:DOC_LIMIT]


def _method(node: ast.ClassDef, name: str) -> _FunctionNode | None:
    for child in node.body:
        if isinstance(child, _FunctionNode) and child.name == name:
            return child
    return None


def _is_fixture(node: _FunctionNode) -> bool:
    return any(_decorator_name(d).endswith("fixture") for d in node.decorator_list)


def _is_overload(node: _Definition) -> bool:
    return any(_decorator_name(d) == "overload" for d in node.decorator_list)


def _decorator_name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return ""


# -- module scanning ----------------------------------------------------------------------


def _scan_module(module: _Module, *, is_package: bool) -> None:
    assert module.tree is not None
    package = module.name if is_package else module.name.rpartition(".")[0]
    top = module.name.split(".", 1)[0]
    has_getattr = False
    for node in _top_level(module.tree.body):
        if isinstance(node, _Definition):
            if node.name == "__getattr__" and isinstance(node, _FunctionNode):
                has_getattr = True
                _scan_lazy_function(module, node, package)
                continue
            # The last definition wins (a real one after its `@overload` stubs, the
            # runtime branch after a TYPE_CHECKING one), unless it is itself an overload.
            if node.name not in module.definitions or not _is_overload(node):
                module.definitions[node.name] = node
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, package)
            if source is None:
                continue
            same_package = node.level > 0 or source.split(".", 1)[0] == top
            for alias in node.names:
                if alias.name == "*":
                    if same_package:
                        module.star_sources.append(source)
                    continue
                bound = alias.asname or alias.name
                module.imports[bound] = _Ref(source, alias.name)
                # In a package's __init__, importing from the package is re-exporting;
                # in a plain module it is using. `import x as x` re-exports anywhere.
                if (is_package and same_package) or alias.asname == alias.name:
                    module.explicit.add(bound)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    module.module_aliases[alias.asname] = alias.name
                else:
                    top_name = alias.name.split(".", 1)[0]
                    module.module_aliases[top_name] = top_name
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            _scan_assignment(module, node)
    if has_getattr:
        for node in _top_level(module.tree.body):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                _scan_lazy_map(module, node.value, package)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, looking inside `if` (TYPE_CHECKING, version checks) and
    `try` blocks, where re-exports often live."""
    for node in body:
        if isinstance(node, ast.If | ast.Try):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        else:
            yield node


def _scan_assignment(module: _Module, node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> None:
    targets: list[ast.expr] = node.targets if isinstance(node, ast.Assign) else [node.target]
    value = node.value
    for target in targets:
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "__doc__"
            and isinstance(target.value, ast.Name)
        ):
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                module.doc_overrides[target.value.id] = value.value
            elif isinstance(value, ast.Name) and value.id in module.strings:
                module.doc_overrides[target.value.id] = module.strings[value.id]
        elif (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            module.strings[target.id] = value.value
    names = [target.id for target in targets if isinstance(target, ast.Name)]
    if "__all__" in names and node.value is not None:
        literal = _string_list(node.value)
        if literal is None:
            return
        if isinstance(node, ast.AugAssign):
            module.declared_all = [*(module.declared_all or []), *literal]
        else:
            module.declared_all = literal
        return
    # `Alias = Definition`: one more public name for something defined or imported here.
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
        for name in names:
            aliased = node.value.id
            if aliased in module.definitions:
                module.imports.setdefault(name, _Ref(module.name, aliased))
                module.explicit.add(name)
            elif aliased in module.imports:
                module.imports.setdefault(name, module.imports[aliased])
                module.explicit.add(name)
    # `Alias = module.Definition`: a name taken from a module imported here, as compiled
    # packages do (cryptography's `Fernet = rust_fernet.Fernet`, typed in a .pyi stub). When
    # `module` is not a module of this distribution the name resolves to nothing and is
    # dropped.
    if (
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
    ):
        base, attribute = node.value.value.id, node.value.attr
        source = module.module_aliases.get(base)
        if source is None and base in module.imports:
            imported = module.imports[base]
            source = f"{imported.module}.{imported.name}"
        if source is not None:
            for name in names:
                module.imports.setdefault(name, _Ref(source, attribute))
                module.explicit.add(name)


def _scan_lazy_function(module: _Module, node: _FunctionNode, package: str) -> None:
    for child in ast.walk(node):
        if isinstance(child, ast.ImportFrom):
            source = _absolute(child, package)
            if source is None:
                continue
            for alias in child.names:
                if alias.name != "*":
                    bound = alias.asname or alias.name
                    module.imports.setdefault(bound, _Ref(source, alias.name))
                    module.explicit.add(bound)
        elif isinstance(child, ast.Dict):
            _scan_lazy_map(module, child, package)


def _scan_lazy_map(module: _Module, mapping: ast.Dict, package: str) -> None:
    """`{"Name": "pkg.module"}`, `{"Name": ".module"}` or `{"Name": ("pkg.module", "attr")}`."""
    for key, value in zip(mapping.keys, mapping.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return
        name = key.value
        if not name.isidentifier():
            return
        source: str | None = None
        attribute = name
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            source = value.value
        elif isinstance(value, ast.Tuple) and value.elts:
            parts = [e.value for e in value.elts if isinstance(e, ast.Constant)]
            if parts and all(isinstance(part, str) for part in parts):
                source = str(parts[0])
                if len(parts) > 1:
                    attribute = str(parts[1])
        if source is None:
            return
        if source.startswith("."):
            level = len(source) - len(source.lstrip("."))
            base = package.split(".")
            base = base[: len(base) - (level - 1)] if level > 1 else base
            source = ".".join([*base, source.lstrip(".")]).strip(".")
        if not all(part.isidentifier() for part in source.split(".")):
            return
        module.imports.setdefault(name, _Ref(source, attribute))
        module.explicit.add(name)


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    if node.level == 0:
        return node.module
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (node.level - 1)]
    if node.module:
        base.append(node.module)
    return ".".join(base) or None


def _string_list(value: ast.expr) -> list[str] | None:
    if isinstance(value, ast.List | ast.Tuple):
        found: list[str] = []
        for element in value.elts:
            if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
                return None
            found.append(element.value)
        return found
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        left, right = _string_list(value.left), _string_list(value.right)
        if left is not None and right is not None:
            return left + right
        return left if left is not None else right
    return None


# -- signatures ---------------------------------------------------------------------------


def _signature(node: _FunctionNode | None, drop_self: bool = False) -> str:
    if node is None:
        return ""
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


def _unparse(node: ast.expr, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        return "..."
    return text if len(text) <= limit else text[: limit - 3] + "..."


def module_files(pairs: Iterable[tuple[str, Path]]) -> dict[str, Path]:
    """Module name -> file, from (relative path, absolute path) pairs; a `.py` file wins
    over a `.pyi` stub of the same module (stubs carry no docstrings)."""
    files: dict[str, Path] = {}
    for relative, path in pairs:
        name = module_name_for(relative)
        if name is None:
            continue
        if name in files and files[name].suffix == ".py":
            continue
        files[name] = path
    return files
