"""Python sources: a byte prefilter first, so only files that can matter are parsed."""

from __future__ import annotations

import ast

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.facts.common import ParseProblem
from stackaudit.source import SourceFile

# Names a rule can trigger on. Framework names alone ("panel", "fastapi") would let most
# of a large tree through; these sink names let through only the files that matter.
TRIGGERS = (
    "allow_websocket_origin",
    "websocket_origin",
    "check_origin",
    "CORSMiddleware",
    "cookie_secret",
    "basic_auth",
    "oauth_",
    "serve(",
    "Server(",
    "BokehTornado",
    "Application(",
    "uvicorn",
    "debug=",
    "Access-Control-Allow-Origin",
    "websocket",
    "subprocess",
    "num_procs",
    "forwarded_allow_ips",
)


def can_matter(text: str) -> bool:
    return any(trigger in text for trigger in TRIGGERS)


def extract_python(source: SourceFile) -> Extraction:
    result = Extraction()
    if not can_matter(source.text):
        return result
    try:
        ast.parse(source.text, filename=source.path)
    except SyntaxError as exc:
        line = exc.lineno or 1
        column = exc.offset or 1
        result.problems.append(
            ParseProblem(Span(source.path, line, column), f"invalid Python: {exc.msg}")
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        result.problems.append(
            ParseProblem(Span(source.path, 1, 1), f"Python source could not be parsed: {exc}")
        )
    return result
