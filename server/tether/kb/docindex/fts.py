"""The docs index on disk: one SQLite database per distribution, searched with FTS5.

`records` holds what answers are made of; `search` is an FTS5 table over the same rows,
tokenized with the porter stemmer (so "timeouts" matches `Timeout`), whose columns are
weighted in BM25 so that a word in a symbol's name counts far more than the same word in
prose. Identifiers are indexed with their parts as separate words ("HtmlFormatter" as
"HtmlFormatter Html Formatter"; unicode61 already splits at "_").

A database is written once, to a temporary file renamed into place, and never changed:
readers in any process see either no index or a complete one.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tether.kb.docindex.records import Kind, Record
from tether.kb.ranking import STOPWORDS

SCHEMA_VERSION = 2
"""Part of every index file's name: bumped when the schema or what the indexers extract
changes, so that indexes built by an older tether are rebuilt, not reused."""

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

# name, qualname, summary, doc, examples
COLUMN_WEIGHTS = (10.0, 3.0, 3.0, 1.0, 0.5)
_BM25 = "bm25(search, {})".format(", ".join(str(weight) for weight in COLUMN_WEIGHTS))

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    qualname TEXT NOT NULL,
    aliases TEXT NOT NULL,
    signature TEXT NOT NULL,
    summary TEXT NOT NULL,
    doc TEXT NOT NULL,
    examples TEXT NOT NULL,
    prior REAL NOT NULL,
    ord INTEGER NOT NULL
);
CREATE INDEX records_name ON records (name COLLATE NOCASE);
CREATE VIRTUAL TABLE search USING fts5(
    name, qualname, summary, doc, examples, tokenize = 'porter unicode61'
);
"""


def identifier_words(identifier: str) -> str:
    """ "HtmlFormatter" -> "HtmlFormatter Html Formatter"; other text unchanged."""
    parts = _CAMEL.findall(identifier)
    return identifier if len(parts) <= 1 else f"{identifier} {' '.join(parts)}"


def build(path: Path, records: Sequence[Record], meta: dict[str, str]) -> None:
    """Write a complete index to `path` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # lazily: only building an index needs it (imports shutil, lzma, bz2)

    handle, temporary = tempfile.mkstemp(prefix=".building-", suffix=".sqlite", dir=path.parent)
    os.close(handle)
    try:
        connection = sqlite3.connect(temporary)
        try:
            fill(connection, records, meta)
            connection.commit()
        finally:
            connection.close()
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def in_memory(records: Sequence[Record], meta: dict[str, str]) -> sqlite3.Connection:
    """An index that lives only in this process (remote answers are ranked this way)."""
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    fill(connection, records, meta)
    return connection


def fill(connection: sqlite3.Connection, records: Sequence[Record], meta: dict[str, str]) -> None:
    connection.executescript(_SCHEMA)
    connection.executemany(
        "INSERT INTO meta VALUES (?, ?)", [("schema", str(SCHEMA_VERSION)), *meta.items()]
    )
    rows = []
    texts = []
    for row_id, record in enumerate(records, start=1):
        rows.append(
            (
                row_id,
                record.kind.value,
                record.name,
                record.qualname,
                json.dumps(record.aliases),
                record.signature,
                record.summary,
                record.doc,
                json.dumps(record.examples),
                record.prior,
                record.order,
            )
        )
        name = record.name if record.kind is Kind.SECTION else identifier_words(record.name)
        qualified = " ".join(
            identifier_words(part) for part in re.split(r"[.\s>]+", record.qualname) if part
        )
        texts.append(
            (row_id, name, qualified, record.summary, record.doc, "\n".join(record.examples))
        )
    connection.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    connection.executemany(
        "INSERT INTO search (rowid, name, qualname, summary, doc, examples) VALUES (?,?,?,?,?,?)",
        texts,
    )


@dataclass(frozen=True, slots=True)
class Hit:
    record: Record
    score: float
    """Higher is better."""
    coverage: float
    """Share of the query's terms this record matches (0..1)."""


def open_index(path: Path) -> sqlite3.Connection:
    """A read-only connection usable from any thread (callers serialise their use)."""
    connection = sqlite3.connect(
        f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
    )
    connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    return connection


def read_meta(connection: sqlite3.Connection) -> dict[str, str]:
    return {key: value for key, value in connection.execute("SELECT key, value FROM meta")}


