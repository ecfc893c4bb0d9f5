"""Scanned files are untrusted, and so are their names: any text taken from them (paths,
hosts, header values, source lines) is escaped for the context it is written into, by
the one function for that context:

- ``printable``: a terminal or CI log (text report, standard error, graph). Control and
  format characters (ANSI escapes, OSC sequences, carriage returns, bidi overrides, C1
  controls, lone surrogates of undecodable names) become visible ``\\xNN``/``\\uNNNN``
  escapes and tabs become spaces; GitHub's legacy ``##[command]`` marker, which the
  runner honours anywhere in a log line, loses its bracket. ``printable_line`` also
  defuses a ``::command::`` at the start of a line.
- ``workflow_data`` / ``workflow_property``: GitHub workflow commands.
- ``markdown_text``: the GitHub job summary (no raw HTML, links, images or table breaks).
- ``xml_text``: JUnit attributes and text (only characters XML 1.0 allows).
- ``json_text``: JSON documents (JSON report, SARIF, GitLab); the data is kept exactly,
  only written with ``\\u`` escapes.
- ``uri_path``: SARIF ``artifactLocation.uri``, a percent-encoded relative reference;
  ``sarif_message``: SARIF message text (no embedded links).
- ``diff_path`` / ``diff_line``: unified diff headers (git's C quoting) and lines."""

from __future__ import annotations

import re
import unicodedata

# Characters that move the cursor, change the terminal's state, reorder text or are
# not characters at all: control (C0, DEL, C1), format (bidi, zero-width), surrogate,
# line and paragraph separators.
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
# The legacy form of a GitHub workflow command; the runner looks for it anywhere.
_LEGACY_COMMAND = "##["
# A workflow command: ``::`` at the start of a line, after any leading whitespace.
_LEADING_COMMAND = re.compile(r"^(\s*):(?=:)")


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN


def printable(text: str) -> str:
    """``text`` for a terminal or a CI log, inside a line."""
    # Fast path: str.isprintable is False for every control, format, surrogate and
    # separator character, so text it accepts needs no escaping but the marker's.
    if not text.isprintable():
        out = []
        for char in text:
            if char == "\t":
                out.append("    ")
            elif _hidden(char):
                out.append(_escape_char(char))
            else:
                out.append(char)
        text = "".join(out)
    if _LEGACY_COMMAND in text:
        text = text.replace(_LEGACY_COMMAND, "##\\x5b")
    return text


def printable_line(text: str) -> str:
    """``text`` for a terminal or a CI log where it starts a line: a leading ``::``
    would be read as a workflow command by the GitHub runner."""
    return _LEADING_COMMAND.sub(r"\1\\x3a", printable(text), count=1)


def display_width(text: str, column: int) -> int:
    """Width on screen of ``text[: column - 1]`` after ``printable``."""
    return len(printable(text[: max(column - 1, 0)]))


# -- GitHub workflow commands ----------------------------------------------------------


def workflow_data(text: str) -> str:
    """The message of a workflow command. The runner unescapes ``%25``, ``%0D`` and
    ``%0A`` only: line breaks are kept as ``%0A``, every other control or format
    character is made visible, as in the terminal."""
    return "%0A".join(printable(line).replace("%", "%25") for line in text.split("\n"))


def workflow_property(text: str) -> str:
    """A property value (``file=``, ``title=``): ``:`` and ``,`` end it, so they are
    escaped too."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


# -- Markdown (the GitHub job summary) -------------------------------------------------

_MARKDOWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
# What GitHub's Markdown acts on inside a table cell: escapes, code spans, emphasis and
# strikethrough, link and image brackets, the cell separator, autolinks (``www.``,
# ``scheme:``), emoji shortcodes, issue references and mentions.
_MARKDOWN_ACTIVE = re.compile(r"[\\`*_~\[\]|:.#@!]")


def markdown_text(text: str) -> str:
    """Plain text in a GitHub-flavoured Markdown table cell: HTML's special characters
    become entities (no raw tags), the punctuation Markdown acts on is backslash-escaped
    (no links, images, emphasis, code spans, autolinks, emoji shortcodes or ``|`` ending
    the cell), and line breaks are visible escapes."""
    text = printable(text)
    text = _MARKDOWN_ACTIVE.sub(lambda m: "\\" + m.group(), text)
    return "".join(_MARKDOWN_ENTITIES.get(char, char) for char in text)


# -- XML (JUnit) -----------------------------------------------------------------------

_XML_ILLEGAL = re.compile("[\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text for an XML 1.0 attribute or element: the characters XML forbids (C0
    controls but tab and line breaks, lone surrogates, U+FFFE, U+FFFF) cannot be written
    at all, not even as character references, so they are shown escaped, as in the
    terminal."""
    return _XML_ILLEGAL.sub(lambda m: _escape_char(m.group()), printable(text))


