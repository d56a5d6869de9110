"""Fit documentation to a query and a token budget.

A document is split at its markdown headings (never inside fenced code) into sections;
each section is scored against the query's terms, and the best ones are assembled, in
their original order, until the budget is used. Tokens are estimated as characters / 4,
which is close enough for English prose and code to keep an agent's context in bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
TRUNCATION_MARK = "\n[... truncated to fit the token budget]"

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_MARKERS = frozenset("#`~-")
_SEPARATOR = re.compile(r"^-{10,}\s*$")  # Context7's txt answers separate snippets this way
_TERM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)*")
STOPWORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from"}
    | {"how", "i", "in", "into", "is", "it", "of", "on", "or", "the", "this", "to", "use"}
    | {"using", "what", "when", "where", "which", "with", "you", "your", "two", "my", "that"}
    | {"them", "all", "some", "not", "its", "their", "there", "whenever", "should", "would"}
)


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    """Heading text without the #s; '' for text before the first heading."""
    text: str
    """The whole section as it appears, heading line included."""
    order: int


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def query_terms(query: str) -> list[str]:
    """Lower-cased words of the query worth matching, in order, without duplicates."""
    terms: list[str] = []
    for word in _TERM.findall(query.lower()):
        if (len(word) > 1 or word.isdigit()) and word not in STOPWORDS and word not in terms:
            terms.append(word)
    return terms


def split_sections(markdown: str) -> list[Section]:
    sections: list[Section] = []
    title = ""
    lines: list[str] = []
    in_code = False

    def close() -> None:
        text = "\n".join(lines).strip("\n")
        if text.strip():
            sections.append(Section(title, text, len(sections)))

    for line in markdown.split("\n"):
        first = line.lstrip()[:1]
        if first not in _MARKERS:  # most lines: no fence, heading or separator to look for
            lines.append(line)
            continue
        if _FENCE.match(line):
            in_code = not in_code
        heading = None if in_code else _HEADING.match(line)
        if heading is not None or (not in_code and _SEPARATOR.match(line)):
            close()
            title = heading.group(2).strip() if heading else ""
            lines = [line] if heading else []
            continue
        lines.append(line)
    close()
    return sections


def score_section(section: Section, terms: list[str]) -> float:
    """Title matches weigh most, identifiers in code next, body mentions least (capped)."""
    if not terms:
        return 0.0
    title = section.title.lower()
    body = section.text.lower()
    score = 0.0
    matched = 0
    for term in terms:
        in_title = term in title
        mentions = body.count(term)
        if in_title:
            score += 5.0
        if mentions:
            score += min(mentions, 6) * 1.0
            # An API entry whose name is the term ("`httpx.Client(`") is what was asked for.
            if re.search(rf"[.`\s]{re.escape(term)}\(", body):
                score += 2.0
        if in_title or mentions:
            matched += 1
    # Sections that match several distinct terms beat ones repeating a single term.
    return score * (1.0 + matched / len(terms))


def select(markdown: str, query: str, max_tokens: int) -> str:
    """The parts of `markdown` most relevant to `query`, at most `max_tokens` (estimated).

    With a query that matches some sections: the opening section (when it is short) and the
    best matches. Otherwise the document from the top, as far as the budget goes.
    """
    budget = max(1, max_tokens) * CHARS_PER_TOKEN
    if len(markdown) <= budget:
        return markdown
    sections = split_sections(markdown)
    if not sections:
        return _truncate(markdown, budget)
    first, others = sections[0], sections[1:]
    terms = query_terms(query)
    scored = sorted(
        ((score_section(section, terms), section) for section in others),
        key=lambda item: (-item[0], item[1].order),
    )
    relevant = [section for score, section in scored if score > 0]
    if not relevant:
        return _in_order(sections, budget)
    chosen: set[int] = set()
    texts = {section.order: section.text for section in sections}
    used = 0
    first_cost = len(first.text) + 2
    if first_cost <= budget // 3:  # title, summary, links: frames the matches, if short
        chosen.add(first.order)
        used += first_cost
    for rank, section in enumerate(relevant):
        cost = len(section.text) + 2
        if used + cost <= budget:
            chosen.add(section.order)
            used += cost
        elif rank == 0 and budget - used > 400:
            # The best match is too long to fit whole: its beginning beats lesser matches.
            texts[section.order] = _truncate(section.text, budget - used - 2)
            chosen.add(section.order)
            used = budget
    if not chosen:
        return _truncate(relevant[0].text, budget)
    return _assemble(sections, chosen, texts, budget)


def _in_order(sections: list[Section], budget: int) -> str:
    if len(sections[0].text) > budget:
        return _truncate(sections[0].text, budget)  # the opening, as far as it goes
    chosen: set[int] = set()
    used = 0
    for section in sections:
        cost = len(section.text) + 2
        if used + cost <= budget:
            chosen.add(section.order)
            used += cost
    texts = {section.order: section.text for section in sections}
    return _assemble(sections, chosen, texts, budget)


def _assemble(sections: list[Section], chosen: set[int], texts: dict[int, str], budget: int) -> str:
    assembled = "\n\n".join(texts[section.order] for section in sections if section.order in chosen)
    if len(chosen) < len(sections):
        omitted = len(sections) - len(chosen)
        note = f"\n\n[{omitted} more section(s) omitted; ask with a narrower query or more tokens]"
        if len(assembled) + len(note) <= budget:
            assembled += note
    return assembled


def _truncate(text: str, budget: int) -> str:
    if budget < 2 * len(TRUNCATION_MARK):
        return text[:budget]  # too small a budget to spend any of it on the mark
    room = budget - len(TRUNCATION_MARK)
    cut = text.rfind("\n", 0, room)
    if cut < room // 2:
        cut = room
    return text[:cut].rstrip() + TRUNCATION_MARK
