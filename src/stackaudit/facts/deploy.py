"""How the app is deployed: compose services, Kubernetes workloads, Services and
Ingresses, and the Traefik routing written in labels and CRDs.

Extractors emit these per file. Compose merges several files into one project
(``compose.override.yml``, ``extends:``, ``include:``), so the merge happens once per run
in ``resolve_deployment`` (``Stack.deploy``), which returns a ``DeployModel`` the rules
query: which services a proxy routes to, which ports are published on every interface,
which replicas sit behind a load balancer without session affinity."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from msgspec import Struct, field
from msgspec.structs import replace

from stackaudit.diagnostics import Confidence, Span
from stackaudit.facts.common import EnvVar, Word

if TYPE_CHECKING:
    from stackaudit.facts.serve import ServeCommand

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
    def hosts(self) -> tuple[str, ...]:
        """Host names of ``Host(`a`) || Host(`b`, `c`)`` (v2 and v3 syntax)."""
        if self.rule is None:
            return ()
        found: list[str] = []
        for args in re.findall(r"\bHost\(([^)]*)\)", self.rule.text):
            found.extend(re.findall(r"[`\"']([^`\"']+)[`\"']", args))
        return tuple(found)


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
        if self.routers or self.services:
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
        return self.image is not None and bool(_BOKEH_IMAGE.search(self.image.repository))

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


# -- merging (compose) --------------------------------------------------------------------

# Compose looks for these in a project directory, in this order, and merges the first
# override found into the first base file found (compose-go cli/options.go).
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
_EXTENDS_DEPTH = 16


def _merge_keyed(
    base: Sequence[T], extra: Sequence[T], key: Callable[[T], Hashable]
) -> tuple[T, ...]:
    """Append ``extra`` to ``base``; an entry of ``extra`` with the key of one in
    ``base`` replaces it in place (compose's rule for ports, volumes, labels, env)."""
    merged = list(base)
    index = {key(item): position for position, item in enumerate(merged)}
    for item in extra:
        known = index.get(key(item))
        if known is None:
            index[key(item)] = len(merged)
            merged.append(item)
        else:
            merged[known] = item
    return tuple(merged)


def _union(base: Sequence[str], extra: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*base, *extra]))


def merge_services(base: ComposeService, over: ComposeService) -> ComposeService:
    """``over`` merged onto ``base`` by the compose-spec merge rules: scalars
    replaced, sequences appended, ``ports``/``volumes`` unique by their key, mappings
    (labels, environment) merged by key; ``command``/``entrypoint`` replaced."""
    return replace(
        base,
        image=over.image or base.image,
        build=over.build or base.build,
        command=over.command or base.command,
        command_args=over.command_args if over.command is not None else base.command_args,
        entrypoint=over.entrypoint or base.entrypoint,
        ports=_merge_keyed(base.ports, over.ports, lambda p: p.key),
        expose=_merge_keyed(base.expose, over.expose, lambda w: w.text),
        networks=_union(base.networks, over.networks),
        network_mode=over.network_mode or base.network_mode,
        replicas=over.replicas or base.replicas,
        labels=_merge_keyed(base.labels, over.labels, lambda label: label.key),
        volumes=_merge_keyed(base.volumes, over.volumes, lambda v: v.target),
        env=_merge_keyed(base.env, over.env, lambda v: v.name),
        env_files=(*base.env_files, *over.env_files),
        profiles=_union(base.profiles, over.profiles),
        depends_on=_union(base.depends_on, over.depends_on),
        extends=None,
        sources=_union(base.sources, over.sources),
    )


class _Resolver(Struct):
    files: dict[str, ComposeFile]

    def service(self, path: str, name: str) -> ComposeService | None:
        compose = self.files.get(path)
        if compose is None:
            return None
        for service in compose.services:
            if service.name == name:
                return service
        return None

    def with_extends(self, service: ComposeService, depth: int = 0) -> ComposeService:
        """The service with its ``extends:`` chain applied (the local settings win)."""
        link = service.extends
        if link is None or depth > _EXTENDS_DEPTH:
            return replace(service, extends=None)
        base = self.service(link.file or service.file, link.service)
        if base is None or base is service:
            return replace(service, extends=None)
        resolved = self.with_extends(base, depth + 1)
        merged = merge_services(replace(resolved, file=service.file, name=service.name), service)
        return replace(merged, span=service.span, file=service.file, name=service.name)

    def project(self, root: str, override: str | None) -> list[ComposeService]:
        services: dict[str, ComposeService] = {}
        order = [root, *([override] if override else [])]
        for path in order:
            for service in self.files[path].services:
                resolved = self.with_extends(service)
                known = services.get(service.name)
                services[service.name] = (
                    resolved if known is None else merge_services(known, resolved)
                )
        for included in self.included(root, set()):
            for service in self.files[included].services:
                services.setdefault(service.name, self.with_extends(service))
        return [replace(s, project=root) for s in services.values()]

    def included(self, path: str, seen: set[str]) -> Iterator[str]:
        seen.add(path)
        for ref in self.files[path].includes:
            if ref.path is not None and ref.path in self.files and ref.path not in seen:
                yield ref.path
                yield from self.included(ref.path, seen)


