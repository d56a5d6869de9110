"""Ranking docs against a query within a token budget, and local docs cached per version."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.kb.providers.local import LocalProvider
from tether.kb.ranking import estimate_tokens, query_terms, select, split_sections
from tether.kb.service import DocsService
from tether.kb.store import DocsStore

DOC = """# pkg 1.0

A package that does things.

## Install

pip install pkg

## Timeouts

Set `timeout=` on every call. Timeouts are in seconds.

```python
# a comment that looks like a heading
client.get(url, timeout=5)
```

## Streaming

Stream responses with `stream()`.

#### `pkg.Client.connect(host: str, timeout: float = 5.0) -> None`

Open a connection.
"""


def test_sections_split_at_headings_but_not_inside_code() -> None:
    sections = split_sections(DOC)
    assert [section.title for section in sections] == [
        "pkg 1.0",
        "Install",
        "Timeouts",
        "Streaming",
        "`pkg.Client.connect(host: str, timeout: float = 5.0) -> None`",
    ]
    assert "# a comment that looks like a heading" in sections[2].text


def test_query_terms_drop_stopwords_and_duplicates() -> None:
    assert query_terms("How do I set the Timeout for the timeout?") == ["set", "timeout"]


def test_small_documents_are_returned_whole() -> None:
    assert select(DOC, "anything", 10_000) == DOC


def test_budget_keeps_the_opening_and_the_best_matches_in_document_order() -> None:
    chosen = select(DOC, "timeout", 70)
    assert estimate_tokens(chosen) <= 70
    assert chosen.startswith("# pkg 1.0")
    assert "## Timeouts" in chosen
    assert "## Install" not in chosen and "## Streaming" not in chosen
    assert chosen.index("## Timeouts") < chosen.index("pkg.Client.connect")


def test_without_a_query_the_document_is_taken_in_order() -> None:
    chosen = select(DOC, "", 40)
    assert estimate_tokens(chosen) <= 40
    assert chosen.startswith("# pkg 1.0") and "## Install" in chosen


def test_no_answer_exceeds_the_budget_whatever_the_query() -> None:
    for query in ("", "timeout", "nothing matches this"):
        for budget in (1, 5, 20, 40, 70, 200):
            assert estimate_tokens(select(DOC, query, budget)) <= budget, (query, budget)


_LINES = st.sampled_from(
    [
        "# Title",
        "## Timeouts",
        "### `f(x)`",
        "```",
        "----------",
        "text about timeout",
        "",
        "x" * 300,
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_LINES | st.text(max_size=80), max_size=60),
    st.text(max_size=30),
    st.integers(min_value=1, max_value=400),
)
def test_any_document_query_and_budget_stay_within_the_budget(
    lines: list[str], query: str, budget: int
) -> None:
    chosen = select("\n".join(lines), query, budget)
    assert estimate_tokens(chosen) <= budget


def test_without_a_query_a_long_opening_is_cut_not_skipped() -> None:
    document = "# big 1.0\n\n" + "summary line\n" * 200 + "\n## Later\n\nmore"
    chosen = select(document, "", 100)
    assert chosen.startswith("# big 1.0") and "## Later" not in chosen
    assert estimate_tokens(chosen) <= 100


def test_an_oversized_best_section_is_cut_rather_than_dropped() -> None:
    document = "# big\n\nintro\n\n## Client\n\n" + "client option line\n" * 2000
    chosen = select(document, "client", 300)
    assert estimate_tokens(chosen) <= 300
    assert "## Client" in chosen and "truncated to fit the token budget" in chosen


def make_site(root: Path, version: str) -> Path:
    site = root / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for old in site.glob("gizmo-*.dist-info"):
        shutil.rmtree(old)
    info = site / f"gizmo-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: gizmo\nVersion: {version}\nSummary: Gizmo {version}\n"
    )
    (info / "RECORD").write_text("")
    return site


async def test_local_docs_stay_fresh_until_the_installed_version_changes(tmp_path: Path) -> None:
    make_site(tmp_path, "1.0")
    provider = LocalProvider(tmp_path, version_recheck=0.0, index_dir=tmp_path / "index")
    service = DocsService(DocsStore(tmp_path / "cache"), [provider])
    try:
        first = await service.lookup("gizmo")
        again = await service.lookup("gizmo", "anything")
        make_site(tmp_path, "2.0")
        upgraded = await service.lookup("gizmo")
    finally:
        await service.aclose()
    assert first.found and first.version == "1.0" and first.from_cache is None
    assert again.from_cache == "index" and again.version == "1.0" and not again.stale
    assert upgraded.version == "2.0" and upgraded.from_cache is None
    assert "Gizmo 2.0" in upgraded.content


async def test_installed_version_is_trusted_for_the_recheck_interval(tmp_path: Path) -> None:
    make_site(tmp_path, "1.0")
    patient = LocalProvider(tmp_path, version_recheck=60.0)
    eager = LocalProvider(tmp_path, version_recheck=0.0)
    assert await patient.installed_version("gizmo") == "1.0"
    assert await eager.installed_version("gizmo") == "1.0"
    make_site(tmp_path, "2.0")
    assert await patient.installed_version("gizmo") == "1.0"  # within its interval
    assert await eager.installed_version("gizmo") == "2.0"


async def test_context7_answers_go_through_the_same_ranking_and_budget(tmp_path: Path) -> None:
    from tests.fakes.context7 import FakeContext7, FakeLibrary, snippet_docs
    from tests.kb.test_service_resilience import context7_for

    topics = [f"Topic {number}" for number in range(20)]
    docs = snippet_docs("Widget", *topics[:15], "Retry policy", *topics[15:])
    library = FakeLibrary("/fake/widget", "widget", docs)
    async with FakeContext7(libraries=[library]) as fake:
        service = DocsService(DocsStore(tmp_path / "cache"), [context7_for(fake)])
        try:
            result = await service.lookup("widget", "retries", max_tokens=200)
        finally:
            await service.aclose()
    assert result.provider == "context7" and len(docs) > 200 * 4
    assert len(result.content) <= 200 * 4
    # The snippet that answers comes first although Context7 sent it sixteenth.
    assert result.content.startswith('Best matches for "retries":\n\n### Widget: Retry policy')


async def test_a_context7_answer_nothing_matches_says_so_in_one_line(tmp_path: Path) -> None:
    from tests.fakes.context7 import FakeContext7, FakeLibrary, snippet_docs
    from tests.kb.test_service_resilience import context7_for

    docs = snippet_docs("Widget", *[f"Topic {number}" for number in range(20)])
    library = FakeLibrary("/fake/widget", "widget", docs)
    async with FakeContext7(libraries=[library]) as fake:
        service = DocsService(DocsStore(tmp_path / "cache"), [context7_for(fake)])
        try:
            result = await service.lookup("widget", "zeppelin", max_tokens=200)
        finally:
            await service.aclose()
    first_line, _, rest = result.content.partition("\n\n")
    assert first_line == (
        'Nothing in this answer matches "zeppelin" well; the provider\'s order follows.'
    )
    assert rest.startswith(docs[:40]) and len(result.content) <= 200 * 4
