"""nginx configuration, lexed with crossplane."""

from __future__ import annotations

import io

from crossplane.errors import NgxParserBaseException
from crossplane.lexer import _balance_braces, _lex_file_object

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.facts.common import ParseProblem
from stackaudit.source import SourceFile


def extract_nginx(source: SourceFile) -> Extraction:
    result = Extraction()
    try:
        # crossplane's public parse() opens files by path itself; its lexer takes the
        # text already read and decoded, which keeps every read inside discovery.
        for _ in _balance_braces(_lex_file_object(io.StringIO(source.text)), source.path):
            pass
    except NgxParserBaseException as exc:
        line = exc.lineno or 1
        result.problems.append(
            ParseProblem(Span(source.path, line, 1), f"invalid nginx config: {exc.strerror}")
        )
    return result
