import posixpath
from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.links import Backend, Frontend
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class ProxyPrefixMismatch(Rule):
    """
    ## What it does
    Flags a proxy route that serves a Bokeh/Panel server under a sub-path (nginx
    `location /dash/`, Traefik ``PathPrefix(`/dash`)``, an Ingress path) when the path
    the server receives does not fit its routes:

    - the proxy passes the path on (`proxy_pass http://app:5006` without a URI, no
      `stripPrefix` middleware) but the server has no `--prefix` (or another one);
    - the proxy strips it (`proxy_pass http://app:5006/`, a `stripPrefix` middleware)
      but the server runs with `--prefix dash` (stripped twice);
    - the proxy strips it before a `bokeh serve` with no `--prefix`: the pages load,
      but Bokeh links its JavaScript as `/static/…`, outside the sub-path (medium
      confidence: another route may serve `/static/`; `BOKEH_RESOURCES=cdn` or
      `inline` avoids the local files).

    The finding needs the proxy and the server's command, in two files or in one
    compose file. A sub-path that names one of the server's applications
    (`location /app` in front of `bokeh serve app.py`) or its own routes (`/static/`,
    Panel's `/login`), regular-expression locations,
    targets with variables, locations with a `rewrite`, and middlewares or Ingress
    annotations that rewrite the path are not judged.

    ## Why is this bad?
    `--prefix` moves every route of the server (the apps, `/ws`, `/static`) under the
    prefix, so the proxy must pass the path unchanged. Without it the routes start at
    `/`: a proxy that keeps `/dash/` gets 404 for everything. Panel's `--root-path`
    only sets the base URL Panel uses in redirects and moves no route. Bokeh's pages
    load their scripts from the absolute path `/<prefix>/static/`, while Panel's use
    relative paths, so Panel (unlike Bokeh) works behind a proxy that strips the
    sub-path.

    ## Example
    ```nginx
    location /dash/ {
        proxy_pass http://dash:5006;
    }
    ```
    with `panel serve app.py` (no `--prefix`).

    ## Use instead
    ```
    panel serve app.py --prefix /dash
    ```
    and keep `proxy_pass http://dash:5006;` (no URI), so `/dash/app` reaches the
    server unchanged.

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L301-L307
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L410-L454
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L608-L630
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L775
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/application/handlers/code.py#L169-L177
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/urls.py#L97-L109
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L425-L434
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/resources.py#L753-L780
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass
    - https://doc.traefik.io/traefik/middlewares/http/stripprefix/
    - https://docs.bokeh.org/en/latest/docs/user_guide/server/deploy.html#reverse-proxying-with-nginx-and-ssl
    """

    code = "SA506"
    name = "proxy-prefix-mismatch"
    severity = Severity.WARNING
    category = Category.REVERSE_PROXY
    applies_to = (FileKind.STACK,)
    one_finding_per_place = False  # one per mismatching route, at the server command
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker]
                ports: ["80:80"]
              dash:
                image: registry.example.com/dash:2.1
                command: panel serve app.py --allow-websocket-origin=example.com  # expect: SA506
                labels:
                  - traefik.http.routers.dash.rule=Host(`example.com`) && PathPrefix(`/dash`)
                  - traefik.http.services.dash.loadbalancer.server.port=5006
        """,
            title="Traefik passes /dash/… on; the server's routes start at /",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker]
                ports: ["80:80"]
              dash:
                image: registry.example.com/dash:2.1
                command: panel serve app.py --prefix /dash --allow-websocket-origin=example.com
                labels:
                  - traefik.http.routers.dash.rule=Host(`example.com`) && PathPrefix(`/dash`)
                  - traefik.http.services.dash.loadbalancer.server.port=5006
        """,
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker]
                ports: ["80:80"]
              dash:
                image: registry.example.com/dash:2.1
                command: panel serve app.py --allow-websocket-origin=example.com
                labels:
                  - traefik.http.routers.dash.rule=Host(`example.com`) && PathPrefix(`/dash`)
                  - traefik.http.routers.dash.middlewares=dash-strip
                  - traefik.http.middlewares.dash-strip.stripprefix.prefixes=/dash
                  - traefik.http.services.dash.loadbalancer.server.port=5006
        """,
            title="Panel's pages use relative paths: stripping the prefix works",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        seen: set[tuple[Span, str, str]] = set()
        # One server behind thousands of mismatched routes is one mistake to fix (its
        # --prefix): a few findings show it; thousands would bury the report.
        per_server: dict[ServeCommand, int] = {}
        for frontend in stack.links.frontends:
            public = _norm(frontend.path)
            base = frontend.received_base
            if base is None:
                continue
            for backend in frontend.backends:
                command = backend.command
                if per_server.get(command, 0) >= MAX_PER_SERVER:
                    continue
                prefix = _prefix(command)
                if prefix is None:
                    continue
                diagnostic = self._judge(stack, frontend, backend, public, base, prefix)
                if diagnostic is not None and (diagnostic.span, public, base) not in seen:
                    seen.add((diagnostic.span, public, base))
                    per_server[command] = per_server.get(command, 0) + 1
                    yield diagnostic

    def _judge(
        self,
        stack: Stack,
        frontend: Frontend,
        backend: Backend,
        public: str,
        base: str,
        prefix: str,
    ) -> Diagnostic | None:
        command = backend.command
        under = frontend.serves(
            [f"{h}/{public}/" for h in frontend.public_hosts] or [f"/{public}/"]
        )
        has = f"runs with `--prefix {prefix}`" if prefix else "has no --prefix"
        routes = f"/{prefix}/" if prefix else "/"
        if base == public:
            if public == "" or prefix == public or prefix.startswith(public + "/"):
                return None
            if _names_a_route(command, public, prefix):
                return None  # `location /app` in front of `bokeh serve app.py`
            note = ""
            root = command.value("root_path") if command.tool == "panel-serve" else None
            if root is not None:
                note = f" (`--root-path {root.text}` only sets Panel's base URL; it moves no route)"
            return self._report(
                command,
                frontend,
                f"{under} and passes that path on, but {backend.description} {has}{note}: "
                f"its pages, static files and /ws live under {routes}, so every request "
                f"through /{public}/ gets 404",
                f"start the server with `--prefix /{public}`",
            )
        how = _how_stripped(frontend)
        if prefix == base:
            return self._static(stack, frontend, backend, public, base, under, how)
        if base == "":
            return self._report(
                command,
                frontend,
                f"{under} and strips /{public}/ ({how}), but {backend.description} {has}: "
                f"requests arrive without /{public}/ while its routes live under {routes}, "
                f"so the app answers 404 (only /{public}/{prefix}/… would reach it)",
                _pass_unchanged(frontend) + ", or drop --prefix",
            )
        if prefix and not base.startswith(prefix + "/"):
            return self._report(
                command,
                frontend,
                f"{under} and rewrites it to /{base}/ ({how}), but {backend.description} "
                f"{has}: its routes live under {routes}, so the app answers 404",
                f"use `--prefix /{base}` or rewrite to /{prefix}/",
            )
        return None

    def _static(
        self,
        stack: Stack,
        frontend: Frontend,
        backend: Backend,
        public: str,
        base: str,
        under: str,
        how: str,
    ) -> Diagnostic | None:
        """Routes fit, but ``bokeh serve`` links its scripts at ``/<prefix>/static/``."""
        command = backend.command
        if command.tool != "bokeh-serve" or public == base:
            return None
        mode = command.env_var("BOKEH_RESOURCES")
        if mode is not None and (mode.value is None or mode.value.text not in _SERVER_MODES):
            return None  # cdn, inline, relative: no absolute /static/ links
        static = f"/{base}/static/" if base else "/static/"
        for other in stack.links.frontends:
            other_base = other.received_base
            if (
                other is not frontend
                and set(other.hosts) == set(frontend.hosts)
                and any(b.command == command for b in other.backends)
                and other_base == _norm(other.path)
                and static.startswith(f"/{other_base}/".replace("//", "/"))
            ):
                return None  # another route passes /static/ to the same server
        has = f"runs with `--prefix {base}`" if base else "has no --prefix"
        return self._report(
            command,
            frontend,
            f"{under} and strips /{public}/ ({how}) before {backend.description}, which "
            f"{has}: the page loads, but Bokeh links its JavaScript and CSS as {static}…, "
            f"outside /{public}/, so the browser shows a blank page",
            f"serve with `--prefix /{public}` and pass the path on unchanged "
            f"({_pass_unchanged(frontend)})",
            Confidence.MEDIUM,
        )

    def _report(
        self,
        command: ServeCommand,
        frontend: Frontend,
        message: str,
        help_text: str,
        confidence: Confidence | None = None,
    ) -> Diagnostic:
        use = command.last("prefix")
        related = [Related(frontend.span, f"{frontend.proxy} route")]
        if frontend.route is not None:
            related.append(Related(frontend.route.pass_span, "proxy_pass"))
        return self.report(
            use.span if use is not None else command.program.span,
            message,
            help=help_text,
            fix_title="Make the proxy path and the server's --prefix agree",
            related=related,
            confidence=confidence,
        )


MAX_PER_SERVER = 20
_SERVER_MODES = ("server", "server-dev")


def _norm(path: str) -> str:
    return path.strip("/")


def _prefix(command: ServeCommand) -> str | None:
    """The server's ``--prefix`` without slashes (bokeh/server/tornado.py strips them),
    "" for none; None when not known here."""
    if not command.is_bokeh_family:
        return None
    word = command.value("prefix")
    if word is None:
        return ""
    return None if word.symbolic else _norm(word.text)


def _names_a_route(command: ServeCommand, path: str, prefix: str) -> bool:
    """Whether ``/<path>/`` is (under) a route of the server: an application, served at
    ``/<prefix>/<name>`` (the name of its file without the extension, or of its
    directory: ``url_path`` of bokeh/application/handlers/code.py and directory.py),
    ``/<prefix>/static/`` (bokeh/server/urls.py), or Panel's ``/login`` and ``/logout``
    (panel/auth.py). True when the application names are not known here."""
    if prefix and not path.startswith(prefix + "/"):
        return False
    first = path[len(prefix) :].strip("/").split("/")[0]
    if first in ("static", "login", "logout"):
        return True
    apps = set()
    for word in command.positionals:
        if word.symbolic or "*" in word.text:
            return True
        name = posixpath.basename(word.text.rstrip("/"))
        apps.add(posixpath.splitext(name)[0] if "." in name else name)
    return not apps or first in apps


def _how_stripped(frontend: Frontend) -> str:
    if frontend.route is not None:
        return f"`proxy_pass {frontend.route.target.word.text}`"
    return "a stripPrefix middleware"


def _pass_unchanged(frontend: Frontend) -> str:
    route = frontend.route
    if route is not None:
        target = route.target.word.text
        if route.target.uri and target.endswith(route.target.uri):
            target = target[: -len(route.target.uri)]
        return f"pass the path on unchanged: `proxy_pass {target};`"
    return "remove the stripPrefix middleware from the route"
