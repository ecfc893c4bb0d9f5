from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.python import WebSocketEndpoint
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class StarletteWebsocketNoOriginCheck(Rule):
    """
    ## What it does
    Flags a FastAPI/Starlette WebSocket endpoint (`@app.websocket`, `APIRouter.websocket`,
    `WebSocketRoute`, `add_api_websocket_route`, a `WebSocketEndpoint` subclass) that
    authenticates with a cookie or the session (`websocket.cookies`, a `Cookie()`
    parameter, a dependency reading one, `websocket.session`) and never reads the
    `Origin` header. Also notes a Panel/Bokeh app served on FastAPI
    (`panel.io.fastapi.add_applications`, `bokeh_fastapi.BokehFastAPI`): its WebSocket
    handler never calls its own `check_origin`, so the origin allowlist is not enforced.

    ## Why is this bad?
    Browsers let any page open a WebSocket to any host and attach that host's cookies to
    the handshake (unless they are `SameSite=Lax`/`Strict`). Starlette performs no
    origin check on WebSockets, and `CORSMiddleware` passes every non-HTTP scope through
    untouched, so a page on any site can act as the logged-in visitor over the socket
    (cross-site WebSocket hijacking, CWE-1385).

    `bokeh_fastapi` 0.1.8 defines `WSHandler.check_origin` (the Bokeh allowlist, with
    `BOKEH_ALLOW_WS_ORIGIN`) but `ws_connect` never calls it: `websocket_origin=` given to
    `panel.io.fastapi` has no effect and every site's pages can connect.

    ## Example
    ```python
    @app.websocket("/ws")
    async def feed(websocket: WebSocket, session: str = Cookie()):
        await websocket.accept()
    ```

    ## Use instead
    Compare `websocket.headers.get("origin")` with the public origin(s) before
    `accept()` and close with code 1008 otherwise, or authenticate with a token sent in
    the first message instead of a cookie.

    ## References
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L77-L80
    - https://github.com/encode/starlette/blob/1.10.0/starlette/requests.py#L150-L175
    - https://github.com/bokeh/bokeh-fastapi/blob/v0.1.8/src/bokeh_fastapi/handler.py#L157-L225
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/fastapi.py#L244-L300
    - https://cwe.mitre.org/data/definitions/1385.html
    """

    code = "SA107"
    name = "starlette-websocket-no-origin-check"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.PYTHON,)
    cwe = 1385
    examples = (
        Bad(
            "app.py",
            """
            from fastapi import Cookie, FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ws")
            async def feed(websocket: WebSocket, session: str = Cookie()):  # expect: SA107
                await websocket.accept()
                await websocket.send_json(load_user(session))
        """,
        ),
        Bad(
            "app.py",
            """
            import panel as pn
            from fastapi import FastAPI
            from panel.io.fastapi import add_applications

            app = FastAPI()
            add_applications({"/dash": pn.panel("dash")}, app=app)  # expect: SA107
        """,
            title="Panel on FastAPI: the allowlist is never checked",
        ),
        Good(
            "app.py",
            """
            from fastapi import FastAPI, WebSocket

            app = FastAPI()
            PUBLIC = {"https://dash.example.com"}

            @app.websocket("/ws")
            async def feed(websocket: WebSocket):
                if websocket.headers.get("origin") not in PUBLIC:
                    await websocket.close(code=1008)
                    return
                await websocket.accept()
                user = websocket.cookies.get("user")
        """,
        ),
        Good(
            "app.py",
            """
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ticks")
            async def ticks(websocket: WebSocket):
                await websocket.accept()
                token = await websocket.receive_text()
        """,
            title="no cookie or session: authentication travels in the socket",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for endpoint in stack.of(WebSocketEndpoint):
            if endpoint.framework == "panel-fastapi":
                yield self._panel(endpoint)
            elif endpoint.credential is not None and not endpoint.checks_origin:
                yield self.report(
                    endpoint.span,
                    f"WebSocket endpoint `{endpoint.name}` authenticates with "
                    f"{endpoint.credential_how} and never checks the Origin header: Starlette "
                    "checks no origin on WebSockets and CORSMiddleware ignores them, so any "
                    "site can open it as the logged-in visitor",
                    help='compare `websocket.headers.get("origin")` with the public origin(s) '
                    f"({_origins(stack)}) before `accept()`, and close with code 1008 otherwise",
                    fix_title="Check the Origin before accepting",
                    related=[Related(endpoint.credential, "credential read here")],
                )

    def _panel(self, endpoint: WebSocketEndpoint) -> Diagnostic:
        given = ", ".join(f"`{w.text}`" for w in endpoint.origins)
        ignored = f"; websocket_origin {given} is not enforced" if given else ""
        return self.report(
            endpoint.span,
            f"{endpoint.name} serves Panel/Bokeh through bokeh_fastapi, whose WebSocket "
            f"handler never calls check_origin: pages on any site can connect{ignored}",
            help="check the Origin in an ASGI middleware for the app's `/ws` paths, or serve "
            "the app with `panel serve` and `--allow-websocket-origin`",
            fix_title="Enforce the origin allowlist yourself",
        )


def _origins(stack: Stack) -> str:
    """The page origins of the stack, quoted for a suggestion."""
    origins = stack.public_origins
    return ", ".join(f'"{o}"' for o in origins) or '"https://app.example.com"'
