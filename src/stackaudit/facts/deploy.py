"""How the app is deployed, as each file says it: compose services, Kubernetes
workloads, Services and Ingresses, and the Traefik routing written in labels and CRDs.

Extractors emit these per file; merging them into projects (override files,
``extends:``, ``include:``) and linking them is the model's work
(``stackaudit.model.deploy``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, TypeVar

from msgspec import Struct, field

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.image import ArgWord

if TYPE_CHECKING:
    pass

T = TypeVar("T")

# -- building blocks ------------------------------------------------------------------


class ImageRef(Struct, frozen=True):
    """``[registry/]repository[:tag][@digest]`` as written (after interpolation)."""

    text: str
    repository: str
    tag: str | None
    span: Span
    symbolic: bool = False
    default_used: bool = False

    @property
    def named_after_bokeh(self) -> bool:
        """``bokeh``/``panel`` as a word of the repository (``org/panel-app``)."""
        return bool(_BOKEH_IMAGE.search(self.repository))

    @property
    def name(self) -> str:
        """The last path component: ``nginx`` for ``docker.io/library/nginx:1.27``."""
        return self.repository.rsplit("/", 1)[-1].lower()

    @property
    def version(self) -> str | None:
        """The leading dotted number of the tag: ``1.27`` for ``1.27-alpine``."""
        if not self.tag:
            return None
        match = re.match(r"v?(\d+(?:\.\d+)*)", self.tag)
        return match.group(1) if match else None


def parse_image(text: str, span: Span, symbolic: bool = False, default: bool = False) -> ImageRef:
    rest = text.split("@", 1)[0]
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    return ImageRef(text, rest, tag, span, symbolic, default)


class PortRange(Struct, frozen=True):
    start: int
    end: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.start <= port <= self.end


def parse_port_range(text: str | None) -> PortRange | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
    if not match:
        return None
    start = int(match.group(1))
    return PortRange(start, int(match.group(2) or start))


class PortMapping(Struct, frozen=True):
    """One entry of a compose service's ``ports:``. ``host_ip`` None means every
    interface (Docker's default, ``0.0.0.0`` and ``::``); ``published`` None means an
    ephemeral host port, still on every interface."""

    target: str
    span: Span
    published: str | None = None
    host_ip: str | None = None
    protocol: str = "tcp"
    symbolic: bool = False  # a part is only known at run time (`${PORT}`)
    default_used: bool = False  # a part is the default of `${VAR:-default}`
    host_ip_symbolic: bool = False
    written: str = ""  # the short syntax as written, before interpolation

    @property
    def on_all_interfaces(self) -> bool | None:
        """True when the port is reachable on every host interface, False when bound to
        one address, None when the address is only known at run time."""
        if self.host_ip_symbolic:
            return None
        return self.host_ip is None or self.host_ip in ("0.0.0.0", "::", "[::]", "")

    @property
    def published_as(self) -> str:
        """How the port is published on the host, for a message."""
        if self.published is None:
            return "on a random host port"
        if "$" in self.published:
            return "on a host port chosen at run time"
        return f"as host port {self.published}"

    @property
    def key(self) -> tuple[str | None, str, str | None, str]:
        """Compose's uniqueness key when merging files: {ip, target, published, protocol}."""
        return (self.host_ip, self.target, self.published, self.protocol)

    @property
    def targets(self) -> PortRange | None:
        return parse_port_range(self.target)

    def describe(self) -> str:
        if self.written:
            return self.written
        host = f"{self.host_ip}:" if self.host_ip else ""
        published = f"{self.published}:" if self.published else ""
        proto = f"/{self.protocol}" if self.protocol != "tcp" else ""
        return f"{host}{published}{self.target}{proto}"


class VolumeMount(Struct, frozen=True):
    """A volume or bind mount: ``source`` (host path or volume name, None when
    anonymous) → ``target`` in the container. ``host_path`` is the source relative to
    the scanned root for a bind mount of a relative path."""

    target: str
    span: Span
    source: str | None = None
    kind: Literal["bind", "volume", "tmpfs", "other"] = "volume"
    read_only: bool = False
    host_path: str | None = None


class Label(Struct, frozen=True):
    """A container label (``labels:`` or ``deploy.labels:``), key as written."""

    key: str
    value: Word
    span: Span


class BuildContext(Struct, frozen=True):
    """``build:``: the context directory and Dockerfile, both relative to the scanned
    root when they lie inside it (None otherwise, e.g. a git URL)."""

    span: Span
    context: str | None
    dockerfile: str | None
    inline: bool = False


class Replicas(Struct, frozen=True):
    """``deploy.replicas``, legacy ``scale`` or a Kubernetes ``spec.replicas``."""

    value: Word
    key: str

    @property
    def count(self) -> int | None:
        if self.value.symbolic:
            return None
        try:
            return int(self.value.text.strip())
        except ValueError:
            return None


class Extends(Struct, frozen=True):
    service: str
    file: str | None  # relative to the scanned root; None = the same file
    span: Span


class IncludeRef(Struct, frozen=True):
    """One file named by a top-level ``include:`` (relative to the scanned root, None
    when it points outside of it)."""

    path: str | None
    written: str
    span: Span


# -- Traefik ----------------------------------------------------------------------------


class TraefikRouter(Struct, frozen=True):
    """``traefik.http.routers.<name>.*``."""

    name: str
    span: Span
    rule: Word | None = None
    service: Word | None = None
    middlewares: tuple[Word, ...] = ()
    entrypoints: tuple[str, ...] = ()
    tls: bool = False

    @property
    def reaches_own_container(self) -> bool:
        """Whether the router sends requests to the container whose labels declare it.
        With no ``service`` the docker provider gives the router the container's own
        service; ``name`` or ``name@docker`` names a service of the docker provider. A
        name ``@internal`` is one of Traefik's own handlers (``api``, ``dashboard``,
        ``rest``, ``ping``, ``prometheus``, ``acme-http``, ``noop``), never an
        application, and ``name@file`` (any other provider) is defined elsewhere."""
        if self.service is None:
            return True
        return traefik_service_provider(self.service.text) in ("", "docker", "swarm")

    @property
    def hosts(self) -> tuple[str, ...]:
        """Host names of ``Host(`a`) || Host(`b`, `c`)`` (v2 and v3 syntax)."""
        if self.rule is None:
            return ()
        found: list[str] = []
        for args in re.findall(r"\bHost\(([^)]*)\)", self.rule.text):
            found.extend(re.findall(r"[`\"']([^`\"']+)[`\"']", args))
        return tuple(found)


def traefik_service_provider(reference: str) -> str:
    """The provider a service reference names (``api@internal`` → ``internal``), ""
    when it names none (the provider of the referring router). Traefik serves every
    name ending in ``@internal`` with a handler of its own
    (pkg/server/service/internalhandler.go)."""
    return reference.strip().rpartition("@")[2] if "@" in reference else ""


class TraefikService(Struct, frozen=True):
    """``traefik.http.services.<name>.loadbalancer.*`` (or a CRD service entry)."""

    name: str
    span: Span
    server_port: Word | None = None
    sticky_cookie: Word | None = None  # the label/field that turns the cookie on
    cookie_name: Word | None = None
    strategy: Word | None = None

    @property
    def session_affinity(self) -> bool:
        """Traefik pins a client to one server with a sticky cookie, or with the
        ``hrw`` strategy (highest random weight on the client IP)."""
        if self.sticky_cookie is not None:
            return True
        return self.strategy is not None and self.strategy.text.strip().lower() == "hrw"


class TraefikMiddleware(Struct, frozen=True):
    """``traefik.http.middlewares.<name>.<kind>.*``: ``settings`` maps the lower-cased
    option path (``accesscontrolalloworiginlist``) to its value."""

    name: str
    kind: str
    span: Span
    settings: tuple[tuple[str, Word], ...] = ()

    def setting(self, key: str) -> Word | None:
        for name, value in self.settings:
            if name == key:
                return value
        return None

    @property
    def authenticates(self) -> bool:
        return self.kind in ("basicauth", "digestauth", "forwardauth")


class TraefikConfig(Struct, frozen=True):
    """The Traefik dynamic configuration written in one container's labels."""

    enable: Word | None = None
    routers: tuple[TraefikRouter, ...] = ()
    services: tuple[TraefikService, ...] = ()
    middlewares: tuple[TraefikMiddleware, ...] = ()
    tcp_or_udp: bool = False

    @property
    def disabled(self) -> bool:
        return self.enable is not None and self.enable.text.strip().lower() == "false"

    @property
    def routes_http(self) -> bool:
        """The labels make Traefik route HTTP to this container: a router or service
        label, or ``traefik.enable=true`` (a TCP/UDP router alone stops the automatic HTTP
        router, per the docker provider docs)."""
        if self.disabled:
            return False
        if self.routers:
            # Routers in the labels replace the default one: the container is routed
            # only by those that send to its own service (not api@internal...).
            return any(router.reaches_own_container for router in self.routers)
        if self.services:
            return True
        return (
            self.enable is not None
            and self.enable.text.strip().lower() == "true"
            and not self.tcp_or_udp
        )

    @property
    def session_affinity(self) -> bool:
        """Every load balancer this container serves in pins clients. With no service
        label, Traefik creates a default service, which has no affinity."""
        return bool(self.services) and all(s.session_affinity for s in self.services)

    @property
    def server_ports(self) -> tuple[Word, ...]:
        return tuple(s.server_port for s in self.services if s.server_port is not None)

    @property
    def first_span(self) -> Span | None:
        """Where the routing is written: the first router, else service, else
        ``traefik.enable``."""
        for spans in ([r.span for r in self.routers], [s.span for s in self.services]):
            if spans:
                return min(spans)
        return self.enable.span if self.enable is not None else None


class TraefikEntryPoint(Struct, frozen=True):
    """``entryPoints.<name>`` of a static configuration: where it listens and whose
    ``X-Forwarded-*`` headers it keeps. ``forwarded_insecure`` is the setting that
    turns ``forwardedHeaders.insecure`` on (None when off); ``trusted_ips`` are the
    entries of ``forwardedHeaders.trustedIPs``."""

    name: str
    span: Span
    address: Word | None = None
    forwarded_insecure: Word | None = None
    trusted_ips: tuple[Word, ...] = ()
    has_middlewares: bool = False  # `http.middlewares`: applied to every router on it

    @property
    def port(self) -> int | None:
        """The TCP/UDP port of ``[host]:port[/protocol]``."""
        if self.address is None or self.address.symbolic:
            return None
        match = re.search(r":(\d+)(?:/[a-z]+)?$", self.address.text.strip())
        return int(match.group(1)) if match else None

    @property
    def loopback_only(self) -> bool:
        """Listening on a loopback address only (``127.0.0.1:8080``, ``[::1]:8080``)."""
        if self.address is None:
            return False
        host = self.address.text.strip().rpartition(":")[0].strip("[]").lower()
        return host == "localhost" or host == "::1" or host.startswith("127.")

    @property
    def trusts_everyone(self) -> Word | None:
        """The setting that makes Traefik keep the forwarded headers of every client:
        ``forwardedHeaders.insecure``, or a trusted range covering every IPv4 or IPv6
        address."""
        if self.forwarded_insecure is not None:
            return self.forwarded_insecure
        for word in self.trusted_ips:
            if word.text.strip() in ("0.0.0.0/0", "::/0", "0::0/0"):
                return word
        return None


class TraefikStaticConfig(Struct, frozen=True):
    """One Traefik static configuration, from one of its three sources (exclusive:
    Traefik reads the first it finds of a configuration file, command-line arguments,
    ``TRAEFIK_*`` environment variables). ``file`` is the file it was read from ("" for
    arguments and variables, which belong to a container). ``api`` is where the API is
    enabled, ``api_insecure`` the setting that serves it on the ``traefik`` entry point;
    ``docker`` where the docker provider is enabled, with its ``exposedByDefault`` and
    ``constraints`` as written."""

    span: Span
    origin: Literal["file", "cli", "env"]
    file: str = ""
    api: Word | None = None
    api_insecure: Word | None = None
    dashboard: bool = True
    entrypoints: tuple[TraefikEntryPoint, ...] = ()
    docker: Word | None = None
    exposed_by_default: Word | None = None
    docker_constraints: Word | None = None
    config_file: Word | None = None

    def effective_entrypoints(self) -> tuple[TraefikEntryPoint, ...]:
        """The entry points Traefik opens: those written, ``http`` on ``:80`` when none
        is, and ``traefik`` on ``:8080`` when the insecure API needs it and it is not
        written (``SetEffectiveConfiguration``, pkg/config/static/static_config.go)."""
        found = list(self.entrypoints)
        if not found:
            found.append(TraefikEntryPoint("http", self.span, Word(":80", self.span)))
        if self.api_insecure is not None and not any(e.name == "traefik" for e in found):
            span = self.api_insecure.span
            found.append(TraefikEntryPoint("traefik", span, Word(":8080", span)))
        return tuple(found)

    @property
    def exposes_by_default(self) -> bool:
        """The docker provider routes every container not labelled
        ``traefik.enable=false``: ``exposedByDefault`` defaults to true, and no
        ``constraints`` expression narrows the containers."""
        if self.docker is None or self.docker_constraints is not None:
            return False
        setting = self.exposed_by_default
        if setting is None:
            return True
        return not setting.symbolic and go_bool(setting.text) is True


def go_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``, which Traefik's configuration parser and
    ingress-nginx's boolean annotations use (an invalid value: None)."""
    value = text.strip()
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


class TraefikFileConfig(Struct, frozen=True):
    """The dynamic configuration of a file read by Traefik's file provider (its
    ``http.routers`` and ``http.middlewares``, referred to as ``name@file``)."""

    path: str
    config: TraefikConfig


# -- compose ------------------------------------------------------------------------------

PROXY_IMAGES = frozenset(
    {
        "nginx",
        "nginx-proxy",
        "nginx-unprivileged",
        "openresty",
        "traefik",
        "caddy",
        "haproxy",
        "envoy",
        "nginx-proxy-manager",
        "swag",
        "apache",
        "httpd",
    }
)
_BOKEH_IMAGE = re.compile(r"(^|[/_.-])(bokeh|panel)([/_.:-]|$)", re.IGNORECASE)


class ComposeService(Struct, frozen=True):
    """One compose service: per file as extracted, or merged over the project's files
    (override, ``extends``) by ``resolve_deployment``. Absent settings are None or
    empty; ``sources`` are the ``compose:<file>:<name>`` keys of every fragment merged
    in, the keys under which the command-line extractor filed the service's commands."""

    file: str
    name: str
    span: Span
    image: ImageRef | None = None
    build: BuildContext | None = None
    command: Span | None = None
    entrypoint: Span | None = None
    command_args: tuple[str, ...] = ()  # the words of `command:`, as written
    # `entrypoint:` and `command:` as words placed in the file; None when not set (or
    # null), () when set to `[]` or `''`, which empties the image's own.
    entrypoint_words: tuple[ArgWord, ...] | None = None
    command_words: tuple[ArgWord, ...] | None = None
    ports: tuple[PortMapping, ...] = ()
    expose: tuple[Word, ...] = ()
    networks: tuple[str, ...] = ()
    network_mode: Word | None = None
    replicas: Replicas | None = None
    labels: tuple[Label, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    env: tuple[EnvVar, ...] = ()
    env_files: tuple[Word, ...] = ()
    profiles: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    extends: Extends | None = None
    sources: tuple[str, ...] = ()
    project: str = ""
    # The compose files merged into the project, in order (the first one's directory is
    # the project directory); set by ``resolve_deployment``.
    project_files: tuple[str, ...] = ()
    traefik: TraefikConfig = field(default_factory=TraefikConfig)

    @property
    def key(self) -> str:
        return f"compose:{self.file}:{self.name}"

    @property
    def label(self) -> str:
        return f"compose service `{self.name}`"

    def label_value(self, key: str) -> Label | None:
        """The label named ``key`` (case-insensitive, as Traefik reads them)."""
        wanted = key.lower()
        found = [label for label in self.labels if label.key.lower() == wanted]
        return found[-1] if found else None

    def env_var(self, name: str) -> EnvVar | None:
        found = [var for var in self.env if var.name == name]
        return found[-1] if found else None

    @property
    def is_proxy_image(self) -> bool:
        return self.image is not None and self.image.name in PROXY_IMAGES

    @property
    def image_suggests_bokeh(self) -> bool:
        return self.image is not None and self.image.named_after_bokeh

    @property
    def published_on_all_interfaces(self) -> tuple[PortMapping, ...]:
        return tuple(p for p in self.ports if p.on_all_interfaces)

    @property
    def host_network(self) -> bool:
        return self.network_mode is not None and self.network_mode.text == "host"


class ComposeFile(Struct, frozen=True):
    """One compose file: its services as written, and the files it includes."""

    path: str
    span: Span
    services: tuple[ComposeService, ...] = ()
    includes: tuple[IncludeRef, ...] = ()


# -- Kubernetes ---------------------------------------------------------------------------


class ContainerPort(Struct, frozen=True):
    number: int | None
    span: Span
    name: str = ""


class K8sContainer(Struct, frozen=True):
    name: str
    span: Span
    service_key: (
        str  # "k8s:<file>:<kind>/<namespace>/<workload>/<container>", as on ServeCommand.service
    )
    image: ImageRef | None = None
    ports: tuple[ContainerPort, ...] = ()
    env: tuple[EnvVar, ...] = ()
    # `command:` (the image's ENTRYPOINT replaced) and `args:` (its CMD replaced) as
    # words placed in the file; None when not set.
    command_words: tuple[ArgWord, ...] | None = None
    args_words: tuple[ArgWord, ...] | None = None


class K8sEnvFrom(Struct, frozen=True):
    """A container's ``envFrom`` entry: every key of a ConfigMap or Secret becomes a
    variable (``prefix`` before its name)."""

    kind: str  # "configMap" or "secret"
    name: str
    span: Span
    prefix: str = ""


class K8sKeyRef(Struct, frozen=True):
    """An ``env[].valueFrom.configMapKeyRef``: ``variable`` takes the value of ``key`` in
    the ConfigMap ``config_map``. ``span`` is the env entry's, as on its ``EnvVar``."""

    variable: str
    config_map: str
    key: str
    span: Span


class K8sContainerEnv(Struct, frozen=True):
    """Where a container's environment comes from besides its literal ``env`` values,
    keyed like ``ServeCommand.service``."""

    container_key: str
    namespace: str | None
    env_from: tuple[K8sEnvFrom, ...] = ()
    key_refs: tuple[K8sKeyRef, ...] = ()


class K8sConfigMap(Struct, frozen=True):
    """A ConfigMap (its ``data`` values are the variables' values) or a Secret (its keys
    are known, their values are not read: ``value`` None)."""

    name: str
    namespace: str | None
    secret: bool
    span: Span
    data: tuple[EnvVar, ...] = ()


class K8sWorkload(Struct, frozen=True):
    """A Deployment, StatefulSet, DaemonSet, ReplicaSet or bare Pod."""

    file: str
    kind: str
    name: str
    span: Span
    namespace: str | None = None
    replicas: Replicas | None = None  # None: the API default (1)
    pod_labels: tuple[tuple[str, str], ...] = ()
    containers: tuple[K8sContainer, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.kind} `{self.name}`"


class ServicePort(Struct, frozen=True):
    span: Span
    port: str = ""
    target_port: str = ""
    node_port: str = ""
    name: str = ""


class K8sService(Struct, frozen=True):
    file: str
    name: str
    span: Span
    namespace: str | None = None
    type: str = "ClusterIP"
    selector: tuple[tuple[str, str], ...] = ()
    session_affinity: Word | None = None
    ports: tuple[ServicePort, ...] = ()
    annotations: tuple[tuple[str, Word], ...] = ()

    @property
    def client_ip_affinity(self) -> bool:
        return self.session_affinity is not None and self.session_affinity.text == "ClientIP"

    def annotation(self, key: str) -> Word | None:
        for name, value in self.annotations:
            if name == key:
                return value
        return None

    def serves(self, ports: set[str]) -> bool:
        """Whether one of the Service's ports leads to one of ``ports`` (container port
        numbers or names); True when either side is unknown."""
        if not ports or not self.ports:
            return True
        return any((p.target_port or p.port) in ports for p in self.ports)

    def selects(self, workload: K8sWorkload) -> bool:
        if not self.selector or not same_namespace(self.namespace, workload.namespace):
            return False
        labels = dict(workload.pod_labels)
        return all(labels.get(key) == value for key, value in self.selector)


class IngressBackend(Struct, frozen=True):
    service: str
    span: Span
    port: str = ""
    host: str = ""
    path: str = ""


NGINX_PREFIX = "nginx.ingress.kubernetes.io/"


class K8sIngress(Struct, frozen=True):
    """A ``networking.k8s.io`` Ingress with its annotations."""

    file: str
    name: str
    span: Span
    namespace: str | None = None
    ingress_class: str | None = None
    annotations: tuple[tuple[str, Word], ...] = ()
    backends: tuple[IngressBackend, ...] = ()
    tls_hosts: tuple[str, ...] = ()  # spec.tls[].hosts

    def terminates_tls(self, host: str) -> bool:
        """The controller serves ``host`` over TLS: it is listed under ``spec.tls``, as
        written or through a wildcard entry (``*.example.com``, one label). A ``tls``
        entry without hosts is left undecided (its certificate's names decide)."""
        host = host.lower()
        for entry in (h.lower() for h in self.tls_hosts):
            if entry == host:
                return True
            wildcard = entry.startswith("*.") and host.endswith(entry[1:])
            if wildcard and host.count(".") == entry.count("."):
                return True
        return False

    def annotation(self, key: str) -> Word | None:
        for name, value in self.annotations:
            if name == key:
                return value
        return None

    def nginx(self, name: str) -> Word | None:
        """An ingress-nginx annotation (``nginx.ingress.kubernetes.io/<name>``)."""
        return self.annotation(NGINX_PREFIX + name)

    @property
    def controller(self) -> Literal["ingress-nginx", "traefik", "unknown"]:
        wanted = (self.ingress_class or "").lower()
        if "traefik" in wanted:
            return "traefik"
        if "nginx" in wanted or any(k.startswith(NGINX_PREFIX) for k, _ in self.annotations):
            return "ingress-nginx"
        return "unknown"

    def routes_to(self, service: K8sService) -> list[IngressBackend]:
        if not same_namespace(self.namespace, service.namespace):
            return []
        return [b for b in self.backends if b.service == service.name]


class IngressRouteService(Struct, frozen=True):
    name: str
    span: Span
    port: str = ""
    kind: str = "Service"
    sticky_cookie: Word | None = None
    strategy: Word | None = None
    # ``nativeLB``: Traefik's only server is the Service's ClusterIP (None: not set).
    native_lb: Word | None = None

    @property
    def session_affinity(self) -> bool:
        if self.sticky_cookie is not None:
            return True
        return self.strategy is not None and self.strategy.text.strip().lower() == "hrw"


class TraefikIngressRoute(Struct, frozen=True):
    """A Traefik ``IngressRoute`` CRD: every route's match and the services it sends to."""

    file: str
    name: str
    span: Span
    namespace: str | None = None
    matches: tuple[Word, ...] = ()
    services: tuple[IngressRouteService, ...] = ()
    middlewares: tuple[str, ...] = ()

    def routes_to(self, service: K8sService) -> list[IngressRouteService]:
        if not same_namespace(self.namespace, service.namespace):
            return []
        return [s for s in self.services if s.kind == "Service" and s.name == service.name]


def same_namespace(a: str | None, b: str | None) -> bool:
    # A manifest without a namespace is applied wherever `kubectl -n` says.
    return a is None or b is None or a == b


class HelmChartFile(Struct, frozen=True):
    """A Helm chart's ``Chart.yaml`` or ``values.yaml`` (the chart root is its
    directory), as templates see it: ``strings`` maps each dotted path of a string
    value (``image.repository``) to its text; ``mappings`` lists the paths that hold a
    mapping (the root is ""); a path holding anything else (number, boolean, list) is
    in neither, nor is a null or absent one, but ``others`` lists the former so that
    they are told apart (an absent key renders empty, a number renders in Go's
    notation, which is not reproduced). For ``Chart.yaml``, ``strings`` holds its
    ``appVersion`` and ``version``."""

    path: str
    role: Literal["chart", "values"]
    strings: tuple[tuple[str, str], ...] = ()
    mappings: tuple[str, ...] = ()
    others: tuple[str, ...] = ()