def resolve_compose(files: Iterable[ComposeFile]) -> list[ComposeService]:
    """Every compose project's services, merged as ``docker compose`` merges them."""
    by_path = {compose.path: compose for compose in files}
    resolver = _Resolver(by_path)
    included = {ref.path for compose in by_path.values() for ref in compose.includes if ref.path}
    by_dir: dict[str, dict[str, str]] = {}
    for path in by_path:
        directory, name = posixpath.split(path)
        by_dir.setdefault(directory, {})[name] = path
    overrides: dict[str, str] = {}
    merged_overrides: set[str] = set()
    for names in by_dir.values():
        base = next((names[n] for n in DEFAULT_FILES if n in names), None)
        override = next((names[n] for n in OVERRIDE_FILES if n in names), None)
        if base is not None and override is not None:
            overrides[base] = override
            merged_overrides.add(override)
    services: list[ComposeService] = []
    covered: set[str] = set(merged_overrides)
    roots = [p for p in sorted(by_path) if p not in merged_overrides and p not in included]
    # Files that only include each other (a cycle) have no outside root: the first of
    # them in path order stands for the project.
    pending = [p for p in sorted(by_path) if p not in merged_overrides]
    while roots:
        for root in roots:
            covered.add(root)
            covered.update(resolver.included(root, set()))
            services.extend(resolver.project(root, overrides.get(root)))
        roots = [p for p in pending if p not in covered][:1]
    return services


# -- the model the rules query ------------------------------------------------------------


class ProxyEvidence(Struct, frozen=True):
    """Why the tool believes a proxy sends traffic to a service."""

    span: Span
    label: str
    confidence: Confidence
    routed_ports: tuple[str, ...] = ()  # ports the proxy connects to, when written


class ServiceRoute(Struct, frozen=True):
    """A way into a Kubernetes workload: an Ingress or IngressRoute to a Service that
    selects its pods, or the Service alone."""

    service: K8sService
    span: Span
    label: str
    affinity: bool
    confidence: Confidence = Confidence.HIGH


class Exposure(Struct, frozen=True):
    """How a compose service makes a server reachable from outside the host:
    ``ports`` are its published ports that lead to the server's port (all of them
    when that port is not known), ``host_network`` that it shares the host's network
    (``network_mode: host``), where the server's own bind address decides."""

    service: ComposeService
    ports: tuple[PortMapping, ...]
    host_network: bool

    @property
    def on_all_interfaces(self) -> tuple[PortMapping, ...]:
        return tuple(p for p in self.ports if p.on_all_interfaces)

    @property
    def reachable_without_proxy(self) -> bool | None:
        """True when a port is published on every interface, False when every
        published port is bound to one address or none is published (``expose:`` only),
        None when a host address is known only at run time or the host network is used."""
        if self.host_network:
            return None
        if self.on_all_interfaces:
            return True
        if any(p.on_all_interfaces is None for p in self.ports):
            return None
        return False


