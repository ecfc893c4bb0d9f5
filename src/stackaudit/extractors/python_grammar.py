"""Python that the interpreter running stackaudit cannot parse but a newer one can.

``ast`` parses with the running interpreter's grammar, so on Python 3.11 a module written
for 3.12 (a ``type`` statement, ``def f[T]()``, an f-string reusing its own quotes) is a
SyntaxError although it is valid where it runs. Another interpreter is never started.
Instead the constructs of newer grammars are found with a token-level check, masked
with code of the same lines that the running grammar accepts, and the masked text is
parsed again: when it parses and the original error lay on a masked construct, the file
is valid under the newer grammar and is reported as not analysed (SA003), not as broken
(SA001). When the masked text still fails, its error is the file's real one.

Checked against the grammar (docs.python.org/3/reference): PEP 695 (3.12) ``type``
statements and type parameter lists of ``def``/``class``; PEP 701 (3.12) f-strings whose
replacement fields hold the string's own quote, a backslash, a comment or a line break;
PEP 750 (3.14) template strings ``t"..."``. Each is looked for only when the running
interpreter is older than the grammar that introduced it."""

from __future__ import annotations

import ast
import bisect
import io
import sys
import tokenize
import warnings

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import ParseProblem

# Nested f-strings deeper than this are not followed (CPython itself stops near 150).
_MAX_NESTING = 32
_PREFIX_LETTERS = frozenset("rRbBuUfFtT")


class Construct(Struct, frozen=True):
    """One construct of a newer grammar: what it is and the lines it spans."""

    what: str
    version: str
    first_line: int
    last_line: int


class NewerSyntax(Struct, frozen=True):
    """A module that parses under a newer grammar than the running interpreter's."""

    construct: Construct

    @property
    def reason(self) -> str:
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        line = self.construct.first_line
        return (
            f"uses Python {self.construct.version} syntax ({self.construct.what}, line "
            f"{line}) that the Python running stackaudit ({running}) cannot parse; run "
            f"stackaudit with Python {self.construct.version} or newer to analyse it"
        )


def newer_grammar(code: str, path: str, error_line: int) -> NewerSyntax | ParseProblem | None:
    """Why ``code``, which failed to parse at ``error_line``, is not simply broken:
    ``NewerSyntax`` when it parses once the newer constructs are masked and the error
    lay on one of them; the masked text's own error (a ``ParseProblem``) when the
    error lay on one but the file is broken elsewhere too; None when no newer
    construct explains the error (the original error stands)."""
    masker = _Masker(code)
    try:
        masker.mask_strings()
        masker.mask_type_parameters()
    except _GiveUp:
        return None
    culprit = next(
        (c for c in masker.constructs if c.first_line <= error_line <= c.last_line), None
    )
    if culprit is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(masker.text(), filename=path)
    except SyntaxError as exc:
        return ParseProblem(
            Span(path, exc.lineno or 1, max(exc.offset or 1, 1)), f"invalid Python: {exc.msg}"
        )
    except (ValueError, RecursionError, MemoryError):
        return None
    return NewerSyntax(culprit)


class _GiveUp(Exception):
    """The text cannot be followed (an unterminated string, nesting too deep)."""


