from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.serve import AuthSetting, ServeCommand
from stackaudit.model.handlers import OpenVerb, ServedRoute
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class HandlerBypassesAuth(Rule):
    """
    ## What it does
    Flags a Tornado handler added beside an authenticated Bokeh or Panel app
    (`extra_patterns=` of `pn.serve`, `get_server`, `.show()`, Bokeh `Server` or
    `BokehTornado`; the `ROUTES` of a `panel serve --plugins` module) whose request
    methods (`get`, `post`, `put`, `delete`, `patch`, `head`, `options`; `open` of a
    WebSocket handler) neither carry `@tornado.web.authenticated` nor test
    `self.current_user`/`self.get_current_user()`, and whose `prepare()` does not either.
    Handler classes are followed through the project's modules and base classes. A
    `tornado.web.StaticFileHandler` serving a directory is reported as a warning.

    ## Why is this bad?
    Basic auth, OAuth and an auth module protect Bokeh's own handlers only: each derives
    from `AuthRequestHandler`, whose `get_current_user` asks the auth provider, and
    wraps its methods in `@authenticated`. Bokeh hands `extra_patterns` (and Panel a
    plugin's `ROUTES`) to Tornado as they are, so such a handler answers anyone who asks:
    with `pn.serve(..., basic_auth=...)`, the app redirects to `/login` while the extra
    handler returns 200 with its data. Panel protects its own `static_dirs=` with an
    authenticated file handler; a plain `StaticFileHandler` added by hand does not.

    ## Example
    ```python
    class Export(tornado.web.RequestHandler):
        def get(self):
            self.write(load_report())

    pn.serve(app, basic_auth="/run/secrets/users.json",
             extra_patterns=[(r"/export", Export)])
    ```

    ## Use instead
    Derive the handler from Bokeh's `AuthRequestHandler` (so that `current_user` is the
    user the server's auth provider logged in) and decorate each method with
    `@tornado.web.authenticated`, or refuse the request in `prepare()` when
    `self.current_user` is empty. `@authenticated` on a plain `RequestHandler` refuses
    everyone: its `get_current_user` returns None. Serve files with Panel's
    `static_dirs=`, which requires the login.

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L402-L403
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L441-L460
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/auth_request_handler.py#L45-L85
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/doc_handler.py#L52-L53
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L855-L886
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L1382-L1397
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L630-L647
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L3808-L3842
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L1511-L1516
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L1981-L2001
    """

    code = "SA216"
    name = "handler-bypasses-auth"
    severity = Severity.ERROR
    category = Category.AUTHENTICATION
    applies_to = (FileKind.PYTHON,)
    cwe = 306
    examples = (
        Bad(
            "serve.py",
            """
            import panel as pn
            import tornado.web

            class Export(tornado.web.RequestHandler):
                def get(self):
                    self.write({"rows": 42})

            app = pn.pane.Markdown("# Report")
            pn.serve(
                app,
                basic_auth="/run/secrets/users.json",
                cookie_secret=open("/run/secrets/cookie").read(),
                extra_patterns=[(r"/export", Export)],  # expect: SA216
            )
        """,
        ),
        Bad(
            "server.py",
            """
            from bokeh.server.server import Server
            from bokeh.server.views.auth_request_handler import AuthRequestHandler

            class Status(AuthRequestHandler):
                def get(self):
                    self.write({"ok": True})

            server = Server(
                {"/app": make_doc},
                auth_provider=provider,
                extra_patterns=[(r"/status", Status)],  # expect: SA216
            )
        """,
            title="AuthRequestHandler without @authenticated knows the user but refuses no one",
        ),
        Good(
            "serve.py",
            """
            import panel as pn
            import tornado.web
            from bokeh.server.views.auth_request_handler import AuthRequestHandler

            class Export(AuthRequestHandler):
                @tornado.web.authenticated
                def get(self):
                    self.write({"rows": 42})

            pn.serve(app, basic_auth="/run/secrets/users.json",
                     extra_patterns=[(r"/export", Export)])
        """,
            title="the handler asks the server's auth provider and requires login",
        ),
        Good(
            "serve.py",
            """
            import panel as pn
            import tornado.web

            class Export(tornado.web.RequestHandler):
                def get(self):
                    self.write({"rows": 42})

            pn.serve(app, extra_patterns=[(r"/export", Export)])
        """,
            title="no login anywhere: nothing is bypassed",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        if stack.config.auth_by_proxy:
            return
        for command in stack.serve_commands:
            if not command.is_bokeh_family or not command.requires_login():
                continue
            auth = command.auth()
            if auth is None:
                continue
            for served in stack.handlers.served(command):
                if served.open_verbs:
                    yield self._report(command, auth, served)

    def _report(self, command: ServeCommand, auth: AuthSetting, served: ServedRoute) -> Diagnostic:
        route = served.route
        path = f"`{route.pattern.text}`" if not route.pattern.symbolic else "its route"
        handler = route.handler.rsplit(".", 1)[-1]
        related = [
            Related(verb.method.span, f"`{handler}.{verb.method.name}` checks no user")
            for verb in served.open_verbs
            if verb.method is not None
        ]
        related.append(Related(auth.source.span, "the server's authentication"))
        where = f"{command.label} with {auth.description}"
        if all(verb.static for verb in served.open_verbs):
            return self.report(
                route.span,
                f"{where}: `{handler}` serves the files of {path} to anyone, without the "
                "login the app requires",
                help="serve the files with Panel's `static_dirs=` (it requires the login), "
                "or keep only public assets in that directory",
                fix_title="Serve the files behind the login",
                related=related,
                severity=Severity.WARNING,
                confidence=Confidence.MEDIUM,
            )
        return self.report(
            route.span,
            f"{where}: {path} is answered by `{handler}` "
            f"({_verbs(served.open_verbs)}) without any check of the user; the "
            "server's login covers Bokeh's own handlers only, so anyone gets this route",
            help="derive the handler from bokeh's `AuthRequestHandler` and decorate each "
            "method with `@tornado.web.authenticated`, or refuse the request in "
            "`prepare()` when `self.current_user` is empty",
            fix_title="Require the login in the handler",
            related=related,
        )


def _verbs(verbs: tuple[OpenVerb, ...]) -> str:
    names = [verb.verb.upper() if verb.verb != "open" else "WebSocket open" for verb in verbs]
    return ", ".join(names)
