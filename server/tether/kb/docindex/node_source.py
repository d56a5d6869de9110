"""Index records for an npm package: its `.d.ts` exports (with their JSDoc) and README.

Declarations are read with bounded regular expressions, never executed; each export's
JSDoc comment (`/** ... */` right before it) becomes its docstring, its `@example` blocks
its examples.
"""

from __future__ import annotations

import re

from tether.kb.docindex.doc_text import docstring_summary, document_sections, fence, first_sentence
from tether.kb.docindex.examples import attach_examples
from tether.kb.docindex.records import Kind, Record

# Bounded repetitions only: a hostile declarations file costs linear time.
_DECLARATION = re.compile(
    r"(?:/\*\*(?P<doc>(?:[^*]|\*(?!/)){0,8000})\*/\s{0,200})?"
    r"^[ \t]*export[ \t]+(?:declare[ \t]+)?(?:default[ \t]+)?(?:abstract[ \t]+)?(?:async[ \t]+)?"
    r"(?P<kind>function|class|interface|type|const|let|var|enum|namespace)[ \t]+"
    r"(?P<name>[A-Za-z_$][\w$]*)(?P<rest>[^\n{;=]{0,400})",
    re.MULTILINE,
)
_EXPORT_LIST = re.compile(r"^[ \t]*export[ \t]+(?:type[ \t]+)?\{([^{}]{0,5000})\}", re.MULTILINE)
_JSDOC_LINE = re.compile(r"^\s*\* ?", re.MULTILINE)
_TAG = re.compile(r"^@(\w+)\s*(.*)$")


def declaration_records(library: str, declarations: str) -> list[Record]:
    records: list[Record] = []
    seen: set[str] = set()
    for order, match in enumerate(_DECLARATION.finditer(declarations)):
        name = match.group("name")
        if name in seen:
            continue
        seen.add(name)
        kind = match.group("kind")
        doc, examples = _jsdoc(match.group("doc") or "")
        rest = " ".join(match.group("rest").split())
        signature = rest if kind == "function" else ""
        records.append(
            Record(
                Kind.DECLARATION,
                name,
                name,
                [f"{library}.{name}"],
                signature=signature[:300],
                summary=docstring_summary(doc),
                doc=f"{kind} {name}{signature}\n\n{doc}".strip(),
                examples=examples,
                prior=1.0,
                order=order,
            )
        )
    for group in _EXPORT_LIST.findall(declarations):
        for part in group.split(","):
            alias = part.strip().split(" as ")[-1].strip()
            if alias and alias not in seen and re.match(r"^[A-Za-z_$][\w$]*$", alias):
                seen.add(alias)
                records.append(
                    Record(Kind.DECLARATION, alias, alias, [f"{library}.{alias}"], prior=0.9)
                )
    return records


def package_records(library: str, description: str, readme: str, declarations: str) -> list[Record]:
    records = declaration_records(library, declarations)
    if description:
        records.append(
            Record(
                Kind.SECTION,
                library,
                f"{library}: summary",
                summary=description,
                doc=description,
                prior=0.5,
            )
        )
    for section in document_sections(readme, "README"):
        records.append(
            Record(
                Kind.SECTION,
                section.title.rsplit(" > ", 1)[-1],
                section.title,
                summary=first_sentence(section.text),
                doc=section.text,
                prior=0.7,
                order=section.order,
            )
        )
    attach_examples(records)
    return records


def _jsdoc(comment: str) -> tuple[str, list[str]]:
    """(description, examples) of a JSDoc comment body."""
    text = _JSDOC_LINE.sub("", comment).strip()
    description: list[str] = []
    examples: list[str] = []
    current_example: list[str] | None = None
    for line in text.split("\n"):
        tag = _TAG.match(line.strip())
        if tag:
            if current_example is not None:
                examples.append("\n".join(current_example).strip())
                current_example = None
            if tag.group(1) == "example":
                current_example = [tag.group(2)] if tag.group(2) else []
            elif tag.group(1) in {"param", "returns", "return", "throws", "deprecated"}:
                description.append(f"{tag.group(1)}: {tag.group(2)}")
            continue
        if current_example is not None:
            current_example.append(line)
        else:
            description.append(line)
    if current_example is not None:
        examples.append("\n".join(current_example).strip())
    cleaned = []
    for example in examples:
        code = re.sub(r"^```\w*\n?|\n?```$", "", example.strip()).strip()
        if code:
            cleaned.append(fence(code, "ts"))
    return "\n".join(description).strip(), cleaned
