"""Environment files, read as Compose reads ``env_file:`` (docs.docker.com/compose/
env-file/): ``#`` lines and blank lines ignored, ``NAME=value`` with an optional
``export``, single quotes literal, double quotes with backslash escapes, an unquoted
value ending at a ``#`` that follows a blank, and ``$`` expanded in unquoted and
double-quoted values (the value is then known only at run time). A bare ``NAME`` takes
its value from the environment Compose runs in: set, value unknown."""

from __future__ import annotations

import re

from stackaudit.extractors.base import Extraction
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.envfile import EnvFile
from stackaudit.source import SourceFile

_LINE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)[ \t]*(?:(?P<eq>=)[ \t]*)?",
    re.MULTILINE,
)
_DOUBLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$"}


def extract_env_file(source: SourceFile) -> Extraction:
    text = source.text
    variables: list[EnvVar] = []
    position = 0
    while position < len(text):
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        line = text[position:end]
        stripped = line.lstrip()
        match = _LINE.match(text, position) if stripped and not stripped.startswith("#") else None
        if match is None or match.end() > end + 1:
            position = end + 1
            continue
        name_span = source.span(match.start("name"), match.end("name"))
        if match.group("eq") is None:
            rest = text[match.end() : end].strip()
            if not rest or rest.startswith("#"):
                variables.append(EnvVar(match.group("name"), None, name_span, "env file"))
            position = end + 1
            continue
        value, value_end, symbolic = _value(text, match.end(), end)
        word = Word(value, source.span(match.end(), value_end), symbolic=symbolic)
        variables.append(EnvVar(match.group("name"), word, name_span, "env file"))
        line_end = text.find("\n", value_end)
        position = len(text) if line_end < 0 else line_end + 1
    return Extraction(facts=[EnvFile(source.path, tuple(variables))])


def _value(text: str, start: int, end: int) -> tuple[str, int, bool]:
    """The value starting at ``start`` (the line ends at ``end``): its text, where it
    ends, and whether it expands at run time."""
    quote = text[start : start + 1]
    if quote == "'":
        out, index = [], start + 1
        while index < len(text) and text[index] != "'":
            if text[index] == "\\" and text[index + 1 : index + 2] == "'":
                index += 1
            out.append(text[index])
            index += 1
        return "".join(out), min(index + 1, len(text)), False
    if quote == '"':
        out, index, symbolic = [], start + 1, False
        while index < len(text) and text[index] != '"':
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                out.append(_DOUBLE_ESCAPES.get(text[index + 1], "\\" + text[index + 1]))
                index += 2
                continue
            symbolic = symbolic or char == "$"
            out.append(char)
            index += 1
        return "".join(out), min(index + 1, len(text)), symbolic
    raw = text[start:end]
    comment = re.search(r"[ \t]#", raw)
    value = (raw[: comment.start()] if comment else raw).rstrip()
    return value, start + len(value), "$" in value
