"""A searchable index of one installed distribution's documentation.

Built statically (source files are parsed, never imported) and cached per (name, version):
public symbols with their qualified and re-exported names, signatures and docstrings; the
README and shipped docs split into sections; code examples attached to the symbols they use.
Queries are ranked by SQLite FTS5 (BM25, porter stemming); see `search` and `answer`.
"""
