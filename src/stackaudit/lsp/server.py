"""The Language Server: pygls wiring of documents, analysis, diagnostics, fixes, hovers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from stackaudit import __version__
from stackaudit.config import CONFIG_FILES, ConfigError
from stackaudit.lsp.actions import code_actions
from stackaudit.lsp.analysis import Analysis, analyse
from stackaudit.lsp.convert import to_lsp, uri_for
from stackaudit.lsp.positions import touches
from stackaudit.lsp.settings import Settings, load_settings

# Re-analysis waits for this long a pause in typing.
DEBOUNCE_SECONDS = 0.3
# How long a code action or hover waits for an analysis of the current text.
SETTLE_SECONDS = 5.0


class StackauditServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "stackaudit", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full
        )
        self.root: Path | None = None
        self.settings: Settings | None = None
        self.analysis: Analysis | None = None
        self.published: set[str] = set()
        self._pending: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    # -- the workspace ---------------------------------------------------------------

    def set_root(self, params: types.InitializeParams) -> None:
        uri = params.root_uri
        if uri is None and params.workspace_folders:
            uri = params.workspace_folders[0].uri
        path = to_fs_path(uri) if uri else params.root_path
        self.root = Path(path).resolve() if path else None

    def load_settings(self) -> None:
        """Read the configuration; a bad one is shown, and nothing is reported under
        settings the user did not write."""
        self.settings = None
        if self.root is None:
            return
        try:
            self.settings = load_settings(self.root)
        except ConfigError as exc:
            self.window_show_message(
                types.ShowMessageParams(types.MessageType.Error, f"stackaudit: {exc}")
            )

    def relative(self, uri: str) -> str | None:
        """The path of a document relative to the root, if it lies inside it."""
        path = to_fs_path(uri)
        if self.root is None or path is None:
            return None
        # Normalised first: `root/../x` is lexically "relative to" the root.
        for candidate in (Path(os.path.normpath(path)), Path(path).resolve()):
            if candidate.is_relative_to(self.root):
                return candidate.relative_to(self.root).as_posix()
        return None

    def overlay(self) -> tuple[dict[str, str], dict[str, int]]:
        texts: dict[str, str] = {}
        versions: dict[str, int] = {}
        for uri, document in self.workspace.text_documents.items():
            rel = self.relative(uri)
            if rel is not None:
                texts[rel] = document.source
                versions[rel] = document.version or 0
        return texts, versions

    # -- analysis ------------------------------------------------------------------

    def schedule(self, delay: float = DEBOUNCE_SECONDS) -> None:
        """Analyse once the edits pause for ``delay``: each change restarts the wait."""
        if self._pending is not None:
            self._pending.cancel()
        loop = asyncio.get_running_loop()
        self._pending = loop.call_later(delay, lambda: loop.create_task(self.refresh()))

    async def refresh(self) -> None:
        async with self._lock:
            self._pending = None
            if self.root is None or self.settings is None:
                self.clear()
                return
            texts, versions = self.overlay()
            encoding = str(self.workspace.position_encoding or "utf-16")
            root, settings = self.root, self.settings
            # Off the event loop, so requests are answered while the tree is checked.
            try:
                self.analysis = await asyncio.to_thread(
                    analyse, root, settings, texts, versions, encoding
                )
            except ConfigError as exc:
                # A configuration nested in the workspace, read by the walk.
                self.window_show_message(
                    types.ShowMessageParams(types.MessageType.Error, f"stackaudit: {exc}")
                )
                self.clear()
                return
            self.publish(self.analysis)

    def publish(self, analysis: Analysis) -> None:
        uris = set()
        for rel, findings in analysis.by_path.items():
            uri = uri_for(analysis.root, rel)
            uris.add(uri)
            shown = [to_lsp(f, analysis.root, analysis.lines) for f in findings]
            version = analysis.versions.get(rel)
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri, shown, version)
            )
        for uri in self.published - uris:
            # A file with no findings left is cleared with an empty list.
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
        self.published = uris
        for error in analysis.result.errors:
            self.window_log_message(
                types.LogMessageParams(types.MessageType.Error, f"stackaudit: {error}")
            )

    def clear(self) -> None:
        self.analysis = None
        for uri in self.published:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
        self.published = set()

    async def current(self, uri: str) -> tuple[Analysis, str] | None:
        """The analysis and the document's path, when the analysis saw the document as
        it is now (fixes and ranges computed on older text would land wrong). An
        analysis on its way is waited for, a little."""
        for _ in range(int(SETTLE_SECONDS / 0.02)):
            if self._pending is None and not self._lock.locked():
                break
            await asyncio.sleep(0.02)
        rel = self.relative(uri)
        analysis = self.analysis
        if rel is None or analysis is None:
            return None
        document = self.workspace.text_documents.get(uri)
        if document is not None and analysis.versions.get(rel) != (document.version or 0):
            return None
        return analysis, rel


server = StackauditServer()


@server.feature(types.INITIALIZE)
def initialize(ls: StackauditServer, params: types.InitializeParams) -> None:
    ls.set_root(params)


@server.feature(types.INITIALIZED)
def initialized(ls: StackauditServer, params: types.InitializedParams) -> None:
    ls.load_settings()
    _watch_files(ls)
    ls.schedule(0)


def _watch_files(ls: StackauditServer) -> None:
    """Ask the client to say when files change on the disk (a `git checkout`, a file
    edited in another program): a finding may rest on a file no editor holds."""
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if not (watched and watched.dynamic_registration):
        return
    ls.client_register_capability(
        types.RegistrationParams(
            [
                types.Registration(
                    "stackaudit-watched-files",
                    types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    types.DidChangeWatchedFilesRegistrationOptions(
                        [types.FileSystemWatcher(glob_pattern="**/*")]
                    ),
                )
            ]
        )
    )


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(
    ls: StackauditServer, params: types.DidChangeWatchedFilesParams
) -> None:
    if any(change.uri.rsplit("/", 1)[-1] in CONFIG_FILES for change in params.changes):
        ls.load_settings()
    ls.schedule()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: StackauditServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule()


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: StackauditServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule()


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: StackauditServer, params: types.DidSaveTextDocumentParams) -> None:
    if params.text_document.uri.rsplit("/", 1)[-1] in CONFIG_FILES:
        ls.load_settings()
    ls.schedule()


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: StackauditServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.schedule()  # the disk's text is what counts again


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
)
async def code_action(
    ls: StackauditServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    found = await ls.current(params.text_document.uri)
    if found is None:
        return []
    analysis, rel = found
    asked = {
        str(d.code)
        for d in params.context.diagnostics
        if d.source == "stackaudit" and d.code is not None
    }
    return code_actions(analysis, rel, params.range, asked)


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(ls: StackauditServer, params: types.HoverParams) -> types.Hover | None:
    found = await ls.current(params.text_document.uri)
    if found is None:
        return None
    analysis, rel = found
    from stackaudit.docs import rule_markdown
    from stackaudit.rules import rule_by_code

    at = types.Range(params.position, params.position)
    pages: list[str] = []
    for finding in analysis.by_path.get(rel, []):
        rule = rule_by_code(finding.code)
        shown = analysis.lines(rel).range(finding.span, widen_empty=True)
        if rule is not None and touches(shown, at):
            page = rule_markdown(rule)
            if page not in pages:
                pages.append(page)
    if not pages:
        return None
    content = types.MarkupContent(types.MarkupKind.Markdown, "\n\n---\n\n".join(pages))
    return types.Hover(content)


def serve() -> int:
    """Talk LSP over standard input and output until the client says exit: exit code
    0 when it asked for a shutdown first, 1 otherwise (LSP's ``exit``)."""
    server.start_io()
    return 0 if getattr(server.protocol, "_shutdown", False) else 1
