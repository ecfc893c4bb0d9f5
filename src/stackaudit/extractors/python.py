"""Python sources: a byte prefilter first, so only files that can matter are parsed.

A file passes when it names something a rule can trigger on (a sink: ``CORSMiddleware``,
``allow_websocket_origin``, ``check_origin``...) or looks like a settings module that
other modules import constants from. Everything else costs one read and a few substring
scans. Files that pass are parsed once with ``ast`` and walked once
(``python_analysis``); see there why ``ast`` rather than libcst."""

from __future__ import annotations

import ast
import contextlib
import gc
import re
import warnings
from collections.abc import Iterator, Sequence

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
    "BokehFastAPI",
    "add_application",
    "Application(",
    "uvicorn",
    "debug=",
    ".debug = ",
    "autoreload",
    "serve_traceback",
    "Access-Control-Allow-Origin",
    "access-control-allow-origin",
    "websocket",
    "WebSocket",
    "subprocess",
    "ServerProxy",
    "serverproxy",
    "os.system",
    "execv",
    "execl",
    "spawnv",
    "create_subprocess",
    "num_procs",
    "forwarded_allow_ips",
    "session_history",
)
# `.show(` is everywhere (matplotlib); only with Panel in the file can it start a server.
_PANEL_SHOW = ".show("
# Modules that other modules import settings from: parsed for their constants.
_SETTINGS_MODULE = re.compile(
    r"(^|[/_])(settings|config|conf|configuration|constants|consts|env)\.py$"
)


# The triggers a text must be searched for: one that holds another trigger
# (`allow_websocket_origin` holds `websocket`) can only match where that one does.
# Plain substring tests, one per trigger, cost less than half of one pass of a regex
# alternation of them all (CPython's `re` tries the branches at nearly every position;
# `in` skips ahead): on the site-packages of Panel, Bokeh and FastAPI with their
# dependencies, the pre-scan of 3,800 files (55 MB) took 2.1 s instead of 4.5 s.
_SEARCHED = tuple(
    trigger
    for trigger in TRIGGERS
    if not any(other != trigger and other in trigger for other in TRIGGERS)
)


def can_matter(text: str, path: str = "") -> bool:
    if any(trigger in text for trigger in _SEARCHED):
        return True
    if _PANEL_SHOW in text and "panel" in text:
        return True
    return bool(path) and _SETTINGS_MODULE.search(path) is not None


def module_name(path: str) -> str:
    """``src/app/settings.py`` → ``src.app.settings``; a package's ``__init__.py`` is
    the package."""
    stem = re.sub(r"\.(py|pyw|ipynb)$", "", path)
    stem = stem.removesuffix("/__init__")
    return stem.replace("/", ".").replace("-", "_")


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cycle collector paused while ``ast`` builds a tree: the tree holds no cycle
    (nodes do not point to their parents) and is freed by reference counting, but its
    hundreds of thousands of new objects set off collection after collection, a
    quarter of the parse time on large modules."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse(code: str, path: str) -> ast.Module | ParseProblem:
    """Parse, turning every failure into a problem located in ``code``."""
    try:
        # The compiler's SyntaxWarnings (`1if x`, `is` with a literal) are about the
        # scanned code: not ours to print, and not errors even under -W error.
        with warnings.catch_warnings(), _no_cycle_collection():
            warnings.simplefilter("ignore")
            return ast.parse(code, filename=path)
    except SyntaxError as exc:
        return ParseProblem(
            Span(path, exc.lineno or 1, max(exc.offset or 1, 1)), f"invalid Python: {exc.msg}"
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        return ParseProblem(Span(path, 1, 1), f"Python source could not be parsed: {exc}")


def analyse(
    source: SourceFile, code: str, tree: ast.Module, to_file: Sequence[int] | None = None
) -> list[object]:
    from stackaudit.extractors.python_analysis import Analyzer

    return Analyzer(source, code, module_name(source.path), to_file).run(tree)


def extract_python(source: SourceFile) -> Extraction:
    result = Extraction()
    if not can_matter(source.text, source.path):
        return result
    tree = parse(source.text, source.path)
    if isinstance(tree, ParseProblem):
        result.problems.append(tree)
        return result
    try:
        result.facts.extend(analyse(source, source.text, tree))
    except RecursionError:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), "nesting too deep to analyse"))
    return result
