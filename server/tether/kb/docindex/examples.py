"""Attach code examples from documentation sections to the symbols they use.

An example shows a symbol when it calls it, reads it as an attribute or imports it by a
name that is distinctive in this package (a name shared by many symbols, or a builtin-like
one such as `get`, proves nothing). Each symbol keeps its own docstring examples first and
at most `EXAMPLES_PER_SYMBOL` in all, shortest first.
"""

from __future__ import annotations

import re
from collections import defaultdict

from tether.kb.docindex.doc_text import markdown_examples
from tether.kb.docindex.records import Kind, Record

EXAMPLES_PER_SYMBOL = 2
AMBIGUOUS_NAME = 3
"""A short name defined by more symbols than this does not identify one."""

_USE = re.compile(r"(?:\.|\b)([A-Za-z_][A-Za-z0-9_]{2,})\s*(?=[(\[.]|$)|import\s+([\w, ]+)", re.M)
_COMMON = frozenset(
    {"get", "set", "put", "post", "run", "open", "close", "read", "write", "send", "start"}
    | {"stop", "update", "copy", "items", "keys", "values", "append", "print", "len", "str"}
    | {"int", "list", "dict", "self", "cls", "type", "format", "join", "split", "main", "init"}
)


def used_names(code: str) -> set[str]:
    names: set[str] = set()
    for called, imported in _USE.findall(code):
        if called:
            names.add(called)
        for part in imported.split(","):
            part = part.strip().split(" ")[0]
            if part:
                names.add(part)
    return names


def attach_examples(records: list[Record]) -> None:
    """Give symbols the examples found in section records (in place)."""
    by_name: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record.is_symbol and record.kind is not Kind.MODULE:
            by_name[record.name].append(record)
    found: dict[int, list[str]] = defaultdict(list)
    for record in records:
        if record.kind is not Kind.SECTION:
            continue
        for example in markdown_examples(record.doc):
            for name in used_names(example):
                owners = by_name.get(name, [])
                if not owners or len(owners) > AMBIGUOUS_NAME or name.lower() in _COMMON:
                    continue
                for owner in owners:
                    if example not in found[id(owner)]:
                        found[id(owner)].append(example)
    for owners in by_name.values():
        for owner in owners:
            extra = sorted(found.get(id(owner), []), key=len)
            owner.examples = [*owner.examples, *extra][:EXAMPLES_PER_SYMBOL]
