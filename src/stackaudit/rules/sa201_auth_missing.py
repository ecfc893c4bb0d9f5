from collections.abc import Iterator
from fnmatch import fnmatchcase

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.deploy import Exposure
from stackaudit.model.links import Frontend
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class AuthMissing(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel server that listens beyond loopback with no authentication:
    no `--basic-auth`, `--oauth-provider` or `--auth-module` (nor `PANEL_BASIC_AUTH`,
    `PANEL_OAUTH_PROVIDER`, `BOKEH_AUTH_MODULE`; in Python `basic_auth=`,
    `oauth_provider=`, `auth_provider=`), or only with `--oauth-optional`, which lets
    everyone in as a guest.

    "Beyond loopback" means no `--address` (Tornado then listens on every interface),
    an empty one, or any address but `localhost`, `127.0.0.0/8` and `::1`; a server on
    a `--unix-socket` is local. A script's variables are followed: after
    `HOST=${HOST:-127.0.0.1}`, `--address "$HOST"` is loopback. The rule looks at
    deployment artifacts (development paths such as `scripts/dev/`, a script's
    development branch such as `if [ "$ENV" = dev ]`, and commands with `--show`, which
    opens a browser on the server's own machine, are skipped) and at servers started from Python with an
    explicit non-loopback `address=`.

    The proxy routes in the stack count: when every nginx location, Traefik router or
    Ingress rule that reaches the server authenticates (`auth_basic`, `auth_request`,
    `allow ...; deny all;`, Traefik `basicauth`/`forwardauth`, ingress-nginx
    `auth-url`/`auth-type`) and the server is not also reachable without the proxy (a
    port published on every interface), there is no finding; when one of them does
    not, the finding names it. Authentication the scanned files cannot show is
    declared with `auth-by-proxy = true`, and intentionally public apps with
    `public-apps` (globs matched against the app paths the server is given), rather
    than suppressing findings one by one.

    ## Why is this bad?
    Anyone who can reach the port can open every app and run its callbacks, with the
    server's data and credentials behind them.

    ## Example
    ```
    panel serve app.py --address 0.0.0.0
    ```

    ## Use instead
    ```
    panel serve app.py --address 0.0.0.0 --oauth-provider github
    ```
    (with `PANEL_OAUTH_KEY`, `PANEL_OAUTH_SECRET`, `PANEL_COOKIE_SECRET` and
    `PANEL_OAUTH_ENCRYPTION` from a secret store), or an authenticating proxy and
    `auth-by-proxy = true`.

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L468-L480
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L910-L914
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L591-L605
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L649-L651
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L1008-L1031
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L607-L615
    - https://www.tornadoweb.org/en/stable/netutil.html#tornado.netutil.bind_sockets
    """

    code = "SA201"
    name = "auth-missing"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 306
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA201
            CMD ["panel", "serve", "app.py", "--address", "0.0.0.0"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --oauth-provider github --oauth-optional  # expect: SA201
        """,
            title="--oauth-optional lets everyone in as guest",
        ),
        Bad(
            "serve.py",
            """
            import panel as pn
            pn.serve(app, address="0.0.0.0", port=80)  # expect: SA201
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_OAUTH_PROVIDER=github
            CMD ["panel", "serve", "app.py", "--address", "0.0.0.0"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --address 127.0.0.1 --allow-websocket-origin=dash.example.com
        """,
            title="loopback only: the proxy on the same host is the way in",
        ),
        Good(
            "scripts/dev/serve.sh",
            """
            #!/bin/sh
            panel serve app.py --address 0.0.0.0
        """,
            title="a development script",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        if stack.config.auth_by_proxy:
            return
        public = stack.config.public_apps
        for command in stack.serve_commands:
            if not command.is_bokeh_family or command.requires_login() or command.opens_browser():
                continue
            if command.launcher:
                # A platform (anaconda-project on AE5) binds it and puts its login in front.
                continue
            reachable = command.reachable_beyond_loopback()
            if reachable is False:
                continue
            explicit = reachable is True and command.bind_address() is not None
            if not command.deployment and not (command.carrier == "python" and explicit):
                continue
            apps = [word.text.removeprefix("./") for word in command.positionals]
            if public and apps and all(_matches(app, public) for app in apps):
                continue
            frontends = stack.links.frontends_of(command)
            open_routes = [f for f in frontends if not f.auth]
            exposure = stack.deploy.exposure(command)
            direct = exposure.reachable_without_proxy if exposure is not None else None
            if frontends and not open_routes and direct is not True:
                continue  # every proxy route in front authenticates
            yield self._report(command, reachable, open_routes, exposure if direct else None)

    def _report(
        self,
        command: ServeCommand,
        reachable: bool | None,
        open_routes: list[Frontend],
        exposure: Exposure | None,
    ) -> Diagnostic:
        address = command.bind_address()
        if address is None or address.text == "":
            where = "every interface (no --address)"
        elif reachable is None:
            where = f"`{address.text}` (known only at run time)"
        else:
            where = f"`{address.text}`"
        options = "no --auth-module, nor BOKEH_AUTH_MODULE"
        if command.tool == "panel-serve":
            options = "no --basic-auth, --oauth-provider or --auth-module, nor their variables"
        guest = command.guest_access()
        auth = command.auth()
        if guest is not None and auth is not None:
            what = f"and its {auth.description} lets anyone in as guest ({guest.label})"
        else:
            what = f"with no authentication ({options})"
        related = [Related(guest.span, "guest access")] if guest is not None else []
        if open_routes:
            route = open_routes[0]
            hosts = ", ".join(route.public_hosts) or "any host"
            behind = f"; {route.where} proxies {hosts} to it without authentication" + (
                f" (and {len(open_routes) - 1} more route(s))" if len(open_routes) > 1 else ""
            )
            related += [Related(f.span, f"unauthenticated {f.kind} route") for f in open_routes]
        elif exposure is not None:
            published = exposure.on_all_interfaces[0]
            behind = (
                f"; {exposure.service.label} publishes it on every interface "
                f"(`{published.describe()}`), around any proxy"
            )
            related.append(Related(published.span, "published port"))
        else:
            behind = "; nothing in the scanned files shows authentication in front of it"
        return self.report(
            command.program.span,
            f"{command.label} listens on {where} {what}{behind}",
            help="add authentication to the server, or declare an authenticating proxy "
            "with `auth-by-proxy = true` and intentionally public apps with `public-apps` "
            "in the configuration",
            fix_title="Require authentication",
            related=related,
            confidence=Confidence.LOW if reachable is None else None,
        )


def _matches(app: str, globs: list[str]) -> bool:
    name = app.rsplit("/", 1)[-1]
    return any(fnmatchcase(app, glob) or fnmatchcase(name, glob) for glob in globs)
