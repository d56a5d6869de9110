"""Everything a Python distribution documents about itself, as index records.

The API from its modules (`python_api`), its README (the long description in METADATA,
or the README file of an editable install's source tree), and any documentation files it
ships, split into sections; changelogs left out. An editable install (`direct_url.json`
saying so) is read from its source tree, found through the `.pth` file or the
`__editable__` finder the installer left in site-packages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from tether.kb.docindex.doc_text import document_sections, first_sentence
from tether.kb.docindex.editable import (
    DOC_FILES_MAX,
    DOC_SUFFIXES,
    SourceTree,
    is_changelog_file,
    record_lines,
    tree_doc_files,
    tree_files,
)
from tether.kb.docindex.examples import attach_examples
from tether.kb.docindex.python_api import ApiLimits, PythonApi, module_files
from tether.kb.docindex.records import Kind, Record

if TYPE_CHECKING:
    from email.message import Message

logger = logging.getLogger(__name__)

DOC_FILE_LIMIT = 300_000


def distribution_records(
    metadata_dir: Path,
    site_dir: Path,
    meta: Message,
    readme: str,
    tree: SourceTree | None,
    limits: ApiLimits | None = None,
) -> list[Record]:
    """Records for one installed distribution. `readme` is its cleaned long description."""
    name = str(meta.get("Name") or metadata_dir.name.split("-", 1)[0])
    records: list[Record] = []
    summary = str(meta.get("Summary") or "").strip()
    if tree is not None:
        pairs = tree_files(tree)
        doc_files = [(str(path.relative_to(tree.project)), path) for path in tree_doc_files(tree)]
        if not readme:
            readme = _tree_readme(tree.project)
    else:
        relative_files = record_lines(metadata_dir)
        pairs = [(relative, site_dir / relative) for relative in relative_files]
        pairs = [(relative, path) for relative, path in pairs if _inside(path, site_dir)]
        doc_files = [
            (relative, site_dir / relative)
            for relative in relative_files
            if relative.endswith(DOC_SUFFIXES)
            and not relative.split("/", 1)[0].endswith((".dist-info", ".egg-info"))
            and not is_changelog_file(relative)
            and _inside(site_dir / relative, site_dir)
        ][:DOC_FILES_MAX]
    api = PythonApi(module_files(pairs), limits)
    records.extend(api.records())
    if summary and summary.upper() != "UNKNOWN":
        records.append(
            Record(Kind.SECTION, name, f"{name}: summary", summary=summary, doc=summary, prior=0.5)
        )
    if readme:
        records.extend(_section_records(readme, "README"))
    from tether.kb.providers.readme import clean_readme

    for relative, path in doc_files:
        text = _read(path)
        if text:
            kind = "text/x-rst" if relative.endswith(".rst") else "text/markdown"
            records.extend(_section_records(clean_readme(text, kind), relative, prior=0.6))
    attach_examples(records)
    return records


def _section_records(markdown: str, source: str, prior: float = 0.7) -> list[Record]:
    return [
        Record(
            Kind.SECTION,
            section.title.rsplit(" > ", 1)[-1],
            section.title,
            summary=first_sentence(section.text),
            doc=section.text,
            prior=prior,
            order=section.order,
        )
        for section in document_sections(markdown, source)
    ]


def _tree_readme(project: Path) -> str:
    from tether.kb.providers.readme import clean_readme

    for name in ("README.md", "README.rst", "README.txt", "README"):
        text = _read(project / name)
        if text:
            return clean_readme(text, "text/x-rst" if name.endswith(".rst") else "text/markdown")
    return ""


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(DOC_FILE_LIMIT).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _inside(path: Path, root: Path) -> bool:
    return ".." not in Path(path).relative_to(root).parts if path.is_relative_to(root) else False