class DeployModel(Struct):
    compose_services: list[ComposeService] = field(default_factory=list)
    k8s_workloads: list[K8sWorkload] = field(default_factory=list)
    k8s_services: list[K8sService] = field(default_factory=list)
    k8s_ingresses: list[K8sIngress] = field(default_factory=list)
    ingress_routes: list[TraefikIngressRoute] = field(default_factory=list)

    # -- compose --------------------------------------------------------------------------

    def project_services(self, service: ComposeService) -> list[ComposeService]:
        return [s for s in self.compose_services if s.project == service.project]

    def services_named(self, name: str) -> list[ComposeService]:
        """The compose services a proxy in the same project reaches as ``name`` (the
        service name is its DNS name on the project's networks)."""
        return [s for s in self.compose_services if s.name == name]

    def services_mounting(self, path: str) -> list[ComposeService]:
        """The compose services that bind-mount the file ``path`` (relative to the
        scanned root), or a directory holding it: e.g. the nginx container that
        reads a config file."""
        found = []
        for service in self.compose_services:
            for volume in service.volumes:
                mounted = volume.host_path
                if mounted and (path == mounted or path.startswith(mounted.rstrip("/") + "/")):
                    found.append(service)
                    break
        return found

    def compose_service_for(self, command: ServeCommand) -> ComposeService | None:
        """The compose service whose command (or Dockerfile) starts ``command``."""
        for service in self.compose_services:
            if command.service and command.service in service.sources:
                return service
        for service in self.compose_services:
            if self.runs_image_command(service, command):
                return service
        return None

    def commands_of(
        self, service: ComposeService, commands: Iterable[ServeCommand]
    ) -> list[ServeCommand]:
        """The server commands a compose service runs: its own ``command:`` /
        ``entrypoint:``, else the final CMD/ENTRYPOINT of the Dockerfile it builds."""
        pool = list(commands)
        own = [c for c in pool if c.service and c.service in service.sources]
        if own:
            return own
        return [c for c in pool if self.runs_image_command(service, c)]

    def exposure(self, command: ServeCommand) -> Exposure | None:
        """How the compose service that runs ``command`` publishes it (None when the
        command does not run in a compose service)."""
        service = self.compose_service_for(command)
        if service is None:
            return None
        port = command.listen_port() if command.is_bokeh_family else ""
        wanted = parse_port_range(port)
        ports = tuple(
            p
            for p in service.ports
            if wanted is None or p.targets is None or wanted.start in p.targets
        )
        return Exposure(service, ports, service.host_network)

    @staticmethod
    def runs_image_command(service: ComposeService, command: ServeCommand) -> bool:
        build = service.build
        if build is None or build.dockerfile is None or command.carrier != "dockerfile":
            return False
        if command.context.endswith("RUN") or service.command is not None:
            return False
        return command.span.path == build.dockerfile

    def bokeh_evidence(
        self, service: ComposeService, commands: Iterable[ServeCommand]
    ) -> tuple[Span, str, Confidence] | None:
        """Why the service is taken to run a Bokeh/Panel server, if it is."""
        for command in self.commands_of(service, commands):
            if command.is_bokeh_family:
                return command.span, f"runs `{command.label}`", Confidence.HIGH
        if service.image_suggests_bokeh and service.image is not None:
            return (
                service.image.span,
                f"image `{service.image.text}` is named after Bokeh/Panel",
                Confidence.MEDIUM,
            )
        return None

    def routed_by_traefik(self, service: ComposeService) -> bool:
        """Traefik labels route to the service. When the project's Traefik runs with
        ``--providers.docker.exposedbydefault=false``, only containers labelled
        ``traefik.enable=true`` are routed."""
        traefik = service.traefik
        if not traefik.routes_http:
            return False
        if traefik.enable is not None and traefik.enable.text.strip().lower() == "true":
            return True
        return not any(
            "exposedbydefault=false" in arg.lower().replace("_", "")
            for proxy in self.project_services(service)
            if proxy.image is not None and proxy.image.name == "traefik"
            for arg in proxy.command_args
        )

    def proxy_evidence(self, service: ComposeService) -> list[ProxyEvidence]:
        """The proxies of the same compose project that route to ``service``: its
        Traefik labels, a proxy-image service that depends on it, nginx-proxy's
        ``VIRTUAL_HOST``. (nginx ``proxy_pass`` to the service name joins here once the
        stack links nginx routes to compose services.)"""
        if service.is_proxy_image:
            return []
        found: list[ProxyEvidence] = []
        traefik = service.traefik
        if self.routed_by_traefik(service) and traefik.first_span is not None:
            found.append(
                ProxyEvidence(
                    traefik.first_span,
                    "Traefik routes to it (labels)",
                    Confidence.HIGH,
                    tuple(word.text for word in traefik.server_ports),
                )
            )
        others = [s for s in self.project_services(service) if s.is_proxy_image]
        for proxy in others:
            if service.name in proxy.depends_on:
                found.append(
                    ProxyEvidence(
                        proxy.span,
                        f"proxy `{proxy.name}` ({proxy.image.text if proxy.image else ''}) "
                        "depends on it",
                        Confidence.MEDIUM,
                    )
                )
        virtual_host = service.env_var("VIRTUAL_HOST")
        if virtual_host is not None and any(
            p.image is not None and "nginx-proxy" in p.image.repository for p in others
        ):
            port = service.env_var("VIRTUAL_PORT")
            found.append(
                ProxyEvidence(
                    virtual_host.span,
                    "nginx-proxy routes VIRTUAL_HOST to it",
                    Confidence.HIGH,
                    (port.value.text,) if port and port.value and port.is_literal else (),
                )
            )
        return found

    # -- Kubernetes -------------------------------------------------------------------------

    def workload_for(self, command: ServeCommand) -> K8sWorkload | None:
        for workload in self.k8s_workloads:
            if any(c.service_key == command.service for c in workload.containers):
                return workload
        return None

    def k8s_bokeh_evidence(
        self, workload: K8sWorkload, commands: Iterable[ServeCommand]
    ) -> tuple[Span, str, Confidence] | None:
        keys = {c.service_key for c in workload.containers}
        for command in commands:
            if command.service in keys and command.is_bokeh_family:
                return command.span, f"runs `{command.label}`", Confidence.HIGH
        for container in workload.containers:
            image = container.image
            if image is not None and _BOKEH_IMAGE.search(image.repository):
                return (
                    image.span,
                    f"image `{image.text}` is named after Bokeh/Panel",
                    (Confidence.MEDIUM),
                )
        return None

    def services_selecting(
        self, workload: K8sWorkload, ports: set[str] | None = None
    ) -> list[K8sService]:
        """The Services whose selector matches the workload's pods (and, given
        ``ports``, that lead to one of them)."""
        return [s for s in self.k8s_services if s.selects(workload) and s.serves(ports or set())]

    def app_ports(self, workload: K8sWorkload, commands: Iterable[ServeCommand]) -> set[str]:
        """The ports the workload's server containers listen on: the ports declared on
        the containers that run a server command (numbers and names), and the port the
        command listens on."""
        keys = {c.service_key: c for c in workload.containers}
        ports: set[str] = set()
        for command in commands:
            container = keys.get(command.service)
            if container is None:
                continue
            ports.add(command.listen_port())
            for port in container.ports:
                ports.update(p for p in (str(port.number or ""), port.name) if p)
        return ports

    def routes_into(
        self, workload: K8sWorkload, ports: set[str] | None = None
    ) -> list[ServiceRoute]:
        """Every way a client reaches the workload's pods (on ``ports``, when given),
        with whether it keeps a client on one pod. ingress-nginx and Traefik send
        traffic to the pod endpoints themselves, so the Service's ``sessionAffinity``
        only counts for traffic that goes through the Service (kube-proxy): without an
        Ingress, or with ingress-nginx ``service-upstream``."""
        routes: list[ServiceRoute] = []
        for service in self.services_selecting(workload, ports):
            entered = False
            for ingress in self.k8s_ingresses:
                backends = ingress.routes_to(service)
                if not backends:
                    continue
                entered = True
                routes.append(_ingress_route(ingress, service))
            for route in self.ingress_routes:
                for target in route.routes_to(service):
                    entered = True
                    routes.append(
                        ServiceRoute(
                            service,
                            target.span,
                            f"IngressRoute `{route.name}` sends to Service `{service.name}`",
                            target.session_affinity,
                        )
                    )
            if not entered:
                routes.append(
                    ServiceRoute(
                        service,
                        service.span,
                        f"Service `{service.name}` ({service.type}) balances connections "
                        "over the pods",
                        service.client_ip_affinity,
                        Confidence.HIGH if service.type != "ClusterIP" else Confidence.MEDIUM,
                    )
                )
        return routes


