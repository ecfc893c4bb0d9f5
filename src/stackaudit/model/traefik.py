"""Traefik instances of the stack: each Traefik container with the static configuration
it reads, where clients reach its entry points, and the routers that send to its own
API and dashboard.

A container's static configuration comes from one of three sources, exclusive and
tried in this order: a configuration file (``--configFile``, or ``traefik.yml``/
``.yaml``/``.toml`` in ``/etc/traefik/``), its command-line arguments, its
``TRAEFIK_*`` environment variables (doc.traefik.io, "Configuration Introduction").
A scanned file counts for a compose service that bind-mounts it (or a directory that
holds it) at the place Traefik reads it from; a template (``traefik.toml.tpl``)
counts for the rendered file's name."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING

from msgspec import Struct

from stackaudit.diagnostics import Confidence, Span
from stackaudit.facts.common import Word
from stackaudit.facts.deploy import (
    ComposeService,
    K8sWorkload,
    TraefikEntryPoint,
    TraefikFileConfig,
    TraefikMiddleware,
    TraefikRouter,
    TraefikStaticConfig,
    VolumeMount,
    go_bool,
    traefik_service_provider,
)
from stackaudit.facts.image import ArgWord
from stackaudit.facts.traefik import (
    static_config,
    static_options_from_args,
    static_options_from_env,
)
from stackaudit.policy import is_development_path

if TYPE_CHECKING:
    from stackaudit.model.deploy import DeployModel

# Where Traefik looks for its static configuration file when `--configFile` names none
# (besides $XDG_CONFIG_HOME, $HOME/.config and the working directory, not modelled).
_DEFAULT_CONFIG_PATHS = frozenset(
    f"/etc/traefik/traefik.{extension}" for extension in ("yml", "yaml", "toml")
)
_TEMPLATE_SUFFIX = re.compile(r"\.(tpl|tmpl|template|j2|jinja2?)$")
# The services Traefik serves itself with the API (pkg/provider/traefik/internal.go).
DASHBOARD_SERVICES = frozenset({"api@internal", "dashboard@internal"})
# Middlewares that let only some clients through: credentials, or a client address list.
_GATE_KINDS = frozenset({"basicauth", "digestauth", "forwardauth", "ipallowlist", "ipwhitelist"})
_EXPOSING_SERVICE_TYPES = ("LoadBalancer", "NodePort")


class TraefikInstance(Struct, frozen=True):
    """One Traefik process: its static configuration and the container that runs it
    (a compose service or a Kubernetes workload's container; neither for a file no
    scanned container reads)."""

    config: TraefikStaticConfig
    where: str
    service: ComposeService | None = None
    workload: K8sWorkload | None = None


class Reach(Struct, frozen=True):
    """How clients outside the host or cluster reach a port of a Traefik container."""

    span: Span
    label: str
    confidence: Confidence


class DashboardRouter(Struct, frozen=True):
    """A router that sends to Traefik's own API or dashboard, and whether a middleware on
    it lets only some clients through (None when that cannot be told: a middleware
    declared outside the scanned files, a chain, a plugin)."""

    router: TraefikRouter
    where: str
    gated: bool | None


class Traefik:
    def __init__(
        self,
        statics: Iterable[TraefikStaticConfig],
        files: Iterable[TraefikFileConfig],
        deploy: DeployModel,
    ) -> None:
        self.statics = [s for s in statics if s.origin == "file"]
        self.files = list(files)
        self.deploy = deploy

    # -- instances ------------------------------------------------------------------------

    @cached_property
    def instances(self) -> list[TraefikInstance]:
        found: list[TraefikInstance] = []
        for service in self.deploy.compose_services:
            if _runs_traefik(service.image):
                instance = self._compose_instance(service)
                if instance is not None:
                    found.append(instance)
        for workload in self.deploy.k8s_workloads:
            for container in workload.containers:
                if not _runs_traefik(container.image):
                    continue
                words = _words((*(container.command_words or ()), *(container.args_words or ())))
                options = static_options_from_args(words)
                if options:
                    config = static_config(options, container.span, "cli")
                    where = f"container `{container.name}` of {workload.label}"
                    found.append(TraefikInstance(config, where, workload=workload))
        return found

    def _compose_instance(self, service: ComposeService) -> TraefikInstance | None:
        options = static_options_from_args(_words(service.command_words or ()))
        named = next((w for k, w in options if k == "configfile"), None)
        wanted = set(_DEFAULT_CONFIG_PATHS)
        if named is not None and not named.symbolic:
            wanted = {named.text.strip()}
        for config in self._static_files_by_mount.get(service.span, ()):
            if self._mounted_at(service, config.file) & wanted:
                return TraefikInstance(config, f"{service.label}, reading `{config.file}`", service)
        where = f"{service.label}"
        if any(key != "configfile" for key, _ in options):
            span = service.command or service.span
            return TraefikInstance(static_config(options, span, "cli"), where, service)
        env = [(var.name, var.value) for var in service.env if var.value is not None]
        env_options = static_options_from_env(env)
        if env_options:
            return TraefikInstance(static_config(env_options, service.span, "env"), where, service)
        return None

    @cached_property
    def _static_files_by_mount(self) -> dict[Span, list[TraefikStaticConfig]]:
        """Static configuration files by the compose services that bind-mount them."""
        index: dict[Span, list[TraefikStaticConfig]] = {}
        for config in self.statics:
            for path in _rendered_names(config.file):
                for service in self.deploy.services_mounting(path):
                    listed = index.setdefault(service.span, [])
                    if config not in listed:
                        listed.append(config)
        return index

    def _mounted_at(self, service: ComposeService, path: str) -> set[str]:
        """The paths inside the container where ``path`` (a scanned file) appears."""
        found: set[str] = set()
        for name in _rendered_names(path):
            for volume in service.volumes:
                inside = _inside(volume, name)
                if inside is not None:
                    found.add(inside)
        return found

    def instance_of_project(self, service: ComposeService) -> TraefikInstance | None:
        """The Traefik container of the service's compose project, if there is one."""
        for instance in self.instances:
            if instance.service is not None and instance.service.project == service.project:
                return instance
        return None

    # -- reach ----------------------------------------------------------------------------

    def reach(self, instance: TraefikInstance, entrypoint: TraefikEntryPoint) -> Reach | None:
        """How clients reach the entry point from outside the host or cluster: a compose
        port published on every host interface (at low confidence in a development file), the host's
        network, or a Kubernetes Service of type LoadBalancer or NodePort. None when it
        is reached only from the container network, the loopback interface, or in ways
        the scanned files do not tell."""
        port = entrypoint.port
        if port is None or entrypoint.loopback_only:
            return None
        if instance.service is not None:
            return _compose_reach(instance.service, port)
        if instance.workload is not None:
            return self._kubernetes_reach(instance.workload, port)
        return None

    def _kubernetes_reach(self, workload: K8sWorkload, port: int) -> Reach | None:
        names = {
            p.name
            for container in workload.containers
            for p in container.ports
            if p.number == port and p.name
        }
        for service in self.deploy.services_selecting(workload):
            if service.type not in _EXPOSING_SERVICE_TYPES:
                continue
            for service_port in service.ports:
                target = service_port.target_port or service_port.port
                if target == str(port) or target in names:
                    return Reach(
                        service_port.span,
                        f"Service `{service.name}` ({service.type}) exposes it",
                        Confidence.MEDIUM,
                    )
        return None

    def published(self, instance: TraefikInstance) -> Reach | None:
        """The first entry point of the instance that clients reach."""
        for entrypoint in instance.config.effective_entrypoints():
            found = self.reach(instance, entrypoint)
            if found is not None:
                return found
        return None

    # -- routers to the API and dashboard -----------------------------------------------------

    def dashboard_routers(self) -> Iterator[DashboardRouter]:
        """Routers whose service is Traefik's API or dashboard, in labels Traefik reads
        and in files its file provider reads."""
        for service in self.deploy.compose_services:
            if not self._labels_read(service):
                continue
            for router in service.traefik.routers:
                if _to_dashboard(router):
                    gated = self._gated(router, "docker")
                    yield DashboardRouter(router, f"labels of {service.label}", gated)
        for file in self.files:
            for router in file.config.routers:
                if _to_dashboard(router):
                    gated = self._gated(router, "file")
                    yield DashboardRouter(router, f"`{file.path}`", gated)

    def _labels_read(self, service: ComposeService) -> bool:
        """Whether the docker provider reads the container's labels: not
        ``traefik.enable=false``, and ``traefik.enable=true`` when the project's
        Traefik does not expose containers by default."""
        traefik = service.traefik
        if traefik.disabled:
            return False
        if traefik.enable is not None and go_bool(traefik.enable.text) is True:
            return True
        instance = self.instance_of_project(service)
        if instance is None or instance.config.docker is None:
            return True
        setting = instance.config.exposed_by_default
        return setting is None or go_bool(setting.text) is not False

    @cached_property
    def _middlewares(self) -> dict[tuple[str, str], list[TraefikMiddleware]]:
        """Middlewares by (provider, name): labels (``docker``) and files (``file``)."""
        index: dict[tuple[str, str], list[TraefikMiddleware]] = {}
        for service in self.deploy.compose_services:
            for middleware in service.traefik.middlewares:
                index.setdefault(("docker", middleware.name.lower()), []).append(middleware)
        for file in self.files:
            for middleware in file.config.middlewares:
                index.setdefault(("file", middleware.name.lower()), []).append(middleware)
        return index

    @cached_property
    def _entrypoint_middlewares(self) -> bool:
        """Some entry point applies middlewares to every router on it."""
        configs = [*self.statics, *(i.config for i in self.instances)]
        return any(e.has_middlewares for c in configs for e in c.entrypoints)

    def _middleware_kinds(self, router: TraefikRouter, provider: str) -> set[str] | None:
        """The kinds of the middlewares on ``router`` (``ratelimit``, ``basicauth``...);
        None when one is declared where the scan does not reach."""
        kinds: set[str] = set()
        for reference in router.middlewares:
            name, _, named_provider = reference.text.strip().partition("@")
            found = self._middlewares.get((named_provider or provider, name.lower()))
            if not found:
                return None
            kinds.update(m.kind for m in found)
        return kinds

    def rate_limited(self, router: TraefikRouter, provider: str) -> bool | None:
        """Whether a ``RateLimit`` middleware (kind ``ratelimit``) is on ``router``,
        read from ``provider`` (``docker`` labels, a ``file``); None when a middleware
        on it, or one every router of an entry point gets, is not known here."""
        kinds = self._middleware_kinds(router, provider)
        if kinds is None:
            return None
        if "ratelimit" in kinds:
            return True
        if kinds & {"chain", "plugin"} or self._entrypoint_middlewares:
            return None
        return False

    def _gated(self, router: TraefikRouter, provider: str) -> bool | None:
        if router.rule is not None and "clientip(" in router.rule.text.lower():
            return True  # the rule itself admits only some client addresses
        kinds = self._middleware_kinds(router, provider)
        if kinds is None:
            return None  # declared where the scan does not reach
        if kinds & _GATE_KINDS:
            return True
        if kinds & {"chain", "plugin"} or self._entrypoint_middlewares:
            return None
        return False


