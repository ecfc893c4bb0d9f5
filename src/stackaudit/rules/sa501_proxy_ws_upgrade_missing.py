from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Edit, FixSafety, Related, Severity
from stackaudit.facts.nginx import ProxyRoute, restore_headers
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


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

    `--fix` writes the headers into the location. When it also has to add the `map`
    and the http block lives in another file (an `nginx.conf` every site includes), that
    fix is unsafe: it applies only with `--unsafe-fixes`.

    ## References
    - https://nginx.org/en/docs/http/websocket.html
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
    - https://docs.bokeh.org/en/latest/docs/user_guide/server/deploy.html
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L238-L264
    """

    code = "SA501"
    name = "proxy-ws-upgrade-missing"
    severity = Severity.ERROR
    category = Category.REVERSE_PROXY
    applies_to = (FileKind.NGINX, FileKind.STACK)
    fix = FixSafety.SAFE
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
            fixed="""
            map $http_upgrade $connection_upgrade {
                default upgrade;
                ''      close;
            }

            server {
                listen 80;
                server_name dash.example.com;
                location /app/ws {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header Host $host;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection $connection_upgrade;
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
            fixed="""
            server {
                listen 80;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection "upgrade";
                location / {
                    proxy_pass http://127.0.0.1:5006;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                    proxy_set_header X-Forwarded-Proto $scheme;
                }
            }
        """,
            title="the location's own header drops the server's",
        ),
        Bad(
            "conf.d/app.conf",
            """
            server {
              listen 80;
              proxy_set_header Host $host;
              location /ws {  # expect: SA501
                proxy_pass http://127.0.0.1:5006;
                proxy_http_version 1.1;
              }
            }
        """,
            fixed="""
            map $http_upgrade $connection_upgrade {
              default upgrade;
              ''      close;
            }

            server {
              listen 80;
              proxy_set_header Host $host;
              location /ws {
                proxy_pass http://127.0.0.1:5006;
                proxy_http_version 1.1;
                proxy_set_header Host $host;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
              }
            }
        """,
            title="inherited headers are repeated, so that adding two does not drop them",
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
        for route in stack.nginx_routes:
            if not route.is_websocket or route.opaque_includes:
                continue
            missing = self.missing_headers(route)
            if missing:
                yield self._report(route, missing, stack)

    @staticmethod
    def missing_headers(route: ProxyRoute) -> list[str]:
        missing = []
        if not route.upgrade_forwarded:
            missing.append("`Upgrade $http_upgrade`")
        if route.connection_upgrade == "no":
            missing.append('`Connection "upgrade"`')
        return missing

    def _report(self, route: ProxyRoute, missing: list[str], stack: Stack) -> Diagnostic:
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
        connection, map_edit = self._connection(route, stack)
        if route.connection_upgrade != "no":
            map_edit = None
        lines = []
        if not route.upgrade_forwarded:
            lines.append("`proxy_set_header Upgrade $http_upgrade;`")
        if route.connection_upgrade == "no":
            lines.append(f"`proxy_set_header Connection {connection};`")
        help_text = f"add {' and '.join(lines)} to this location"
        if map_edit is not None:
            help_text += f", with `{_MAP_TEXT}` at http level"
        if not route.headers_own and route.proxy_headers:
            help_text += ", and repeat the inherited proxy_set_header lines there"
        edits = self._edits(route, connection)
        # The map belongs to the http block: when that block lives in another file
        # (nginx.conf shared by every site), the fix edits what other sites read too.
        shared_file = map_edit is not None and map_edit.span.path != route.span.path
        return self.report(
            route.span,
            message,
            help=help_text,
            fix_title="Forward the WebSocket upgrade headers",
            related=related,
            edits=[*edits, map_edit] if edits and map_edit is not None else edits,
            confidence=route.websocket_confidence,
            safety=FixSafety.UNSAFE if shared_file else None,
        )

    @staticmethod
    def _connection(route: ProxyRoute, stack: Stack) -> tuple[str, Edit | None]:
        """The Connection value to send: the upgrade value the enclosing level set (and
        this location dropped), a `map` of $http_upgrade the configuration already has,
        else `$connection_upgrade` with a new map at http level, or the hard-coded
        `"upgrade"` where there is no http level to hold the map."""
        for header in route.dropped_proxy_headers:
            if header.name.lower() == "connection" and "upgrade" in header.value_text.lower():
                return _written(header.value_text), None
        maps = [m for m in stack.nginx.maps if m.root_id == route.root_id]
        for mapping in maps:
            if mapping.source.text.lower() == "$http_upgrade" and any(
                e.value.text.lower() == "upgrade" for e in mapping.entries
            ):
                return f"${mapping.variable}", None
        if any(m.variable == "connection_upgrade" for m in maps):
            return '"upgrade"', None
        edit = route.insert_at_http_level(_MAP_LINES)
        return ("$connection_upgrade", edit) if edit is not None else ('"upgrade"', None)

    @staticmethod
    def _edits(route: ProxyRoute, connection: str) -> list[Edit]:
        """Upgrade and Connection written into the location: a wrong value of its own
        replaced, a missing header added after its own proxy_set_header; a location that
        inherits its headers gets them repeated, since one header of its own drops the
        rest."""
        block = route.block
        if block is None or block.block is None:
            return []
        wanted = {}
        if not route.upgrade_forwarded:
            wanted["upgrade"] = ("Upgrade", "$http_upgrade")
        if route.connection_upgrade == "no":
            wanted["connection"] = ("Connection", connection)
        edits: list[Edit] = []
        lines: list[str] = []
        if route.headers_own:
            # Upgrade/Connection the enclosing level sets and this location drops: all the
            # dropped headers come back, by the very edit SA503 makes (written once).
            dropped = {h.name.lower(): h for h in route.dropped_proxy_headers}
            restores = [
                key
                for key in wanted
                if key in dropped
                and (
                    "upgrade" in dropped[key].value_text.lower()
                    if key == "connection"
                    else bool(dropped[key].value_text)
                )
            ]
            if restores and route.proxy_headers:
                restore = restore_headers(
                    block, route.dropped_proxy_headers, route.proxy_headers[0].span
                )
                if restore is None:
                    return []
                edits.append(restore)
                for key in restores:
                    del wanted[key]
            for name, value in wanted.values():
                header = route.proxy_header(name)
                if header is None:
                    lines.append(f"proxy_set_header {name} {value};")
                    continue
                written = block.child_at(header.span)
                if written is None or len(written.args) < 2:
                    return []  # set in an included file: not rewritten from here
                edits.append(Edit(written.args[1].span, value))
            own = [c for c in block.block if c.name == "proxy_set_header"]
            after = own[-1].span if own else None
        else:
            for header in route.proxy_headers:
                if header.name.lower() in wanted:
                    continue
                line = header.written("proxy_set_header")
                if line is None:
                    return []
                lines.append(line)
            lines += [f"proxy_set_header {name} {value};" for name, value in wanted.values()]
            after = None
        if lines:
            edit = block.insert(lines, after=after)
            if edit is None:
                return []
            edits.append(edit)
        return edits


_MAP_LINES = (
    "map $http_upgrade $connection_upgrade {",
    "    default upgrade;",
    "    ''      close;",
    "}",
    "",
)
_MAP_TEXT = "map $http_upgrade $connection_upgrade { default upgrade; '' close; }"


def _written(value: str) -> str:
    return '"upgrade"' if value.lower() == "upgrade" else value
