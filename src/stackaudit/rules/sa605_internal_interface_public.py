from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.asgi import BuiltinEndpoint
from stackaudit.facts.nginx import ProxyRoute
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.links import Frontend
from stackaudit.model.nginx import requested_path
from stackaudit.model.nginx_servers import location_answers_first
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class InternalInterfacePublic(Rule):
    """
    ## What it does
    Notes an interface meant for developers or monitoring that the deployment makes
    public without authentication: FastAPI's Swagger UI (`/docs`), ReDoc (`/redoc`)
    and OpenAPI schema (`/openapi.json`), on unless `FastAPI(docs_url=None,
    redoc_url=None, openapi_url=None)` turns them off, and Prometheus metrics
    (`app.mount("/metrics", make_asgi_app())`, `Instrumentator().expose(app)`,
    starlette_exporter's `handle_metrics`).

    Only when something in the stack reaches the endpoint: an nginx location that
    the path selects (nginx's own location choice: a `location = /metrics { deny all;
    }` or an `allow 10.0.0.0/8; deny all;`, `auth_basic`, `auth_request` or `internal`
    on the chosen location keeps it quiet) and that proxies to the server process
    serving the app; a Traefik router or Ingress rule with no authentication whose path
    covers it (a route only for `localhost` names is a developer's); or a compose port
    published on every interface. The app's own
    `dependencies=` do not protect FastAPI's pages: they are plain Starlette routes.

    ## Why is this bad?
    The schema lists every route and parameter, the documentation pages let anyone
    call them from a browser, and metrics expose paths, traffic and internals: an
    attacker's map of the app. Often intended, hence a note.

    ## Example
    ```
    app = FastAPI()
    ```

    ## Use instead
    ```
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    ```
    or authentication (or an allowlist) in front of those paths.

    ## References
    - https://github.com/fastapi/fastapi/blob/0.165.0/fastapi/applications.py
    - https://fastapi.tiangolo.com/tutorial/metadata/#docs-urls
    - https://github.com/prometheus/client_python/blob/v0.26.0/prometheus_client/asgi.py
    - https://github.com/trallnag/prometheus-fastapi-instrumentator/blob/v8.1.0/src/prometheus_fastapi_instrumentator/instrumentation.py
    - https://github.com/stephenhillier/starlette_exporter/blob/v0.24.0/starlette_exporter/__init__.py
    - https://nginx.org/en/docs/http/ngx_http_core_module.html#location
    - https://www.rfc-editor.org/rfc/rfc6761#section-6.3
    """

    code = "SA605"
    name = "internal-interface-public"
    severity = Severity.NOTE
    category = Category.EXPOSURE
    applies_to = (FileKind.PYTHON, FileKind.NGINX, FileKind.COMPOSE, FileKind.STACK)
    cwe = 200
    one_finding_per_place = False
    examples = (
        Bad(
            "main.py",
            """
            from fastapi import FastAPI

            app = FastAPI(title="api")  # expect: SA605
        """,
            context={
                "docker-compose.yml": """
                services:
                  api:
                    build: .
                    command: uvicorn main:app --host 0.0.0.0 --port 8000
                    ports:
                      - "8000:8000"
                """
            },
        ),
        Good(
            "main.py",
            """
            from fastapi import FastAPI

            app = FastAPI(title="api", docs_url=None, redoc_url=None, openapi_url=None)
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            endpoints = stack.apps.endpoints_of(command)
            by_place: dict[Span, list[BuiltinEndpoint]] = {}
            for endpoint in endpoints:
                by_place.setdefault(endpoint.span, []).append(endpoint)
            for span, found in by_place.items():
                ways = [w for e in found if (w := _public_way(stack, command, e.path))]
                if ways:
                    yield self._report(span, command, found, ways)

    def _report(
        self,
        span: Span,
        command: ServeCommand,
        endpoints: list[BuiltinEndpoint],
        ways: list[tuple[str, Span, Confidence]],
    ) -> Diagnostic:
        served = ", ".join(f"{e.label} at `{e.path}`" for e in endpoints)
        how, where, confidence = ways[0]
        return self.report(
            span,
            f"{endpoints[0].provider} serves {served}, and {how} reaches it without "
            "authentication: an interface meant for developers or monitoring is public",
            help="turn the pages off in production (`FastAPI(docs_url=None, "
            "redoc_url=None, openapi_url=None)`), or put authentication or an IP "
            "allowlist in front of these paths",
            fix_title="Keep internal interfaces internal",
            related=[Related(where, "public way in"), Related(command.span, "the server")],
            confidence=confidence,
        )


def _public_way(
    stack: Stack, command: ServeCommand, path: str
) -> tuple[str, Span, Confidence] | None:
    """How a request for ``path`` on the app reaches ``command`` from outside without
    authentication: (what, where, how sure), or None."""
    for frontend in stack.links.frontends_of(command):
        if _local_names_only(frontend.hosts):
            continue  # `localhost` names resolve to the developer's own machine
        link = next(b.confidence for b in frontend.backends if b.command == command)
        if frontend.route is not None:
            public = _nginx_public_path(stack, frontend.route, path)
            if public is not None:
                return f"{frontend.where} (`{public}`)", frontend.route.span, link
        elif _other_proxy_passes(frontend, path):
            return frontend.where, frontend.span, link
    exposure = stack.deploy.exposure(command)
    if exposure is not None and exposure.reachable_without_proxy is True:
        published = exposure.on_all_interfaces[0]
        what = f"{exposure.service.label}'s port `{published.describe()}` on every interface"
        return what, published.span, Confidence.HIGH
    return None


def _local_names_only(hosts: tuple[str, ...]) -> bool:
    """Every host name is ``localhost`` or under ``.localhost``, which resolvers and
    browsers answer with loopback (RFC 6761, section 6.3): a developer's route."""
    names = [host.lower().rstrip(".") for host in hosts]
    return bool(names) and all(n == "localhost" or n.endswith(".localhost") for n in names)


def _nginx_public_path(stack: Stack, route: ProxyRoute, path: str) -> str | None:
    """The public path at which the location passes ``path`` on to the app, when a
    client can use it: the server listens beyond loopback, the path selects this
    location, and nothing on it authenticates or answers first."""
    servers = stack.nginx_servers
    server, location = servers.server_of(route), servers.location_of(route)
    if server is None or location is None or not server.public or server.opaque:
        return None
    if route.auth.any or location_answers_first(location) or route.opaque_includes:
        return None
    if server.redirects_plain_http and not server.tls_listens:
        return None
    public = requested_path(route, path)
    if public is None or server.location_for(public) is not location:
        return None
    return public


def _other_proxy_passes(frontend: Frontend, path: str) -> bool:
    """A Traefik router or Ingress rule without authentication whose path prefix
    leads to ``path`` (after stripping it, when the proxy strips it)."""
    if frontend.auth or frontend.strips_path is None:
        return False
    prefix = frontend.path.rstrip("/")
    return frontend.strips_path or path == prefix or path.startswith(prefix + "/")
