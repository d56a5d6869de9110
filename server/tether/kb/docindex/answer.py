"""Turn an index and a query into an answer that fits a token budget.

- A query that names a symbol (`Timeout`, `httpx.Timeout`, `Process.children`) is answered
  with that symbol exactly: signature, docstring, examples, and a class's members.
- Otherwise the best hits come first, each with its signature, one line of doc and an
  example when there is one; then one line per further hit, as far as the budget goes.
- When nothing matches well: one line saying so, and the closest symbol names.
- No query: the package's summary, its README's opening and its top-level API in the
  package's own order.
Tokens are estimated as characters / 4 (see ranking.estimate_tokens).
"""

from __future__ import annotations

import re
import sqlite3

from tether.kb.docindex import fts
from tether.kb.docindex.fts import Hit
from tether.kb.docindex.records import Kind, Record
from tether.kb.ranking import CHARS_PER_TOKEN, query_terms

FULL_HITS = 4
"""Hits shown with their example; the rest get one line each."""
PER_GROUP = 2
_CODE_SPAN = re.compile(r"`[^`]*`|\S*[:/$]\S*")
SIGNATURE_LIMIT = 220
EXAMPLE_SHOWN_LIMIT = 700
SECTION_EXCERPT_LIMIT = 900
WEAK_COVERAGE = 0.5
"""A best hit matching less than this share of the query's words is not a match."""
_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


def answer(connection: sqlite3.Connection, library: str, query: str, max_tokens: int) -> str:
    budget = max(1, max_tokens) * CHARS_PER_TOKEN
    stripped = query.strip()
    if not stripped:
        return overview(connection, library, budget)
    if _IDENTIFIER.match(stripped):
        exact = _exact(connection, stripped)
        if exact:
            return exact_answer(connection, exact, budget)
    terms = query_terms(stripped)
    hits = fts.search(connection, terms)
    if not hits or (len(terms) > 1 and hits[0].coverage < WEAK_COVERAGE):
        return nothing_matches(connection, library, stripped, terms, hits, budget)
    return ranked_answer(hits, stripped, budget)


def _exact(connection: sqlite3.Connection, name: str) -> list[Record]:
    found = fts.by_name(connection, name)
    if not found:
        return []
    short = name.rsplit(".", 1)[-1]
    same_case = [record for record in found if record.name == short]
    chosen = same_case or found
    return sorted(chosen, key=lambda record: (-record.prior, record.kind is Kind.METHOD))


def ranked_answer(hits: list[Hit], query: str, budget: int) -> str:
    blocks = [f'Best matches for "{query}":']
    full = _diverse(hits, FULL_HITS)
    for hit in full:
        blocks.append(_full_block(hit.record))
    rest = [hit for hit in hits if hit not in full]
    family: dict[str, int] = {}
    for hit in list(rest):
        key = _groups(hit.record)[-1:] or [""]
        family[key[0]] = family.get(key[0], 0) + 1
        if key[0].startswith("doc:") and family[key[0]] > PER_GROUP:
            rest.remove(hit)
    if rest:
        lines = ["More matches:"]
        lines += [_one_line(hit.record) for hit in rest]
        blocks.append("\n".join(lines))
    # The best hit is cut rather than dropped: a small budget still gets the answer's start.
    return fit(blocks, budget, cut_up_to=1)


def _diverse(hits: list[Hit], count: int) -> list[Hit]:
    """The best `count` hits with at most PER_GROUP members of one class or module and
    PER_GROUP of one family of look-alike docs: fifty generated methods documented as
    "Send a `...` notification" must not hide the one general API that sends any."""
    chosen: list[Hit] = []
    groups: dict[str, int] = {}
    for hit in hits:
        if hit.score < hits[0].score * 0.2 or len(chosen) >= count:
            break
        keys = _groups(hit.record)
        if any(groups.get(key, 0) >= PER_GROUP for key in keys):
            continue
        for key in keys:
            groups[key] = groups.get(key, 0) + 1
        chosen.append(hit)
    return chosen


def _groups(record: Record) -> list[str]:
    if not record.is_symbol:
        return []
    keys = ["parent:" + record.qualname.rpartition(".")[0]]
    if record.summary:
        keys.append("doc:" + " ".join(_CODE_SPAN.sub(" ", record.summary.lower()).split()))
    return keys


def exact_answer(connection: sqlite3.Connection, records: list[Record], budget: int) -> str:
    blocks: list[str] = []
    for record in records[:5]:
        parts = [f"### `{_heading(record)}`  ({record.kind.value})"]
        if record.doc:
            parts.append(record.doc.strip())
        parts.extend(example for example in record.examples if _code(example) not in record.doc)
        if record.aliases:
            parts.append("Also: " + ", ".join(f"`{alias}`" for alias in record.aliases[:6]))
        if record.kind is Kind.CLASS:
            members = fts.members(connection, record.qualname)
            if members:
                parts.append("Members:\n" + "\n".join(_one_line(member) for member in members))
        blocks.append("\n\n".join(parts))
    if len(records) > 5:
        blocks.append("Also named so: " + ", ".join(f"`{r.qualname}`" for r in records[5:20]))
    return fit(blocks, budget)


