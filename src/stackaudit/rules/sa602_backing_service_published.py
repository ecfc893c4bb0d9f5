from collections.abc import Iterator

from stackaudit.diagnostics import (
    Confidence,
    Diagnostic,
    Edit,
    FixSafety,
    Related,
    Severity,
    Span,
)
from stackaudit.facts.deploy import (
    ComposeService,
    K8sContainer,
    K8sContainerEnv,
    K8sService,
    PortMapping,
)
from stackaudit.model.backing import (
    Auth,
    BackingService,
    backing_service,
    compose_container,
    k8s_container,
)
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_name, is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class BackingServicePublished(Rule):
    """
    ## What it does
    Flags a database, cache, queue, search engine or admin UI that is reachable from
    other hosts: a compose service whose image is PostgreSQL, MySQL/MariaDB, MongoDB,
    Redis, RabbitMQ, Kafka, Kafka UI, Elasticsearch/OpenSearch, pgAdmin, Adminer,
    Flower or a Jupyter Docker Stacks image, and that publishes one of the ports the
    service listens on without a host address (`"5432:5432"`, `"5432"`,
    `"0.0.0.0:5432:5432"`, the long syntax without `host_ip`), or shares the host's
    network; and a Kubernetes Service of type `LoadBalancer` or `NodePort` that leads
    to such a container's port.

    The service is told by its image (`postgres:16`, `docker.io/library/postgres`,
    `bitnami/redis`, `docker.elastic.co/elasticsearch/elasticsearch`...), not by the
    port number: an app of its own listening on 5432 is not reported.

    It is an error when the service lets clients in without a password or with one
    anybody can know: PostgreSQL's `POSTGRES_HOST_AUTH_METHOD=trust`,
    `MYSQL_ALLOW_EMPTY_PASSWORD`, Redis without `--requirepass`, MongoDB without
    `MONGO_INITDB_ROOT_PASSWORD`, RabbitMQ's guest/guest, Kafka without a SASL
    listener, Flower or Kafka UI without authentication, Elasticsearch 7 or
    `xpack.security.enabled=false`, a Jupyter token set to empty — or a password
    written in the committed file. It is a warning when the password is supplied at
    run time (`${VAR}`, a `_FILE` secret, a Kubernetes Secret). Ports published only
    in development files (`docker-compose.dev.yml`, `compose.override.yml`) or by a
    service in a development profile are reported at low confidence.

    ## Why is this bad?
    Docker publishes a port without a host address on every interface of the host
    (`0.0.0.0` and `[::]`), and the rules it writes into the firewall let that traffic
    in ahead of ufw and firewalld rules: a database meant for the app next to it
    becomes a database on the internet. Scanners find open Redis, MongoDB and
    Elasticsearch ports within minutes; without a password (or with a committed one)
    that is the whole dataset, and for Redis, Jupyter and Flower command execution.

    ## Example
    ```yaml
    services:
      db:
        image: postgres:16
        environment:
          POSTGRES_PASSWORD: postgres
        ports:
          - "5432:5432"
    ```

    ## Use instead
    Let the app reach the service over the compose network (drop `ports:`), or bind
    the port to the loopback interface for tools on the host, and take the password
    from a secret:
    ```yaml
        environment:
          POSTGRES_PASSWORD_FILE: /run/secrets/db_password
        ports:
          - "127.0.0.1:5432:5432"
    ```
    The fix (unsafe: other hosts lose access) prefixes a short-syntax port with
    `127.0.0.1:`.

    ## References
    - https://docs.docker.com/engine/network/port-publishing/
    - https://docs.docker.com/engine/network/packet-filtering-firewalls/
    - https://docs.docker.com/reference/compose-file/services/#ports
    - https://github.com/docker-library/postgres/blob/master/17/bookworm/docker-entrypoint.sh
    - https://github.com/docker-library/mysql/blob/master/8.4/docker-entrypoint.sh
    - https://github.com/docker-library/mongo/blob/master/7.0/docker-entrypoint.sh
    - https://github.com/redis/docker-library-redis/blob/release/7.2/debian/Dockerfile
    - https://github.com/docker-library/docs/blob/master/rabbitmq/content.md
    - https://www.elastic.co/guide/en/elastic-stack-get-started/8.0/get-started-stack-docker.html
    - https://docs.opensearch.org/latest/security/configuration/demo-configuration
    - https://github.com/mher/flower/blob/v2.0.0/docs/config.rst
    - https://github.com/jupyter-server/jupyter_server/blob/main/docs/source/operators/security.rst
    - https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport
    """

    code = "SA602"
    name = "backing-service-published"
    severity = Severity.WARNING
    category = Category.EXPOSURE
    applies_to = (FileKind.COMPOSE, FileKind.KUBERNETES, FileKind.STACK)
    cwe = 284
    fix = FixSafety.UNSAFE
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              cache:
                image: redis:7-alpine
                ports:
                  - "6379:6379"  # expect: SA602
            """,
            fixed="""
            services:
              cache:
                image: redis:7-alpine
                ports:
                  - "127.0.0.1:6379:6379"
            """,
            title="Redis without a password, on every interface",
        ),
        Bad(
            "compose.yaml",
            """
            services:
              db:
                image: docker.io/library/postgres:16
                environment:
                  POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
                ports:
                  - target: 5432  # expect: SA602
                    published: 5432
            """,
            title="the long syntax without host_ip (a warning: the password is a variable)",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              db:
                image: postgres:16
                environment:
                  POSTGRES_PASSWORD_FILE: /run/secrets/db_password
                ports:
                  - "127.0.0.1:5432:5432"
              cache:
                image: redis:7-alpine
                expose:
                  - "6379"
            """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        deploy = stack.deploy
        env_files = stack.environment.from_env_files
        for service in deploy.compose_services:
            backing = backing_service(service.image)
            if backing is None:
                continue
            container = compose_container(service, env_files)
            auth = backing.judge(container)
            ports = backing.service_ports(container)
            for port in service.published_on_all_interfaces:
                targets = port.targets
                if targets is not None and any(p in targets for p in ports):
                    yield self._compose_port(service, backing, port, auth)
            if service.host_network and service.network_mode is not None:
                yield self._report(
                    service.network_mode.span,
                    f"{service.label} runs {backing.label} on the host's network "
                    "(`network_mode: host`), listening on every host interface",
                    auth,
                    help="use the compose network and publish the port on "
                    f'"127.0.0.1:{min(ports)}:{min(ports)}" if the host needs it',
                    confidence=Confidence.MEDIUM,
                )
        yield from self._kubernetes(stack)

    def _compose_port(
        self, service: ComposeService, backing: BackingService, port: PortMapping, auth: Auth
    ) -> Diagnostic:
        host = port.published_as
        return self._report(
            port.span,
            f"{service.label} runs {backing.label} (image `{_image(service)}`) and publishes "
            f"`{port.describe()}` on every host interface ({host})",
            auth,
            help="remove the `ports:` entry (the project's containers reach the service "
            "over the compose network) or bind it to the loopback interface: "
            f'"127.0.0.1:{port.published or ""}:{port.target}"',
            confidence=_compose_confidence(service, port, auth),
            edits=_loopback(port),
        )

    def _kubernetes(self, stack: Stack) -> Iterator[Diagnostic]:
        deploy = stack.deploy
        env_from = {f.container_key for f in stack.of(K8sContainerEnv) if f.env_from}
        for workload in deploy.k8s_workloads:
            for k8s in workload.containers:
                backing = backing_service(k8s.image)
                if backing is None:
                    continue
                container = k8s_container(k8s, k8s.service_key in env_from)
                ports = backing.service_ports(container)
                auth = backing.judge(container)
                for service in deploy.services_selecting(workload):
                    if service.type not in ("LoadBalancer", "NodePort"):
                        continue
                    for port in _service_ports_to(service, k8s, ports):
                        yield self._report(
                            port,
                            f"Service `{service.name}` ({service.type}) exposes {backing.label} "
                            f"of {workload.label} (image `{_k8s_image(k8s)}`) outside the "
                            "cluster",
                            auth,
                            help="use a ClusterIP Service (the default) and reach it from "
                            "inside the cluster, or `kubectl port-forward` for tools",
                            confidence=Confidence.HIGH,
                        )

    def _report(
        self,
        span: Span,
        message: str,
        auth: Auth,
        *,
        help: str,
        confidence: Confidence,
        edits: list[Edit] | None = None,
    ) -> Diagnostic:
        weak = auth.weak
        if weak:
            help += "; and require a strong password supplied at run time (a secret)"
        return self.report(
            span,
            f"{message}: {auth.reason}",
            help=help,
            fix_title="Publish the port on the loopback interface only",
            related=[Related(auth.span, "the credential setting")] if auth.span else [],
            edits=edits or [],
            confidence=confidence,
            severity=Severity.ERROR if weak else Severity.WARNING,
        )