def _runs_traefik(image: object) -> bool:
    name = getattr(image, "name", None)
    return name == "traefik"


def _words(words: Iterable[ArgWord]) -> list[Word]:
    return [Word(w.text, w.span, w.symbolic, w.default_used) for w in words]


def _rendered_names(path: str) -> tuple[str, ...]:
    """The file and, for a template, the name of the file rendered beside it."""
    rendered = _TEMPLATE_SUFFIX.sub("", path)
    return (path,) if rendered == path else (path, rendered)


def _inside(volume: VolumeMount, path: str) -> str | None:
    source = (volume.host_path or "").rstrip("/")
    if volume.kind != "bind" or not source:
        return None
    if path == source:
        return volume.target
    if path.startswith(source + "/"):
        return posixpath.join(volume.target, path[len(source) + 1 :])
    return None


def _to_dashboard(router: TraefikRouter) -> bool:
    service = router.service
    if service is None or traefik_service_provider(service.text) != "internal":
        return False
    return service.text.strip().lower() in DASHBOARD_SERVICES


def _compose_reach(service: ComposeService, port: int) -> Reach | None:
    if service.host_network and service.network_mode is not None:
        return Reach(
            service.network_mode.span,
            f"{service.label} runs on the host's network",
            Confidence.HIGH,
        )
    for mapping in service.ports:
        targets = mapping.targets
        if targets is None or port not in targets or mapping.protocol != "tcp":
            continue
        if mapping.on_all_interfaces is not True:
            continue
        # A development file (an override, `docker-compose.dev.yml`) is published too
        # wherever it is used, but may never run on a server: low confidence, as SA602.
        confidence = Confidence.MEDIUM if mapping.default_used else Confidence.HIGH
        if is_development_path(mapping.span.path):
            confidence = Confidence.LOW
        return Reach(
            mapping.span,
            f"{service.label} publishes `{mapping.describe()}` on every host interface",
            confidence,
        )
    return None
