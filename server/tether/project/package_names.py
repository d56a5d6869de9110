"""Canonical PyPI names without importing `packaging`.

`packaging.utils` costs ~15-20 ms of imports in a fresh process (it pulls in
`packaging.tags`, `sysconfig` and the manylinux probes), and `tether docs` needs only the
name rule: PEP 503's, which `packaging.utils.canonicalize_name` implements as this regex.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")


def canonicalize_name(name: str) -> str:
    """PEP 503: runs of '-', '_' and '.' become one '-', lowercased (as packaging does)."""
    return _SEPARATORS.sub("-", name).lower()
