from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.python import SOCKETIO_SERVERS, CookieRead, LibraryCall, PyValue
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class SocketIoAnyOrigin(Rule):
    """
    ## What it does
    Flags a python-socketio / python-engineio server (`socketio.Server`,
    `socketio.AsyncServer`, `engineio.Server`, `engineio.AsyncServer`) or a
    Flask-SocketIO `SocketIO(app, ...)` / `socketio.init_app(app, ...)` whose
    `cors_allowed_origins` is `"*"`, a list holding `"*"`, or `[]`. An error when the
    module that creates the server reads the request's cookies or the cookie session
    (`environ["HTTP_COOKIE"]`, `request.cookies`, Flask's `session`, flask-login's
    `current_user`); a warning otherwise, as the server may authenticate with a token
    the page sends (`auth=`), which another site does not have. Values are followed
    through constants and environment defaults (medium confidence).

    ## Why is this bad?
    python-engineio (since 3.9.0, CVE-2019-13611) accepts a connection, WebSocket or
    long-polling, only from the server's own origin by default. `"*"` (or `["*"]`)
    turns the check off, and so does `[]`, which disables CORS handling altogether.
    Any web site can then open a Socket.IO connection to the server from its visitors'
    browsers; the browser attaches the visitor's cookies for the server's host
    (unless SameSite keeps them), so the connection is the visitor's session:
    cross-site WebSocket hijacking (CWE-1385). `cors_credentials` (default `True`) only
    changes the polling transport's CORS headers, not whether cookies travel on a
    WebSocket.

    ## Example
    ```python
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    ```

    ## Use instead
    Leave the default (same origin), or list the front-end origins:
    ```python
    sio = socketio.AsyncServer(async_mode="asgi",
                               cors_allowed_origins=["https://app.example.com"])
    ```

    ## References
    - https://github.com/miguelgrinberg/python-engineio/blob/v4.15.1/src/engineio/base_server.py#L284-L317
    - https://github.com/miguelgrinberg/python-engineio/blob/v4.15.1/src/engineio/server.py#L200-L215
    - https://python-socketio.readthedocs.io/en/latest/server.html#cross-origin-controls
    - https://github.com/advisories/GHSA-j3jp-gvr5-7hwq
    - https://cwe.mitre.org/data/definitions/1385.html
    """

    code = "SA308"
    name = "socketio-any-origin"
    severity = Severity.ERROR
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.PYTHON,)
    cwe = 1385
    examples = (
        Bad(
            "app.py",
            """
            from flask import Flask, session
            from flask_socketio import SocketIO

            app = Flask(__name__)
            socketio = SocketIO(app, cors_allowed_origins="*")  # expect: SA308

            @socketio.on("connect")
            def connect():
                return "user" in session
        """,
        ),
        Bad(
            "main.py",
            """
            import socketio

            sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=["*"])  # expect: SA308
            app = socketio.ASGIApp(sio)
        """,
            title="no cookie read in the module: a warning",
        ),
        Good(
            "main.py",
            """
            import socketio

            sio = socketio.AsyncServer(
                async_mode="asgi", cors_allowed_origins=["https://app.example.com"]
            )
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        cookies: dict[str, CookieRead] = {}
        for read in stack.of(CookieRead):
            cookies.setdefault(read.span.path, read)
        for call in stack.of(LibraryCall):
            if call.api not in SOCKETIO_SERVERS or call.development_branch:
                continue
            if is_development_path(call.span.path):
                continue
            origins = call.argument("cors_allowed_origins")
            if origins is None:
                continue
            what = _any_origin(origins)
            if what is None:
                continue
            cookie = cookies.get(call.span.path)
            related = []
            if origins.defined_at is not None and origins.defined_at != origins.span:
                related.append(Related(origins.defined_at, "set here"))
            if cookie is not None:
                related.append(Related(cookie.span, f"the module reads {cookie.how}"))
                consequence = (
                    "the connection carries the visitor's cookies, and this module "
                    "reads them: any site can act as the visitor (cross-site WebSocket "
                    "hijacking)"
                )
            else:
                consequence = (
                    "the browser attaches the visitor's cookies for this host: if the "
                    "server trusts them, any site can act as the visitor"
                )
            env = f" (default of ${origins.env_name})" if origins.env_name else ""
            yield self.report(
                origins.span if origins.span.path == call.span.path else call.span,
                f"{call.label} with cors_allowed_origins={what}{env}: any web site can "
                f"open a Socket.IO connection from its visitors' browsers; {consequence}",
                help="leave cors_allowed_origins out (same origin only) or list the "
                'front-end origins: cors_allowed_origins=["https://app.example.com"]',
                fix_title="List the allowed origins",
                related=related,
                severity=None if cookie is not None else Severity.WARNING,
                confidence=Confidence.MEDIUM if origins.env_name else None,
            )


def _any_origin(value: PyValue) -> str | None:
    """How the value turns python-engineio's origin check off, if it does."""
    if value.kind == "str" and value.value == "*":
        return '"*"'
    if value.kind == "list":
        if any(item.kind == "str" and item.value == "*" for item in value.items):
            return 'a list holding "*"'
        if not value.items and value.complete:
            return "[] (CORS handling and the origin check disabled)"
    return None
