from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.deploy import ComposeService
from stackaudit.model.stack import Stack
from stackaudit.model.traefik import Reach, TraefikInstance
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# Images of services meant to stay internal whose HTTP interface is on the lowest port
# the image exposes, the one Traefik's docker provider sends to when no label names a
# port: admin and monitoring interfaces, and HTTP database APIs.
_INTERNAL_HTTP_IMAGES = {
    "adminer": "Adminer, a database administration UI",
    "pgadmin4": "pgAdmin, a PostgreSQL administration UI",
    "phpmyadmin": "phpMyAdmin, a MySQL administration UI",
    "mongo-express": "mongo-express, a MongoDB administration UI",
    "redis-commander": "Redis Commander, a Redis administration UI",
    "kafka-ui": "Kafka UI",
    "flower": "Flower, the Celery monitor",
    "elasticsearch": "Elasticsearch's HTTP API",
    "opensearch": "OpenSearch's HTTP API",
    "prometheus": "Prometheus",
}


class TraefikExposesInternalService(Rule):
    """
    ## What it does
    Flags a compose service meant to stay internal (Adminer, pgAdmin, phpMyAdmin,
    mongo-express, Redis Commander, Kafka UI, Flower, Elasticsearch, OpenSearch,
    Prometheus: identified by image) that the project's Traefik routes without being
    asked to: the docker provider is on with `exposedByDefault` left at its default
    (`true`) and no `constraints`, the service carries no `traefik.enable` label and no
    router of its own, it shares a network with Traefik, and Traefik's entry points
    are published.

    ## Why is this bad?
    With `exposedByDefault` true, Traefik creates a router for every container, with
    the default rule ``Host(`{{ normalize .Name }}`)``: the compose service and
    project names (`adminer-myproject`). The `Host` header is the client's to choose,
    so anyone who reaches Traefik's public port and guesses those names is sent to the
    service's first exposed port, which for these images is their HTTP interface:
    database administration, task control, search and metrics APIs that were never
    meant to leave the private network. A `defaultRule` with a domain makes the names
    easier still to find.

    ## Example
    ```yaml
    services:
      traefik:
        image: traefik:v3.3
        command: [--providers.docker]
        ports: ["80:80"]
      adminer:
        image: adminer:4
    ```

    ## Use instead
    Turn off exposure by default (`--providers.docker.exposedbydefault=false`) and label
    the services to route with `traefik.enable=true`, or label this one
    `traefik.enable=false`.

    ## References
    - https://doc.traefik.io/traefik/v2.11/providers/docker/#exposedbydefault
    - https://doc.traefik.io/traefik/v2.11/providers/docker/#defaultrule
    - https://github.com/traefik/traefik/blob/v3.3.0/pkg/provider/docker/pdocker.go
    - https://github.com/traefik/traefik/blob/v3.3.0/pkg/provider/docker/shared.go
    """

    code = "SA511"
    name = "traefik-exposes-internal-service"
    severity = Severity.WARNING
    category = Category.EXPOSURE
    applies_to = (FileKind.COMPOSE, FileKind.TRAEFIK, FileKind.STACK)
    cwe = 668
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker]
                ports: ["80:80"]
              adminer:
                image: adminer:4  # expect: SA511
        """,
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: [--providers.docker, --providers.docker.exposedbydefault=false]
                ports: ["80:80"]
              adminer:
                image: adminer:4
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
              adminer:
                image: adminer:4
                labels: [traefik.enable=false]
        """,
            title="the service opts out",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        traefik = stack.traefik
        for instance in traefik.instances:
            proxy = instance.service
            if proxy is None or not instance.config.exposes_by_default:
                continue
            reach = traefik.published(instance)
            if reach is None:
                continue
            for service in stack.deploy.project_services(proxy):
                what = _internal_http(service)
                if (
                    what is None
                    or service.span == proxy.span
                    or not _shares_network(service, proxy)
                ):
                    continue
                if service.traefik.enable is not None or service.traefik.routers:
                    continue  # routing this service is decided by its own labels
                yield self._report(instance, service, what, reach)

    def _report(
        self, instance: TraefikInstance, service: ComposeService, what: str, reach: Reach
    ) -> Diagnostic:
        docker = instance.config.docker
        assert service.image is not None and docker is not None
        return self.report(
            service.image.span,
            f"{service.label} runs {what}, and Traefik ({instance.where}) routes it by "
            "default (docker provider with exposedByDefault true, no traefik.enable label "
            f"here): a request with the Host `{service.name}-<project>` on Traefik's "
            "public port reaches it",
            help="set --providers.docker.exposedbydefault=false and label the services to "
            "route traefik.enable=true, or label this one traefik.enable=false",
            fix_title="Keep the service out of Traefik",
            related=[
                Related(docker.span, "the docker provider is enabled here"),
                Related(reach.span, reach.label),
            ],
            confidence=self.confidence.weaker(reach.confidence),
        )


def _internal_http(service: ComposeService) -> str | None:
    image = service.image
    if image is None or image.symbolic:
        return None
    return _INTERNAL_HTTP_IMAGES.get(image.name)


def _networks(service: ComposeService) -> set[str]:
    """The networks the service joins (compose puts it on `default` when it names
    none); empty when it uses another network stack (`network_mode`)."""
    if service.network_mode is not None:
        return set()
    return set(service.networks) or {"default"}


def _shares_network(service: ComposeService, proxy: ComposeService) -> bool:
    return bool(_networks(service) & _networks(proxy))
