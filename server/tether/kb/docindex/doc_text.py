"""Documentation text: sections, code examples, and what counts as a changelog.

READMEs and shipped docs are markdown (reStructuredText is turned into it first by
`clean_readme`) split at headings; a changelog or release-notes part describes past
versions, not the installed API, so it is left out wherever it appears (its own file, or a
"Changelog"/"Release History"/version-numbered section of a README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.kb.ranking import split_sections

_CHANGELOG_TITLE = re.compile(
    r"^(change\s*log|changes|change history|history|release(s| history| notes)?|news"
    r"|what'?s new|version history|unreleased|past releases|migration|upgrading)\b",
    re.IGNORECASE,
)
_VERSION_TITLE = re.compile(r"^\[?v?\d+\.\d+(\.\d+)?\S*\]?(\s|$|\(|-|:)", re.IGNORECASE)
_HEADING_LEVEL = re.compile(r"^(#{1,6})\s")
_FENCED = re.compile(r"^([ \t]*)(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1\2[ \t]*$", re.M | re.S)
_DOCTEST_LINE = re.compile(r"^\s*(>>>|\.\.\.)( |$)")
_EXAMPLE_HEADER = re.compile(
    r"^\s*(\*\*|\.\. )?(examples?|usage|example usage)(\*\*)?\s*:{0,2}\s*(\*\*)?\s*$",
    re.IGNORECASE,
)
_RST_CODE = re.compile(r"^(\s*)\.\. (code-block|code|sourcecode)::\s*(\w*)\s*$")
_CODE_HINT = re.compile(r"[()=\[\]]|^\s*(>>>|import |from |def |class |async |await )", re.M)
_UNDERLINE = re.compile(r"^\s*(-{3,}|={3,}|~{3,})\s*$")

_NOT_SUMMARY = ("!!!", "???", ".. ")
SECTION_TEXT_LIMIT = 4000
EXAMPLE_LIMIT = 1200
"""Characters of one example; longer blocks are tutorials, not examples."""


@dataclass(frozen=True, slots=True)
class DocSection:
    title: str
    """The heading path, outer to inner, e.g. "Usage > Timeouts"."""
    text: str
    order: int


def is_changelog_title(title: str) -> bool:
    stripped = title.strip().strip("*_`").strip()
    return bool(_CHANGELOG_TITLE.match(stripped) or _VERSION_TITLE.match(stripped))


def document_sections(markdown: str, source: str) -> list[DocSection]:
    """`markdown` split at its headings, changelog parts (and everything under them) left
    out, each section titled by its heading path and prefixed with `source`."""
    sections: list[DocSection] = []
    path: list[tuple[int, str]] = []
    skip_below: int | None = None
    for section in split_sections(markdown):
        first_line = section.text.split("\n", 1)[0]
        level_match = _HEADING_LEVEL.match(first_line) if section.title else None
        level = len(level_match.group(1)) if level_match else 0
        if level and skip_below is not None and level > skip_below:
            continue  # inside a changelog
        if level:
            skip_below = None
            path = [(lvl, title) for lvl, title in path if lvl < level]
            path.append((level, section.title))
            if is_changelog_title(section.title):
                skip_below = level
                continue
        elif skip_below is not None:
            continue
        body = section.text.partition("\n")[2] if level else section.text
        if not body.strip():
            continue
        titles = [title for _, title in path] if level else []
        title = " > ".join([source, *titles]) if titles else source
        sections.append(DocSection(title, body.strip()[:SECTION_TEXT_LIMIT], len(sections)))
    return sections


def first_sentence(text: str, limit: int = 200) -> str:
    """The first prose line of `text` (not code, not a list marker), cut at `limit`."""
    in_code = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            continue
        if in_code or not stripped or stripped.startswith((">>>", "|", "#", "..")):
            continue
        if _UNDERLINE.match(stripped):
            continue
        return stripped if len(stripped) <= limit else stripped[: limit - 3] + "..."
    return ""


def docstring_summary(docstring: str) -> str:
    """The first paragraph of a docstring, joined into one line; a leading admonition or
    directive (mkdocs `!!! note`, rST `.. versionadded::`) is not a summary."""
    paragraphs = [p for p in docstring.strip().split("\n\n") if p.strip()]
    while len(paragraphs) > 1 and paragraphs[0].lstrip().startswith(_NOT_SUMMARY):
        paragraphs.pop(0)
    paragraph = paragraphs[0] if paragraphs else ""
    line = " ".join(part.strip() for part in paragraph.splitlines() if part.strip())
    return line if len(line) <= 300 else line[:297] + "..."


def markdown_examples(text: str) -> list[str]:
    """Fenced code blocks of a markdown text, as fenced blocks, in order."""
    examples: list[str] = []
    for match in _FENCED.finditer(text):
        language = match.group(3).lower()
        code = _dedent(match.group(4)).strip("\n")
        if not code.strip() or language in {"console", "shell", "bash", "sh", "text", "toml"}:
            continue
        if language in {"", "pycon"} and not _looks_like_code(code):
            continue
        if len(code) <= EXAMPLE_LIMIT:
            examples.append(fence(code, "python" if language in {"", "py", "pycon"} else language))
    return examples


def docstring_examples(docstring: str) -> list[str]:
    """Examples inside a docstring: doctest blocks, `Example:`/`Examples` sections and
    `.. code-block::` directives, each as a fenced block."""
    lines = docstring.expandtabs().split("\n")
    examples: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _DOCTEST_LINE.match(line) and line.strip().startswith(">>>"):
            block: list[str] = []
            while index < len(lines) and lines[index].strip():
                block.append(lines[index])
                index += 1
            examples.append(_dedent("\n".join(block)))
            continue
        code_block = _RST_CODE.match(line)
        header = _EXAMPLE_HEADER.match(line)
        if code_block or header:
            base_indent = len(line) - len(line.lstrip())
            index += 1
            if header and index < len(lines) and _UNDERLINE.match(lines[index]):
                index += 1  # numpydoc "Examples\n--------": the block is not indented
                base_indent = -1
            block = []
            while index < len(lines) and not lines[index].strip():
                index += 1
            if index < len(lines) and base_indent >= 0:
                current = lines[index]
                if len(current) - len(current.lstrip()) <= base_indent:
                    # "**Usage**:" then an unindented paragraph: that paragraph is the block.
                    while index < len(lines) and lines[index].strip():
                        block.append(lines[index])
                        index += 1
                    code = _strip_inner_fences(_dedent("\n".join(block)).strip("\n"))
                    if _looks_like_code(code):
                        examples.append(code)
                    continue
            while index < len(lines):
                current = lines[index]
                indent = len(current) - len(current.lstrip())
                if current.strip() and indent <= base_indent:
                    break
                if base_indent < 0 and current.strip() and _UNDERLINE.match(current):
                    block = block[:-1]  # the next numpydoc section's title
                    break
                block.append(current)
                index += 1
            code = _dedent("\n".join(block)).strip("\n")
            code = _strip_inner_fences(code)
            if code.strip() and (code_block or _looks_like_code(code)):
                examples.append(code)
            continue
        index += 1
    return [fence(example) for example in examples if 0 < len(example) <= EXAMPLE_LIMIT]


def fence(code: str, language: str = "python") -> str:
    return f"```{language}\n{code.rstrip()}\n```"


def _looks_like_code(text: str) -> bool:
    return bool(
        re.search(r"[()=\[\]]|^\s*(>>>|import |from |def |class |async |await )", text, re.M)
    )


def _strip_inner_fences(code: str) -> str:
    lines = [line for line in code.split("\n") if not line.strip().startswith(("```", "~~~"))]
    text = "\n".join(lines)
    return re.sub(r"^\.\. code-block::.*$", "", text, flags=re.M).strip("\n")


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)
