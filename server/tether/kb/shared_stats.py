"""Counters summed over every process that used a cache directory.

Each process counts hits and misses in memory (see store_stats); when it closes its store
(or its docs provider), it adds them here in one small transaction, so `tether cache stats`
run later, in another process, can say what all processes did since the cache was last
cleared. Adding never waits long and never raises: figures from a process that could not
add them are lost, not the lookup.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

STATS_NAME = "stats.db"
BUSY_TIMEOUT_S = 0.2

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS since (at REAL NOT NULL)"
)


def add(directory: Path, figures: Mapping[str, int]) -> bool:
    """Add `figures` (name -> count) to the directory's totals; False if that failed."""
    nonzero = [(name, value) for name, value in figures.items() if value]
    if not nonzero or not directory.is_dir():
        return not nonzero
    try:
        connection = sqlite3.connect(directory / STATS_NAME, timeout=BUSY_TIMEOUT_S)
        try:
            with connection:
                connection.executescript(_SCHEMA)
                if connection.execute("SELECT count(*) FROM since").fetchone()[0] == 0:
                    connection.execute("INSERT INTO since VALUES (?)", (time.time(),))
                connection.executemany(
                    "INSERT INTO counters VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    nonzero,
                )
        finally:
            connection.close()
    except sqlite3.Error as error:
        logger.info("docs cache %s: counters not recorded: %s", directory, error)
        return False
    return True


def read(directory: Path) -> tuple[dict[str, int], float | None]:
    """(totals by name, epoch seconds they are counted from); empty when none recorded."""
    path = directory / STATS_NAME
    if not path.is_file():
        return {}, None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            totals = dict(connection.execute("SELECT name, value FROM counters").fetchall())
            row = connection.execute("SELECT min(at) FROM since").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        logger.info("docs cache %s: counters unreadable: %s", directory, error)
        return {}, None
    return {str(k): int(v) for k, v in totals.items()}, (row[0] if row else None)


def reset(directory: Path) -> None:
    (directory / STATS_NAME).unlink(missing_ok=True)
