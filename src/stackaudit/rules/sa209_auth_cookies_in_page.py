from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class AuthCookiesInPage(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel server with authentication (`--basic-auth`, `--oauth-provider`,
    `--auth-module` or their variables) that copies every request cookie into the
    session token: no `--include-cookies` / `--exclude-cookies`. It also flags a cookie
    filter that leaves the raw `Cookie` header in (no `--exclude-headers Cookie`, no
    `--include-headers` list without it).

    ## Why is this bad?
    When a page is served, Bokeh puts the request's cookies and headers into the
    session token embedded in the page (zlib-compressed, base64-encoded JSON: signed at
    most, never encrypted), so the HttpOnly auth cookies Panel sets (`user`,
    `id_token`, `access_token`, `refresh_token`) become readable by any script on the
    page: one XSS and the session and provider tokens are gone. A cookie filter alone is not enough: Bokeh drops the raw `Cookie` header
    only when at least one cookie passes the filter, so a request carrying only
    excluded cookies still puts them all in the page. Header names are compared
    exactly, as Tornado spells them (`Cookie`, not `cookie`).

    Panel reads `pn.state.user` and `pn.state.user_info` from the `user` and
    `id_token` cookies of the token, and `pn.state.access_token` from `access_token`:
    exclude those only if the app does not use them.

    ## Example
    ```
    panel serve app.py --oauth-provider github
    ```

    ## Use instead
    ```
    panel serve app.py --oauth-provider github --exclude-cookies access_token refresh_token --exclude-headers Cookie
    ```

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/session_handler.py#L107-L135
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/util/token.py#L118-L130
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/embed/server.py#L266-L270
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L554-L580
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L454-L471
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/state.py#L1047-L1078
    """

    code = "SA209"
    name = "auth-cookies-in-page"
    severity = Severity.WARNING
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 1004
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_OAUTH_PROVIDER=github  # expect: SA209
            CMD ["panel", "serve", "app.py"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --basic-auth /run/secrets/users.json \\
                --exclude-cookies user id_token  # expect: SA209
        """,
            title="the raw Cookie header still carries them",
        ),
        Bad(
            "serve.py",
            """
            import os
            import panel as pn
            pn.serve(
                app,
                basic_auth="/run/secrets/users.json",  # expect: SA209
                cookie_secret=os.environ["COOKIE_SECRET"],
            )
            """,
        ),
        Good(
            "serve.py",
            """
            import os
            import panel as pn
            pn.serve(
                app,
                basic_auth="/run/secrets/users.json",
                cookie_secret=os.environ["COOKIE_SECRET"],
                exclude_cookies=["user", "id_token"],
                exclude_headers=["Cookie"],
            )
            """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --oauth-provider github \\
                --exclude-cookies access_token refresh_token --exclude-headers Cookie
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["bokeh", "serve", "app.py", "--include-cookies", "theme", "--include-headers", "User-Agent"]
        """,
            title="no authentication configured: nothing to leak",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            if command.auth() is None:
                continue
            found = self._check(command)
            if found is not None:
                yield found

    def _check(self, command: ServeCommand) -> Diagnostic | None:
        auth = command.auth()
        assert auth is not None
        cookie_filter = command.cookie_filter()
        if cookie_filter is None:
            return self.report(
                auth.source.span,
                f"{command.label}: {auth.description} and no --include-cookies or "
                "--exclude-cookies: Bokeh copies every request cookie, the HttpOnly auth "
                "cookies included, into the session token embedded in the page",
                help="add `--exclude-cookies access_token refresh_token --exclude-headers "
                "Cookie` (also `user id_token` if the app does not read pn.state.user)",
                fix_title="Keep the auth cookies out of the page",
            )
        if command.cookie_header_filtered():
            return None
        return self.report(
            cookie_filter.span,
            f"{command.label}: `{cookie_filter.flag.text}` filters the cookies but not the "
            "raw `Cookie` header: when no cookie of a request passes the filter, Bokeh "
            "keeps the header, with every cookie, in the token embedded in the page",
            help="add `--exclude-headers Cookie` (spelled exactly so)",
            fix_title="Exclude the Cookie header",
            related=[Related(auth.source.span, "authentication configured here")],
            confidence=Confidence.MEDIUM,
        )
