from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Edit, FixSafety, Related, Severity
from stackaudit.facts.nginx import ProxyRoute
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# nginx 1.29.7 made HTTP/1.1 (with keep-alive) the default for proxied requests.
HTTP11_DEFAULT_SINCE = (1, 29, 7)


class ProxyHttpVersion(Rule):
    """
    ## What it does
    Flags an nginx location that proxies a WebSocket endpoint while talking HTTP/1.0 to
    the backend: `proxy_http_version 1.0` in effect, or no `proxy_http_version 1.1` on
    an nginx older than 1.29.7, whose default is 1.0. The nginx version comes from
    `nginx-version` in the configuration; when it is unknown, nginx is assumed older
    and the message says so.

    ## Why is this bad?
    A WebSocket handshake is an HTTP/1.1 upgrade. Proxied over HTTP/1.0, the backend
    sees no upgradable request and refuses it, whatever `Upgrade`/`Connection` headers
    are set. nginx's own WebSocket guide requires `proxy_http_version 1.1`; nginx
    1.29.7 changed the default to 1.1, but most deployed versions are older.

    ## Example
    ```nginx
    location /ws {
        proxy_pass http://127.0.0.1:5006;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
    ```

    ## Use instead
    ```nginx
    location /ws {
        proxy_pass http://127.0.0.1:5006;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
    ```

    ## References
    - https://nginx.org/en/docs/http/websocket.html
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_http_version
    - https://nginx.org/en/CHANGES
    - https://nginxblog.azurewebsites.net/blog/keep-alive-to-upstreams-is-now-default-in-nginx-1-29-7
    """

    code = "SA502"
    name = "proxy-http-version"
    severity = Severity.ERROR
    category = Category.REVERSE_PROXY
    applies_to = (FileKind.NGINX,)
    fix = FixSafety.SAFE
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 80;
                location /ws {  # expect: SA502
                    proxy_pass http://127.0.0.1:5006;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
            }
        """,
            fixed="""
            server {
                listen 80;
                location /ws {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
            }
        """,
        ),
        Bad(
            "nginx.conf",
            """
            http {
                proxy_http_version 1.0;
                server {
                    listen 80;
                    location /app/ws {  # expect: SA502
                        proxy_pass http://app:5006;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                    }
                }
            }
        """,
            fixed="""
            http {
                proxy_http_version 1.0;
                server {
                    listen 80;
                    location /app/ws {
                        proxy_pass http://app:5006;
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                    }
                }
            }
        """,
            title="an explicit 1.0 inherited from http {}",
        ),
        Good(
            "nginx.conf",
            """
            http {
                proxy_http_version 1.1;
                server {
                    listen 80;
                    location /ws {
                        proxy_pass http://127.0.0.1:5006;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                    }
                }
            }
        """,
            title="inherited from http {}",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        recent = stack.nginx.version_at_least(*HTTP11_DEFAULT_SINCE)
        for route in stack.nginx_routes:
            if not route.is_websocket or route.opaque_includes:
                continue
            setting = route.http_version
            if setting.text == "1.1" or (not setting.explicit and recent):
                continue
            if setting.explicit and setting.text != "1.0":
                continue  # "2" (HTTP/2 to the backend) or a typo: not judged here
            related = []
            if setting.explicit:
                assert setting.span is not None
                reason = f"`proxy_http_version {setting.text}` is in effect"
                if setting.span.path != route.span.path or setting.span.line != route.span.line:
                    related.append(Related(setting.span, "proxy_http_version set here"))
                confidence = Confidence.HIGH
            elif recent is None:
                reason = (
                    "no `proxy_http_version 1.1` is set and nginx before 1.29.7 proxies "
                    "with HTTP/1.0 (nginx version unknown: assumed older; set "
                    "`nginx-version` in the configuration)"
                )
                confidence = Confidence.MEDIUM
            else:
                reason = (
                    f"no `proxy_http_version 1.1` is set and nginx {stack.nginx.version_text}"
                    " proxies with HTTP/1.0 by default"
                )
                confidence = Confidence.HIGH
            confidence = confidence.weaker(route.websocket_confidence)
            yield self.report(
                route.span,
                f"{route.where} proxies a WebSocket ({route.evidence_text()}) over HTTP/1.0: "
                f"{reason}; the backend cannot upgrade the connection",
                help=f"{'set' if _own(route) else 'add'} `proxy_http_version 1.1;` in this "
                "location",
                fix_title="Proxy with HTTP/1.1",
                related=related,
                confidence=confidence,
                edits=_edits(route),
            )


def _own(route: ProxyRoute) -> bool:
    setting = route.http_version
    return bool(route.block and setting.span and route.block.child_at(setting.span))


def _edits(route: ProxyRoute) -> list[Edit]:
    """`proxy_http_version 1.1;` in the location: its own value replaced, else written
    after `proxy_pass` (an inherited 1.0 stays for the other locations)."""
    block, setting = route.block, route.http_version
    if block is None:
        return []
    if _own(route):
        assert setting.value is not None
        return [Edit(setting.value.span, "1.1")]
    edit = block.insert(["proxy_http_version 1.1;"], after=route.pass_span)
    return [edit] if edit is not None else []
