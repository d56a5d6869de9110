"""The framer alone, at every split of the input: a message boundary never depends on how
the bytes arrived (the server tests in test_stdio_bytes.py cover the same cases whole)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.lsp.framing import MAX_HEADER_BYTES, Frame, FramingError, MessageFramer


def frame(request_id: int, *, error: int = 0) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "text": "é" * request_id}).encode()
    return b"Content-Length: %d\r\n\r\n" % (len(body) + error) + body


def read(stream: bytes, chunk: int) -> list[object]:
    framer = MessageFramer()
    items: list[Frame | FramingError] = []
    for start in range(0, len(stream), chunk):
        items += framer.feed(stream[start : start + chunk])
    shown: list[object] = []
    for item in items:
        if isinstance(item, FramingError):
            shown.append(item.code)
            continue
        try:
            shown.append(json.loads(item.body)["id"])
        except ValueError:
            shown.append("not json")
    return shown


GOOD = b"".join(frame(i) for i in range(1, 4))
CASES = {
    "clean": (frame(0) + GOOD, [0, 1, 2, 3]),
    "too long": (frame(0, error=200) + GOOD, [-32700, 1, 2, 3]),
    "one too long": (frame(0, error=1) + GOOD, [-32700, 1, 2, 3]),
    "too short": (frame(0, error=-4) + GOOD, ["not json", 1, 2, 3]),
    "content type first": (b"Content-Type: x\r\n" + frame(0) + GOOD, [0, 1, 2, 3]),
    "garbage": (b"x" * (MAX_HEADER_BYTES * 3) + GOOD, [-32600, 1, 2, 3]),
    "long header block": (
        b"Content-Length: 3\r\nX: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n{}}" + GOOD,
        [-32600, 1, 2, 3],
    ),
    "huge body": (b"Content-Length: 99999999999\r\n\r\n" + GOOD, [-32600, 1, 2, 3]),
}


@pytest.mark.parametrize("chunk", [1, 2, 5, 13, 64, 4096, 10**9])
@pytest.mark.parametrize("case", CASES)
def test_every_split_of_the_input_frames_the_same(case: str, chunk: int) -> None:
    stream, expected = CASES[case]
    assert read(stream, chunk) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=3000).filter(lambda data: b"content-length" not in data.lower()),
    st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=40),
)
def test_after_any_garbage_the_next_messages_arrive_whole(
    garbage: bytes, splits: list[int]
) -> None:
    stream = garbage + GOOD
    framer = MessageFramer()
    items: list[Frame | FramingError] = []
    position = 0
    for size in splits * (len(stream) // sum(splits) + 1):
        items += framer.feed(stream[position : position + size])
        position += size
        if position >= len(stream):
            break
    frames = [json.loads(item.body)["id"] for item in items if isinstance(item, Frame)]
    assert frames[-3:] == [1, 2, 3]
