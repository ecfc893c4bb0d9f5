"""``stackaudit server``, driven by a real LSP client over stdio (pygls's client, a
subprocess): initialize → didOpen → diagnostics → codeAction → didChange → hover →
shutdown/exit."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

from stackaudit.diagnostics import Span
from stackaudit.lsp.positions import Lines, characters, units

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
TIMEOUT = 10.0


def uri(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()


class Session:
    """A client talking to one server process, keeping what the server published."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = LanguageClient("stackaudit-tests", "1")
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.messages: list[types.ShowMessageParams] = []
        self.changed = asyncio.Event()
        self.versions: dict[str, int] = {}
        self.registrations: list[types.Registration] = []

        def on_register(params: types.RegistrationParams) -> None:
            self.registrations += params.registrations
            self.changed.set()

        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published[params.uri] = list(params.diagnostics)
            self.changed.set()

        def on_message(params: types.ShowMessageParams) -> None:
            self.messages.append(params)
            self.changed.set()

        # pygls's decorator is untyped: applied as a call.
        self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(on_diagnostics)
        self.client.feature(types.WINDOW_SHOW_MESSAGE)(on_message)
        self.client.feature(types.CLIENT_REGISTER_CAPABILITY)(on_register)

    async def wait(self, done: Callable[[], bool]) -> None:
        async def until() -> None:
            while not done():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), TIMEOUT)

    def codes(self, rel: str) -> set[tuple[int, str]]:
        return {
            (d.range.start.line, str(d.code)) for d in self.published.get(uri(self.root / rel), [])
        }

    def open(self, rel: str, language: str) -> None:
        self.versions[rel] = 1
        text = (self.root / rel).read_text("utf-8")
        item = types.TextDocumentItem(uri(self.root / rel), language, 1, text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(item))

    def change(self, rel: str, text: str) -> None:
        self.versions[rel] += 1
        document = types.VersionedTextDocumentIdentifier(self.versions[rel], uri(self.root / rel))
        change = types.TextDocumentContentChangeWholeDocument(text)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(document, [change]))


@asynccontextmanager
async def session(
    root: Path, encodings: list[str] | None = None, watch: bool = False
) -> AsyncIterator[Session]:
    opened = Session(root)
    await opened.client.start_io(
        sys.executable, "-m", "stackaudit", "server", env={"PYTHONPATH": str(REPO / "src")}
    )
    general = types.GeneralClientCapabilities(position_encodings=encodings) if encodings else None
    workspace = (
        types.WorkspaceClientCapabilities(
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
                dynamic_registration=True
            )
        )
        if watch
        else None
    )
    await asyncio.wait_for(
        opened.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(general=general, workspace=workspace),
                root_uri=uri(root),
            )
        ),
        TIMEOUT,
    )
    opened.client.initialized(types.InitializedParams())
    yield opened
    await asyncio.wait_for(opened.client.shutdown_async(None), TIMEOUT)
    opened.client.exit(None)
    server = opened.client._server
    assert server is not None
    assert await asyncio.wait_for(server.wait(), TIMEOUT) == 0
    await opened.client.stop()  # type: ignore[no-untyped-call]


def apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = Lines(text, "utf-16")
    offsets: list[tuple[int, int, str]] = []
    for edit in edits:
        source_offsets = []
        for position in (edit.range.start, edit.range.end):
            line, column = lines.column(position)
            before = "".join(f"{t}\n" for t in lines.lines[: line - 1])
            source_offsets.append(len(before) + column - 1)
        offsets.append((source_offsets[0], source_offsets[1], edit.new_text))
    for start, end, new in sorted(offsets, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def copy(name: str, tmp_path: Path) -> Path:
    root = tmp_path / "stack"
    shutil.copytree(FIXTURES / name, root)
    return root


def test_diagnostics_fix_change_hover_and_exit(tmp_path: Path) -> None:
    root = copy("SA502/nginx-image-1.27", tmp_path)
    original = (root / "nginx.conf").read_text()
    fixed = original.replace(
        "        proxy_set_header Upgrade",
        "        proxy_http_version 1.1;\n        proxy_set_header Upgrade",
    )

    async def scenario() -> None:
        async with session(root) as s:
            s.open("nginx.conf", "nginx")
            await s.wait(lambda: bool(s.codes("nginx.conf")))
            assert s.codes("nginx.conf") == {(2, "SA502")}
            (shown,) = s.published[uri(root / "nginx.conf")]
            assert shown.source == "stackaudit"
            assert shown.severity == types.DiagnosticSeverity.Error
            assert shown.code_description is not None
            assert shown.code_description.href.endswith("/rules/SA502.md")
            assert shown.range == types.Range(types.Position(2, 4), types.Position(2, 18))

            actions = await s.client.text_document_code_action_async(
                types.CodeActionParams(
                    types.TextDocumentIdentifier(uri(root / "nginx.conf")),
                    shown.range,
                    types.CodeActionContext([shown]),
                )
            )
            assert actions is not None
            fixes = [a for a in actions if isinstance(a, types.CodeAction) and a.is_preferred]
            (fix,) = fixes
            assert fix.edit is not None and fix.edit.changes is not None
            assert apply(original, list(fix.edit.changes[uri(root / "nginx.conf")])) == fixed
            titles = [a.title for a in actions]
            assert "Ignore SA502 on this line" in titles
            # Asked about another rule's diagnostic on the same range: not this fix.
            other = types.Diagnostic(shown.range, "x", code="SA501", source="stackaudit")
            unrelated = await s.client.text_document_code_action_async(
                types.CodeActionParams(
                    types.TextDocumentIdentifier(uri(root / "nginx.conf")),
                    shown.range,
                    types.CodeActionContext([other]),
                )
            )
            assert not unrelated

            hover = await s.client.text_document_hover_async(
                types.HoverParams(
                    types.TextDocumentIdentifier(uri(root / "nginx.conf")), types.Position(2, 6)
                )
            )
            assert hover is not None and isinstance(hover.contents, types.MarkupContent)
            assert hover.contents.value.startswith("# SA502 proxy-http-version")

            s.change("nginx.conf", fixed)
            await s.wait(lambda: not s.codes("nginx.conf"))
            assert s.published[uri(root / "nginx.conf")] == []
            assert (root / "nginx.conf").read_text() == original  # the disk is never written

    asyncio.run(scenario())


def test_cross_file_findings_follow_the_open_nginx_file(tmp_path: Path) -> None:
    """nginx's basic auth (site.conf) makes the compose service's SA209: editing the
    nginx file in the editor, unsaved, changes the compose file's findings."""
    root = copy("stacks/nginx-auth-port-published", tmp_path)

    async def scenario() -> None:
        async with session(root) as s:
            s.open("site.conf", "nginx")
            await s.wait(lambda: bool(s.codes("docker-compose.yml")))
            assert s.codes("docker-compose.yml") == {(3, "SA201"), (3, "SA209"), (4, "SA601")}
            compose = s.published[uri(root / "docker-compose.yml")]
            (auth,) = [d for d in compose if d.code == "SA209"]
            (related,) = auth.related_information or []
            assert related.location.uri == uri(root / "site.conf")
            assert related.location.range.start == types.Position(3, 15)

            text = (root / "site.conf").read_text()
            s.change("site.conf", text.replace('    auth_basic "stats";\n', ""))
            await s.wait(lambda: (3, "SA209") not in s.codes("docker-compose.yml"))
            assert s.codes("docker-compose.yml") == {(3, "SA201"), (4, "SA601")}

    asyncio.run(scenario())


def test_columns_are_utf16_units_beyond_ascii(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    root.mkdir()
    line = 'pn.serve(app, title="📈 ünïcode", allow_websocket_origin=["*"])'
    (root / "serve.py").write_text(f"import panel as pn\n\n{line}\n", "utf-8")
    star = line.index("*")  # in characters; the emoji makes UTF-16 one unit longer
    in_utf16 = len(line[:star].encode("utf-16-le")) // 2
    assert in_utf16 == star + 1

    async def scenario() -> None:
        async with session(root) as s:
            s.open("serve.py", "python")
            await s.wait(lambda: (2, "SA101") in s.codes("serve.py"))
            (shown,) = [d for d in s.published[uri(root / "serve.py")] if d.code == "SA101"]
            assert shown.range.start.character == in_utf16
            assert shown.range.end.character == in_utf16 + 1

        async with session(root, encodings=["utf-32"]) as s:
            s.open("serve.py", "python")
            await s.wait(lambda: (2, "SA101") in s.codes("serve.py"))
            (shown,) = [d for d in s.published[uri(root / "serve.py")] if d.code == "SA101"]
            assert shown.range.start.character == star  # code points, as negotiated

    asyncio.run(scenario())


def test_a_bad_configuration_is_shown_and_reports_nothing(tmp_path: Path) -> None:
    root = copy("SA502/nginx-image-1.27", tmp_path)
    (root / "stackaudit.toml").write_text("selectt = ['SA5']\n")

    async def scenario() -> None:
        async with session(root) as s:
            s.open("nginx.conf", "nginx")
            await s.wait(lambda: bool(s.messages))
            (message,) = s.messages
            assert message.type == types.MessageType.Error
            assert "unknown key `selectt`" in message.message
            await asyncio.sleep(0.5)  # past the debounce: still nothing published
            assert not s.codes("nginx.conf")

    asyncio.run(scenario())


def test_positions_count_code_units() -> None:
    text = "a📈b\n"
    assert units("a📈b", "utf-16") == 4
    assert units("a📈b", "utf-8") == 6
    assert units("a📈b", "utf-32") == 3
    assert characters("a📈b", 3, "utf-16") == 2
    lines = Lines(text, "utf-16")
    assert lines.range(Span("f", 1, 3, 1, 4)) == types.Range(
        types.Position(0, 3), types.Position(0, 4)
    )
    assert lines.column(types.Position(0, 3)) == (1, 3)


def test_a_plain_check_does_not_import_pygls(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text("server {\n    listen 80;\n}\n")
    probe = textwrap.dedent(f"""
        import sys
        from stackaudit.cli import main
        code = main(["check", "--no-cache", "-q", "--exit-zero", {str(tmp_path)!r}])
        print(code, any(n.split(".")[0] in ("pygls", "lsprotocol") for n in sys.modules))
    """)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout + done.stderr


def test_the_editor_shows_what_check_shows_under_the_persona(tmp_path: Path) -> None:
    """`min-confidence` and `persona` in the configuration filter the editor's
    diagnostics as they filter `check`'s report: a finding the team tuned out must not
    come back as a squiggle."""
    from stackaudit.lsp.analysis import analyse
    from stackaudit.lsp.settings import load_settings

    # SA201 is of medium confidence here: nothing says whether a proxy authenticates.
    start = "#!/bin/sh\nexec panel serve app.py --address 0.0.0.0\n"
    (tmp_path / "start.sh").write_text(start)
    (tmp_path / ".stackaudit.toml").write_text('select = ["SA201"]\n')
    found = analyse(tmp_path, load_settings(tmp_path), {}, {}, "utf-16")
    assert [d.code for d in found.result.diagnostics] == ["SA201"]

    (tmp_path / ".stackaudit.toml").write_text('select = ["SA201"]\nmin-confidence = "high"\n')
    found = analyse(tmp_path, load_settings(tmp_path), {}, {}, "utf-16")
    assert found.result.diagnostics == []
    assert found.by_path == {}


def test_files_changed_on_the_disk_are_seen(tmp_path: Path) -> None:
    """A file no editor holds, changed by another program: the client watches the
    workspace for the server, and the findings follow the disk."""
    root = copy("SA502/nginx-image-1.27", tmp_path)
    conf = root / "nginx.conf"

    async def scenario() -> None:
        async with session(root, watch=True) as s:
            await s.wait(lambda: bool(s.codes("nginx.conf")) and bool(s.registrations))
            (registration,) = s.registrations
            assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
            conf.write_text(
                conf.read_text().replace(
                    "        proxy_set_header Upgrade",
                    "        proxy_http_version 1.1;\n        proxy_set_header Upgrade",
                )
            )
            s.client.workspace_did_change_watched_files(
                types.DidChangeWatchedFilesParams(
                    [types.FileEvent(uri(conf), types.FileChangeType.Changed)]
                )
            )
            await s.wait(lambda: not s.codes("nginx.conf"))

    asyncio.run(scenario())