class _Masker:
    def __init__(self, code: str) -> None:
        self.code = code
        self.chars = list(code)
        self.constructs: list[Construct] = []
        self._line_starts = [0] + [i + 1 for i, c in enumerate(code) if c == "\n"]
        self.fstrings = sys.version_info < (3, 12)
        self.tstrings = sys.version_info < (3, 14)
        self.type_params = sys.version_info < (3, 12)

    def text(self) -> str:
        return "".join(self.chars)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset)

    # -- strings (PEP 701, PEP 750) ------------------------------------------------------

    def mask_strings(self) -> None:
        """Walk the code as the 3.12 lexer sees strings and comments; mask each outer
        f-string that only the 3.12 lexer reads, and each template string."""
        if not (self.fstrings or self.tstrings):
            return
        code, i, n = self.code, 0, len(self.code)
        while i < n:
            char = code[i]
            if char == "#":
                end = code.find("\n", i)
                i = n if end < 0 else end
            elif char in "'\"":
                start = i - len(self._prefix(i))
                prefix = code[start:i].lower()
                end, newer = self._string_end(i, prefix, 0)
                if "t" in prefix and self.tstrings:
                    self._mask(start, end, "a template string, PEP 750", "3.14")
                elif "f" in prefix and newer and self.fstrings:
                    self._mask(start, end, "an f-string, PEP 701", "3.12")
                i = end
            else:
                i += 1

    def _prefix(self, quote: int) -> str:
        """The string prefix letters right before the quote at ``quote`` (``rb``,
        ``f``...), or "" when those letters end a longer name."""
        start = quote
        while start > 0 and quote - start < 2 and self.code[start - 1] in _PREFIX_LETTERS:
            start -= 1
        if start > 0 and (self.code[start - 1].isalnum() or self.code[start - 1] == "_"):
            return ""
        return self.code[start:quote]

    def _string_end(self, i: int, prefix: str, depth: int) -> tuple[int, bool]:
        """The offset after the string whose opening quote is at ``i``, and whether a
        replacement field in it needs the 3.12 lexer."""
        if depth > _MAX_NESTING:
            raise _GiveUp
        code, n = self.code, len(self.code)
        quote = code[i]
        closing = quote * 3 if code.startswith(quote * 3, i) else quote
        triple = len(closing) == 3
        formatted = "f" in prefix or "t" in prefix
        raw = "r" in prefix
        j, newer = i + len(closing), False
        while j < n:
            char = code[j]
            if char == "\\":
                j += self._escape_width(j, raw, formatted)
            elif code.startswith(closing, j):
                return j + len(closing), newer
            elif char == "\n" and not triple:
                raise _GiveUp
            elif formatted and char == "{":
                if code.startswith("{{", j):
                    j += 2
                    continue
                j, inner = self._field_end(j + 1, closing, depth + 1)
                newer = newer or inner
            else:
                j += 1
        raise _GiveUp

    def _escape_width(self, j: int, raw: bool, formatted: bool) -> int:
        code = self.code
        following = code[j + 1 : j + 2]
        if raw:
            # A raw string keeps the backslash but it still hides a quote or backslash.
            return 2 if following in ("'", '"', "\\") else 1
        if following == "N" and code.startswith("{", j + 2):
            close = code.find("}", j + 3)
            return (close - j + 1) if close > 0 else 2
        if formatted and following == "{":
            return 1  # `\{` is no escape: the brace opens a field
        return 2

    def _field_end(self, j: int, closing: str, depth: int) -> tuple[int, bool]:
        """The offset after the ``}`` ending the replacement field that starts at
        ``j``, and whether reading it needs the 3.12 lexer."""
        code, n = self.code, len(self.code)
        brackets, newer = 0, False
        while j < n:
            char = code[j]
            if char in "'\"":
                prefix = self._prefix(j).lower()
                # The outer string's own quote (3.11 ends the string there), or a
                # backslash in a string of the expression: both need 3.12.
                start = j
                j, inner = self._string_end(j, prefix, depth)
                newer = newer or inner or code.startswith(closing, start)
                newer = newer or "\\" in code[start:j]
                continue
            if char == "\\" or char == "#" or (char == "\n" and len(closing) == 1):
                newer = True
                if char == "#":
                    end = code.find("\n", j)
                    j = n if end < 0 else end
                    continue
            elif char in "([{":
                brackets += 1
            elif char in ")]":
                brackets -= 1
            elif char == "}":
                if brackets == 0:
                    return j + 1, newer
                brackets -= 1
            elif char == ":" and brackets == 0:
                j, inner = self._format_spec_end(j + 1, closing, depth)
                return j, newer or inner
            j += 1
        raise _GiveUp

    def _format_spec_end(self, j: int, closing: str, depth: int) -> tuple[int, bool]:
        """After ``:`` in a field: literal text with nested fields, up to the ``}``."""
        code, n = self.code, len(self.code)
        newer = False
        while j < n:
            char = code[j]
            if char == "}":
                return j + 1, newer
            if char == "{":
                j, inner = self._field_end(j + 1, closing, depth + 1)
                newer = newer or inner
                continue
            if code.startswith(closing, j) or (char == "\n" and len(closing) == 1):
                raise _GiveUp
            j += 1
        raise _GiveUp

    # -- type parameters (PEP 695) -------------------------------------------------------

    def mask_type_parameters(self) -> None:
        """``type X[T] = ...`` statements and ``def f[T]``/``class C[T]`` lists, found
        on the tokens of the string-masked text."""
        if not self.type_params:
            return
        tokens: list[tokenize.TokenInfo] = []
        try:
            for token in tokenize.generate_tokens(io.StringIO(self.text()).readline):
                if token.type not in (tokenize.NL, tokenize.COMMENT):
                    tokens.append(token)
        except (tokenize.TokenError, SyntaxError):
            pass  # broken further on: the constructs before still count
        starts = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        for index, token in enumerate(tokens[:-2]):
            after, then = tokens[index + 1], tokens[index + 2]
            if token.type != tokenize.NAME or after.type != tokenize.NAME:
                continue
            previous = tokens[index - 1] if index else None
            at_start = previous is None or previous.type in starts or previous.string == ";"
            if token.string == "type" and at_start and then.string in ("=", "["):
                self._mask_type_alias(tokens, index)
            elif token.string in ("def", "class") and then.string == "[":
                last = self._mask_brackets(tokens, index + 2)
                what = "a generic function" if token.string == "def" else "a generic class"
                self._record(token, last, f"{what}, PEP 695")

    def _mask_type_alias(self, tokens: list[tokenize.TokenInfo], index: int) -> None:
        keyword = tokens[index]
        # `type X = v` reads as the chained assignment `_ = X = v` (same length).
        offset = self._offset(keyword.start)
        self.chars[offset : offset + 4] = list("_ = ")
        last = keyword.end[0]
        if tokens[index + 2].string == "[":
            last = self._mask_brackets(tokens, index + 2)
        self._record(keyword, last, "a `type` statement, PEP 695")

    def _mask_brackets(self, tokens: list[tokenize.TokenInfo], opening: int) -> int:
        """Blank the bracketed type parameters starting at token ``opening``; a line
        break inside becomes a backslash continuation. Returns the last line."""
        depth = 0
        for token in tokens[opening:]:
            if token.string in ("[", "(", "{"):
                depth += 1
            elif token.string in ("]", ")", "}"):
                depth -= 1
                if depth == 0:
                    self._blank(self._offset(tokens[opening].start), self._offset(token.end))
                    return token.end[0]
        raise _GiveUp

    # -- masking -------------------------------------------------------------------------

    def _offset(self, position: tuple[int, int]) -> int:
        line, column = position
        return self._line_starts[line - 1] + column

    def _blank(self, start: int, end: int) -> None:
        for k in range(start, end):
            if self.chars[k] == "\n":
                before = k - 2 if self.chars[k - 1] == "\r" else k - 1
                self.chars[before] = "\\"
            elif self.chars[k] != "\r":
                self.chars[k] = " "

    def _mask(self, start: int, end: int, what: str, version: str) -> None:
        """An expression the running grammar accepts in place of a string: ``""`` on
        one line, ``(""...)`` across lines (parentheses carry the line breaks)."""
        for k in range(start, end):
            if self.chars[k] not in "\r\n":
                self.chars[k] = " "
        if "\n" in self.code[start:end]:
            self.chars[start : start + 3] = list('(""')
            self.chars[end - 1] = ")"
        else:
            self.chars[start : start + 2] = list('""')
        first, last = self.line_of(start), self.line_of(end - 1)
        self.constructs.append(Construct(what, version, first, last))

    def _record(self, token: tokenize.TokenInfo, last_line: int, what: str) -> None:
        self.constructs.append(Construct(what, "3.12", token.start[0], last_line))
