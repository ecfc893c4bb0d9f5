from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Edit, FixSafety, Related, Severity
from stackaudit.facts.nginx import HeaderLoss, restore_headers
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class ProxyHeaderInheritance(Rule):
    """
    ## What it does
    Flags an nginx level (server or location) that defines `proxy_set_header` of its own
    while an enclosing level defines others, which are therefore not sent from here.
    The message names the headers that are lost.

    ## Why is this bad?
    nginx inherits `proxy_set_header` from the previous level *if and only if* the
    current level defines none. A location that adds one header (say
    `X-Forwarded-Proto`) silently drops every header the server set: `Host`,
    `X-Forwarded-For`, and often `Upgrade`/`Connection`, which breaks WebSockets,
    or `X-Forwarded-Proto`, which makes OAuth redirects and `HTTPSRedirectMiddleware`
    go wrong.

    ## Example
    ```nginx
    server {
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        location / {
            proxy_pass http://127.0.0.1:5006;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }
    ```

    ## Use instead
    Repeat the enclosing level's headers where a level defines its own (a snippet
    included at each level keeps them in one place):
    ```nginx
    location / {
        proxy_pass http://127.0.0.1:5006;
        include snippets/proxy-headers.conf;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
    ```

    ## References
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
    - https://github.com/nginx/nginx/blob/release-1.27.4/src/http/modules/ngx_http_proxy_module.c
    """

    code = "SA503"
    name = "proxy-header-inheritance"
    severity = Severity.WARNING
    category = Category.REVERSE_PROXY
    applies_to = (FileKind.NGINX,)
    fix = FixSafety.SAFE
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 80;
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_set_header X-Forwarded-Proto $scheme;  # expect: SA503
                }
            }
        """,
            fixed="""
            server {
                listen 80;
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_set_header Host $host;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    proxy_set_header X-Forwarded-Proto $scheme;
                }
            }
        """,
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 80;
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                }
            }
        """,
            title="the location defines none and inherits them all",
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 80;
                proxy_set_header Host $host;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_set_header Host $host;
                    proxy_set_header X-Forwarded-Proto $scheme;
                }
            }
        """,
            title="the location repeats them",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for loss in stack.nginx.header_losses:
            if loss.directive != "proxy_set_header":
                continue
            names = ", ".join(f"`{h.name}`" for h in loss.lost)
            lines = [h.written("proxy_set_header") for h in loss.lost]
            shown = "; ".join(f"`{line}`" for line in lines if line)
            yield self.report(
                loss.span,
                f"{loss.where} sets its own proxy_set_header, so the ones set at "
                f"{loss.from_where} are not sent from here: {names} "
                "(nginx inherits proxy_set_header only into levels that define none)",
                help=f"repeat at this level {shown}, or include one snippet holding the "
                "headers at every level that sets proxy_set_header",
                fix_title="Repeat the inherited proxy headers",
                related=[Related(h.span, f"not sent from {loss.where}") for h in loss.lost],
                edits=_edits(loss),
            )


def _edits(loss: HeaderLoss) -> list[Edit]:
    """The lost headers written before the level's own ones, as nginx would have sent
    them."""
    edit = restore_headers(loss.level, loss.lost, loss.span)
    return [edit] if edit is not None else []
