from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.common import Word
from stackaudit.model.stack import Stack
from stackaudit.model.traefik import DashboardRouter, Reach, TraefikInstance
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class TraefikDashboardExposed(Rule):
    """
    ## What it does
    Flags Traefik's API and dashboard served to anyone:

    - `api.insecure` (`--api.insecure=true`, `api: insecure: true` in `traefik.yml`,
      `[api] insecure = true` in `traefik.toml`, `TRAEFIK_API_INSECURE=true`) while the
      port of the `traefik` entry point (`:8080` unless written otherwise) is reachable
      from outside: published on every host interface by the compose service that runs
      Traefik, the host's network, or a Kubernetes Service of type LoadBalancer or
      NodePort. A static file counts for the container that bind-mounts it where
      Traefik reads it (`/etc/traefik/traefik.yml`, or `--configFile`).
    - a router to `api@internal` or `dashboard@internal` (container labels Traefik
      reads, a file provider's configuration) with no middleware that lets only some
      clients through (`basicAuth`, `digestAuth`, `forwardAuth`, `ipAllowList`) and no
      `ClientIP` in its rule. A middleware declared outside the scanned files, a
      chain or a plugin keeps it quiet (what it does is not known).

    A port bound to one address (`127.0.0.1:8080:8080`), a port not published, and
    ports written in development files (`docker-compose.dev.yml`) are not reported.

    ## Why is this bad?
    With `api.insecure` Traefik answers `/api` and `/dashboard` on the `traefik` entry
    point with no authentication at all. The API returns the whole routing
    configuration: every router's rule (internal host names), services and the
    addresses of their servers, middlewares, and the TLS and provider settings. The
    same holds for a router to `api@internal` without an authentication middleware.
    Traefik's documentation recommends against enabling the API in production unless
    it is secured by authentication and not exposed publicly.

    ## Example
    ```yaml
    services:
      traefik:
        image: traefik:v3.3
        command: [--api.insecure=true, --providers.docker]
        ports: ["80:80", "8080:8080"]
    ```

    ## Use instead
    Drop `--api.insecure` and route the dashboard through an entry point with an
    authentication middleware, or publish the port on the loopback interface only:
    ```yaml
        command:
          - --api.dashboard=true
          - --providers.docker
        labels:
          - traefik.http.routers.dash.rule=Host(`traefik.example.com`)
          - traefik.http.routers.dash.service=api@internal
          - traefik.http.routers.dash.middlewares=dash-auth
          - traefik.http.middlewares.dash-auth.basicauth.usersfile=/run/secrets/users
    ```

    ## References
    - https://doc.traefik.io/traefik/v2.11/operations/api/
    - https://doc.traefik.io/traefik/v2.11/operations/dashboard/
    - https://doc.traefik.io/traefik/reference/install-configuration/api-dashboard/
    - https://doc.traefik.io/traefik/v2.11/getting-started/configuration-overview/
    - https://github.com/traefik/traefik/blob/v3.3.0/pkg/config/static/static_config.go
    - https://github.com/traefik/traefik/blob/v3.3.0/pkg/provider/traefik/internal.go
    - https://github.com/traefik/paerser/blob/master/flag/flagparser.go
    """

    code = "SA509"
    name = "traefik-dashboard-exposed"
    severity = Severity.ERROR
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMPOSE, FileKind.KUBERNETES, FileKind.TRAEFIK, FileKind.STACK)
    cwe = 306
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command:
                  - --api.insecure=true  # expect: SA509
                  - --providers.docker
                ports:
                  - "80:80"
                  - "8080:8080"
        """,
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker]
                ports: ["443:443"]
                labels:
                  - traefik.http.routers.dash.rule=Host(`traefik.example.com`)  # expect: SA509
                  - traefik.http.routers.dash.service=api@internal
        """,
            title="a dashboard router without an authentication middleware",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--api.insecure=true, --providers.docker]
                ports:
                  - "80:80"
                  - "127.0.0.1:8080:8080"
        """,
            title="the API port on the loopback interface only",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker]
                ports: ["443:443"]
                labels:
                  - traefik.http.routers.dash.rule=Host(`traefik.example.com`)
                  - traefik.http.routers.dash.service=api@internal
                  - traefik.http.routers.dash.middlewares=dash-auth
                  - traefik.http.middlewares.dash-auth.basicauth.usersfile=/run/secrets/users
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        traefik = stack.traefik
        for instance in traefik.instances:
            insecure = instance.config.api_insecure
            if insecure is None:
                continue
            entrypoint = next(
                e for e in instance.config.effective_entrypoints() if e.name == "traefik"
            )
            reach = traefik.reach(instance, entrypoint)
            if reach is not None:
                yield self._insecure(instance, insecure, entrypoint.address, reach)
        for found in traefik.dashboard_routers():
            if found.gated is False:
                yield self._open_router(found)

    def _insecure(
        self, instance: TraefikInstance, insecure: Word, address: Word | None, reach: Reach
    ) -> Diagnostic:
        where = address.text if address is not None else ":8080"
        what = "API and dashboard" if instance.config.dashboard else "API"
        return self.report(
            insecure.span,
            f"Traefik ({instance.where}) serves its {what} without authentication on the "
            f"`traefik` entry point (`{where}`), and {reach.label}: anyone who reaches the "
            "port reads the whole routing configuration",
            help="remove api.insecure and route api@internal through an entry point with "
            "an authentication middleware (basicAuth, forwardAuth), or publish the port on "
            '127.0.0.1 only ("127.0.0.1:8080:8080")',
            fix_title="Serve the Traefik API only behind authentication",
            related=[Related(reach.span, reach.label)],
            confidence=reach.confidence,
        )

    def _open_router(self, found: DashboardRouter) -> Diagnostic:
        router = found.router
        target = router.service.text if router.service else "api@internal"
        rule = f" (rule `{router.rule.text}`)" if router.rule is not None else ""
        middlewares = (
            "its middlewares authenticate no one"
            if router.middlewares
            else "it has no authentication middleware"
        )
        return self.report(
            router.span,
            f"Traefik router `{router.name}`{rule} in {found.where} sends to `{target}`, "
            f"Traefik's own API and dashboard, and {middlewares}: anyone who matches the "
            "rule reads the whole routing configuration",
            help="add a basicAuth, digestAuth or forwardAuth middleware to the router "
            "(traefik.http.routers.<name>.middlewares=<auth>), or an ipAllowList of the "
            "administrators' addresses",
            fix_title="Put an authentication middleware on the dashboard router",
        )