def _image(service: ComposeService) -> str:
    return service.image.text if service.image is not None else ""


def _k8s_image(container: K8sContainer) -> str:
    return container.image.text if container.image is not None else ""


def _compose_confidence(service: ComposeService, port: PortMapping, auth: Auth) -> Confidence:
    """Low in a development file or profile (a local `docker compose up`), medium when
    a run-time variable decides the port or the password, or the service only starts
    with a profile."""
    if is_development_path(port.span.path) or any(is_development_name(p) for p in service.profiles):
        return Confidence.LOW
    if port.default_used or auth.default_used or service.profiles:
        return Confidence.MEDIUM
    return Confidence.HIGH


def _loopback(port: PortMapping) -> list[Edit]:
    """The short syntax with `127.0.0.1:` as its host address, written in place (a
    written address of every interface is replaced); none for the long syntax or a
    value holding a variable."""
    written = port.written
    span = port.span
    if not written or "$" in written or span.line != span.end_line:
        return []
    rest = written
    if port.host_ip is not None:
        if not rest.startswith(("0.0.0.0:", "[::]:")):
            return []
        rest = rest.split("]:", 1)[1] if rest.startswith("[") else rest.partition(":")[2]
    if port.published is None and port.host_ip is None:
        rest = ":" + rest
    replacement = f"127.0.0.1:{rest}"
    width = span.end_column - span.column
    if width == len(written) + 2:
        return [Edit(span, f'"{replacement}"')]
    if width == len(written):
        return [Edit(span, replacement)]
    return []


def _service_ports_to(
    service: K8sService, container: K8sContainer, ports: frozenset[int]
) -> Iterator[Span]:
    """The Service's ports whose target (a number, or a container port's name; the
    Service port itself when no target is written) is one the service listens on."""
    names = {p.name: p.number for p in container.ports if p.name and p.number is not None}
    for entry in service.ports:
        target = entry.target_port or entry.port
        number = names.get(target) if not target.isdigit() else int(target)
        if number in ports:
            yield entry.span
