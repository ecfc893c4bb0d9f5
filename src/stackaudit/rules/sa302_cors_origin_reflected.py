from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity, Span
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.origin_regex import matches_every_origin
from stackaudit.model.origins import origin_pattern
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class CorsOriginReflected(Rule):
    """
    ## What it does
    Flags CORS that admits every site by echoing the request's `Origin`: nginx
    `add_header Access-Control-Allow-Origin $http_origin` (directly, through
    `set $x $http_origin`, or through a `map` whose `default` is `$http_origin`) with no
    validating `map` entry or `if ($http_origin ~ ...)` around it; a Tornado or
    Starlette handler copying the `Origin` into the header; an origin regex that
    matches everything (`allow_origin_regex=".*"`, a map key `~.*`).

    ## Why is this bad?
    Echoing the `Origin` is `Access-Control-Allow-Origin: *` that also works with
    credentials: with `Access-Control-Allow-Credentials: true`, any web page a visitor
    opens can call the API with the visitor's cookies and read the answers (CWE-942).
    Without credentials it still exposes whatever the network position of the visitor
    can reach (an intranet dashboard).

    ## Example
    ```nginx
    location /api/ {
        add_header Access-Control-Allow-Origin $http_origin always;
        add_header Access-Control-Allow-Credentials true always;
        proxy_pass http://127.0.0.1:8000;
    }
    ```

    ## Use instead
    Echo the origin only for an anchored allowlist:
    ```nginx
    map $http_origin $cors_origin {
        default "";
        "~^https://(www|app)\\.example\\.com$" $http_origin;
    }
    location /api/ {
        add_header Access-Control-Allow-Origin $cors_origin always;
        add_header Access-Control-Allow-Credentials true always;
        proxy_pass http://127.0.0.1:8000;
    }
    ```

    ## References
    - https://nginx.org/en/docs/http/ngx_http_map_module.html#map
    - https://fetch.spec.whatwg.org/#http-access-control-allow-origin
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L97-L100
    - https://cwe.mitre.org/data/definitions/942.html
    """

    code = "SA302"
    name = "cors-origin-reflected"
    severity = Severity.ERROR
    category = Category.CORS
    applies_to = (FileKind.NGINX, FileKind.PYTHON)
    cwe = 942
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                location /api/ {
                    add_header Access-Control-Allow-Origin $http_origin always;  # expect: SA302
                    add_header Access-Control-Allow-Credentials true always;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
        ),
        Bad(
            "nginx.conf",
            """
            map $http_origin $cors_origin {
                default $http_origin;  # expect: SA302
                "https://app.example.com" $http_origin;
            }
            server {
                listen 443 ssl;
                location /api/ {
                    add_header Access-Control-Allow-Origin $cors_origin always;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
            title="a map whose default echoes the origin validates nothing",
        ),
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origin_regex=".*",  # expect: SA302
                allow_credentials=True,
            )
        """,
            title="Starlette: a regex that matches every origin",
        ),
        Bad(
            "handlers.py",
            """
            import tornado.web

            class Api(tornado.web.RequestHandler):
                def set_default_headers(self):
                    origin = self.request.headers.get("Origin")
                    self.set_header("Access-Control-Allow-Origin", origin)  # expect: SA302
                    self.set_header("Access-Control-Allow-Credentials", "true")
            """,
            title="Tornado: the handler echoes the Origin",
        ),
        Good(
            "nginx.conf",
            """
            map $http_origin $cors_origin {
                default "";
                "~^https://(www|app)\\.example\\.com$" $http_origin;
            }
            server {
                listen 443 ssl;
                location /api/ {
                    add_header Access-Control-Allow-Origin $cors_origin always;
                    add_header Access-Control-Allow-Credentials true always;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
        ),
        Good(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origin_regex=r"https://[a-z0-9-]+\\.example\\.com",
                allow_credentials=True,
            )
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for policy in stack.cors_policies:
            span = policy.reflects_origin
            if (
                span is not None
                and not policy.reflection_guarded
                and not (policy.kind == "starlette" and self._wildcard_credentials(policy))
            ):
                yield self._reflected(policy, span, _origins(stack))
            for pattern in policy.origin_patterns:
                if not matches_every_origin(pattern.pattern, pattern.match):
                    continue
                yield self.report(
                    pattern.span,
                    f"{policy.where}: the origin pattern `{pattern.pattern}` admits every "
                    "origin, so every site is allowed" + self._credentials(policy),
                    help="match only your own origins, anchored: "
                    f"`{origin_pattern(_origins(stack))}`",
                    fix_title="Restrict the origin pattern",
                    related=self._related(policy, pattern.span),
                )

    @staticmethod
    def _wildcard_credentials(policy: CorsPolicy) -> bool:
        # allow_origins=["*"] with credentials is SA301's finding.
        return policy.allow_credentials is not None and any(
            w.text == "*" for w in policy.allowed_origins
        )

    @staticmethod
    def _credentials(policy: CorsPolicy) -> str:
        if policy.allow_credentials is None:
            return ""
        return (
            "; credentials are allowed too, so any site can send requests with the "
            "visitor's cookies and read the answers"
        )

    @staticmethod
    def _related(policy: CorsPolicy, span: Span) -> list[Related]:
        related = []
        if policy.span != span:
            related.append(Related(policy.span, "Access-Control-Allow-Origin set here"))
        if policy.allow_credentials is not None:
            related.append(Related(policy.allow_credentials.span, "credentials allowed here"))
        return related

    def _reflected(self, policy: CorsPolicy, span: Span, origins: list[str]) -> Diagnostic:
        if policy.kind == "nginx":
            how = (
                "Access-Control-Allow-Origin echoes the request's `$http_origin` with no "
                "validating `map` entry or `if ($http_origin ~ ...)`"
            )
            help_text = (
                "echo the origin only through an anchored allowlist: `map $http_origin "
                f'$cors_origin {{ default ""; "~{origin_pattern(origins)}" $http_origin; }}` '
                "and `add_header Access-Control-Allow-Origin $cors_origin`"
            )
        else:
            how = "Access-Control-Allow-Origin echoes the request's Origin unchecked"
            allowed = ", ".join(f'"{o}"' for o in origins) or '"https://app.example.com"'
            help_text = f"compare the Origin with an allowlist ({{{allowed}}}) before echoing it"
        return self.report(
            span,
            f"{policy.where}: {how}, so every site is allowed" + self._credentials(policy),
            help=help_text,
            fix_title="Validate the origin before echoing it",
            related=self._related(policy, span),
        )


def _origins(stack: Stack) -> list[str]:
    """The origins to allow, as far as the stack tells: `public-hosts`, else the hosts
    its proxies serve."""
    return stack.public_origins
