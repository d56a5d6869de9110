r"""Quoting `${...}` values for the shell context each reference sits in.

A `shell = true` command is shell code, and a substituted value must arrive in it as data,
never as code, whether it comes from a `-p` parameter, an llm's output or a run fact. The
right quoting depends on where the reference stands, so the template is scanned the way
the shell will read it:

- outside quotes, the value is `shlex.quote`d (one word, exactly the value);
- inside the user's single quotes, each `'` becomes `'\''` (the quotes stay balanced);
- inside the user's double quotes, `\ $ \` "` are backslash-escaped;
- inside `$(...)` the scan starts afresh, as the shell does; `$$` is the shell's pid.

Where the scan cannot be sure what the shell will make of a value (backticks, comments,
here-documents, arithmetic, a `${...}` of the shell's own, a reference right after a
backslash or a `$`, a `case` inside `$(...)`), the reference is refused with a reason: a
wrong guess there would turn quoting into injection. `${raw:...}` opts out and pastes the
text unquoted.
"""

from __future__ import annotations

import enum
import shlex
from dataclasses import dataclass, field


class Context(enum.Enum):
    UNQUOTED = "unquoted"
    SINGLE = "single"
    DOUBLE = "double"


@dataclass(frozen=True)
class Placement:
    """Where one reference of a shell template stands."""

    context: Context
    refusal: str | None = None
    """Why no quoting can be trusted here, or None when `context` is certain."""


class _Frame(enum.Enum):
    TOP = "top"  # the command line itself
    SUBST = "subst"  # inside $( ... ) (or $(( ... )))
    SINGLE = "single"
    ANSI = "ansi"  # bash's $'...', where backslashes escape quotes
    DOUBLE = "double"
    BACKTICK = "backtick"
    BRACE = "brace"  # the shell's own ${...}
    ARITH = "arith"  # $((...)) or ((...)): quotes do not quote there
    COMMENT = "comment"


_REFUSALS = {
    _Frame.ARITH: "inside arithmetic $((...)) or ((...)), where quotes do not quote",
    _Frame.ANSI: "inside $'...'",
    _Frame.BACKTICK: "inside backticks (use $(...) instead)",
    _Frame.BRACE: "inside the shell's own ${...} expansion",
    _Frame.COMMENT: "inside a shell comment (a newline in the value would end it)",
}
_WORD_START = frozenset(" \t\n;&|()<>")


@dataclass
class _State:
    kind: _Frame
    parens: int = 0
    fresh: bool = False  # nothing read in it yet: `$(` + `(` is arithmetic
    closing: bool = False  # arithmetic: the first `)` of `))` was read


