from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity, Span
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.origin_regex import matches_every_origin, may_match_null
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class CorsNullOrigin(Rule):
    """
    ## What it does
    Flags CORS that admits the origin `null`: `"null"` in Starlette's `allow_origins`,
    `add_header Access-Control-Allow-Origin null`, a `map` entry `null $http_origin`,
    or an origin regex that matches `null`. Error when credentials are allowed.

    ## Why is this bad?
    Browsers send `Origin: null` from sandboxed iframes, `data:` and `file:` documents
    and after some cross-origin redirects. Any site can produce it: it embeds
    `<iframe sandbox="allow-scripts" src="data:...">` and its script is then trusted as
    `null`, with the visitor's cookies when credentials are allowed.

    ## Example
    ```python
    app.add_middleware(CORSMiddleware, allow_origins=["null", "https://app.example.com"],
                       allow_credentials=True)
    ```

    ## Use instead
    List real origins only; serve local tools from `http://localhost:<port>` and allow
    that origin instead of `null`.

    ## References
    - https://fetch.spec.whatwg.org/#origin-header
    - https://html.spec.whatwg.org/multipage/browsers.html#sandboxed-origin-browsing-context-flag
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L97-L100
    - https://cwe.mitre.org/data/definitions/942.html
    """

    code = "SA305"
    name = "cors-null-origin"
    severity = Severity.WARNING
    category = Category.CORS
    applies_to = (FileKind.PYTHON, FileKind.NGINX)
    cwe = 942
    examples = (
        Bad(
            "nginx.conf",
            """
            map $http_origin $cors_origin {
                default "";
                "https://app.example.com" $http_origin;
                "null" $http_origin;  # expect: SA305
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
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=["null", "https://app.example.com"],  # expect: SA305
                allow_credentials=True,
            )
        """,
        ),
        Good(
            "nginx.conf",
            """
            map $http_origin $cors_origin {
                default "";
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
        ),
        Good(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"])
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for policy in stack.cors_policies:
            for span, what in self._null_entries(policy):
                credentials = policy.allow_credentials is not None
                message = f"{policy.where}: {what} admits the origin `null`, which any site can "
                message += "send from a sandboxed iframe or a data: document"
                related = [Related(policy.span, "CORS policy")] if policy.span != span else []
                if credentials:
                    assert policy.allow_credentials is not None
                    message += ", and credentials are allowed"
                    related.append(
                        Related(policy.allow_credentials.span, "credentials allowed here")
                    )
                yield self.report(
                    span,
                    message,
                    help="remove `null` from the allowed origins; allow the real origin of "
                    "local tools (such as `http://localhost:8080`) instead",
                    fix_title="Stop trusting the null origin",
                    related=related,
                    severity=Severity.ERROR if credentials else None,
                )

    @staticmethod
    def _null_entries(policy: CorsPolicy) -> Iterator[tuple[Span, str]]:
        for word in policy.allowed_origins:
            if word.text.strip().lower() == "null":
                yield word.span, "the allowed origin `null`"
        for pattern in policy.origin_patterns:
            # A pattern that matches everything is SA302's finding.
            if matches_every_origin(pattern.pattern, pattern.match):
                continue
            if may_match_null(pattern.pattern, pattern.match, pattern.case_insensitive):
                yield pattern.span, f"the origin pattern `{pattern.pattern}`"
