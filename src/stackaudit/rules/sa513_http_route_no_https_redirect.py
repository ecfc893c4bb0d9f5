from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.nginx import ProxyRoute
from stackaudit.model.links import Backend
from stackaudit.model.nginx_servers import NginxServer, location_answers_first
from stackaudit.model.stack import Stack
from stackaudit.model.traefik_http import PlainRoute, plain_routes_beside_tls
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class HttpRouteNoHttpsRedirect(Rule):
    """
    ## What it does
    Flags a plain-HTTP route to an application that authenticates (Panel/Bokeh
    `--basic-auth`, OAuth or an auth module; a FastAPI security scheme such as
    `HTTPBasic` or `OAuth2PasswordBearer`; nginx `auth_basic` on the route), when the
    same app is also served over TLS, and the HTTP route proxies instead of
    redirecting to HTTPS:

    - nginx: a `server` with a `listen` without `ssl` whose location proxies to the
      app, while a TLS server serves the same `server_name` (or the app is reached
      through a TLS route), and nothing at server level answers first (`return 301
      https://...`, a `rewrite` of every path to `https://`, or `if ($scheme = http) {
      return 301 https://...; }`);
    - Traefik: a router without TLS to a container that another router serves over
      TLS, with no `redirectScheme` middleware and no redirection on its entrypoint
      (`--entrypoints.web.http.redirections.entrypoint.to=websecure`).

    A server that only answers ACME challenges and redirects everything else proxies
    nothing to the app, and is not flagged.

    ## Why is this bad?
    The app is meant to be used over TLS, yet whoever types `http://`, follows an old
    link, or is steered there by a network attacker (SSL stripping) logs in and sends
    the session cookie in clear. This is an error: the credentials of every user who
    lands on the HTTP address can be read on the network.

    ## Example
    ```
    server {
        listen 80;
        server_name dash.example.com;
        location / { proxy_pass http://127.0.0.1:5006; }
    }
    ```

    ## Use instead
    ```
    server {
        listen 80;
        server_name dash.example.com;
        return 301 https://$host$request_uri;
    }
    ```

    ## References
    - https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#return
    - https://nginx.org/en/docs/http/configuring_https_servers.html
    - https://doc.traefik.io/traefik/routing/routers/#tls
    - https://doc.traefik.io/traefik/routing/entrypoints/#redirection
    - https://doc.traefik.io/traefik/middlewares/http/redirectscheme/
    - https://cwe.mitre.org/data/definitions/319.html
    """

    code = "SA513"
    name = "http-route-no-https-redirect"
    severity = Severity.ERROR
    category = Category.TLS
    applies_to = (FileKind.NGINX, FileKind.COMPOSE, FileKind.STACK)
    cwe = 319
    examples = (
        Bad(
            "nginx/app.conf",
            """
            server {
                listen 80;  # expect: SA513
                server_name dash.example.com;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                }
            }
            server {
                listen 443 ssl;
                server_name dash.example.com;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                }
            }
        """,
            context={
                "start.sh": "exec panel serve app.py --port 5006 --address 127.0.0.1 "
                "--basic-auth credentials.json --cookie-secret $SECRET"
            },
        ),
        Good(
            "nginx/app.conf",
            """
            server {
                listen 80;
                server_name dash.example.com;
                location /.well-known/acme-challenge/ {
                    root /var/www/certbot;
                }
                location / {
                    return 301 https://$host$request_uri;
                }
            }
            server {
                listen 443 ssl;
                server_name dash.example.com;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                }
            }
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        servers = stack.nginx_servers
        for route in stack.nginx_routes:
            server = servers.server_of(route)
            location = servers.location_of(route)
            if server is None or location is None or not server.plain_listens:
                continue
            if server.redirects_plain_http or server.opaque or not server.public:
                continue
            if location_answers_first(location):
                continue
            backends = stack.links.backends_of_route(route)
            credentials = _credentials(stack, route, backends)
            if credentials is None:
                continue
            tls = _served_over_tls(stack, server, backends)
            if tls is None:
                continue
            yield self._nginx(server, route, credentials, tls)
        for plain in plain_routes_beside_tls(stack.deploy):
            yield from self._traefik(stack, plain)

    def _nginx(
        self,
        server: NginxServer,
        route: ProxyRoute,
        credentials: tuple[str, Backend | None],
        tls: str,
    ) -> Diagnostic:
        auth, backend = credentials
        listen = server.plain_listens[0]
        whom = backend.description if backend is not None else "the app"
        related = [Related(route.pass_span, "proxies to the app in clear")]
        if backend is not None:
            related.append(Related(backend.command.span, "the app"))
        return self.report(
            listen.span or server.span,
            f"{server.label} answers plain HTTP on `{listen.address}:{listen.port}` and "
            f"{route.where} proxies it to {whom}, which authenticates with {auth}, while "
            f"{tls}: logins and session cookies of whoever uses http:// cross the network "
            "in clear",
            help="answer plain HTTP with `return 301 https://$host$request_uri;` at server "
            "level (keep a location for /.well-known/acme-challenge/ if certificates need "
            "it)",
            fix_title="Redirect plain HTTP to HTTPS",
            related=related,
            confidence=backend.confidence if backend is not None else None,
        )

    def _traefik(self, stack: Stack, plain: PlainRoute) -> Iterator[Diagnostic]:
        for frontend in stack.links.frontends_of_unit(plain.service.span):
            if frontend.kind != "traefik" or frontend.span != plain.router.span:
                continue
            for backend in frontend.backends:
                auth = stack.apps.authentication(backend.command)
                if auth is None:
                    continue
                yield self.report(
                    plain.router.span,
                    f"Traefik router `{plain.router.name}` ({plain.service.label}) serves "
                    f"{backend.description} over plain HTTP on "
                    f"{', '.join(plain.entrypoints)} without redirecting, while router "
                    f"`{plain.tls_router.name}` serves it over TLS; the app authenticates "
                    f"with {auth}, so logins and session cookies of whoever uses http:// "
                    "cross the network in clear",
                    help="add a `redirectScheme` middleware (`scheme=https`) to the router, "
                    "or redirect the entrypoint with "
                    "`--entrypoints.web.http.redirections.entrypoint.to=websecure`",
                    fix_title="Redirect plain HTTP to HTTPS",
                    related=[
                        Related(plain.tls_router.span, "the TLS router"),
                        Related(backend.command.span, "the app"),
                    ],
                    confidence=backend.confidence,
                )
                return


def _credentials(
    stack: Stack, route: ProxyRoute, backends: list[Backend]
) -> tuple[str, Backend | None] | None:
    """How credentials reach the route: the app's own authentication, else nginx's
    `auth_basic` on it (its password travels in every request)."""
    for backend in backends:
        auth = stack.apps.authentication(backend.command)
        if auth is not None:
            return auth, backend
    if route.auth.basic is not None and backends:
        return f"nginx `auth_basic` on the route ({route.auth.basic.text})", backends[0]
    return None


def _served_over_tls(stack: Stack, server: NginxServer, backends: list[Backend]) -> str | None:
    """Why the app is meant to be served over TLS, for the message; None when nothing
    shows it is."""
    if server.tls_listens:
        return "the same server also listens with TLS"
    names = {name.lower() for name in server.names}
    shared = sorted(names & stack.nginx_servers.tls_hosts)
    if shared:
        return f"a TLS server serves {', '.join(shared)}"
    for backend in backends:
        for frontend in stack.links.frontends_of(backend.command):
            if frontend.tls:
                return f"{frontend.proxy} serves it over TLS ({frontend.span.path}:{frontend.span.line})"
    return None
