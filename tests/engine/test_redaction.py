"""The one redaction helper: whole keys, cuts through keys, keys split across pieces."""

from __future__ import annotations

import pytest

from tether.engine.redaction import MASK, Redactor

KEY = "sk-abcdefghijklmnopqrstuvwxyz0123456789AB"


def leaked(text: str) -> bool:
    return any(KEY[start : start + 5] in text for start in range(len(KEY) - 4))


@pytest.mark.parametrize("cut_at", range(150, 210))
def test_a_cut_anywhere_through_the_key_leaves_none_of_it(cut_at: int) -> None:
    text = "x" * 180 + KEY + " tail"
    cut = Redactor([KEY]).cut(text, cut_at)
    assert not leaked(cut)
    assert MASK in cut or cut_at <= 180 + 3


def test_an_already_cut_text_has_the_key_start_masked() -> None:
    redactor = Redactor([KEY])
    assert redactor.edges("error: " + KEY[:25]) == "error: " + MASK
    assert redactor.edges(KEY[-12:] + " rest") == MASK + " rest"
    assert redactor.data(b"a " + KEY.encode() + b" b") == b"a *** b"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 11, 40])
def test_a_key_split_across_streamed_pieces_never_comes_out(size: int) -> None:
    text = f"you sent {KEY} twice: {KEY}{KEY[:30]}"
    stream = Redactor([KEY]).stream()
    out = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size))
    out += stream.flush()
    assert not leaked(out)
    assert out.startswith(f"you sent {MASK} twice: {MASK}")


def test_json_values_and_keys_are_redacted() -> None:
    value = {"a": [KEY, {"b": f"x{KEY}"}], KEY: 1, "n": 3}
    assert Redactor([KEY]).json(value) == {"a": [MASK, {"b": f"x{MASK}"}], MASK: 1, "n": 3}
