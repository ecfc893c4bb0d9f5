"""Scanned files are untrusted: nothing in them may reach the terminal as a control
sequence. Control and format characters (ANSI escapes, carriage returns, bidi
overrides) are shown as visible escapes; tabs become spaces."""

from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    # Fast path: str.isprintable is False for every control, format, surrogate and
    # separator character, so text it accepts needs no escaping.
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char == "\t":
            out.append("    ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(f"\\u{ord(char):04x}" if ord(char) > 0xFF else f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def display_width(text: str, column: int) -> int:
    """Width on screen of ``text[: column - 1]`` after ``printable``."""
    return len(printable(text[: max(column - 1, 0)]))
