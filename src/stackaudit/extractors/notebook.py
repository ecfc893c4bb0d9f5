"""Jupyter notebooks: the code cells are analysed as one Python module (names flow from
cell to cell, as in a kernel), and every position is mapped back to the place in the
``.ipynb`` JSON where that character of the cell's source is written, so findings,
SARIF regions and suppressions land on the notebook file itself.

IPython syntax is neutralised, not parsed: a cell starting with a cell magic (``%%``) is
skipped; a line magic, shell escape (``!``, ``x = !cmd``) or help (``obj?``) is replaced
by ``pass`` at the same indentation. A cell that is not Python even then is reported
(SA001, with its cell and line) and left out."""

from __future__ import annotations

import json
import re
from typing import Any

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.python import analyse, can_matter, parse
from stackaudit.extractors.python_grammar import NewerSyntax, newer_grammar
from stackaudit.facts.common import ParseProblem
from stackaudit.source import SourceFile

_BLANK = re.compile(r"[ \t\r\n]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_LITERAL = re.compile(r"[^\s,\]}]+")
# Line magics, shell escapes, help, and `files = !ls` / `t = %timeit f()` assignments.
_IPYTHON_LINE = re.compile(r"^\s*[%!?]|^\s*[\w.]+\?\??\s*$|^\s*[\w.]+(\s*,\s*[\w.]+)*\s*=\s*[!%]")
# IPython's split of a line (IPython/core/splitinput.py `line_split`) for a line with
# no escape character: the first word (`ifun`) and the rest.
_MAGIC_CALL = re.compile(r"\s*([\w.*]+)(.*)")
# The line magics of an ipykernel 7.4.0 / IPython 9.18.1 kernel on POSIX (its
# `magics_manager.magics["line"]`, the shell aliases `ls`, `cat`, `mkdir`... included),
# which automagic runs without a `%`. None is a builtin or keyword, so none is shadowed
# by default (IPython/core/prefilter.py `is_shadowed`).
# fmt: off
AUTOMAGIC_NAMES = frozenset((
    "alias", "alias_magic", "autoawait", "autocall", "automagic", "autosave", "bookmark",
    "cat", "cd", "clear", "code_wrap", "colors", "conda", "config", "connect_info", "cp",
    "debug", "dhist", "dirs", "doctest_mode", "ed", "edit", "env", "gui", "hist", "history",
    "killbgscripts", "ldir", "less", "lf", "lk", "ll", "load", "load_ext", "loadpy",
    "logoff", "logon", "logstart", "logstate", "logstop", "ls", "lsmagic", "lx", "macro",
    "magic", "mamba", "man", "matplotlib", "micromamba", "mkdir", "more", "mv", "notebook",
    "page", "pastebin", "pdb", "pdef", "pdoc", "pfile", "pinfo", "pinfo2", "pip", "popd",
    "pprint", "precision", "prun", "psearch", "psource", "pushd", "pwd", "pycat", "pylab",
    "qtconsole", "quickref", "recall", "rehashx", "reload_ext", "rep", "rerun", "reset",
    "reset_selective", "rm", "rmdir", "run", "save", "sc", "set_env", "subshell", "sx",
    "system", "tb", "time", "timeit", "unalias", "unload_ext", "uv", "who", "who_ls",
    "whos", "xdel", "xmode",
))
# fmt: on


def extract_notebook(source: SourceFile) -> Extraction:
    result = Extraction()
    if not can_matter(source.text, source.path):
        return result
    try:
        data = json.loads(source.text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 1)
        column = getattr(exc, "colno", 1)
        message = getattr(exc, "msg", str(exc))
        result.problems.append(
            ParseProblem(Span(source.path, line, column), f"invalid notebook JSON: {message}")
        )
        return result
    except RecursionError:
        result.problems.append(
            ParseProblem(Span(source.path, 1, 1), "notebook JSON nested too deeply")
        )
        return result
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return result
    try:
        located = _source_strings(source.text)
    except (IndexError, ValueError, RecursionError):
        located = {}
    code: list[str] = []
    to_file: list[int] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        pieces = located.get(index)
        if not pieces:
            continue
        text, offsets = _decode_pieces(source.text, pieces)
        if text.lstrip().startswith("%%"):
            continue
        repaired = _repair(text, source, offsets, index, result)
        if repaired is None:
            continue
        if code:
            code.append("\n")
            to_file.append(to_file[-1])
        code.append(repaired)
        to_file.extend(offsets)
    joined = "".join(code)
    if not joined.strip():
        return result
    tree = parse(joined, source.path)
    if isinstance(tree, ParseProblem):  # cells parse alone but not together: rare
        return result
    try:
        result.facts.extend(analyse(source, joined, tree, to_file))
    except RecursionError:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), "nesting too deep"))
    return result