def nothing_matches(
    connection: sqlite3.Connection,
    library: str,
    query: str,
    terms: list[str],
    hits: list[Hit],
    budget: int,
) -> str:
    names = fts.all_names(connection)
    closest: list[str] = [hit.record.qualname for hit in hits[:5] if hit.record.is_symbol]
    by_lower: dict[str, str] = {}
    for short, qualified in names:
        by_lower.setdefault(short.lower(), qualified)
    for term in terms or [query.lower()]:
        for match in _close_matches(term, list(by_lower), n=5, cutoff=0.6):
            if by_lower[match] not in closest:
                closest.append(by_lower[match])
    line = f'Nothing in {library} matches "{query}" well.'
    if closest:
        line += " Closest symbols: " + ", ".join(f"`{name}`" for name in closest[:10]) + "."
    return fit([line], budget)


def overview(connection: sqlite3.Connection, library: str, budget: int) -> str:
    blocks: list[str] = []
    sections = fts.sections_in_order(connection, 3)
    for section in sections[:2]:
        blocks.append(f"## {section.qualname}\n\n{_excerpt(section.doc, SECTION_EXCERPT_LIMIT)}")
    symbols = fts.symbols_in_order(connection, 200)
    if symbols:
        blocks.append("## API\n\n" + "\n".join(_one_line(record) for record in symbols))
    if not blocks:
        return f"{library}: the index holds no documentation."
    return fit(blocks, budget)


def _full_block(record: Record) -> str:
    if record.kind is Kind.SECTION:
        return f"### {record.qualname}\n\n{_excerpt(record.doc, SECTION_EXCERPT_LIMIT)}"
    parts = [f"### `{_heading(record)}`  ({record.kind.value})"]
    if record.summary:
        parts.append(record.summary)
    for example in record.examples[:1]:
        parts.append(_excerpt(example, EXAMPLE_SHOWN_LIMIT, code=True))
    return "\n\n".join(parts)


def _code(example: str) -> str:
    """The code inside a fenced example."""
    return example.split("\n", 1)[-1].rsplit("\n```", 1)[0].strip()


def _one_line(record: Record) -> str:
    if record.kind is Kind.SECTION:
        summary = f": {record.summary}" if record.summary else ""
        return f"- {record.qualname}{summary}"[:300]
    summary = f": {record.summary}" if record.summary else ""
    line = f"- `{_heading(record)}`{summary}"
    return line if len(line) <= 300 else line[:297] + "..."


def _heading(record: Record) -> str:
    signature = record.signature
    if len(signature) > SIGNATURE_LIMIT:
        signature = signature[: SIGNATURE_LIMIT - 4] + "...)"
    prefix = "fixture " if record.kind is Kind.FIXTURE else ""
    return f"{prefix}{record.qualname}{signature}"


def _excerpt(text: str, limit: int, *, code: bool = False) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = limit
    excerpt = text[:cut].rstrip()
    if code or excerpt.count("```") % 2 == 1:
        excerpt += "\n...\n```" if excerpt.count("```") % 2 == 1 else "\n..."
    else:
        excerpt += " [...]"
    return excerpt


def fit(blocks: list[str], budget: int, *, cut_up_to: int = 0) -> str:
    """Blocks in order while they fit; the first ones (up to index `cut_up_to`) are cut
    rather than dropped."""
    out: list[str] = []
    used = 0
    for index, block in enumerate(blocks):
        cost = len(block) + 2
        if used + cost <= budget:
            out.append(block)
            used += cost
            continue
        room = budget - used - 2
        if index <= cut_up_to or (room > 200 and "\n- " in block):
            out.append(_cut_lines(block, room))
            used = budget
        break
    return "\n\n".join(part for part in out if part)


def _cut_lines(block: str, room: int) -> str:
    if room <= 0:
        return ""
    if len(block) <= room:
        return block
    cut = block.rfind("\n", 0, room)
    if cut < room // 2:
        return block[:room]
    text = block[:cut].rstrip()
    if text.count("```") % 2 == 1 and cut + 4 <= room:
        text += "\n```"
    return text


def _close_matches(term: str, candidates: list[str], *, n: int, cutoff: float) -> list[str]:
    import difflib  # lazily: ~10 ms of imports that only an answer with no match needs

    return difflib.get_close_matches(term, candidates, n=n, cutoff=cutoff)
