"""One analysis of the workspace with the editor's texts, and what it found, by file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from stackaudit.cache import Cache
from stackaudit.diagnostics import Diagnostic
from stackaudit.engine import RunResult, read_source, run
from stackaudit.lsp.positions import Lines
from stackaudit.lsp.settings import Settings
from stackaudit.source import SourceFile


class Analysis:
    """The findings of one run and the texts they were found in (the editor's for open
    documents, the disk's for the rest), so that ranges, fixes and hovers are computed
    against exactly what was analysed."""

    def __init__(
        self,
        root: Path,
        result: RunResult,
        overlay: Mapping[str, str],
        versions: Mapping[str, int],
        encoding: str,
    ) -> None:
        self.root = root
        self.result = result
        self.overlay = dict(overlay)
        self.versions = dict(versions)  # of the open documents, as analysed
        self.encoding = encoding
        self.by_path: dict[str, list[Diagnostic]] = {}
        for finding in result.diagnostics:
            self.by_path.setdefault(finding.span.path, []).append(finding)
        self._lines: dict[str, Lines] = {}

    def text(self, rel: str) -> str | None:
        if rel in self.overlay:
            return self.overlay[rel]
        source = self.result.sources.get(rel)
        if source is None:
            read = read_source(self.root / rel, rel, "")
            source = read if isinstance(read, SourceFile) else None
        return source.text if source is not None else None

    def lines(self, rel: str) -> Lines:
        if rel not in self._lines:
            self._lines[rel] = Lines(self.text(rel) or "", self.encoding)
        return self._lines[rel]


def analyse(
    root: Path,
    settings: Settings,
    overlay: Mapping[str, str],
    versions: Mapping[str, int],
    encoding: str,
) -> Analysis:
    """Run the whole check on ``root`` (every file informs the stack, so cross-file
    findings are found) with ``overlay``'s texts in place of the disk's. One process:
    a server started from an editor must not fork from its threads. The user's
    cache serves the files the editor does not hold, so an edit costs the extraction
    of the open files, not of the workspace."""
    result = run(
        [root],
        settings.config,
        settings.selection,
        jobs=1,
        root=root,
        overlay=overlay,
        cache=_cache(root, settings),
    )
    # The server answers from the findings; the whole stack would only hold memory
    # between edits.
    result.stack = None
    # What the persona and the minimum confidence hide from `check` is not shown in
    # the editor either: a finding the configuration tunes out must not come back there.
    result.diagnostics = [d for d in result.diagnostics if settings.config.shows(d)]
    return Analysis(root, result, overlay, versions, encoding)


def _cache(root: Path, settings: Settings) -> Cache | None:
    """The cache ``check`` would use for this root, or None where it is not safe (the
    same checks as ``check``: never inside the scanned tree, never another user's)."""
    from stackaudit.cache import Cache, default_directory, misplaced

    directory = default_directory(str(root))
    if misplaced(directory, str(root)):
        return None
    cache = Cache(directory, str(settings.config.path or ""), root=root)
    return cache if cache.enabled and not cache.problem else None