def _repair(
    text: str, source: SourceFile, offsets: list[int], cell: int, result: Extraction
) -> str | None:
    """The cell with IPython-only lines replaced by ``pass`` (same length, so offsets
    still match), or None (and a problem) when it is not Python even then."""
    lines = text.splitlines(keepends=True)
    candidate = "".join(_neutralise(ln) if _IPYTHON_LINE.search(ln) else ln for ln in lines)
    tree = parse(candidate, source.path)
    if not isinstance(tree, ParseProblem):
        return candidate
    if _is_automagic_cell(lines):
        return "".join(_neutralise(ln) if ln.strip() else ln for ln in lines)
    explained = newer_grammar(candidate, source.path, tree.span.line)
    if isinstance(explained, NewerSyntax):
        # Valid where it runs: the cell is left out, and the file reported as not
        # (wholly) analysed rather than broken.
        result.skipped = result.skipped or f"cell {cell + 1} {explained.reason}"
        return None
    tree = explained or tree
    number = tree.span.line
    start = sum(len(line) for line in lines[: max(number - 1, 0)])
    where = offsets[min(start, len(offsets) - 1)] if offsets else 0
    line, column = source.position(where)
    result.problems.append(
        ParseProblem(
            Span(source.path, line, column), f"cell {cell + 1}, line {number}: {tree.message}"
        )
    )
    return None


def _is_automagic_cell(lines: list[str]) -> bool:
    """A cell IPython runs as a line magic written without its ``%``: with automagic
    on (the default) ``InteractiveShell.transform_cell`` passes a cell that is one line
    once leading blank lines are dropped (a trailing blank line counts) to the
    prefilter, whose ``AutoMagicChecker`` runs it as the magic its first word names,
    unless the rest of the line starts with ``=`` or ``,`` (an assignment:
    ``AssignmentChecker``). A cell of several lines gets no such treatment: there
    ``cd dir`` is a SyntaxError in IPython too. (A name the session has bound shadows
    the magic; that state is not known here.)"""
    start = 0
    while start < len(lines) and lines[start].isspace():
        start += 1
    if len(lines) - start != 1:
        return False
    match = _MAGIC_CALL.match(lines[start])
    if match is None or match.group(1) not in AUTOMAGIC_NAMES:
        return False
    return not match.group(2).lstrip().startswith(("=", ","))


def _neutralise(line: str) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    indent = body[: len(body) - len(body.lstrip())]
    replacement = (indent + "pass").ljust(len(body))
    if len(replacement) > len(body):
        # Too short for "pass": an empty line keeps the length.
        replacement = " " * len(body)
    return replacement + ending


def _decode_pieces(text: str, pieces: list[tuple[int, int]]) -> tuple[str, list[int]]:
    """The cell source (its JSON strings joined) and, for each character, the offset in
    the notebook text where it is written."""
    chars: list[str] = []
    offsets: list[int] = []
    for start, end in pieces:
        position = start
        while position < end:
            char = text[position]
            if char != "\\":
                chars.append(char)
                offsets.append(position)
                position += 1
                continue
            escape = text[position + 1]
            if escape == "u":
                code = int(text[position + 2 : position + 6], 16)
                width = 6
                if 0xD800 <= code < 0xDC00 and text.startswith("\\u", position + 6):
                    low = int(text[position + 8 : position + 12], 16)
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    width = 12
                chars.append(chr(code))
                offsets.append(position)
                position += width
                continue
            chars.append(
                {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(escape, escape)
            )
            offsets.append(position)
            position += 2
    return "".join(chars), offsets


def _source_strings(text: str) -> dict[int, list[tuple[int, int]]]:
    """Where the strings of ``cells[i].source`` are written: ``{i: [(start, end)]}``
    (content offsets, quotes excluded). The text is known to be valid JSON."""
    found: dict[int, list[tuple[int, int]]] = {}
    # Frames: [kind, key, index, expecting_key]
    stack: list[list[Any]] = []
    position = 0
    length = len(text)
    while True:
        position = _BLANK.match(text, position).end()  # type: ignore[union-attr]
        if position >= length:
            break
        char = text[position]
        if char == '"':
            match = _STRING.match(text, position)
            if match is None:
                raise ValueError("unterminated string")
            end = match.end()
            top = stack[-1] if stack else None
            if top is not None and top[0] == "object" and top[3]:
                if len(stack) <= 3:
                    top[1] = json.loads(match.group())
                top[3] = False
            elif _in_cell_source(stack):
                found.setdefault(stack[1][2], []).append((position + 1, end - 1))
            position = end
        elif char in "{[":
            stack.append(["object" if char == "{" else "array", None, 0, char == "{"])
            position += 1
        elif char in "}]":
            stack.pop()
            position += 1
        elif char == ",":
            top = stack[-1]
            if top[0] == "object":
                top[3] = True
            else:
                top[2] += 1
            position += 1
        elif char == ":":
            position += 1
        else:
            match = _LITERAL.match(text, position)
            position = match.end() if match else position + 1
    return found


def _in_cell_source(stack: list[list[Any]]) -> bool:
    if len(stack) not in (3, 4):
        return False
    root, cells, cell = stack[0], stack[1], stack[2]
    return (
        root[0] == "object"
        and root[1] == "cells"
        and cells[0] == "array"
        and cell[0] == "object"
        and cell[1] == "source"
        and (len(stack) == 3 or stack[3][0] == "array")
    )


def cell_position(source: SourceFile, line: int, column: int) -> tuple[int, int] | None:
    """The (cell number, line in the cell), both 1-based, of a position in the notebook
    file, or None when it lies outside every cell's source."""
    try:
        strings = _source_strings(source.text)
    except (ValueError, IndexError):
        return None
    offset = source.offset(line, column)
    for index, pieces in strings.items():
        if not any(start <= offset < end for start, end in pieces):
            continue
        text, offsets = _decode_pieces(source.text, pieces)
        before = sum(1 for o in offsets if o < offset)
        return index + 1, text[:before].count("\n") + 1
    return None
