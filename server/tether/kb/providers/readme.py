"""Turn a package README into plain, compact markdown an agent can read.

Badges, images, HTML tags and comments, and reStructuredText directives carry no
documentation and cost tokens, so they go. Headings are kept (and rST headings become
markdown ones) because the ranking splits documents at headings.
"""

from __future__ import annotations

import re

README_LIMIT = 48_000
"""Characters of README kept; the rest is cut at a line boundary."""

# Bounded quantifiers that stop at the next bracket or parenthesis: hostile text (thousands
# of "[![" or "<svg" that never close) costs linear time, never quadratic.
_ALT = r"[^\[\]\n]{0,300}"
_URL = r"[^()\[\]\s]{0,1000}(?:\s+\"[^\"\n]{0,300}\")?"
_LINKED_IMAGE = re.compile(rf"\[!\[{_ALT}\]\({_URL}\)\]\({_URL}\)")  # [![alt](img)](link)
_IMAGE = re.compile(rf"!\[{_ALT}\]\({_URL}\)")
_REFERENCE_IMAGE = re.compile(rf"\[!\[{_ALT}\]\[{_ALT}\]\]\[{_ALT}\]|!\[{_ALT}\]\[{_ALT}\]")
_BLOCK_OPEN = re.compile(r"<(picture|svg|script|style)\b[^<>]{0,2000}>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_RST_SUBSTITUTION_USE = re.compile(r"\|[A-Za-z0-9_ -]+\|_{0,2}")
_RST_DIRECTIVE = re.compile(r"^\.\. (?:(?:image|figure|raw)::|\|[^|]+\|)")
_RST_HEADING_CHARS = set("=-~^\"'`#*+<>_:.")
_BLANK_RUN = re.compile(r"\n{3,}")
_BADGE_HOSTS = re.compile(
    r"(shields\.io|badge|travis-ci|circleci|codecov|coveralls|readthedocs\.org/projects/.*/badge"
    r"|pepy\.tech|github\.com/.*/workflows/.*\.svg|actions/workflows/.*\.svg)",
    re.IGNORECASE,
)


def clean_readme(text: str, content_type: str | None = None, limit: int = README_LIMIT) -> str:
    """Markdown without badges, images and markup noise, at most about `limit` characters."""
    # Bounded input keeps every pattern below cheap, even on hostile text (unclosed tags).
    text = text[: limit * 4].replace("\r\n", "\n").replace("\r", "\n")
    if _looks_like_rst(text, content_type):
        text = _rst_to_markdown(text)
    text = _strip_markdown_noise(text)
    text = _BLANK_RUN.sub("\n\n", text).strip()
    return cap_text(text, limit)


def cap_text(text: str, limit: int) -> str:
    """`text` cut at the last line break before `limit` characters, marked as cut."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = limit
    return text[:cut].rstrip() + "\n\n[... README truncated]"


def _looks_like_rst(text: str, content_type: str | None) -> bool:
    if content_type:
        kind = content_type.split(";")[0].strip().lower()
        if kind == "text/x-rst":
            return True
        if kind == "text/markdown":
            return False
    # No declared type (PyPI defaults to rST): look for rST-only constructs.
    return bool(re.search(r"^\.\. \w+::|^={3,}\s*$|^-{3,}\s*$\n", text, re.MULTILINE)) and not (
        re.search(r"^#{1,6} \S", text, re.MULTILINE)
    )


def _rst_to_markdown(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    levels: list[str] = []  # rST heading levels are set by the order adornments appear
    skipping_directive = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if skipping_directive:
            # Directive options and content are indented; the directive ends at a dedent.
            if line.strip() == "" or line.startswith((" ", "\t")):
                index += 1
                continue
            skipping_directive = False
        if _RST_DIRECTIVE.match(line):
            skipping_directive = True
            index += 1
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _is_adornment(following, line):
            # Underlined title, possibly also overlined (then the overline is already out).
            if out and _is_adornment(out[-1], line):
                out.pop()
            char = following.strip()[0]
            if char not in levels:
                levels.append(char)
            depth = min(levels.index(char) + 1, 6)
            out.append("#" * depth + " " + line.strip())
            index += 2
            continue
        out.append(line)
        index += 1
    return "\n".join(out)


def _is_adornment(line: str, title: str) -> bool:
    stripped = line.strip()
    return (
        len(stripped) >= 3
        and len(set(stripped)) == 1
        and stripped[0] in _RST_HEADING_CHARS
        and bool(title.strip())
        and len(stripped) >= len(title.strip()) - 2
        and not set(title.strip()) <= _RST_HEADING_CHARS
    )


def _strip_comments(text: str) -> str:
    parts: list[str] = []
    position = 0
    while True:
        start = text.find("<!--", position)
        if start < 0:
            parts.append(text[position:])
            break
        parts.append(text[position:start])
        end = text.find("-->", start + 4)
        if end < 0:
            break  # an unclosed comment runs to the end, as in HTML
        position = end + 3
    return "".join(parts)


def _strip_blocks(text: str) -> str:
    """Drop <svg>, <picture>, <script> and <style> elements with their content."""
    lower = text.lower()
    parts: list[str] = []
    position = 0
    unclosed: set[str] = set()
    for match in _BLOCK_OPEN.finditer(text):
        if match.start() < position:
            continue  # inside an element already dropped
        tag = match.group(1).lower()
        close = -1 if tag in unclosed else lower.find(f"</{tag}", match.end())
        parts.append(text[position : match.start()])
        if close < 0:
            unclosed.add(tag)  # no closing tag after here: later ones cannot have one either
            position = match.end()
            continue
        end = text.find(">", close)
        position = len(text) if end < 0 else end + 1
    parts.append(text[position:])
    return "".join(parts)


def _strip_markdown_noise(text: str) -> str:
    text = _strip_comments(text)
    text = _strip_blocks(text)
    text = _LINKED_IMAGE.sub("", text)
    text = _REFERENCE_IMAGE.sub("", text)
    text = _IMAGE.sub("", text)
    text = _HTML_TAG.sub("", text)
    kept: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        if not in_code:
            line = _RST_SUBSTITUTION_USE.sub("", line) if line.lstrip().startswith("|") else line
            # Reference-style badge definitions: "[badge]: https://img.shields.io/..."
            if re.match(r"^\s*\[[^\]]+\]:\s*\S+", line) and _BADGE_HOSTS.search(line):
                continue
        kept.append(line.rstrip())
    return "\n".join(kept)
