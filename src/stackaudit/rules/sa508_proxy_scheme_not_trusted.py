from collections.abc import Iterator

from msgspec import Struct

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.serve import (
    ServeCommand,
    click_bool,
    only_loopback_addresses,
)
from stackaudit.model.links import LOOPBACK, Backend, Frontend, split_address
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

_UVICORN_FAMILY = ("uvicorn", "fastapi-run", "fastapi-dev")


class _Distrust(Struct, frozen=True):
    """Why the server takes the connection's scheme (http) over X-Forwarded-Proto."""

    span: Span
    what: str
    confidence: Confidence | None = None


class ProxySchemeNotTrusted(Rule):
    """
    ## What it does
    Flags a TLS-terminating proxy route (nginx `listen … ssl`, a Traefik router with
    `tls` or on the `websecure` entrypoint, or on an entrypoint whose static
    configuration enables TLS, a Kubernetes Ingress rule whose host is listed under
    `spec.tls`) in front of:

    - uvicorn, `fastapi run` or gunicorn that does not trust the proxy's
      `X-Forwarded-Proto`: the default `--forwarded-allow-ips` (`127.0.0.1,::1`, or
      `FORWARDED_ALLOW_IPS`), a list of loopback addresses only, or uvicorn's
      `--no-proxy-headers`, while the proxy connects from another container or host
      (a compose service name, a Kubernetes Service, Traefik). A proxy on the loopback
      interface of the same host is trusted by default and not reported;
    - a Panel server with OAuth (any provider but `pam`) and neither
      `--oauth-redirect-uri` (`PANEL_OAUTH_REDIRECT_URI`) nor `--use-xheaders`, or
      with `--use-xheaders` behind an nginx route that sends no `X-Forwarded-Proto`.

    The finding needs the proxy and the server's command (two files, or one compose
    file). A trust list known only at run time, a gunicorn `--config` file, and proxies
    on Unix sockets are not judged.

    ## Why is this bad?
    uvicorn's `ProxyHeadersMiddleware` and gunicorn read `X-Forwarded-Proto` only from
    a peer in `forwarded_allow_ips`; the proxy's container address is not in the
    default list, so the application sees every request as `http`: Starlette's
    `HTTPSRedirectMiddleware` redirects in a loop, `url_for()` builds `http://` links
    and secure-only logic misfires. Panel builds its OAuth `redirect_uri` from the
    request (`{protocol}://{host}`) unless `--oauth-redirect-uri` is set; without
    `--use-xheaders` Tornado's protocol is the connection's, `http`, and the identity
    provider refuses the login (redirect URI mismatch).

    ## Example
    ```nginx
    server {
        listen 443 ssl;
        server_name api.example.com;
        location / {
            proxy_pass http://api:8000;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }
    ```
    with `uvicorn main:app --host 0.0.0.0` in the compose service `api`.

    ## Use instead
    Trust the proxy's address or network only (not `*` on a port reachable without the
    proxy, see SA507):
    ```
    uvicorn main:app --host 0.0.0.0 --forwarded-allow-ips 172.16.0.0/12
    ```
    For Panel, set `--oauth-redirect-uri https://dash.example.com` (or
    `--use-xheaders` with the proxy sending `X-Forwarded-Proto`).

    ## References
    - https://github.com/Kludex/uvicorn/blob/0.54.0/uvicorn/config.py#L361-L365
    - https://github.com/Kludex/uvicorn/blob/0.54.0/uvicorn/config.py#L543-L544
    - https://github.com/Kludex/uvicorn/blob/0.54.0/uvicorn/middleware/proxy_headers.py#L28-L52
    - https://github.com/Kludex/uvicorn/blob/0.54.0/uvicorn/workers.py#L52
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/config.py#L1390-L1428
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/http/message.py#L204-L221
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L156-L160
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/server.py#L413
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/httpserver.py#L339-L359
    - https://www.uvicorn.org/deployment/#proxies-and-forwarded-headers
    - https://fastapi.tiangolo.com/advanced/behind-a-proxy/
    - https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
    """

    code = "SA508"
    name = "proxy-scheme-not-trusted"
    severity = Severity.WARNING
    category = Category.REVERSE_PROXY
    applies_to = (FileKind.STACK,)
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker, --entrypoints.websecure.address=:443]
                ports: ["443:443"]
              api:
                image: registry.example.com/api:3
                command: uvicorn main:app --host 0.0.0.0 --port 8000  # expect: SA508
                labels:
                  - traefik.http.routers.api.rule=Host(`api.example.com`)
                  - traefik.http.routers.api.entrypoints=websecure
                  - traefik.http.routers.api.tls=true
        """,
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker, --entrypoints.websecure.address=:443]
                ports: ["443:443"]
              api:
                image: registry.example.com/api:3
                command: uvicorn main:app --host 0.0.0.0 --forwarded-allow-ips 172.16.0.0/12
                labels:
                  - traefik.http.routers.api.rule=Host(`api.example.com`)
                  - traefik.http.routers.api.tls=true
        """,
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 443 ssl;
                server_name api.example.com;
                location / {
                    proxy_pass http://127.0.0.1:8000;
                    proxy_set_header X-Forwarded-Proto $scheme;
                }
            }
        """,
            title="a proxy on the same host's loopback is trusted by default",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        seen: set[tuple[Span, tuple[str, ...]]] = set()
        for frontend in stack.links.frontends:
            if not frontend.tls:
                continue
            for backend in frontend.backends:
                diagnostic = self._check(frontend, backend)
                if diagnostic is None:
                    continue
                # One finding per server and host set (nginx locations for / and /ws).
                key = (diagnostic.span, frontend.public_hosts)
                if key not in seen:
                    seen.add(key)
                    yield diagnostic

    def _check(self, frontend: Frontend, backend: Backend) -> Diagnostic | None:
        command = backend.command
        if command.tool in (*_UVICORN_FAMILY, "gunicorn"):
            if _same_host(frontend):
                return None
            distrust = _distrust(command)
            if distrust is None:
                return None
            return self._report_forwarded(frontend, backend, distrust)
        if command.tool == "panel-serve":
            return self._report_oauth(frontend, backend)
        return None

    def _report_forwarded(
        self, frontend: Frontend, backend: Backend, distrust: _Distrust
    ) -> Diagnostic:
        if frontend.kind == "ingress":
            trusted = (
                "`--forwarded-allow-ips <pod CIDR>` for the cluster's pod network, where the "
                "ingress controller runs"
            )
        else:
            trusted = "`--forwarded-allow-ips 172.16.0.0/12` for Docker's default networks"
        help_text = (
            f"trust the proxy's address or network only, e.g. {trusted} (or "
            "FORWARDED_ALLOW_IPS); not `*` on a port reachable without the proxy"
        )
        if _sends_no_proto(frontend):
            help_text += ", and send the scheme: `proxy_set_header X-Forwarded-Proto $scheme;`"
        return self.report(
            distrust.span,
            f"{_terminates(frontend)} but {backend.description} {distrust.what}, and the "
            "proxy connects from another container or host: the app sees every request "
            "as http (HTTPSRedirectMiddleware redirects in a loop, url_for() builds "
            "http:// links)",
            help=help_text,
            fix_title="Trust X-Forwarded-Proto from the proxy",
            related=[Related(frontend.span, f"{frontend.proxy} terminates TLS")],
            confidence=distrust.confidence or backend.confidence,
        )

    def _report_oauth(self, frontend: Frontend, backend: Backend) -> Diagnostic | None:
        command = backend.command
        auth = command.auth()
        if auth is None or auth.kind != "oauth" or auth.provider == "pam":
            return None
        if command.effective_setting("oauth_redirect_uri", "PANEL_OAUTH_REDIRECT_URI"):
            return None
        xheaders = command.enabled("use_xheaders")
        if xheaders is not None and not _sends_no_proto(frontend):
            return None
        host = next(iter(frontend.public_hosts), "<public host>")
        path = frontend.path.rstrip("/")
        if xheaders is None:
            why = f"uses {auth.description} with neither --oauth-redirect-uri nor --use-xheaders"
        else:
            why = (
                f"uses {auth.description} with --use-xheaders, but nginx sends no "
                "X-Forwarded-Proto (nor X-Scheme)"
            )
        return self.report(
            command.program.span,
            f"{_terminates(frontend)} but {backend.description} {why}: Panel builds the "
            "OAuth redirect URI from the request as http://…, which the identity provider "
            "refuses (redirect URI mismatch)",
            help=f"set `--oauth-redirect-uri=https://{host}{path}` (or "
            "PANEL_OAUTH_REDIRECT_URI), or `--use-xheaders` with the proxy sending "
            "`X-Forwarded-Proto`",
            fix_title="Give Panel the public https redirect URI",
            related=[
                Related(frontend.span, f"{frontend.proxy} terminates TLS"),
                Related(auth.source.span, "OAuth provider"),
            ],
            confidence=backend.confidence,
        )


def _terminates(frontend: Frontend) -> str:
    return frontend.serves(frontend.public_hosts or ("the app",)).replace(
        " serves ", " terminates TLS for ", 1
    )


def _same_host(frontend: Frontend) -> bool:
    """The proxy reaches the server on the loopback interface or a Unix socket of the
    same host (uvicorn and gunicorn trust 127.0.0.1 and ::1 by default)."""
    route = frontend.route
    if route is None:
        return False  # Traefik and Ingress controllers run in their own containers
    if route.target.unix_socket:
        return True
    if route.upstream is not None:
        hosts = [split_address(s.address.text)[0] for s in route.upstream.active_servers]
        return bool(hosts) and all(h in LOOPBACK or h.startswith("unix:") for h in hosts)
    return route.target.host in LOOPBACK


def _sends_no_proto(frontend: Frontend) -> bool:
    """An nginx route that sets neither X-Forwarded-Proto nor X-Scheme (Traefik and
    ingress-nginx send X-Forwarded-Proto by default)."""
    route = frontend.route
    if route is None or route.opaque_includes:
        return False
    return (
        route.proxy_header("X-Forwarded-Proto") is None and route.proxy_header("X-Scheme") is None
    )


def _distrust(command: ServeCommand) -> _Distrust | None:
    """Where the server is left trusting forwarded headers from loopback only (or not
    reading them); None when it trusts other peers or that is not known here."""
    if command.tool == "gunicorn" and command.has("config"):
        return None  # the config file may set forwarded_allow_ips
    if command.tool in _UVICORN_FAMILY:
        headers = command.last("proxy_headers")
        if headers is not None and command.turns_on(headers) is False:
            return _Distrust(
                headers.span, f"runs with `{headers.flag.text}`: it ignores X-Forwarded-Proto"
            )
        var = command.env_var("UVICORN_PROXY_HEADERS") if command.tool == "uvicorn" else None
        value = var.value if var is not None and headers is None else None
        off = value is not None and not value.symbolic and click_bool(value.text) is False
        if var is not None and value is not None and off:
            return _Distrust(
                var.span, f"sets {var.name}={value.text}: it ignores X-Forwarded-Proto"
            )
    use = command.last("forwarded_allow_ips")
    if use is not None and use.values:
        word = use.values[-1]
        if word.symbolic or not only_loopback_addresses(word.text):
            return None
        return _Distrust(use.span, f"trusts X-Forwarded-Proto only from `{word.text}`")
    names = ["FORWARDED_ALLOW_IPS"]
    if command.tool == "uvicorn" and command.carrier != "python":
        names.insert(0, "UVICORN_FORWARDED_ALLOW_IPS")
    for name in names:
        var = command.env_var(name)
        if var is None or (var.value is not None and var.value.text == ""):
            continue
        if not var.is_literal or var.value is None or not only_loopback_addresses(var.value.text):
            return None
        return _Distrust(var.span, f"trusts X-Forwarded-Proto only from {name}={var.value.text}")
    default = "uvicorn's" if command.tool != "gunicorn" else "gunicorn's"
    return _Distrust(
        command.program.span,
        f"trusts X-Forwarded-Proto only from 127.0.0.1 and ::1 ({default} default "
        "--forwarded-allow-ips)",
        _default_confidence(command),
    )


def _default_confidence(command: ServeCommand) -> Confidence | None:
    """An environment file the process reads, or gunicorn's ./gunicorn.conf.py, may set
    the list."""
    if command.env_files:
        return Confidence.LOW
    return Confidence.MEDIUM if command.tool == "gunicorn" else None
