"""A scanned file as text: decoding that never fails, and line/offset arithmetic."""

from __future__ import annotations

import bisect
import codecs
import re
from functools import cached_property

from msgspec import Struct

from stackaudit.diagnostics import Span

# Line breaks as Python, nginx, shells and the line tables below count them: not the
# form feeds, U+2028 and the like that str.splitlines also breaks on.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def decode(data: bytes, *, python: bool = False) -> tuple[str, str | None]:
    """Decode file bytes to text. Returns the text and, when the bytes were not clean
    UTF-8, a note saying how they were read (the caller may report it)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace").lstrip("\ufeff"), None
    if python:
        encoding = python_encoding(data)
        if encoding is not None:
            return data.decode(encoding, errors="replace"), None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        note = f"not valid UTF-8 (byte {exc.start}); undecodable bytes were replaced"
        return data.decode("utf-8", errors="replace"), note


def python_encoding(data: bytes) -> str | None:
    """The encoding Python itself reads ``data`` with, when a coding cookie changes it.

    Python honours a cookie on line 1, or on line 2 when line 1 is blank or a comment
    (PEP 263); elsewhere the text is a plain comment and the file is UTF-8. The
    interpreter's own rule is ``tokenize.detect_encoding``: used here, so that a file
    Python would execute as UTF-8 is never read as UTF-7 or UTF-16 (where its code
    could pass for a comment), nor the reverse."""
    head = data.split(b"\n", 2)[:2]
    if not any(b"coding" in line for line in head):
        return None  # the common case: no cookie, no tokenize import
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return None  # an unknown or invalid cookie: Python refuses to run the file
    return None if encoding in ("utf-8", "utf-8-sig") else encoding


def split_lines(text: str) -> list[str]:
    """``text`` cut at its line breaks (``\\r\\n``, ``\\n``, ``\\r``), as
    ``str.splitlines`` does but without its extra separators."""
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()  # a final line break ends the last line; it opens no new one
    return lines


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
        return split_lines(self.text)

    @cached_property
    def _line_starts(self) -> list[int]:
        # A line starts after each break; `\r\n` is one break (the regex prefers it).
        return [0, *(match.end() for match in _LINE_BREAK.finditer(self.text))]

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return ""

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset into the text."""
        starts = self._line_starts
        line_index = bisect.bisect_right(starts, offset) - 1
        return line_index + 1, offset - starts[line_index] + 1

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column)."""
        starts = self._line_starts
        if line - 1 >= len(starts):
            return len(self.text)
        return min(starts[line - 1] + column - 1, len(self.text))

    def span(self, start: int, end: int) -> Span:
        """The span of the character offsets ``[start, end)``."""
        starts = self._line_starts
        line = bisect.bisect_right(starts, start)
        end = max(start, end)
        end_line = bisect.bisect_right(starts, end, max(line - 1, 0))
        return Span(
            self.path, line, start - starts[line - 1] + 1, end_line, end - starts[end_line - 1] + 1
        )

    def origins_of(self, span: Span, text: str) -> list[int]:
        """The offset of each character of ``text`` written at ``span``: exact when it
        is written there as is, else the span's start for each."""
        base = self.offset(span.line, span.column)
        if self.text[base : base + len(text)] == text:
            return list(range(base, base + len(text)))
        return [base] * len(text)

    def line_span(self, line: int) -> Span:
        text = self.line_text(line)
        indent = len(text) - len(text.lstrip())
        return Span(self.path, line, indent + 1, line, len(text) + 1)
