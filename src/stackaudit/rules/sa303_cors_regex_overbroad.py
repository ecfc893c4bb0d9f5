from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.origin_regex import analyse_origin_regex
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class CorsRegexOverbroad(Rule):
    """
    ## What it does
    Flags an origin regular expression that admits origins its author did not mean: a
    `.*` (or any repeated class) that can run into the registrable domain
    (`https://.*example\\.com` admits `https://evilexample.com`), an unescaped `.` in
    the host (`app.example.com` admits `appxexample.com`), only a top-level domain fixed,
    a wildcard after the host, or, for nginx `map` keys and `if ($http_origin ~ ...)`,
    a missing `^`/`$`: nginx regexes search anywhere in the value, Starlette's
    `allow_origin_regex` must match the whole origin.

    ## Why is this bad?
    An attacker registers a domain the pattern admits and reads responses with the
    visitor's credentials. The analysis reads the pattern text; it never runs the
    regex on long input.

    ## Example
    ```nginx
    if ($http_origin ~* "https://.*\\.example\\.com") {
        add_header Access-Control-Allow-Origin $http_origin;
    }
    ```
    admits `https://www.example.com.attacker.net`.

    ## Use instead
    Escape every dot, end a wildcard label with `\\.`, anchor nginx patterns:
    ```nginx
    if ($http_origin ~* "^https://([a-z0-9-]+\\.)?example\\.com$") {
        add_header Access-Control-Allow-Origin $http_origin;
    }
    ```

    ## References
    - https://nginx.org/en/docs/http/ngx_http_rewrite_module.html#if
    - https://nginx.org/en/docs/http/ngx_http_map_module.html#map
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L97-L100
    - https://cwe.mitre.org/data/definitions/942.html
    """

    code = "SA303"
    name = "cors-regex-overbroad"
    severity = Severity.ERROR
    category = Category.CORS
    applies_to = (FileKind.PYTHON, FileKind.NGINX)
    cwe = 942
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                location /api/ {
                    if ($http_origin ~* "^https://.*\\.example\\.com") {  # expect: SA303
                        add_header Access-Control-Allow-Origin $http_origin always;
                    }
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
            title="unanchored: nginx searches",
        ),
        Bad(
            "nginx.conf",
            """
            map $http_origin $cors_origin {
                default "";
                "~^https://app.example.com$" $http_origin;  # expect: SA303
            }
            server {
                listen 443 ssl;
                location /api/ {
                    add_header Access-Control-Allow-Origin $cors_origin always;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
            title="unescaped dots",
        ),
        Bad(
            "main.py",
            """
            from starlette.applications import Starlette
            from starlette.middleware.cors import CORSMiddleware

            app = Starlette()
            app.add_middleware(
                CORSMiddleware,
                allow_origin_regex=r"https://.*example\\.com",  # expect: SA303
            )
        """,
            title="Starlette: the wildcard reaches the registrable domain",
        ),
        Good(
            "nginx.conf",
            """
            map $http_origin $cors_origin {
                default "";
                "~^https://([a-z0-9-]+\\.)?example\\.com$" $http_origin;
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
            from starlette.applications import Starlette
            from starlette.middleware.cors import CORSMiddleware

            app = Starlette()
            app.add_middleware(
                CORSMiddleware,
                allow_origin_regex=r"https://.*\\.example\\.com",
            )
        """,
            title="fullmatch: anchored by Starlette, the label ends with a dot",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for policy in stack.cors_policies:
            for pattern in policy.origin_patterns:
                findings = analyse_origin_regex(pattern.pattern, pattern.match)
                if not findings:
                    continue
                first = findings[0]
                also = [f.detail for f in findings[1:]]
                message = (
                    f"{policy.where}: origin pattern `{pattern.pattern}` admits "
                    f"`{first.example}`: {first.detail}"
                )
                if also:
                    message += "; also " + "; ".join(also)
                if policy.allow_credentials is not None:
                    message += ", with credentials"
                related = [Related(policy.span, "Access-Control-Allow-Origin set here")]
                if pattern.match == "search":
                    example = r"`^https://([a-z0-9-]+\.)?example\.com$`"
                    advice = "escape every dot (`\\.`), end a wildcard label with `\\.`, anchor with `^...$`"
                else:
                    example = r"`https://([a-z0-9-]+\.)?example\.com`"
                    advice = "escape every dot (`\\.`) and end a wildcard label with `\\.`"
                yield self.report(
                    pattern.span,
                    message,
                    help=f"{advice}: {example}",
                    fix_title="Tighten the origin pattern",
                    related=related,
                )
