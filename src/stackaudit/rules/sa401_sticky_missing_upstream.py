from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Edit, FixSafety, Related, Severity
from stackaudit.facts.nginx import ProxyRoute, Upstream
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

STICKY_OPEN_SOURCE_SINCE = (1, 29, 6)


class StickyMissingUpstream(Rule):
    """
    ## What it does
    Flags an nginx `upstream` with two or more servers, balanced round-robin (the
    default), `least_conn` or `random`, with no `ip_hash`, `hash <client key>` or
    `sticky`, that serves a WebSocket location (a Bokeh/Panel app: `/ws`, or the
    upgrade headers). Without knowing that the backend is Bokeh or Panel, the finding
    has medium confidence.

    ## Why is this bad?
    A Bokeh or Panel session starts with the page request, which creates the session in
    one process, and continues over a WebSocket opened right after. When the balancer
    sends the WebSocket to another process, that process knows nothing of the session
    and silently creates a new one: the app code runs twice and per-process state is
    lost (bokeh/bokeh#7091, holoviz/panel#6678).

    `hash $key` pins every request with the same key whether or not `consistent` is
    given (`consistent` only limits remapping when servers change), so a key that
    identifies the client (`$remote_addr`, a cookie) is affine; `$request_uri` is not:
    the page and its WebSocket have different URIs.

    ## Example
    ```nginx
    upstream panel {
        least_conn;
        server 127.0.0.1:5100;
        server 127.0.0.1:5101;
    }
    ```

    ## Use instead
    ```nginx
    upstream panel {
        ip_hash;
        server 127.0.0.1:5100;
        server 127.0.0.1:5101;
    }
    ```
    or `hash $remote_addr consistent;`, or `sticky cookie srv_id;` (open-source nginx
    since 1.29.6, NGINX Plus before).

    ## References
    - https://nginx.org/en/docs/http/ngx_http_upstream_module.html#ip_hash
    - https://nginx.org/en/docs/http/ngx_http_upstream_module.html#hash
    - https://nginx.org/en/docs/http/ngx_http_upstream_module.html#sticky
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L200-L205
    - https://github.com/bokeh/bokeh/issues/7091
    - https://github.com/holoviz/panel/issues/6678
    """

    code = "SA401"
    name = "sticky-missing-upstream"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    category = Category.SCALING
    fix = FixSafety.SAFE
    applies_to = (FileKind.NGINX, FileKind.STACK)
    examples = (
        Bad(
            "nginx.conf",
            """
            upstream panel {  # expect: SA401
                least_conn;
                server 127.0.0.1:5100;
                server 127.0.0.1:5101;
            }
            server {
                listen 80;
                location / {
                    proxy_pass http://panel;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
            }
        """,
            fixed="""
            upstream panel {
                ip_hash;
                server 127.0.0.1:5100;
                server 127.0.0.1:5101;
            }
            server {
                listen 80;
                location / {
                    proxy_pass http://panel;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
            }
        """,
        ),
        Good(
            "nginx.conf",
            """
            upstream panel {
                ip_hash;
                server 127.0.0.1:5100;
                server 127.0.0.1:5101;
            }
            server {
                listen 80;
                location / {
                    proxy_pass http://panel;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
            }
        """,
        ),
        Good(
            "nginx.conf",
            """
            upstream api {
                server 10.0.0.1:8000;
                server 10.0.0.2:8000;
            }
            server {
                listen 80;
                location /api/ {
                    proxy_pass http://api;
                }
            }
        """,
            title="no WebSocket served: nothing suggests session state",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        sticky_available = stack.nginx.version_at_least(*STICKY_OPEN_SOURCE_SINCE)
        # WebSocket routes by the upstream they pass to (by identity, as the model links
        # them), gathered once: one scan of every route per upstream is quadratic.
        websocket_routes: dict[int, list[ProxyRoute]] = {}
        for route in stack.nginx_routes:
            if route.upstream is not None and route.is_websocket:
                websocket_routes.setdefault(id(route.upstream), []).append(route)
        for upstream in stack.nginx_upstreams:
            servers = upstream.active_servers
            if not servers or upstream.opaque or upstream.affinity() is not None:
                continue
            routes = websocket_routes.get(id(upstream), [])
            if not routes:
                continue
            # One server name can stand for several replicas (Docker DNS returns one
            # address per container, and nginx balances over them).
            replicated = [
                b for b in stack.links.backends_of_route(routes[0]) if (b.replicas or 1) > 1
            ]
            if len(servers) < 2 and not replicated:
                continue
            bokeh = any(r.backend is not None and r.backend.bokeh_family for r in routes)
            method = upstream.method
            if method == "hash":
                how = (
                    f"`hash {upstream.hash_key}`, a key that differs between a page and its "
                    "WebSocket,"
                )
            elif method == "round-robin":
                how = "round-robin (nginx's default)"
            else:
                how = f"`{method}`"
            suggestion = "`ip_hash;` or `hash $remote_addr consistent;`"
            if sticky_available:
                suggestion = "`sticky cookie srv_id;`, " + suggestion
            count = (
                f"{len(servers)} servers"
                if len(servers) > 1
                else f"the {replicated[0].replicas} replicas of {replicated[0].unit_label}"
            )
            yield self.report(
                upstream.span,
                f"upstream `{upstream.name}` spreads {count} by {how} and serves "
                f"the WebSocket route {routes[0].where} ({routes[0].evidence_text()}): a "
                "page and its WebSocket can reach different processes, which then runs the "
                "app again in a new session",
                help=f"pin each client to one server: add {suggestion}",
                fix_title="Make the upstream sticky",
                related=[
                    Related(r.span, "WebSocket location using this upstream") for r in routes[:3]
                ]
                + [Related(s.span, "server") for s in servers[:2]]
                + [Related(b.replicas_span, "replicas") for b in replicated[:1] if b.replicas_span],
                confidence=Confidence.HIGH if bokeh else None,
                edits=_ip_hash(upstream),
            )


def _ip_hash(upstream: Upstream) -> list[Edit]:
    """`ip_hash;` in place of the balancing method, or first in the block. nginx refuses
    `backup` servers with ip_hash: such an upstream is left to the reader."""
    block = upstream.block
    if block is None or not block.block or any(s.backup for s in upstream.servers):
        return []
    if upstream.method_span is not None:
        method = block.child_at(upstream.method_span)
        return [Edit(method.span, "ip_hash;")] if method is not None else []
    edit = block.insert(["ip_hash;"], before=block.block[0].span)
    return [edit] if edit is not None else []