@dataclass
class _Scanner:
    """Walks shell text piece by piece; a piece is a character or a reference."""

    stack: list[_State] = field(default_factory=lambda: [_State(_Frame.TOP)])
    escaped: bool = False  # the previous character was an unconsumed backslash
    after_dollar: bool = False
    after_lt: int = 0  # consecutive '<' just seen
    heredoc_pending: bool = False
    in_heredoc: bool = False
    uncertain: str | None = None
    plain_paren: bool = False  # the previous character opened a plain `(`
    word: str = ""  # the unquoted word being read, to spot `case`
    previous: str = "\n"

    @property
    def top(self) -> _State:
        return self.stack[-1]

    def place(self) -> Placement:
        frame = self.top.kind
        refusal = self.uncertain
        if self.in_heredoc:
            refusal = "inside a here-document"
        elif self.escaped:
            refusal = "right after a backslash"
        elif self.after_dollar:
            refusal = "right after a $"
        elif frame in _REFUSALS:
            refusal = _REFUSALS[frame]
        elif any(state.kind is _Frame.ARITH for state in self.stack):
            refusal = _REFUSALS[_Frame.ARITH]
        context = {_Frame.SINGLE: Context.SINGLE, _Frame.DOUBLE: Context.DOUBLE}.get(
            frame, Context.UNQUOTED
        )
        self._reset_marks()
        self.word = "\x00"  # a reference is part of a word, never the word `case`
        return Placement(context, refusal)

    def _reset_marks(self) -> None:
        self.escaped = False
        self.after_dollar = False
        self.after_lt = 0

    def feed(self, char: str) -> None:
        if self.escaped:
            self._reset_marks()
            self._track_word(char, quoted=True)
            self.previous = char
            return
        top = self.top
        plain_paren, self.plain_paren = self.plain_paren, False
        if top.fresh:
            top.fresh = False
            if char == "(" and top.kind is _Frame.SUBST:
                top.kind = _Frame.ARITH  # `$((`
                self.previous = char
                return
        if char == "(" and plain_paren and top.kind in (_Frame.TOP, _Frame.SUBST):
            top.parens -= 1  # `((`: bash's arithmetic command, not two subshells
            self.stack.append(_State(_Frame.ARITH))
            self.previous = char
            return
        frame = top.kind
        handler = {
            _Frame.SINGLE: self._single,
            _Frame.DOUBLE: self._double,
            _Frame.BACKTICK: self._backtick,
            _Frame.COMMENT: self._comment,
            _Frame.BRACE: self._brace,
            _Frame.ANSI: self._ansi,
            _Frame.ARITH: self._arith,
        }.get(frame, self._unquoted)
        was_dollar = self.after_dollar
        self.after_dollar = False
        handler(char, was_dollar)
        self.previous = char

    def _single(self, char: str, _dollar: bool) -> None:
        if char == "'":
            self.stack.pop()

    def _double(self, char: str, dollar: bool) -> None:
        if char == "\\":
            self.escaped = True
        elif char == '"':
            self.stack.pop()
        else:
            self._expansion_start(char, dollar)

    def _backtick(self, char: str, _dollar: bool) -> None:
        if char == "\\":
            self.escaped = True
        elif char == "`":
            self.stack.pop()

    def _comment(self, char: str, _dollar: bool) -> None:
        if char == "\n":
            self.stack.pop()
            self._newline()

    def _brace(self, char: str, _dollar: bool) -> None:
        if char == "\\":
            self.escaped = True
        elif char == "}":
            self.stack.pop()

    def _ansi(self, char: str, _dollar: bool) -> None:
        if char == "\\":
            self.escaped = True
        elif char == "'":
            self.stack.pop()

    def _arith(self, char: str, dollar: bool) -> None:
        state = self.top
        if state.closing:
            self.stack.pop()
            if char != ")":
                self.uncertain = "after an arithmetic expression that does not end in `))`"
            return
        if self._expansion_start(char, dollar):
            return
        if char == "\\":
            self.escaped = True
        elif char == "(":
            state.parens += 1
        elif char == ")":
            if state.parens:
                state.parens -= 1
            else:
                state.closing = True

    def _expansion_start(self, char: str, dollar: bool) -> bool:
        """`$(`, `${`, `$` and backticks: the same in and out of double quotes."""
        if dollar and char == "(":
            self.stack.append(_State(_Frame.SUBST, fresh=True))
        elif dollar and char == "{":
            self.stack.append(_State(_Frame.BRACE))
        elif dollar and char == "$":
            pass  # `$$`, the shell's process id: this `$` starts nothing
        elif char == "$":
            self.after_dollar = True
        elif char == "`":
            self.stack.append(_State(_Frame.BACKTICK))
        else:
            return False
        return True

    def _unquoted(self, char: str, dollar: bool) -> None:
        state = self.top
        lt = self.after_lt
        self.after_lt = 0
        if self._expansion_start(char, dollar):
            # `$(` starts a fresh command; anything else glues onto the current word.
            self.word = "" if self.top.kind is _Frame.SUBST and dollar else "\x00"
            return
        if char == "\\":
            self.escaped = True
        elif char == "'":
            self.stack.append(_State(_Frame.ANSI if dollar else _Frame.SINGLE))
        elif char == '"':
            self.stack.append(_State(_Frame.DOUBLE))
        elif char == "#" and self.previous in _WORD_START:
            self.stack.append(_State(_Frame.COMMENT))
        elif char == "(":
            state.parens += 1
            self.plain_paren = True
        elif char == ")":
            if state.parens:
                state.parens -= 1
            elif state.kind is _Frame.SUBST:
                self.stack.pop()
        elif char == "<":
            self.after_lt = lt + 1
            if self.after_lt == 2:
                self.heredoc_pending = True
            elif self.after_lt == 3:  # `<<<` is a here-string: a word, not a document
                self.heredoc_pending = False
        elif char == "\n":
            self._newline()
        self._track_word(char, quoted=False)

    def _track_word(self, char: str, *, quoted: bool) -> None:
        if not quoted and char in _WORD_START:
            if self.word == "case" and any(s.kind is _Frame.SUBST for s in self.stack):
                # `case x in a)` inside $(...) closes a parenthesis we cannot pair.
                self.uncertain = "after a `case` inside $(...)"
            self.word = ""
        else:
            self.word += char

    def _newline(self) -> None:
        if self.heredoc_pending:
            self.in_heredoc = True


def placements(pieces: list[str | None]) -> list[Placement]:
    """One placement per reference; `pieces` are characters, with None for a reference."""
    scanner = _Scanner()
    found: list[Placement] = []
    for piece in pieces:
        if piece is None:
            found.append(scanner.place())
        else:
            scanner.feed(piece)
    return found


def quote(text: str, context: Context) -> str:
    """`text` as data in this context: the shell reads back exactly `text`."""
    if context is Context.SINGLE:
        return text.replace("'", "'\\''")
    if context is Context.DOUBLE:
        return "".join("\\" + char if char in '\\$`"' else char for char in text)
    return shlex.quote(text)
