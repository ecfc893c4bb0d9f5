from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.deps import DependencyPin
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.links import Backend, Frontend
from stackaudit.model.origins import (
    bokeh_admits,
    browser_origin_host,
    cli_origin_error,
    stored_patterns,
)
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# Tornado 6.6 lets a handshake through without asking Bokeh when it looks same-origin.
SAME_ORIGIN_SHORTCUT = "6.6"


class WsOriginProxyHostMissing(Rule):
    """
    ## What it does
    Flags a proxy route (nginx `server_name`, Traefik ``Host(`…`)``, Ingress host) that
    serves a Bokeh/Panel server under a host name its WebSocket origin allowlist does
    not admit: explicit `--allow-websocket-origin` entries, `BOKEH_ALLOW_WS_ORIGIN`
    (which replaces them), or the `localhost:<port>` default.

    The finding needs two files (the proxy and the server's command), or one compose
    file or Kubernetes manifest that holds both. It is made when the handshake is
    refused whatever Tornado runs (a plain-HTTP route whose proxy does not pass the
    browser's `Host` on: nginx's default `Host $proxy_host`, `Host $host` on a
    non-default port, Traefik `passHostHeader=false`, ingress-nginx `upstream-vhost`),
    or when the stack pins Tornado below 6.6. With no Tornado pin, a route that does
    not forward `Host` over HTTPS is reported at low confidence (it works on 6.6 only
    because browsers send `Sec-Fetch-Site`), and one that forwards `Host` is left
    alone: a fresh install gets Tornado ≥ 6.6, which admits it as same-origin.
    Allowlists known only at run time, and locations of Bokeh's `/static` route, are
    not judged.

    ## Why is this bad?
    Bokeh's `check_origin` compares the browser's `Origin` with the allowlist and
    Tornado answers 403 when it does not match: the page loads and stays blank.
    Before Tornado 6.6 this check decides every handshake. Tornado 6.6 skips it when
    the browser sends `Sec-Fetch-Site: same-origin` (browsers do so over HTTPS; Tornado
    notes the header is absent for "non-HTTPS" requests) or, without that header,
    when the `Origin` equals the `Host` header the server receives, which is the
    proxy's choice.

    ## Example
    ```nginx
    server {
        listen 80;
        server_name dash.example.com;
        location / {
            proxy_pass http://dash:5006;   # sends Host: dash:5006
        }
    }
    ```
    with `panel serve app.py` in the compose service `dash` (no allowlist: only
    `localhost:5006`).

    ## Use instead
    Admit the public host, as the browser writes it (`host`, or `host:port` on a
    non-default port):
    ```
    panel serve app.py --allow-websocket-origin=dash.example.com
    ```
    and let the proxy pass the client's `Host` on (`proxy_set_header Host $host;`).

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L93-L122
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/util.py#L134-L135
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L264-L277
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L1726-L1761
    - https://github.com/tornadoweb/tornado/blob/v6.5.10/tornado/websocket.py#L268-L273
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header
    - https://nginx.org/en/docs/http/ngx_http_core_module.html#var_host
    - https://doc.traefik.io/traefik/routing/services/#pass-host-header
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-nginx-upstream-vhost
    - https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Sec-Fetch-Site
    """

    code = "SA105"
    name = "ws-origin-proxy-host-missing"
    severity = Severity.WARNING
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.STACK,)
    one_finding_per_place = False  # one per host set / per route, at the allowlist
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker, --entrypoints.web.address=:80]
                ports: ["80:80"]
              dash:
                image: registry.example.com/dash:2.1
                command: panel serve app.py --allow-websocket-origin=dash.internal  # expect: SA105
                labels:
                  - traefik.http.routers.dash.rule=Host(`dash.example.com`)
                  - traefik.http.routers.dash.entrypoints=web
                  - traefik.http.services.dash.loadbalancer.server.port=5006
                  - traefik.http.services.dash.loadbalancer.passhostheader=false
        """,
            title="one file holds both: the Host is not passed on, the allowlist misses it",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker, --entrypoints.web.address=:80]
                ports: ["80:80"]
              dash:
                image: registry.example.com/dash:2.1
                command: panel serve app.py --allow-websocket-origin=dash.example.com
                labels:
                  - traefik.http.routers.dash.rule=Host(`dash.example.com`)
                  - traefik.http.routers.dash.entrypoints=web
                  - traefik.http.services.dash.loadbalancer.server.port=5006
        """,
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 80;
                server_name dash.example.com;
                location / {
                    proxy_pass http://dash:5006;
                }
            }
        """,
            title="alone, a proxy file says nothing about the server's allowlist",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        tornado = stack.installed_relative_to("tornado", SAME_ORIGIN_SHORTCUT)
        for frontend in stack.links.frontends:
            if not frontend.public_hosts or _static_location(frontend):
                continue
            for backend in frontend.backends:
                found = self._check(stack, frontend, backend, tornado)
                if found is not None:
                    yield found

    def _check(
        self,
        stack: Stack,
        frontend: Frontend,
        backend: Backend,
        tornado: tuple[str, DependencyPin] | None,
    ) -> Diagnostic | None:
        command = backend.command
        patterns = _patterns(command)
        if patterns is None:
            return None
        verdicts = []
        for host, origin, tls in _origins(stack, frontend):
            if bokeh_admits(origin, patterns):
                continue
            verdict = _verdict(frontend, origin, tls, tornado)
            if verdict is not None:
                verdicts.append((host, origin, *verdict))
        if not verdicts:
            return None
        low = all(confidence == Confidence.LOW for *_, confidence, _ in verdicts)
        verdicts = [v for v in verdicts if low or v[2] != Confidence.LOW]
        hosts = list(dict.fromkeys(host for host, *_ in verdicts))
        origins = list(dict.fromkeys(origin for _, origin, *_ in verdicts))
        span, admitted, help_text = _allowlist(command, origins)
        related = [Related(frontend.span, f"{frontend.proxy} serves {', '.join(hosts)}")]
        if tornado is not None:
            related.append(Related(tornado[1].span, f"tornado `{tornado[1].spec}`"))
        confidence = Confidence.LOW if low else backend.confidence
        if command.origin_source() == "default" and command.env_files:
            confidence = Confidence.LOW  # an env file may set BOKEH_ALLOW_WS_ORIGIN
        diagnostic = self.report(
            span,
            f"{frontend.serves(hosts)} but {backend.description} {admitted}: the WebSocket "
            f"is refused (403) {verdicts[0][3]}",
            help=help_text,
            fix_title="Admit the proxy's host in the WebSocket origin allowlist",
            related=related,
            confidence=confidence,
        )
        return diagnostic


def _patterns(command: ServeCommand) -> list[str] | None:
    """The patterns Bokeh compares with, or None when they are not known here."""
    if not command.is_bokeh_family or command.launcher:
        return None
    source = command.origin_source()
    if source == "env":
        var = command.env_var("BOKEH_ALLOW_WS_ORIGIN")
        if var is None or var.value is None or var.value.symbolic:
            return None
    entries = command.effective_origins()
    if any(e.symbolic or (not e.from_env and cli_origin_error(e.text)) for e in entries):
        return None  # a run-time value, or a value that stops Bokeh (SA102)
    if not entries and command.unix_socket() is not None:
        return []  # no localhost default on a unix socket (bokeh/server/server.py)
    return stored_patterns([(e.text, e.from_env) for e in entries], command.listen_port())


def _origins(stack: Stack, frontend: Frontend) -> list[tuple[str, str, bool | None]]:
    """(host, browser origin host, TLS: None when unknown) for each way in."""
    found = []
    ways: list[tuple[int | None, bool | None]]
    if frontend.route is not None:
        ways = [
            (int(listen.port) if listen.port.isdigit() else None, listen.ssl)
            for listen in frontend.route.listens
            if not listen.address.startswith("unix:")
        ]
    else:
        ways = [(frontend.port, _traefik_or_ingress_tls(stack, frontend))]
    for host in frontend.public_hosts:
        for port, tls in ways:
            found.append((host, browser_origin_host(host, port, bool(tls)), tls))
    return list(dict.fromkeys(found))


def _traefik_or_ingress_tls(stack: Stack, frontend: Frontend) -> bool | None:
    """TLS is known for a Traefik router that sets it, or that names only entrypoints
    the links did not find to terminate TLS, and for an Ingress host listed under its
    ``spec.tls`` (a host not listed there may still be covered by a default certificate:
    unknown)."""
    if frontend.tls:
        return True
    for service in stack.deploy.compose_services:
        for router in service.traefik.routers:
            if router.span == frontend.span:
                return False if router.entrypoints else None
    return None


def _verdict(
    frontend: Frontend, origin: str, tls: bool | None, tornado: tuple[str, DependencyPin] | None
) -> tuple[Confidence, str] | None:
    """Whether Tornado refuses the handshake, how sure that is, and why."""
    if tornado is not None and tornado[0] == "old":
        pin = tornado[1]
        return Confidence.HIGH, (
            f"by tornado `{pin.spec}` ({pin.span.path}:{pin.span.line}), which asks Bokeh "
            "about every Origin"
        )
    matches = frontend.host_matches(origin)
    why_host = _why_host(frontend, origin)
    if tls is False and matches is False:
        when = "on every Tornado version"
        if tornado is not None:
            pin = tornado[1]
            when = f"even on tornado `{pin.spec}` ({pin.span.path}:{pin.span.line})"
        return Confidence.HIGH, (
            f"{when}: over plain HTTP Tornado 6.6 admits only an Origin equal to the Host "
            f"it receives, and {why_host}"
        )
    if tornado is None and matches is False:
        return Confidence.LOW, (
            f"on Tornado < {SAME_ORIGIN_SHORTCUT} ({why_host}; no tornado pin found, and "
            "6.6 lets it through only because browsers send `Sec-Fetch-Site: same-origin` "
            "over HTTPS)"
        )
    return None


def _why_host(frontend: Frontend, origin: str) -> str:
    if frontend.kind == "traefik":
        return "Traefik's passHostHeader=false sends the server's own address as Host"
    if frontend.kind == "ingress":
        return "the upstream-vhost annotation replaces the browser's Host"
    header = frontend.route.proxy_header("Host") if frontend.route is not None else None
    if header is not None and header.value is not None and header.value.text == "$host":
        return f"`Host $host` drops the port the browser's Origin `{origin}` carries"
    if header is not None and header.value is not None:
        return f"nginx sends `Host {header.value.text}`, not `{origin}`"
    return "nginx sends `Host $proxy_host`, the proxy_pass address, not the browser's host"


def _allowlist(command: ServeCommand, origins: list[str]) -> tuple[Span, str, str]:
    """Where the allowlist is written, what it admits, and the exact change."""
    source = command.origin_source()
    entries = [e.text for e in command.effective_origins()]
    shown = ", ".join(f"`{e}`" for e in entries)
    flags = " ".join(f"--allow-websocket-origin={origin}" for origin in origins)
    if source == "env":
        var = command.env_var("BOKEH_ALLOW_WS_ORIGIN")
        assert var is not None
        value = ",".join([*entries, *(o.split(":")[0] for o in origins)])
        return (
            var.span,
            f"admits only {shown} (BOKEH_ALLOW_WS_ORIGIN)",
            f"add the host to the variable (comma-separated, no spaces): "
            f"BOKEH_ALLOW_WS_ORIGIN={value}",
        )
    if source == "cli":
        use = command.uses("allow_websocket_origin")[-1]
        return use.span, f"admits only {shown}", f"add `{flags}`"
    if command.unix_socket() is not None:
        admitted = "admits no origin (no allowlist, and a unix socket has no localhost default)"
    else:
        admitted = f"admits only localhost:{command.listen_port()} (no allowlist)"
    return command.program.span, admitted, f"add `{flags}`"


def _static_location(frontend: Frontend) -> bool:
    """An nginx location for Bokeh's static files: no WebSocket passes there."""
    route = frontend.route
    if route is None or route.location is None:
        return False
    return route.location.modifier == "=" or "/static" in route.location.path.text
