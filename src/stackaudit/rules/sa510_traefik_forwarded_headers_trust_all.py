from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.deploy import TraefikEntryPoint
from stackaudit.model.stack import Stack
from stackaudit.model.traefik import Reach, TraefikInstance
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class TraefikForwardedHeadersTrustAll(Rule):
    """
    ## What it does
    Flags a Traefik entry point that keeps the `X-Forwarded-*` and `X-Real-Ip` headers
    of every client, `forwardedHeaders.insecure` (`--entryPoints.web.forwardedHeaders.insecure`,
    `entryPoints: web: forwardedHeaders: insecure: true`) or a `forwardedHeaders.trustedIPs`
    entry of `0.0.0.0/0` or `::/0`, while clients reach that entry point directly: its
    port is published on every host interface by the compose service that runs Traefik
    (not in a development file), Traefik runs on the host's network, or a Kubernetes
    Service of type LoadBalancer or NodePort exposes it (medium confidence: a load
    balancer in front may be the only way in, and then trusting it can be meant; list
    its addresses instead).

    It is the Traefik counterpart of SA507: there the application server trusts every
    peer, here the proxy in front of it does, and passes what clients claim on.

    ## Why is this bad?
    Unless the peer is trusted, Traefik deletes the `X-Forwarded-For`,
    `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Port` and `X-Real-Ip` a
    request arrives with and sets its own. Trusting every peer keeps them: a client
    claims any IP address (defeating IP allowlists, rate limits, audit logs and
    Traefik's own `ipAllowList` with a `depth`), and claims `https` or another host, which
    the application behind Traefik believes because it trusts its proxy.

    ## Example
    ```yaml
    entryPoints:
      websecure:
        address: ":443"
        forwardedHeaders:
          insecure: true
    ```

    ## Use instead
    Trust only the load balancer or CDN in front of Traefik, by address:
    ```yaml
    entryPoints:
      websecure:
        address: ":443"
        forwardedHeaders:
          trustedIPs: ["10.0.0.0/8"]
    ```

    ## References
    - https://doc.traefik.io/traefik/v2.11/routing/entrypoints/#forwarded-headers
    - https://github.com/traefik/traefik/blob/v3.3.0/pkg/middlewares/forwardedheaders/forwarded_header.go
    - https://github.com/traefik/traefik/blob/v3.3.0/pkg/config/static/entrypoints.go
    - https://docs.docker.com/reference/compose-file/services/#ports
    """

    code = "SA510"
    name = "traefik-forwarded-headers-trust-all"
    severity = Severity.WARNING
    category = Category.REVERSE_PROXY
    security = True  # a client forges its address and scheme
    applies_to = (FileKind.COMPOSE, FileKind.KUBERNETES, FileKind.TRAEFIK, FileKind.STACK)
    cwe = 348
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command:
                  - --entrypoints.web.address=:80
                  - --entrypoints.web.forwardedheaders.insecure  # expect: SA510
                ports: ["80:80"]
        """,
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command:
                  - --entrypoints.web.address=:80
                  - --entrypoints.web.forwardedheaders.trustedips=10.0.0.0/8
                ports: ["80:80"]
        """,
            title="only the load balancer's network is trusted",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        traefik = stack.traefik
        for instance in traefik.instances:
            for entrypoint in instance.config.effective_entrypoints():
                if entrypoint.trusts_everyone is None:
                    continue
                reach = traefik.reach(instance, entrypoint)
                if reach is not None:
                    yield self._report(instance, entrypoint, reach)

    def _report(
        self, instance: TraefikInstance, entrypoint: TraefikEntryPoint, reach: Reach
    ) -> Diagnostic:
        setting = entrypoint.trusts_everyone
        assert setting is not None
        how = (
            "forwardedHeaders.insecure"
            if setting is entrypoint.forwarded_insecure
            else f"forwardedHeaders.trustedIPs `{setting.text}`"
        )
        return self.report(
            setting.span,
            f"Traefik ({instance.where}) keeps the X-Forwarded-For/-Proto/-Host and "
            f"X-Real-Ip headers of every client on entry point `{entrypoint.name}` ({how}), "
            f"and {reach.label}: a client claims any IP address and https, and the app "
            "behind Traefik believes it",
            help="trust only the load balancer in front of Traefik "
            "(forwardedHeaders.trustedIPs with its addresses), or drop the setting when "
            "clients connect to Traefik directly",
            fix_title="Trust forwarded headers from the load balancer only",
            related=[Related(reach.span, reach.label)],
            confidence=reach.confidence,
        )
