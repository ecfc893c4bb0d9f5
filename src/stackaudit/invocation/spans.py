"""Where a shell word was written: its span in the file, and the word as a fact."""

from __future__ import annotations

from stackaudit.diagnostics import Span
from stackaudit.facts.common import Word
from stackaudit.invocation.shellwords import Token
from stackaudit.source import SourceFile


def token_span(source: SourceFile, token: Token, start: int = 0) -> Span:
    """The span of ``token.text[start:]`` in the file."""
    origins = token.origins[start:]
    if origins:
        return source.span(origins[0], origins[-1] + 1)
    return source.span(token.start, token.end)


def to_word(source: SourceFile, token: Token, start: int = 0) -> Word:
    return Word(
        token.text[start:],
        token_span(source, token, start),
        token.symbolic,
        default_used=token.default_used,
    )
