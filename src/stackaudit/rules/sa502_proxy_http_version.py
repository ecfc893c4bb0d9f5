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

    What happens then depends on the backend, which the stack links to the route: a
    Bokeh/Panel (Tornado) server is an error; a backend that runs uvicorn (uvicorn,
    `fastapi run`, gunicorn with a uvicorn worker class) is left alone, since uvicorn
    keeps such a WebSocket open; an unknown backend is reported with medium confidence.

    ## Why is this bad?
    A WebSocket handshake is an HTTP/1.1 upgrade. Tornado, which serves Bokeh and
    Panel, answers an HTTP/1.0 handshake with `101 Switching Protocols` and then closes
    the connection: an HTTP/1.0 request without `Connection: keep-alive` ends the
    connection with its response (`HTTP1Connection._can_keep_alive`), so the browser's
    WebSocket closes at once and the app never loads. nginx's own WebSocket guide
    requires `proxy_http_version 1.1`; nginx 1.29.7 changed the default to 1.1, but most
    deployed versions are older. uvicorn (h11 and httptools alike) hands the upgrade to
    its WebSocket protocol with the request line rewritten to HTTP/1.1, and the
    connection stays open: measured through nginx 1.22.1 with `proxy_http_version 1.0`
    (docs/upstream-facts.md, "Existing rules corrected").

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
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/http1connection.py#L602-L620
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/http1connection.py#L622-L626
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L982-L988
    - https://github.com/Kludex/uvicorn/blob/0.55.0/uvicorn/protocols/http/h11_impl.py#L276-L293
    - https://github.com/Kludex/uvicorn/blob/0.55.0/uvicorn/protocols/http/httptools_impl.py#L179-L203
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
            backend = route.backend
            if backend is not None and backend.uvicorn_only:
                continue  # uvicorn upgrades an HTTP/1.0 handshake and keeps it open
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
            if backend is not None and backend.bokeh_family:
                outcome = (
                    "the Bokeh/Panel server (Tornado) answers the handshake and closes the "
                    "connection at once, since an HTTP/1.0 request without keep-alive ends "
                    "with its response"
                )
                if backend.span is not None:
                    related.append(Related(backend.span, backend.description))
                confidence = confidence.weaker(backend.confidence)
            else:
                outcome = (
                    "a Tornado backend (Bokeh, Panel, Jupyter) closes the connection right "
                    "after answering the handshake (uvicorn would keep it open; the backend "
                    "is not known here)"
                )
                confidence = confidence.weaker(Confidence.MEDIUM)
            confidence = confidence.weaker(route.websocket_confidence)
            yield self.report(
                route.span,
                f"{route.where} proxies a WebSocket ({route.evidence_text()}) over HTTP/1.0: "
                f"{reason}; {outcome}",
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
