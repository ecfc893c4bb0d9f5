from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.asgi import LoginEndpoint
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.links import Frontend
from stackaudit.model.nginx import requested_path
from stackaudit.model.nginx_servers import location_answers_first
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# A way a client reaches the login: (what, where, how sure).
Way = tuple[str, Span, Confidence]


class LoginWithoutRateLimit(Rule):
    """
    ## What it does
    Flags a login that the deployment makes reachable with nothing limiting how fast
    it can be tried: a FastAPI/Starlette route taking `OAuth2PasswordRequestForm`, or a
    `POST` route whose path ends in `/login`, `/signin`, `/token`, `/access-token`
    (or whose function is named `login...`/`signin...`), and Panel's basic-auth login
    form (`/login`, or `--login-endpoint`, under `--prefix`).

    Only when something in the stack reaches it: an nginx location that the login's
    path selects (nginx's own location choice) on a server listening beyond loopback,
    a Traefik router or an Ingress rule whose path covers it, or a compose port
    published on every interface. It stays quiet when any of these limits the rate:
    `limit_req` in effect on the location (its own, else the nearest enclosing
    server's or http's), a Traefik `ratelimit` middleware on the router, an
    ingress-nginx `limit-rps`, `limit-rpm` or `limit-connections` annotation, slowapi's
    `@limiter.limit(...)` on the route or `SlowAPIMiddleware` on the app, or
    fastapi-limiter's `Depends(RateLimiter(...))` on the route, its router or the app.
    It also stays quiet where the proxy's configuration is not all known (an include
    not scanned, a middleware of another provider).

    ## Why is this bad?
    Each request checks one password. Without a limit, a client can try passwords as
    fast as the server answers, and a list of leaked passwords against a known user
    name needs no more. Neither FastAPI nor Panel counts failures: Panel's
    `BasicLoginHandler.post` compares the password and redirects. A `limit_req_zone`
    alone limits nothing: only a `limit_req` naming the zone does.

    ## Example
    ```
    @app.post("/token")
    async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]): ...
    ```
    behind `location / { proxy_pass http://api:8000; }`.

    ## Use instead
    ```
    limit_req_zone $binary_remote_addr zone=login:10m rate=5r/m;
    location = /token { limit_req zone=login burst=5; proxy_pass http://api:8000; }
    ```
    or a Traefik `ratelimit` middleware, an ingress-nginx `limit-rpm` annotation, or
    slowapi's `@limiter.limit("5/minute")` on the route.

    ## References
    - https://nginx.org/en/docs/http/ngx_http_limit_req_module.html#limit_req
    - https://nginx.org/en/docs/http/ngx_http_core_module.html#location
    - https://doc.traefik.io/traefik/v3.4/middlewares/http/ratelimit/
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#rate-limiting
    - https://github.com/laurentS/slowapi/blob/v0.1.10/slowapi/extension.py
    - https://github.com/laurentS/slowapi/blob/v0.1.10/slowapi/middleware.py
    - https://github.com/long2ice/fastapi-limiter/blob/v0.2.0/fastapi_limiter/depends.py
    - https://github.com/fastapi/fastapi/blob/0.165.0/fastapi/security/oauth2.py
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L875-L922
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L579-L605
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L402-L454
    """

    code = "SA217"
    name = "login-without-rate-limit"
    severity = Severity.WARNING
    category = Category.AUTHENTICATION
    applies_to = (
        FileKind.PYTHON,
        FileKind.COMMAND_LINE,
        FileKind.NGINX,
        FileKind.COMPOSE,
        FileKind.KUBERNETES,
        FileKind.STACK,
    )
    cwe = 307
    examples = (
        Bad(
            "main.py",
            """
            from typing import Annotated
            from fastapi import Depends, FastAPI
            from fastapi.security import OAuth2PasswordRequestForm

            app = FastAPI()

            @app.post("/token")
            async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]):  # expect: SA217
                return {"access_token": form.username}
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
            from typing import Annotated
            from fastapi import Depends, FastAPI, Request
            from fastapi.security import OAuth2PasswordRequestForm
            from slowapi import Limiter
            from slowapi.util import get_remote_address

            limiter = Limiter(key_func=get_remote_address)
            app = FastAPI()

            @app.post("/token")
            @limiter.limit("5/minute")
            async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]):
                return {"access_token": form.username}
        """,
            title="slowapi limits the route",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            logins = stack.apps.login_endpoints(command)
            if not logins or stack.apps.rate_limits(command):
                continue
            for login in logins:
                if login.limited:
                    continue
                way = _unlimited_way(stack, command, login)
                if way is not None:
                    yield self._report(command, login, way)

    def _report(self, command: ServeCommand, login: LoginEndpoint, way: Way) -> Diagnostic:
        how, where, confidence = way
        path = f"`{login.path}`" if login.complete else f"`…{login.path}` (under its router)"
        return self.report(
            login.span,
            f"{login.evidence}: passwords sent to {path} can be tried as fast as "
            f"the server answers, as {how} reaches it with no rate limit",
            help="limit the login's request rate: `limit_req` on the nginx location, a "
            "Traefik `ratelimit` middleware, an ingress-nginx `limit-rpm` annotation, or "
            'slowapi\'s `@limiter.limit("5/minute")` on the route',
            fix_title="Rate-limit the login",
            related=[Related(where, "the way in"), Related(command.span, "the server")],
            confidence=confidence,
        )


def _unlimited_way(stack: Stack, command: ServeCommand, login: LoginEndpoint) -> Way | None:
    """How a client reaches the login with nothing limiting the rate, or None. A route
    whose full path is known is judged on the proxy routes that carry it; one whose
    router may be included under a prefix not known here, only when no proxy route in
    front of the app limits anything."""
    carrying: list[tuple[Frontend, str]] = []
    for frontend in stack.links.frontends_of(command):
        if _local_names_only(frontend.hosts) or frontend.auth:
            continue
        shown = _carries(stack, frontend, login)
        if shown is not None:
            carrying.append((frontend, shown))
    if not login.complete and any(f.rate_limits != () for f, _ in carrying):
        return None
    for frontend, shown in carrying:
        if frontend.rate_limits == ():
            link = next(b.confidence for b in frontend.backends if b.command == command)
            return shown, frontend.span, link
    if carrying:
        return None
    exposure = stack.deploy.exposure(command)
    if exposure is not None and exposure.reachable_without_proxy is True:
        published = exposure.on_all_interfaces[0]
        what = f"{exposure.service.label}'s port `{published.describe()}` on every interface"
        return what, published.span, Confidence.HIGH
    return None


def _carries(stack: Stack, frontend: Frontend, login: LoginEndpoint) -> str | None:
    """How ``frontend`` passes the login on, for messages; None when it does not."""
    if frontend.route is None:
        if frontend.strips_path is None:
            return None
        prefix = frontend.path.rstrip("/")
        path = login.path
        if frontend.strips_path or not login.complete or path == prefix:
            return frontend.where
        return frontend.where if path.startswith(prefix + "/") else None
    route = frontend.route
    servers = stack.nginx_servers
    server, location = servers.server_of(route), servers.location_of(route)
    if server is None or location is None or not server.public or server.opaque:
        return None
    if route.auth.any or location_answers_first(location):
        return None
    if server.redirects_plain_http and not server.tls_listens:
        return None
    if not login.complete:
        return f"nginx {frontend.where}"
    public = requested_path(route, login.path)
    if public is None or server.location_for(public) is not location:
        return None
    return f"nginx {frontend.where} (as `{public}`)"


def _local_names_only(hosts: tuple[str, ...]) -> bool:
    """Every host name is ``localhost`` or under ``.localhost`` (RFC 6761, 6.3): a
    developer's route."""
    names = [host.lower().rstrip(".") for host in hosts]
    return bool(names) and all(n == "localhost" or n.endswith(".localhost") for n in names)
