from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.durations import format_duration
from stackaudit.facts.nginx import ProxyRoute
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# Bokeh's (and Panel's) default WebSocket ping interval: --keep-alive 37000 ms.
BOKEH_DEFAULT_PING = 37.0


def timeout_problem(route: ProxyRoute, ping_interval: float | None) -> str | None:
    """Why the route's effective ``proxy_read_timeout`` cuts idle WebSocket sessions, or
    None. ``ping_interval`` is the backend's ping period in seconds (0: it never pings);
    None when the backend is unknown, in which case only an explicit timeout shorter
    than Bokeh's default ping (37 s) is judged: never nginx's 60 s default."""
    timeout = route.read_timeout.seconds
    if timeout is None:
        return None
    shown = route.read_timeout.describe()
    if ping_interval is None:
        if route.read_timeout.explicit and timeout < BOKEH_DEFAULT_PING:
            return (
                f"`{shown}` is shorter than the 37 s between Bokeh/Panel's default "
                "WebSocket pings, so idle sessions are cut"
            )
        return None
    if ping_interval == 0:
        return (
            f"`{shown}` closes idle connections and the backend never pings, so an "
            "idle session is cut after that long"
        )
    if timeout <= ping_interval:
        return (
            f"`{shown}` is not longer than the backend's ping interval "
            f"({format_duration(ping_interval)}), so idle sessions are cut between pings"
        )
    return None


class ProxyReadTimeoutShort(Rule):
    """
    ## What it does
    Flags a WebSocket location whose effective `proxy_read_timeout` (written there,
    inherited, or nginx's 60 s default) is not longer than the backend's WebSocket ping
    interval: Bokeh/Panel ping every 37 s by default (`--keep-alive`, `0` = never),
    uvicorn every 20 s (`--ws-ping-interval`). Without knowledge of the backend, only an
    explicit timeout below 37 s is flagged; the 60 s default never is.

    ## Why is this bad?
    `proxy_read_timeout` is the longest nginx waits between two reads from the backend;
    on a WebSocket that is the longest a session may stay silent. When it expires nginx
    closes the connection: a dashboard nobody touches disconnects and must be reloaded.
    Server pings reset the timer, so the timeout must be longer than the ping interval.

    ## Example
    ```nginx
    location /ws {
        proxy_pass http://127.0.0.1:5006;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_read_timeout 30s;
    }
    ```

    ## Use instead
    A timeout comfortably above the ping interval (or the 60 s default with Bokeh's
    37 s pings); long-lived dashboards often use hours:
    ```nginx
    proxy_read_timeout 1h;
    ```

    ## References
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout
    - https://nginx.org/en/docs/http/websocket.html
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L73
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L485-L489
    - https://github.com/encode/uvicorn/blob/0.54.0/uvicorn/main.py#L164-L167
    """

    code = "SA505"
    name = "proxy-read-timeout-short"
    severity = Severity.ERROR
    category = Category.REVERSE_PROXY
    applies_to = (FileKind.NGINX, FileKind.STACK)
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 80;
                location /ws {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                    proxy_read_timeout 30s;  # expect: SA505
                }
            }
        """,
        ),
        Good(
            "nginx.conf",
            """
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
            title="nginx's 60 s default outlasts Bokeh's 37 s pings",
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 80;
                location /ws {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                    proxy_read_timeout 1d;
                }
            }
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for route in stack.nginx_routes:
            if not route.is_websocket:
                continue
            backend = route.backend
            ping = backend.ping_interval if backend is not None else None
            problem = timeout_problem(route, ping)
            if problem is None:
                continue
            span = route.read_timeout.span or route.span
            related = []
            if span != route.span:
                related.append(Related(route.span, "WebSocket location"))
            if backend is not None and backend.ping_span is not None:
                related.append(Related(backend.ping_span, "backend ping interval"))
            yield self.report(
                span,
                f"{route.where} proxies a WebSocket ({route.evidence_text()}): {problem}",
                help="set `proxy_read_timeout` well above the backend's ping interval "
                "(for example `proxy_read_timeout 1h;`)",
                fix_title="Lengthen proxy_read_timeout",
                related=related,
            )
