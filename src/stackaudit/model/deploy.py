"""Deployment resolution: compose files merged into projects as Compose merges them
(``compose.override.yml``, ``extends:``, ``include:``), Kubernetes Services matched to
the workloads they select, Ingresses and Traefik routes to the services they reach.
``resolve_deployment`` runs once per run (``Stack.deploy``) and returns the
``DeployModel`` rules query: which services a proxy routes to, which ports are published
on every interface, which replicas sit behind a load balancer without affinity."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from functools import cached_property
from typing import TypeVar

from msgspec import Struct, field
from msgspec.structs import replace

from stackaudit.diagnostics import Confidence, Span
from stackaudit.facts.build import ComposeInvocation, ImageBuild
from stackaudit.facts.common import Word
from stackaudit.facts.deploy import (
    ComposeFile,
    ComposeService,
    HelmChartFile,
    ImageRef,
    IngressRouteService,
    K8sIngress,
    K8sService,
    K8sWorkload,
    PortMapping,
    Replicas,
    TraefikIngressRoute,
    parse_port_range,
)
from stackaudit.facts.envfile import EnvFile
from stackaudit.facts.image import DockerImage
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.helm import HelmCharts
from stackaudit.model.images import ImageIndex
from stackaudit.policy import is_development_path

T = TypeVar("T")

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
        command_words=_replaced(base.command_words, over.command_words),
        entrypoint_words=_replaced(base.entrypoint_words, over.entrypoint_words),
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


def _replaced(base: T | None, over: T | None) -> T | None:
    return over if over is not None else base


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

    def project(
        self, root: str, *overrides: str | None, key: str | None = None
    ) -> list[ComposeService]:
        """The services of the project formed by ``root`` and ``overrides`` merged over
        it in order; ``key`` names the project (``root`` by default)."""
        services: dict[str, ComposeService] = {}
        order = [root, *(path for path in overrides if path)]
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
        files = tuple(order)
        return [replace(s, project=key or root, project_files=files) for s in services.values()]

    def included(self, path: str, seen: set[str]) -> Iterator[str]:
        seen.add(path)
        for ref in self.files[path].includes:
            if ref.path is not None and ref.path in self.files and ref.path not in seen:
                yield ref.path
                yield from self.included(ref.path, seen)


def resolve_compose(
    files: Iterable[ComposeFile],
    combinations: Iterable[tuple[str, ...]] = (),
    invoked: Iterable[tuple[str, ...]] = (),
) -> list[ComposeService]:
    """Every compose project's services, merged as ``docker compose`` merges them.
    ``combinations`` are lists of files read together as one project (``COMPOSE_FILE``):
    the first is the project's, the others merge over it in order, and the directory's
    default files (an override among them) are not read on their own. ``invoked`` are
    lists of files a command line reads together (``docker compose -f a.yml -f
    b.yml``): each forms a project of its own, beside the directory's default one, and
    a file read there only after another (``docker-compose.prod.yml``, a fragment) is
    no project on its own."""
    by_path = {compose.path: compose for compose in files}
    resolver = _Resolver(by_path)
    services: list[ComposeService] = []
    formed: set[tuple[str, ...]] = set()
    combined: set[str] = set()
    for combination in combinations:
        present = [path for path in combination if path in by_path]
        if not present:
            continue
        services.extend(resolver.project(present[0], *present[1:]))
        formed.add(tuple(present))
        combined.update(present)
        directory = posixpath.dirname(present[0])
        combined.update(
            path
            for path in by_path
            if posixpath.dirname(path) == directory
            and posixpath.basename(path) in (*DEFAULT_FILES, *OVERRIDE_FILES)
        )
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
    command_lines = [
        tuple(dict.fromkeys(path for path in listed if path in by_path))
        for listed in invoked
        if listed and listed[0] in by_path
    ]
    read_after_another = {
        path
        for listed in command_lines
        for path in listed[1:]
        if posixpath.basename(path) not in (*DEFAULT_FILES, *OVERRIDE_FILES)
    }
    covered: set[str] = set(merged_overrides) | combined | read_after_another
    roots = [p for p in sorted(by_path) if p not in covered and p not in included]
    # Files that only include each other (a cycle) have no outside root: the first of
    # them in path order stands for the project.
    pending = [p for p in sorted(by_path) if p not in covered]
    while roots:
        for root in roots:
            covered.add(root)
            covered.update(resolver.included(root, set()))
            services.extend(resolver.project(root, overrides.get(root)))
            formed.add(tuple(p for p in (root, overrides.get(root)) if p))
        roots = [p for p in pending if p not in covered][:1]
    for listed in dict.fromkeys(command_lines):
        if listed not in formed:
            # Its own key: `docker compose -f compose.yml` leaves out the override that
            # the default project of the same directory merges, so the two are different
            # projects with different containers.
            key = " ".join(f"-f {path}" for path in listed)
            services.extend(resolver.project(listed[0], *listed[1:], key=key))
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
    # Traefik sends to the Service's ClusterIP (``nativeLB``), where kube-proxy picks a
    # pod per connection: only the Service's own ``sessionAffinity`` can pin a client.
    native_lb: Span | None = None
    # The route asks for Traefik's ``hrw`` strategy, which its Traefik is too old for.
    hrw_unsupported: bool = False


# Traefik's `hrw` (highest random weight) load-balancing strategy exists from Traefik
# 3.6: older versions accept only wrr and p2c (the IngressRoute CRD's validation enum,
# the providers' strategy switch) and reject the service.
TRAEFIK_HRW_SINCE = (3, 6)


class TraefikRuntime(Struct, frozen=True):
    """The Traefik that routes a compose project or a cluster, as far as its images and
    arguments tell: which versions run, and whether its Kubernetes providers send to
    Services' ClusterIPs by default (``--providers.kubernetescrd.nativeLBByDefault``,
    ``--providers.kubernetesingress.nativeLBByDefault``)."""

    images: tuple[ImageRef, ...] = ()
    native_lb_crd: Span | None = None
    native_lb_ingress: Span | None = None

    @property
    def image_text(self) -> str:
        return ", ".join(sorted({image.text for image in self.images}))

    @property
    def hrw_supported(self) -> bool | None:
        """Whether every Traefik that runs has the ``hrw`` strategy (None: unknown, or
        some have it and some do not)."""
        verdicts = {_version_at_least(image, TRAEFIK_HRW_SINCE) for image in self.images}
        return verdicts.pop() if len(verdicts) == 1 else None

    def pins(self, sticky_cookie: Word | None, strategy: Word | None) -> bool:
        """A Traefik load balancer keeps a client on one server: a sticky cookie, or the
        ``hrw`` strategy where the Traefik version has it (taken to, when unknown)."""
        if sticky_cookie is not None:
            return True
        return _is_hrw(strategy) and self.hrw_supported is not False

    def hrw_too_old(self, strategy: Word | None) -> bool:
        return _is_hrw(strategy) and self.hrw_supported is False


def _is_hrw(strategy: Word | None) -> bool:
    return strategy is not None and strategy.text.strip().lower() == "hrw"


def _version_at_least(image: ImageRef, wanted: tuple[int, ...]) -> bool | None:
    """Whether the image's tag names a version at least ``wanted``; None when the tag
    does not say (``latest``, no tag, or ``v3`` where 3.x spans both sides)."""
    if image.symbolic or image.version is None:
        return None
    have = tuple(int(part) for part in image.version.split("."))
    known = min(len(have), len(wanted))
    if have[:known] != wanted[:known]:
        return have[:known] > wanted[:known]
    return True if len(have) >= len(wanted) else None


def _native_lb_flag(words: Sequence[str], provider: str) -> bool:
    """``--providers.<provider>.nativeLBByDefault`` (``=true``, or bare) among a Traefik
    container's arguments; Traefik's flags are case-insensitive."""
    flag = f"--providers.{provider}.nativelbbydefault"
    for word in words:
        name, equals, value = word.strip().lower().partition("=")
        if name == flag:
            return not equals or value == "true"
    return False


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


class DeployModel(Struct, dict=True):
    """(``dict=True``: the indexes below are computed once, on first use.)"""

    compose_services: list[ComposeService] = field(default_factory=list)
    k8s_workloads: list[K8sWorkload] = field(default_factory=list)
    k8s_services: list[K8sService] = field(default_factory=list)
    k8s_ingresses: list[K8sIngress] = field(default_factory=list)
    ingress_routes: list[TraefikIngressRoute] = field(default_factory=list)
    image_builds: list[ImageBuild] = field(default_factory=list)
    dockerfiles_read: set[str] = field(default_factory=set)
    helm_chart_files: list[HelmChartFile] = field(default_factory=list)

    # -- images ---------------------------------------------------------------------------

    @cached_property
    def _images(self) -> ImageIndex:
        """Every build of an image from a Dockerfile: compose services that build and
        name their image, and the builds command lines and build files record (with
        the first of their Dockerfile paths that was scanned)."""
        builds: list[tuple[ImageRef, str, bool]] = []
        for service in self.compose_services:
            build = service.build
            if build is not None and build.dockerfile is not None and service.image is not None:
                deployed = not is_development_path(service.file)
                builds.append((service.image, build.dockerfile, deployed))
        for image_build in self.image_builds:
            scanned = [path for path in image_build.dockerfiles if path in self.dockerfiles_read]
            if scanned:
                builds.append((image_build.image, scanned[0], image_build.deployment))
        return ImageIndex(builds)

    @cached_property
    def _helm_charts(self) -> HelmCharts:
        return HelmCharts(self.helm_chart_files)

    def dockerfiles_for_image(self, image: ImageRef) -> list[str]:
        """The Dockerfiles of the repository that build ``image``, over every build
        source (see ``stackaudit.model.images`` for when two image references name the
        same), a Helm template's image read with its chart's values
        (``stackaudit.model.helm``). ``model.containers`` finds a container's image
        through it."""
        return self._images.dockerfiles_for(self._helm_charts.resolve_image(image))

    def dockerfiles_run_by(self, service: ComposeService) -> list[str]:
        """The Dockerfile whose image the service runs: the one it builds, else the one
        that builds the image it names."""
        if service.build is not None:
            return [service.build.dockerfile] if service.build.dockerfile else []
        if service.image is not None:
            return self.dockerfiles_for_image(service.image)
        return []

    # -- compose --------------------------------------------------------------------------

    @cached_property
    def _by_project(self) -> dict[str, list[ComposeService]]:
        index: dict[str, list[ComposeService]] = {}
        for service in self.compose_services:
            index.setdefault(service.project, []).append(service)
        return index

    def project_services(self, service: ComposeService) -> list[ComposeService]:
        return list(self._by_project.get(service.project, ()))

    def services_named(self, name: str) -> list[ComposeService]:
        """The compose services a proxy in the same project reaches as ``name`` (the
        service name is its DNS name on the project's networks)."""
        return [s for s in self.compose_services if s.name == name]

    @cached_property
    def _by_mount(self) -> dict[str, list[tuple[int, ComposeService]]]:
        """Services by each host path they bind-mount, with their position."""
        index: dict[str, list[tuple[int, ComposeService]]] = {}
        for position, service in enumerate(self.compose_services):
            for mounted in dict.fromkeys(v.host_path for v in service.volumes if v.host_path):
                index.setdefault(mounted.rstrip("/"), []).append((position, service))
        return index

    def services_mounting(self, path: str) -> list[ComposeService]:
        """The compose services that bind-mount the file ``path`` (relative to the
        scanned root), or a directory holding it: e.g. the nginx container that
        reads a config file."""
        parts = path.split("/")
        found = {
            position: service
            for depth in range(len(parts), 0, -1)
            for position, service in self._by_mount.get("/".join(parts[:depth]), ())
        }
        return [found[position] for position in sorted(found)]

    @cached_property
    def _by_source(self) -> dict[str, ComposeService]:
        """Each ``compose:<file>:<name>`` key to the first service merged from it."""
        index: dict[str, ComposeService] = {}
        for service in self.compose_services:
            for source in service.sources:
                index.setdefault(source, service)
        return index

    @cached_property
    def _by_dockerfile(self) -> dict[str, list[ComposeService]]:
        """Services that run a Dockerfile's image, by its path, in the services' order."""
        index: dict[str, list[ComposeService]] = {}
        for service in self.compose_services:
            for dockerfile in self.dockerfiles_run_by(service):
                index.setdefault(dockerfile, []).append(service)
        return index

    def build_context(self, dockerfile: str) -> str | None:
        """The build context of the first compose service that builds ``dockerfile``
        (None when no service builds it)."""
        for service in self._by_dockerfile.get(dockerfile, ()):
            build = service.build
            if build is not None and build.dockerfile == dockerfile:
                return build.context
        return None

    def compose_service_for(self, command: ServeCommand) -> ComposeService | None:
        """The compose service whose command (or Dockerfile) starts ``command``."""
        if command.service and command.service in self._by_source:
            return self._by_source[command.service]
        for service in self._by_dockerfile.get(command.span.path, ()):
            if self.runs_image_command(service, command):
                return service
        return None

    def commands_of(
        self, service: ComposeService, commands: Iterable[ServeCommand]
    ) -> list[ServeCommand]:
        """The server commands a compose service runs: those filed under it (its
        ``command:``/``entrypoint:``, and what ``Stack.serve_commands`` resolves for it
        from the image), else the final CMD/ENTRYPOINT of the Dockerfile it builds when
        it overrides neither."""
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

    def runs_image_command(self, service: ComposeService, command: ServeCommand) -> bool:
        """The service runs the Dockerfile's own ENTRYPOINT + CMD unchanged: it runs
        that Dockerfile's image (builds it, or names the image a build of it is tagged
        with) and sets neither ``command:`` (which replaces CMD) nor ``entrypoint:``
        (which replaces ENTRYPOINT and drops CMD). ``command`` is the Dockerfile's own,
        not one already resolved for a container (``model.containers``)."""
        if not is_image_command(command) or command.service:
            return False
        if service.command_words is not None or service.entrypoint_words is not None:
            return False
        return command.span.path in self.dockerfiles_run_by(service)

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

    def compose_traefik(self, service: ComposeService) -> TraefikRuntime:
        """The Traefik services of the service's compose project (their images)."""
        images = tuple(
            proxy.image
            for proxy in self.project_services(service)
            if proxy.image is not None and proxy.image.name == "traefik"
        )
        return TraefikRuntime(images)

    def traefik_pins(self, service: ComposeService) -> bool:
        """Every Traefik load balancer the service's labels define keeps a client on one
        replica. With no service label, Traefik creates a default service, which has no
        affinity."""
        traefik = self.compose_traefik(service)
        services = service.traefik.services
        return bool(services) and all(traefik.pins(s.sticky_cookie, s.strategy) for s in services)

    @cached_property
    def k8s_traefik(self) -> TraefikRuntime:
        """The Traefik containers of the scanned Kubernetes manifests: their images, and
        whether their arguments turn on native load balancing by default."""
        images: list[ImageRef] = []
        crd: Span | None = None
        ingress: Span | None = None
        for workload in self.k8s_workloads:
            for container in workload.containers:
                if container.image is None or container.image.name != "traefik":
                    continue
                images.append(container.image)
                words = [*(container.command_words or ()), *(container.args_words or ())]
                texts = [word.text for word in words]
                if crd is None and _native_lb_flag(texts, "kubernetescrd"):
                    crd = container.span
                if ingress is None and _native_lb_flag(texts, "kubernetesingress"):
                    ingress = container.span
        return TraefikRuntime(tuple(images), crd, ingress)

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

    def proxy_evidence(
        self, service: ComposeService, configured: frozenset[Span] = frozenset()
    ) -> list[ProxyEvidence]:
        """The proxies of the same compose project that route to ``service``: its
        Traefik labels, a proxy-image service that depends on it, nginx-proxy's
        ``VIRTUAL_HOST``. ``depends_on`` only orders start-up: it counts for a proxy
        whose configuration is not in the scanned files, not for one in ``configured``
        (the spans of proxy services whose routes are known: those routes decide,
        through ``Links.proxy_evidence``)."""
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
            if service.name in proxy.depends_on and proxy.span not in configured:
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

    @cached_property
    def _workload_by_container(self) -> dict[str, K8sWorkload]:
        index: dict[str, K8sWorkload] = {}
        for workload in self.k8s_workloads:
            for container in workload.containers:
                index.setdefault(container.service_key, workload)
        return index

    def replicas_of(self, command: ServeCommand) -> int | None:
        """How many copies of ``command`` run, when the stack says so: the replicas of
        the compose service or Kubernetes workload that runs it (1 when it sets none);
        None for a process no deployment unit runs, or a count set at run time."""
        service = self.compose_service_for(command)
        if service is not None:
            return service.replicas.count if service.replicas is not None else 1
        workload = self.workload_for(command)
        if workload is not None:
            return workload.replicas.count if workload.replicas is not None else 1
        return None

    def replicas_setting(self, command: ServeCommand) -> tuple[Replicas, str] | None:
        """Where the number of copies of ``command`` is set, with the label of the unit
        that sets it (the compose service or Kubernetes workload that runs it); None
        when that unit sets none, or no unit runs the command."""
        service = self.compose_service_for(command)
        if service is not None:
            return (service.replicas, service.label) if service.replicas is not None else None
        workload = self.workload_for(command)
        if workload is not None and workload.replicas is not None:
            return workload.replicas, workload.label
        return None

    def workload_for(self, command: ServeCommand) -> K8sWorkload | None:
        return self._workload_by_container.get(command.service)

    def k8s_bokeh_evidence(
        self, workload: K8sWorkload, commands: Iterable[ServeCommand]
    ) -> tuple[Span, str, Confidence] | None:
        keys = {c.service_key for c in workload.containers}
        for command in commands:
            if command.service in keys and command.is_bokeh_family:
                return command.span, f"runs `{command.label}`", Confidence.HIGH
        for container in workload.containers:
            image = container.image
            if image is not None and image.named_after_bokeh:
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
                routes.append(_ingress_route(ingress, service, self.k8s_traefik))
            for route in self.ingress_routes:
                for target in route.routes_to(service):
                    entered = True
                    routes.append(self._ingress_route_target(route, target, service))
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

    def _ingress_route_target(
        self, route: TraefikIngressRoute, target: IngressRouteService, service: K8sService
    ) -> ServiceRoute:
        """An IngressRoute service entry. Traefik balances over the pod endpoints itself,
        unless ``nativeLB`` (the entry's own, else the provider's
        ``nativeLBByDefault``) makes the Service's ClusterIP its only server: then its
        sticky cookie or ``hrw`` pins that one server, and kube-proxy picks the pod."""
        traefik = self.k8s_traefik
        label = f"IngressRoute `{route.name}` sends to Service `{service.name}`"
        native = _native_lb(target.native_lb, traefik.native_lb_crd)
        if native is not None:
            return ServiceRoute(
                service, target.span, label, service.client_ip_affinity, native_lb=native
            )
        return ServiceRoute(
            service,
            target.span,
            label,
            traefik.pins(target.sticky_cookie, target.strategy),
            hrw_unsupported=traefik.hrw_too_old(target.strategy),
        )


def _native_lb(own: Word | None, by_default: Span | None) -> Span | None:
    """Where native load balancing is turned on for a Traefik service: its own setting
    (``nativeLB``, the ``service.nativelb`` annotation) wins over the provider default."""
    if own is not None:
        return own.span if own.text.strip().lower() == "true" else None
    return by_default


def is_image_command(command: ServeCommand) -> bool:
    """A Dockerfile's final CMD/ENTRYPOINT: what a container of its image runs."""
    return command.carrier == "dockerfile" and not command.context.endswith("RUN")


def _ingress_route(
    ingress: K8sIngress, service: K8sService, traefik: TraefikRuntime
) -> ServiceRoute:
    label = f"Ingress `{ingress.name}` sends to Service `{service.name}`"
    if ingress.controller == "traefik":
        native = _native_lb(
            service.annotation("traefik.ingress.kubernetes.io/service.nativelb"),
            traefik.native_lb_ingress,
        )
        if native is not None:
            return ServiceRoute(
                service, ingress.span, label, service.client_ip_affinity, native_lb=native
            )
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


def compose_file_variable(env_file: EnvFile) -> tuple[str, ...]:
    """The files a project directory's ``.env`` makes Compose read instead of its
    defaults: ``COMPOSE_FILE``, split on ``COMPOSE_PATH_SEPARATOR`` (``:`` on Linux and
    macOS), relative to the directory (docs.docker.com/compose/how-tos/
    environment-variables/envvars/#compose_file)."""
    values = {
        var.name: var.value.text
        for var in env_file.variables
        if var.value is not None and not var.value.symbolic
    }
    listed = values.get("COMPOSE_FILE")
    if not listed:
        return ()
    directory = posixpath.dirname(env_file.path)
    separator = values.get("COMPOSE_PATH_SEPARATOR") or ":"
    return tuple(
        posixpath.normpath(posixpath.join(directory, name))
        for name in listed.split(separator)
        if name
    )


def chosen_combination(
    invocation: ComposeInvocation, scanned: set[str] | dict[str, ComposeFile]
) -> tuple[str, ...]:
    """The files a ``docker compose -f`` command line combines: of its resolutions
    against the directories it may run in, the one naming the most scanned files (the
    first file among them; the likeliest directory on a tie), without the files that
    were not scanned."""
    best: tuple[str, ...] = ()
    for candidate in invocation.candidates:
        present = tuple(path for path in candidate if path in scanned)
        if present and present[0] == candidate[0] and len(present) > len(best):
            best = present
    return best


def resolve_deployment(facts: Iterable[object]) -> DeployModel:
    model = DeployModel()
    compose_files: list[ComposeFile] = []
    combinations: list[tuple[str, ...]] = []
    invocations: list[ComposeInvocation] = []
    for fact in facts:
        if isinstance(fact, ComposeFile):
            compose_files.append(fact)
        elif isinstance(fact, ComposeInvocation):
            invocations.append(fact)
        elif isinstance(fact, ImageBuild):
            model.image_builds.append(fact)
        elif isinstance(fact, DockerImage):
            model.dockerfiles_read.add(fact.path)
        elif isinstance(fact, EnvFile) and posixpath.basename(fact.path) == ".env":
            combination = compose_file_variable(fact)
            if combination:
                combinations.append(combination)
        elif isinstance(fact, K8sWorkload):
            model.k8s_workloads.append(fact)
        elif isinstance(fact, K8sService):
            model.k8s_services.append(fact)
        elif isinstance(fact, K8sIngress):
            model.k8s_ingresses.append(fact)
        elif isinstance(fact, TraefikIngressRoute):
            model.ingress_routes.append(fact)
        elif isinstance(fact, HelmChartFile):
            model.helm_chart_files.append(fact)
    scanned = {compose.path: compose for compose in compose_files}
    invoked = [chosen_combination(invocation, scanned) for invocation in invocations]
    services = resolve_compose(compose_files, combinations, [c for c in invoked if c])
    if services:
        # Imported here: facts.traefik builds on this module's Traefik records.
        from stackaudit.facts.traefik import traefik_config

        services = [replace(s, traefik=traefik_config(s.labels)) for s in services]
    model.compose_services = services
    return model
