"""Ranking a remote provider's answer (Context7's snippets) the way local docs are ranked.

The text is split into its sections (headings, and the `-----` lines between Context7
snippets), indexed in an in-memory FTS5 table, and answered by the same `answer` code:
same BM25 ranking, same budget, same "best hits first" shape. A text that fits the budget
is returned whole; when nothing in a longer one matches the query, one line says so and the
provider's own order follows (Context7 already chose snippets for the query), cut to the
budget.
"""

from __future__ import annotations

from tether.kb.docindex import fts
from tether.kb.docindex.answer import ranked_answer
from tether.kb.docindex.doc_text import first_sentence
from tether.kb.docindex.records import Kind, Record
from tether.kb.ranking import (
    CHARS_PER_TOKEN,
    estimate_tokens,
    query_terms,
    select,
    split_sections,
)


def rank_document(markdown: str, query: str, max_tokens: int) -> str:
    budget = max(1, max_tokens) * CHARS_PER_TOKEN
    terms = query_terms(query)
    if len(markdown) <= budget or not terms:
        return select(markdown, "", max_tokens)
    records = []
    for section in split_sections(markdown):
        title = section.title or first_sentence(section.text, 80) or f"part {section.order + 1}"
        body = section.text
        if section.title:
            body = section.text.partition("\n")[2].strip() or section.text
        records.append(
            Record(
                Kind.SECTION,
                title,
                title,
                summary=first_sentence(body),
                doc=body,
                order=section.order,
            )
        )
    connection = fts.in_memory(records, {})
    try:
        hits = fts.search(connection, terms)
    finally:
        connection.close()
    if not hits:
        shown = " ".join(query.split())
        line = f'Nothing in this answer matches "{shown}" well; the provider\'s order follows.'
        rest = select(markdown, "", max(1, max_tokens - estimate_tokens(line) - 1))
        return f"{line}\n\n{rest}"[:budget]
    return ranked_answer(hits, query, budget)
