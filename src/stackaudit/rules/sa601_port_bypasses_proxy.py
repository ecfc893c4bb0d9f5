from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.deploy import ComposeService, PortMapping, parse_port_range
from stackaudit.model.deploy import ProxyEvidence
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class PortBypassesProxy(Rule):
    """
    ## What it does
    Flags a compose service that a proxy of the same compose project routes to, and
    that also publishes the port the proxy uses on every host interface: `"5006:5006"`,
    `"5006"` (a random host port), `"0.0.0.0:5006:5006"`, or the long syntax without
    `host_ip`. A proxy routes to the service when Traefik labels route to it, when an
    nginx location of the scanned configuration proxies to it, when nginx-proxy serves
    its `VIRTUAL_HOST`, or when a proxy container (nginx, Traefik, Caddy, HAProxy…)
    `depends_on` it and that proxy's configuration is not among the scanned files
    (medium confidence: `depends_on` only orders start-up, so a proxy whose routes are
    known is judged by its routes).

    A port bound to one address (`127.0.0.1:5006:5006`), a service reached only through
    `expose:`, and ports written in development files (`compose.override.yml`,
    `docker-compose.dev.yml`) are not reported.

    ## Why is this bad?
    Docker publishes a port without a host address on every interface of the host, and
    its own firewall rules let the traffic in ahead of most host firewall setups. Anyone
    who can reach the host can then talk to the app directly, skipping the proxy's TLS,
    authentication, rate limits, security headers and the `Host`/origin checks it
    enforces, and forging the `X-Forwarded-*` headers the app may trust.

    ## Example
    ```yaml
    services:
      app:
        command: panel serve app.py --address 0.0.0.0 --port 5006
        ports:
          - "5006:5006"
        labels:
          - traefik.http.routers.app.rule=Host(`dash.example.com`)
    ```

    ## Use instead
    Drop `ports:` (the proxy reaches the service over the compose network; `expose:`
    documents the port), or bind it to the loopback interface for local checks:
    ```yaml
        ports:
          - "127.0.0.1:5006:5006"
    ```

    ## References
    - https://docs.docker.com/reference/compose-file/services/#ports
    - https://docs.docker.com/engine/network/port-publishing/
    - https://docs.docker.com/reference/compose-file/services/#expose
    - https://doc.traefik.io/traefik/reference/routing-configuration/other-providers/docker/
    - https://github.com/nginx-proxy/nginx-proxy
    """

    code = "SA601"
    name = "port-bypasses-proxy"
    severity = Severity.WARNING
    category = Category.EXPOSURE
    applies_to = (FileKind.COMPOSE, FileKind.STACK)
    cwe = 284
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              app:
                image: registry.example.com/dashboard:1.4
                ports:
                  - "5006:5006"  # expect: SA601
                labels:
                  - traefik.http.routers.app.rule=Host(`dash.example.com`)
                  - traefik.http.services.app.loadbalancer.server.port=5006
              proxy:
                image: traefik:v3.3
                command: [--providers.docker]
                ports: ["443:443"]
        """,
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              api:
                image: registry.example.com/api:2
                ports:
                  - target: 8000  # expect: SA601
                    published: 8000
              nginx:
                image: nginx:1.27-alpine
                depends_on: [api]
                ports: ["443:443"]
        """,
            title="a proxy container that depends on the service",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              app:
                image: registry.example.com/dashboard:1.4
                ports:
                  - "127.0.0.1:5006:5006"
                labels:
                  - traefik.http.routers.app.rule=Host(`dash.example.com`)
              proxy:
                image: traefik:v3.3
                ports: ["443:443"]
        """,
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              app:
                image: registry.example.com/dashboard:1.4
                expose: ["5006"]
                labels:
                  - traefik.http.routers.app.rule=Host(`dash.example.com`)
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        deploy = stack.deploy
        for service in deploy.compose_services:
            evidence = stack.links.proxy_evidence(service)
            if not evidence:
                continue
            for port in service.ports:
                if port.on_all_interfaces is not True or is_development_path(port.span.path):
                    continue
                reasons = [e for e in evidence if _uses_port(e, port)]
                if reasons:
                    yield self._report(service, port, reasons)

    def _report(
        self, service: ComposeService, port: PortMapping, evidence: list[ProxyEvidence]
    ) -> Diagnostic:
        best = max(evidence, key=lambda e: _RANK[e.confidence])
        host = port.published_as
        if port.default_used:
            host += ", by the default of its variable"
        return self.report(
            port.span,
            f"{service.label} publishes `{port.describe()}` on every host interface "
            f"({host}) while {best.label}: clients can reach the app without the proxy, "
            "skipping its TLS, authentication and headers",
            help="remove the `ports:` entry (keep `expose:`), or bind it to one interface: "
            f'"127.0.0.1:{_host_port(port)}:{port.target}"',
            fix_title="Publish the port on the loopback interface only",
            related=[Related(e.span, e.label) for e in evidence],
            confidence=Confidence.MEDIUM if port.default_used else best.confidence,
        )


_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


def _host_port(port: PortMapping) -> str:
    published = port.published
    return published if published and "$" not in published else port.target


def _uses_port(evidence: ProxyEvidence, port: PortMapping) -> bool:
    """Whether the published container port is one the proxy connects to (any port
    when the proxy's port is not written: Traefik then takes the first exposed one)."""
    if not evidence.routed_ports:
        return True
    targets = port.targets
    if targets is None:
        return True
    for routed in evidence.routed_ports:
        wanted = parse_port_range(routed)
        if wanted is None or wanted.start in targets:
            return True
    return False
