"""stackaudit's places in LSP's terms.

A ``Span`` counts lines and columns from 1, columns in characters (code points), the end
exclusive, 0 for an end not known. LSP counts both from 0, and columns in the code units
of the position encoding the client and server agreed on: UTF-16 unless the client
offers another (LSP 3.17, ``general.positionEncodings``). A character outside the Basic
Multilingual Plane is one column for stackaudit, two UTF-16 units, four UTF-8 ones."""

from __future__ import annotations

from lsprotocol import types

from stackaudit.diagnostics import Span
from stackaudit.source import split_lines

_CODECS = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}
_UNIT_BYTES = {"utf-8": 1, "utf-16": 2, "utf-32": 4}


def units(text: str, encoding: str) -> int:
    """How many code units of ``encoding`` (an LSP ``PositionEncodingKind``) ``text``
    takes. Lone surrogates (from undecodable bytes) count as one unit each."""
    if encoding == "utf-32":
        return len(text)
    codec = _CODECS.get(encoding, "utf-16-le")
    return len(text.encode(codec, "surrogatepass")) // _UNIT_BYTES.get(encoding, 2)


def characters(text: str, count: int, encoding: str) -> int:
    """The number of characters of ``text`` that the first ``count`` code units cover
    (a position inside a character is taken to its start)."""
    if encoding == "utf-32":
        return min(count, len(text))
    used = 0
    for index, char in enumerate(text):
        width = units(char, encoding)
        if used + width > count:
            return index
        used += width
    return len(text)


class Lines:
    """A document's lines, to turn spans into ranges and positions back into columns."""

    def __init__(self, text: str, encoding: str) -> None:
        self.lines = split_lines(text)
        self.encoding = encoding

    def text(self, line: int) -> str:
        """The text of 1-based ``line`` (empty past the end)."""
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""

    def position(self, line: int, column: int) -> types.Position:
        """The LSP position of a 1-based (line, column in characters)."""
        text = self.text(line)
        return types.Position(max(line - 1, 0), units(text[: max(column - 1, 0)], self.encoding))

    def range(self, span: Span, *, widen_empty: bool = False) -> types.Range:
        """The range of ``span``. With ``widen_empty``, a span with no known end covers
        the rest of its line, so an editor has something to underline."""
        end_line, end_column = span.end_line, span.end_column
        if widen_empty and (end_line, end_column) == (span.line, span.column):
            end_column = max(len(self.text(span.line)) + 1, span.column)
        return types.Range(
            self.position(span.line, span.column), self.position(end_line, end_column)
        )

    def column(self, position: types.Position) -> tuple[int, int]:
        """The 1-based (line, column in characters) of an LSP position."""
        text = self.text(position.line + 1)
        return position.line + 1, characters(text, position.character, self.encoding) + 1


def touches(outer: types.Range, inner: types.Range) -> bool:
    """Whether ``outer`` and ``inner`` touch (an editor asks with a cursor, an empty
    range, as often as with a selection)."""
    start = (outer.start.line, outer.start.character)
    end = (outer.end.line, outer.end.character)
    return (
        start <= (inner.end.line, inner.end.character)
        and (inner.start.line, inner.start.character) <= end
    )