def search(connection: sqlite3.Connection, terms: Sequence[str], limit: int = 40) -> list[Hit]:
    """Records matching any of `terms`, best first.

    FTS5's BM25 (weighted by column) ranks candidates; the score is then multiplied by the
    share of distinct query terms a record matches, squared-ish, and by the record's prior,
    so that a symbol matching "task group" beats prose that says "task" ten times.
    """
    if not terms:
        return []
    # Adjacent words also as one ("file name" finds `filename`); matching the compound
    # counts as matching both of its words.
    queried: list[tuple[str, tuple[int, ...]]] = [(term, (i,)) for i, term in enumerate(terms)]
    queried += [
        (terms[i] + terms[i + 1], (i, i + 1))
        for i in range(len(terms) - 1)
        if terms[i].isalpha() and terms[i + 1].isalpha()
    ]
    expression = " OR ".join(_term_query(term) for term, _ in queried)
    try:
        rows = connection.execute(
            f"SELECT rowid, {_BM25} FROM search WHERE search MATCH ? ORDER BY 2 LIMIT ?",
            (expression, limit * 3),
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    if not rows:
        return []
    ids = [row_id for row_id, _ in rows]
    matched: dict[int, set[int]] = {row_id: set() for row_id in ids}
    placeholders = ",".join("?" * len(ids))
    for term, positions in queried:
        for (row_id,) in connection.execute(
            f"SELECT rowid FROM search WHERE search MATCH ? AND rowid IN ({placeholders})",
            (_term_query(term), *ids),
        ):
            matched[row_id].update(positions)
    records = dict(zip(ids, fetch(connection, ids), strict=True))
    stems = {_stem(word) for term, _ in queried for word in re.split(r"[._]", term) if word}
    hits = []
    for row_id, bm25 in rows:
        coverage = len(matched[row_id]) / len(terms)
        record = records[row_id]
        score = -bm25 * record.prior * (0.25 + coverage) ** 2
        score *= 1.0 + NAME_MATCH_BONUS * _name_match(record, stems)
        hits.append(Hit(record, score, coverage))
    hits.sort(key=lambda hit: -hit.score)
    return hits[:limit]


NAME_MATCH_BONUS = 1.5


def _name_match(record: Record, stems: set[str]) -> float:
    """The share of a symbol's name that the query's words spell out: "connection pool"
    explains all of `ConnectionPool`, half of `close_connection`, none of `close`."""
    if not record.is_symbol:
        return 0.0
    words = [_stem(word.lower()) for word in _CAMEL.findall(record.name.replace("_", " "))]
    words = [word for word in words if word and word not in STOPWORDS]
    if not words:
        return 0.0
    return sum(word in stems for word in words) / len(words)


def _stem(word: str) -> str:
    """A crude English stem, only to compare query words with the parts of a name."""
    word = word.lower()
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _term_query(term: str) -> str:
    # Terms are letters, digits, "_" and "." only (see ranking.query_terms): safe to quote.
    # A prefix match lets "dir" find "directory"; too short a prefix matches everything.
    return f'"{term}"*' if len(term) >= 4 else f'"{term}"'


def fetch(connection: sqlite3.Connection, ids: Iterable[int]) -> list[Record]:
    wanted = list(ids)
    if not wanted:
        return []
    placeholders = ",".join("?" * len(wanted))
    rows = connection.execute(
        f"SELECT id, kind, name, qualname, aliases, signature, summary, doc, examples, prior, "
        f"ord FROM records WHERE id IN ({placeholders})",
        wanted,
    ).fetchall()
    by_id = {row[0]: _record(row) for row in rows}
    return [by_id[row_id] for row_id in wanted if row_id in by_id]


def by_name(connection: sqlite3.Connection, name: str) -> list[Record]:
    """Symbols whose short or qualified name (or alias) is `name`, case-insensitively."""
    short = name.rsplit(".", 1)[-1]
    rows = connection.execute(
        "SELECT id, kind, name, qualname, aliases, signature, summary, doc, examples, prior, "
        "ord FROM records WHERE name = ? COLLATE NOCASE AND kind != 'section'",
        (short,),
    ).fetchall()
    records = [_record(row) for row in rows]
    if "." not in name:
        return records
    lowered = name.lower()
    return [
        record
        for record in records
        if any(
            candidate.lower() == lowered or candidate.lower().endswith("." + lowered)
            for candidate in [record.qualname, *record.aliases]
        )
    ]


def symbols_in_order(connection: sqlite3.Connection, limit: int) -> list[Record]:
    """Public symbols, the package's top-level ones first, in declaration order."""
    rows = connection.execute(
        "SELECT id, kind, name, qualname, aliases, signature, summary, doc, examples, prior, "
        "ord FROM records WHERE kind NOT IN ('section', 'method', 'property', 'module') "
        "ORDER BY prior DESC, ord LIMIT ?",
        (limit,),
    ).fetchall()
    return [_record(row) for row in rows]


def sections_in_order(connection: sqlite3.Connection, limit: int) -> list[Record]:
    rows = connection.execute(
        "SELECT id, kind, name, qualname, aliases, signature, summary, doc, examples, prior, "
        "ord FROM records WHERE kind = 'section' ORDER BY prior DESC, ord LIMIT ?",
        (limit,),
    ).fetchall()
    return [_record(row) for row in rows]


def all_names(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    """(short name, qualified name) of every symbol."""
    return list(
        connection.execute(
            "SELECT name, qualname FROM records WHERE kind != 'section' ORDER BY prior DESC, ord"
        )
    )


def _record(row: tuple[object, ...]) -> Record:
    (_, kind, name, qualname, aliases, signature, summary, doc, examples, prior, order) = row
    return Record(
        Kind(str(kind)),
        str(name),
        str(qualname),
        list(json.loads(str(aliases))),
        str(signature),
        str(summary),
        str(doc),
        list(json.loads(str(examples))),
        float(prior),  # type: ignore[arg-type]
        int(order),  # type: ignore[call-overload]
    )


def members(connection: sqlite3.Connection, qualname: str, limit: int = 60) -> list[Record]:
    """Methods and properties of the class shown as `qualname`, in declaration order."""
    rows = connection.execute(
        "SELECT id, kind, name, qualname, aliases, signature, summary, doc, examples, prior, "
        "ord FROM records WHERE kind IN ('method', 'property') AND qualname = ? || '.' || name "
        "ORDER BY id LIMIT ?",
        (qualname, limit),
    ).fetchall()
    return [_record(row) for row in rows]