# -- JSON ------------------------------------------------------------------------------

_NON_ASCII_OR_CONTROL = re.compile(r"[^\x20-\x7e\n]")


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not _hidden(char):
        return char
    return f"\\u{ord(char):04x}"


def json_text(document: object) -> str:
    """``document`` as indented JSON with non-ASCII text kept readable, except that
    control, format and surrogate characters are written as ``\\u`` escapes (json
    already escapes C0 but not C1, bidi overrides or lone surrogates, which cannot be
    encoded) and the legacy workflow-command marker ``##[`` loses its bracket
    (``##\\u005b``, the same string once parsed)."""
    import json

    text = json.dumps(document, indent=2, ensure_ascii=False)
    text = _NON_ASCII_OR_CONTROL.sub(_json_escape, text)
    return text.replace(_LEGACY_COMMAND, "##\\u005b") + "\n"


# -- SARIF -----------------------------------------------------------------------------


def sarif_message(text: str) -> str:
    """A SARIF ``message.text``: brackets are escaped (SARIF 2.1.0, 3.11.6) so scanned
    text cannot form an embedded link such as ``[click](1)``; the document itself is
    written by ``json_text``."""
    return text.replace("[", "\\[").replace("]", "\\]")


def uri_path(path: str) -> str:
    """A relative path as a URI reference: its UTF-8 bytes (an undecodable name's
    original bytes) percent-encoded but for unreserved characters and ``/``; so spaces,
    ``#``, ``?``, ``%``, ``:`` and non-ASCII characters cannot change what it means."""
    from urllib.parse import quote

    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


# -- Unified diffs ---------------------------------------------------------------------


def diff_path(path: str) -> str:
    """A name in a ``---``/``+++`` header, quoted as git quotes it (``git apply``
    reads this back) when it holds a double quote, a backslash, a control character or
    anything outside printable ASCII."""
    raw = path.encode("utf-8", "surrogateescape")
    if all(0x20 <= byte < 0x7F and byte not in (0x22, 0x5C) for byte in raw):
        return path
    named = {0x07: "a", 0x08: "b", 0x09: "t", 0x0A: "n", 0x0B: "v", 0x0C: "f", 0x0D: "r"}
    out = []
    for byte in raw:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif byte in named:
            out.append("\\" + named[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


_DIFF_KEPT = re.compile("([\t\x0c])")


def diff_line(line: str) -> str:
    """A line of a diff (its ``+``/``-``/space prefix included): tabs, form feeds
    (Python's page breaks) and the line's own ``\\r\\n`` or ``\\n`` ending are kept so
    the diff still applies; any other control or format character is shown escaped, as
    in the terminal, and so is the legacy workflow-command marker."""
    ending = "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""
    body = line[: len(line) - len(ending)]
    if body.isprintable() and _LEGACY_COMMAND not in body:
        return line
    kept = _DIFF_KEPT.split(body)
    return "".join(part if _DIFF_KEPT.fullmatch(part) else printable(part) for part in kept) + (
        ending
    )


# -- Mermaid (the stack picture) ---------------------------------------------------------

# Characters that mean nothing to Mermaid inside a quoted node label, nor to the HTML
# and Markdown it renders labels with; every other one is written as an entity code.
_MERMAID_PLAIN = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,/_-:=+@"
)


def mermaid_text(text: str) -> str:
    """Text inside a double-quoted Mermaid node label (``id["..."]``): control and
    format characters are made visible as in the terminal, then every character but
    letters, digits, space and ``.,/_-:=+@`` becomes Mermaid's entity code ``#NNN;``
    (decimal). So a quote cannot end the label, ``#`` cannot start an entity of the
    file's own, and ``<>&`` ``[]{}()|;`` ``%`` and backticks cannot form HTML, a
    Markdown string, a comment or a new statement such as ``click``."""
    return "".join(char if char in _MERMAID_PLAIN else f"#{ord(char)};" for char in printable(text))
