"""A scanned file as text: decoding that never fails, and line/offset arithmetic."""

from __future__ import annotations

import bisect
import codecs
import re
from functools import cached_property

from msgspec import Struct

from stackaudit.diagnostics import Span

# PEP 263: the coding cookie must be on line 1 or 2.
_CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)


def decode(data: bytes, *, python: bool = False) -> tuple[str, str | None]:
    """Decode file bytes to text. Returns the text and, when the bytes were not clean
    UTF-8, a note saying how they were read (the caller may report it)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace").lstrip("\ufeff"), None
    if python:
        head = b"\n".join(data.split(b"\n", 2)[:2])
        match = _CODING_COOKIE.search(head)
        if match:
            encoding = match.group(1).decode("ascii", errors="replace")
            try:
                return data.decode(encoding, errors="replace"), None
            except LookupError:
                pass
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        note = f"not valid UTF-8 (byte {exc.start}); undecodable bytes were replaced"
        return data.decode("utf-8", errors="replace"), note


class SourceFile(Struct, dict=True):
    """One file of the scanned tree, with its path relative to the root. (A ``__dict__``
    holds the line tables, computed on first use.)"""

    path: str
    kind: str
    text: str
    decode_note: str | None = None

    @cached_property
    def lines(self) -> list[str]:
        """The file's lines without their line endings (``\\r\\n``, ``\\n`` or ``\\r``)."""
        return self.text.splitlines()

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        text = self.text
        index = 0
        length = len(text)
        while index < length:
            char = text[index]
            if char == "\n" or (char == "\r" and text[index + 1 : index + 2] != "\n"):
                starts.append(index + 1)
            index += 1
        return starts

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return ""

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset into the text."""
        line_index = bisect.bisect_right(self._line_starts, offset) - 1
        return line_index + 1, offset - self._line_starts[line_index] + 1

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column)."""
        starts = self._line_starts
        if line - 1 >= len(starts):
            return len(self.text)
        return min(starts[line - 1] + column - 1, len(self.text))

    def span(self, start: int, end: int) -> Span:
        """The span of the character offsets ``[start, end)``."""
        line, column = self.position(start)
        end_line, end_column = self.position(max(start, end))
        return Span(self.path, line, column, end_line, end_column)

    def line_span(self, line: int) -> Span:
        text = self.line_text(line)
        indent = len(text) - len(text.lstrip())
        return Span(self.path, line, indent + 1, line, len(text) + 1)
