from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.serve import AuthSetting, ServeCommand
from stackaudit.model.links import Frontend
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# The cookie Panel's basic and OAuth logins set and require on every page they serve
# (panel/auth.py: `get_user` reads it; the login handlers set it).
_PANEL_LOGIN_COOKIE = "user"


class AuthCookiesInPage(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel server whose pages carry login secrets in their session token:

    - with authentication (`--basic-auth`, `--oauth-provider`, `--auth-module` or their
      variables) and no `--include-cookies` / `--exclude-cookies`: every request cookie
      is copied;
    - with a cookie filter that can leave the raw `Cookie` header in: a Bokeh
      `--auth-module` (its cookies are not known), or a Panel login whose filter drops
      `user` — and no `--exclude-headers Cookie` (or `--include-headers` list without
      it);
    - behind an nginx location with `auth_basic` that passes the `Authorization`
      header on, when the server's header filter does not drop `Authorization`.

    ## Why is this bad?
    When a page is served, Bokeh puts the request's cookies and headers into the
    session token embedded in the page (zlib-compressed, base64-encoded JSON: signed at
    most, never encrypted), so the HttpOnly auth cookies Panel sets (`user`,
    `id_token`, `access_token`, `refresh_token`) become readable by any script on the
    page: one XSS and the session and provider tokens are gone.

    A cookie filter also drops the raw `Cookie` header, but only when at least one
    cookie of the request passes it. Panel's basic and OAuth logins set a `user` cookie
    and let no page through without it, so a filter that lets `user` pass
    (`--exclude-cookies access_token refresh_token`) keeps the header out of every
    page; one that drops `user`, or a Bokeh auth module's unknown cookies, can leave a
    request with no cookie passing, and then the header, with every cookie, stays.

    A browser that logged in to nginx's `auth_basic` sends `Authorization: Basic
    <user:password in base64>` with every request; nginx passes request headers on
    unchanged, and Bokeh copies every header its filter lets through — so the password
    is in every page. Panel's own `--basic-auth` is a login form and a cookie: it
    involves no `Authorization` header. Header names are compared exactly, as Tornado
    spells them (`Cookie`, `Authorization`; `--exclude-headers authorization` drops
    nothing).

    Panel reads `pn.state.user` and `pn.state.user_info` from the `user` and
    `id_token` cookies of the token, and `pn.state.access_token` from `access_token`:
    exclude those only if the app does not use them.

    ## Example
    ```
    panel serve app.py --oauth-provider github
    ```

    ## Use instead
    ```
    panel serve app.py --oauth-provider github --exclude-cookies access_token refresh_token --exclude-headers Authorization Cookie
    ```

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/session_handler.py#L107-L135
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L674-L704
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/util/token.py#L118-L130
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/embed/server.py#L266-L270
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L554-L580
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L454-L471
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L912-L934
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L1017-L1031
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/state.py#L1047-L1078
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/httputil.py#L124-L131
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass_request_headers
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
    - https://nginx.org/en/docs/http/ngx_http_auth_basic_module.html
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
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --oauth-provider github \\
                --exclude-cookies access_token refresh_token
        """,
            title="`user` passes the filter on every logged-in page: the Cookie header is dropped",
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --address 127.0.0.1 --port 5006  # expect: SA209
        """,
            title="nginx basic auth in front: the password is in every page",
            context={
                "nginx.conf": """
                    server {
                        listen 80;
                        location / {
                            auth_basic "dashboards";
                            auth_basic_user_file /etc/nginx/htpasswd;
                            proxy_pass http://127.0.0.1:5006;
                        }
                    }
                """
            },
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
            if not command.is_bokeh_family:
                continue
            auth = command.auth()
            if auth is not None:
                found = self._cookies(command, auth)
                if found is not None:
                    yield found
            for frontend in stack.links.frontends_of(command):
                found = self._authorization(command, frontend)
                if found is not None:
                    yield found

    def _cookies(self, command: ServeCommand, auth: AuthSetting) -> Diagnostic | None:
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
        if command.header_in_token("Cookie") is not True:
            return None
        if auth.kind == "auth-module":
            # The module's own cookies are not known: a request may carry none that
            # passes the filter, and then the raw header stays.
            why = "the cookies of an auth module are not known here"
        elif command.cookie_in_token(_PANEL_LOGIN_COOKIE) is False:
            why = (
                f"the filter drops `{_PANEL_LOGIN_COOKIE}`, the one cookie Panel's login "
                "puts on every page it serves"
            )
        else:
            # Panel's login puts `user` on every page request it lets through; that
            # cookie passes the filter, so Bokeh drops the raw header every time.
            return None
        return self.report(
            cookie_filter.span,
            f"{command.label}: `{cookie_filter.flag.text}` filters the cookies but not the "
            f"raw `Cookie` header, and {why}: when no cookie of a request passes the "
            "filter, Bokeh keeps the header, with every cookie, in the token embedded in "
            "the page",
            help="add `--exclude-headers Cookie` (spelled exactly so)",
            fix_title="Exclude the Cookie header",
            related=[Related(auth.source.span, "authentication configured here")],
            confidence=Confidence.MEDIUM,
        )

    def _authorization(self, command: ServeCommand, frontend: Frontend) -> Diagnostic | None:
        """An nginx location with `auth_basic` in front: the browser sends the user name
        and password in `Authorization` with every request, nginx passes the header on
        unless `proxy_set_header Authorization ""` clears it, and Bokeh copies it into
        the page's session token unless its header filter drops it."""
        route = frontend.route
        if route is None or route.auth.basic is None:
            return None
        header = route.proxy_header("Authorization")
        if header is not None and header.value is not None and header.value_text == "":
            return None
        if command.header_in_token("Authorization") is not True:
            return None
        confidence = min(
            (b.confidence for b in frontend.backends if b.command == command),
            key=lambda c: c.rank,
            default=Confidence.MEDIUM,
        )
        if route.opaque_includes:
            confidence = Confidence.LOW
        names = [w.text for w in command.values("exclude_headers")]
        names += [n for n in ("Authorization", "Cookie") if n not in names]
        return self.report(
            command.span,
            f"{command.label}: nginx asks for HTTP basic auth in front of this server "
            f"({route.where}) and passes the browser's `Authorization` header, the user "
            "name and password in base64, to it; Bokeh copies that header into the "
            "session token embedded in every page it serves",
            help=f"add `--exclude-headers {' '.join(names)}` (names spelled exactly so), "
            'or clear the header at the proxy: `proxy_set_header Authorization "";`',
            fix_title="Keep the Authorization header out of the page",
            related=[Related(route.auth.basic.span, "nginx asks for the password here")],
            confidence=confidence,
        )