def _ingress_route(ingress: K8sIngress, service: K8sService) -> ServiceRoute:
    label = f"Ingress `{ingress.name}` sends to Service `{service.name}`"
    if ingress.controller == "traefik":
        sticky = service.annotation("traefik.ingress.kubernetes.io/service.sticky.cookie")
        affinity = sticky is not None and sticky.text.strip().lower() == "true"
        return ServiceRoute(service, ingress.span, label, affinity)
    affinity_word = ingress.nginx("affinity")
    hashed = ingress.nginx("upstream-hash-by")
    through_service = ingress.nginx("service-upstream")
    affinity = (
        (affinity_word is not None and affinity_word.text.strip() == "cookie")
        or hashed is not None
        or (
            through_service is not None
            and through_service.text.strip().lower() == "true"
            and service.client_ip_affinity
        )
    )
    confidence = Confidence.HIGH if ingress.controller == "ingress-nginx" else Confidence.MEDIUM
    return ServiceRoute(service, ingress.span, label, affinity, confidence)


def resolve_deployment(facts: Iterable[object]) -> DeployModel:
    model = DeployModel()
    compose_files: list[ComposeFile] = []
    for fact in facts:
        if isinstance(fact, ComposeFile):
            compose_files.append(fact)
        elif isinstance(fact, K8sWorkload):
            model.k8s_workloads.append(fact)
        elif isinstance(fact, K8sService):
            model.k8s_services.append(fact)
        elif isinstance(fact, K8sIngress):
            model.k8s_ingresses.append(fact)
        elif isinstance(fact, TraefikIngressRoute):
            model.ingress_routes.append(fact)
    services = resolve_compose(compose_files)
    if services:
        # Imported here: facts.traefik builds on this module's Traefik records.
        from stackaudit.facts.traefik import traefik_config

        services = [replace(s, traefik=traefik_config(s.labels)) for s in services]
    model.compose_services = services
    return model
