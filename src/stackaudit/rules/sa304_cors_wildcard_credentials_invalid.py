from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.cors import CorsPolicy
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class CorsWildcardCredentialsInvalid(Rule):
    """
    ## What it does
    Flags a literal `Access-Control-Allow-Origin: *` sent together with
    `Access-Control-Allow-Credentials: true` (nginx `add_header`, proxy middlewares,
    ingress annotations, Tornado handlers' `set_header`). Starlette's `CORSMiddleware` is
    not concerned: it replaces `*` by the request origin when credentials are on (SA301).
    Nor is a Tornado handler that sets `*` as its default and replaces it with the
    request's Origin in a method (Bokeh's autoload handler does, for requests with
    cookies): `set_header` replaces the value, and the reflection is SA302's to judge.

    ## Why is this bad?
    The Fetch standard forbids the combination: for a request with credentials the
    browser refuses a response whose `Access-Control-Allow-Origin` is `*`, so the
    front end fails with a CORS error. The usual "fix" found online is to echo
    `$http_origin`, which opens the API to every site (SA302).

    ## Example
    ```nginx
    add_header Access-Control-Allow-Origin * always;
    add_header Access-Control-Allow-Credentials true always;
    ```

    ## Use instead
    Name the allowed origin, or echo it only through an anchored allowlist (see SA302);
    or drop credentials if the API is public and cookie-less.
    ```nginx
    add_header Access-Control-Allow-Origin https://app.example.com always;
    add_header Access-Control-Allow-Credentials true always;
    ```

    ## References
    - https://fetch.spec.whatwg.org/#cors-protocol-and-credentials
    - https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Origin
    - https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
    - https://www.tornadoweb.org/en/stable/web.html#tornado.web.RequestHandler.set_header
    """

    code = "SA304"
    name = "cors-wildcard-credentials-invalid"
    severity = Severity.WARNING
    category = Category.CORS
    applies_to = (FileKind.NGINX, FileKind.COMPOSE, FileKind.KUBERNETES)
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                location /api/ {
                    add_header Access-Control-Allow-Origin * always;  # expect: SA304
                    add_header Access-Control-Allow-Credentials true always;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                location /api/ {
                    add_header Access-Control-Allow-Origin * always;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
            title="a public API without credentials",
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                location /api/ {
                    add_header Access-Control-Allow-Origin https://app.example.com always;
                    add_header Access-Control-Allow-Credentials true always;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              api:
                image: registry.example.com/api:2
                labels:
                  - traefik.http.routers.api.rule=Host(`api.example.com`)
                  - traefik.http.routers.api.middlewares=cors
                  - traefik.http.middlewares.cors.headers.accesscontrolalloworiginlist=*  # expect: SA304
                  - traefik.http.middlewares.cors.headers.accesscontrolallowcredentials=true
        """,
            title="a Traefik headers middleware in compose labels",
        ),
        Bad(
            "ingress.yaml",
            """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: api
              annotations:
                nginx.ingress.kubernetes.io/enable-cors: "true"  # expect: SA304
            spec:
              rules:
                - host: api.example.com
                  http:
                    paths:
                      - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
        """,
            title="ingress-nginx defaults: cors-allow-origin `*`, cors-allow-credentials `true`",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              api:
                image: registry.example.com/api:2
                labels:
                  - traefik.http.routers.api.rule=Host(`api.example.com`)
                  - traefik.http.routers.api.middlewares=cors
                  - traefik.http.middlewares.cors.headers.accesscontrolalloworiginlist=https://app.example.com
                  - traefik.http.middlewares.cors.headers.accesscontrolallowcredentials=true
        """,
        ),
        Bad(
            "handlers.py",
            """
            from tornado.web import RequestHandler


            class DataHandler(RequestHandler):
                def set_default_headers(self):
                    self.set_header("Access-Control-Allow-Origin", "*")  # expect: SA304
                    self.set_header("Access-Control-Allow-Credentials", "true")
        """,
            title="a Tornado handler",
        ),
        Good(
            "handlers.py",
            """
            from tornado.web import RequestHandler


            class EmbedHandler(RequestHandler):
                def set_default_headers(self):
                    self.set_header("Access-Control-Allow-Origin", "*")
                    self.set_header("Access-Control-Allow-Credentials", "true")

                def get(self):
                    origin = self.request.headers.get("Origin")
                    if origin in ("https://app.example.com", "https://admin.example.com"):
                        self.set_header("Access-Control-Allow-Origin", origin)
        """,
            title="the default wildcard replaced by a checked Origin in the method",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        # Tornado handlers (by file and class) that copy the request's Origin into the
        # header somewhere: their `*` is a default that the reflection replaces.
        reflecting = {
            (policy.span.path, policy.where)
            for policy in stack.cors_policies
            if policy.kind == "tornado" and policy.reflects_origin is not None
        }
        for policy in stack.cors_policies:
            if policy.kind == "starlette" or policy.allow_credentials is None:
                continue
            if (policy.span.path, policy.where) in reflecting:
                continue
            wildcard = next((w for w in policy.allowed_origins if w.text.strip() == "*"), None)
            if wildcard is None:
                continue
            yield self.report(
                policy.span,
                f"{policy.where}: Access-Control-Allow-Origin `*` together with "
                f"Access-Control-Allow-Credentials `{policy.allow_credentials.text}`: browsers "
                "refuse credentialed responses with a wildcard origin, so these requests fail",
                help=f"name the allowed origin (`{_origin(stack, policy)}`, or echo it only "
                "through an anchored allowlist map), or drop Access-Control-Allow-Credentials",
                fix_title="Name the allowed origin",
                related=[Related(policy.allow_credentials.span, "credentials allowed here")],
            )


def _origin(stack: Stack, policy: CorsPolicy) -> str:
    """The value to write instead of `*`: the origin the stack serves pages from."""
    origins = stack.public_origins
    header = "Access-Control-Allow-Origin" if policy.kind == "nginx" else "the origin"
    return f"{header} {origins[0] if origins else 'https://app.example.com'}"
