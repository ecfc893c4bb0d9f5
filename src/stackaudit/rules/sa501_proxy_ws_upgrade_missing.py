from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.nginx import ProxyRoute
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.stack import Stack


class ProxyWsUpgradeMissing(Rule):
    """
    ## What it does
    Flags an nginx location that proxies a WebSocket endpoint but whose *effective*
    `proxy_set_header` list (after nginx's inheritance rules) does not pass
    `Upgrade $http_upgrade` and a `Connection` header carrying `upgrade`. A location
    counts as a WebSocket route when its path ends in `/ws` (Bokeh's and Panel's
    WebSocket path), when it sets one of the two headers, or when the stack knows the
    backend serves WebSockets.

    ## Why is this bad?
    `Upgrade` and `Connection` are hop-by-hop headers: nginx never forwards the
    client's, and by default sends `Connection: close`. Without both set explicitly the
    backend receives a plain GET, Tornado answers 400 (`Can "Upgrade" only to
    "WebSocket".`, or `"Connection" must be "Upgrade".`) and a Bokeh or Panel page stays
    blank. nginx inherits
    `proxy_set_header` only when a level defines none, so a location that sets a single
    header of its own silently loses the server's `Upgrade`/`Connection`.

    ## Example
    ```nginx
    location /app/ws {
        proxy_pass http://127.0.0.1:5006;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
    }
    ```

    ## Use instead
    ```nginx
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }

    location /app/ws {
        proxy_pass http://127.0.0.1:5006;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
    }
    ```
    A hard-coded `proxy_set_header Connection "upgrade";` works as well.

    ## References
    - https://nginx.org/en/docs/http/websocket.html
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
    - https://docs.bokeh.org/en/latest/docs/user_guide/server/deploy.html
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L238-L264
    """

    code = "SA501"
    name = "proxy-ws-upgrade-missing"
    severity = Severity.ERROR
    category = "reverse-proxy"
    applies_to = ("nginx", "stack")
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 80;
                server_name dash.example.com;
                location /app/ws {  # expect: SA501
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header Host $host;
                }
            }
        """,
        ),
        Bad(
            "nginx.conf",
            """
            server {
                listen 80;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection "upgrade";
                location / {  # expect: SA501
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header X-Forwarded-Proto $scheme;
                }
            }
        """,
            title="the location's own header drops the server's",
        ),
        Good(
            "nginx.conf",
            """
            map $http_upgrade $connection_upgrade {
                default upgrade;
                ''      close;
            }
            server {
                listen 80;
                location /app/ws {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection $connection_upgrade;
                }
            }
        """,
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 80;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                    proxy_http_version 1.1;
                }
            }
        """,
            title="Bokeh's documented configuration",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        seen = set()
        for route in stack.nginx_routes:
            if not route.is_websocket or route.opaque_includes or route.span in seen:
                continue
            missing = self.missing_headers(route)
            if not missing:
                continue
            seen.add(route.span)
            yield self._report(route, missing)

    @staticmethod
    def missing_headers(route: ProxyRoute) -> list[str]:
        missing = []
        if not route.upgrade_forwarded:
            missing.append("`Upgrade $http_upgrade`")
        if route.connection_upgrade == "no":
            missing.append('`Connection "upgrade"`')
        return missing

    def _report(self, route: ProxyRoute, missing: list[str]) -> Diagnostic:
        if route.proxy_headers_from is None:
            current = "nginx's defaults (`Host $proxy_host`, `Connection close`)"
        else:
            current = f"those set at {route.proxy_headers_from}"
        message = (
            f"{route.where} proxies a WebSocket ({route.evidence_text()}) but lacks "
            f"{' and '.join(missing)}: its proxy headers are {current}, and nginx does not "
            "forward hop-by-hop headers, so the upgrade never reaches the backend"
        )
        dropped = [
            h for h in route.dropped_proxy_headers if h.name.lower() in ("upgrade", "connection")
        ]
        related = [
            Related(h.span, "dropped here: this location sets its own proxy_set_header")
            for h in dropped
        ]
        if dropped:
            message += "; the enclosing level's Upgrade/Connection are dropped because this "
            message += "location sets proxy_set_header of its own"
        related += [
            Related(e.span, "WebSocket evidence")
            for e in route.websocket_evidence
            if e.span is not None and e.span.path == route.span.path
        ][:2]
        return self.report(
            route.span,
            message,
            help="add `proxy_set_header Upgrade $http_upgrade;` and `proxy_set_header "
            "Connection $connection_upgrade;` to this location (with `map $http_upgrade "
            "$connection_upgrade { default upgrade; '' close; }` in `http {}`), or "
            '`proxy_set_header Connection "upgrade";`',
            fix_title="Forward the WebSocket upgrade headers",
            related=related,
        )
