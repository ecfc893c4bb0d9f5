from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

ADD_HEADER_INHERIT_SINCE = (1, 29, 3)


class AddHeaderInheritance(Rule):
    """
    ## What it does
    Flags an nginx level (server, location, or `if` in a location) that defines
    `add_header` of its own while an enclosing level defines others, which are
    therefore missing from its responses, unless `add_header_inherit merge` (or `off`)
    is in effect. The message names the headers that are lost. An `if` block that ends
    in `return` (a CORS preflight answer) is not flagged.

    ## Why is this bad?
    nginx inherits `add_header` from the previous level *if and only if* the current
    level defines none. One `add_header Cache-Control ...` in a location removes the
    server's `Strict-Transport-Security`, `Content-Security-Policy`,
    `X-Frame-Options` or CORS headers from every response of that location, with no
    warning. nginx 1.29.3 added `add_header_inherit merge;` to append the enclosing
    level's headers instead.

    ## Example
    ```nginx
    server {
        add_header Strict-Transport-Security "max-age=31536000" always;
        add_header X-Frame-Options DENY always;
        location /static/ {
            add_header Cache-Control "public, max-age=86400";
        }
    }
    ```

    ## Use instead
    Repeat the server's headers in the location (or include one snippet at both
    levels), or on nginx >= 1.29.3:
    ```nginx
    server {
        add_header_inherit merge;
        add_header Strict-Transport-Security "max-age=31536000" always;
        location /static/ {
            add_header Cache-Control "public, max-age=86400";
        }
    }
    ```

    ## References
    - https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
    - https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header_inherit
    """

    code = "SA504"
    name = "add-header-inheritance"
    severity = Severity.WARNING
    category = Category.REVERSE_PROXY
    security = True  # security headers (HSTS, CSP) silently dropped
    applies_to = (FileKind.NGINX,)
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                add_header Strict-Transport-Security "max-age=31536000" always;
                add_header X-Frame-Options DENY always;
                location /static/ {
                    root /srv;
                    add_header Cache-Control "public, max-age=86400";  # expect: SA504
                }
            }
        """,
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                add_header Strict-Transport-Security "max-age=31536000" always;
                location /static/ {
                    root /srv;
                }
            }
        """,
            title="the location defines none and inherits them",
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                add_header_inherit merge;
                add_header Strict-Transport-Security "max-age=31536000" always;
                location /static/ {
                    root /srv;
                    add_header Cache-Control "public, max-age=86400";
                }
            }
        """,
            title="nginx >= 1.29.3 merges on request",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        merge_available = stack.nginx.version_at_least(*ADD_HEADER_INHERIT_SINCE)
        for loss in stack.nginx.header_losses:
            if loss.directive != "add_header":
                continue
            names = ", ".join(f"`{h.name}`" for h in loss.lost)
            help_text = "repeat the lost `add_header` lines at this level"
            if merge_available:
                help_text += ", or set `add_header_inherit merge;` in the enclosing level"
            elif merge_available is None:
                help_text += " (on nginx >= 1.29.3, `add_header_inherit merge;` merges them)"
            yield self.report(
                loss.span,
                f"{loss.where} adds its own headers, so responses from here lose those added "
                f"at {loss.from_where}: {names} (nginx inherits add_header only into levels "
                "that define none)",
                help=help_text,
                fix_title="Repeat the inherited response headers",
                related=[Related(h.span, f"not added in {loss.where}") for h in loss.lost],
            )
