"""The append-only journal of a run: `.tether/runs/<run-id>/events.jsonl`, one event a line.

Written only by the process that owns the run. A torn last line (a crash mid-write) is
ignored on read; a damaged line anywhere else is an error naming the file and line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from tether.engine.events import Event

JOURNAL_NAME = "events.jsonl"


class JournalError(Exception):
    """A journal that cannot be read; the message names file and line."""


class JournalWriter:
    """An EventBus subscriber that appends each event as one orjson line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = open(path, "ab")  # noqa: SIM115 - closed by close()

    def __call__(self, event: Event) -> None:
        self._file.write(orjson.dumps(event.to_json()) + b"\n")
        self._file.flush()

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_events(path: Path) -> Iterator[Event]:
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise JournalError(f"{path}: no journal") from error
    lines = data.split(b"\n")
    torn_tail = not data.endswith(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Event.from_json(orjson.loads(line))
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as error:
            if torn_tail and number == len(lines):
                return  # the write a crash interrupted; everything before it stands
            raise JournalError(f"{path}:{number}: damaged journal line ({error})") from error
