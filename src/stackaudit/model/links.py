"""How the pieces of a stack connect: which server process each proxy route reaches.

A proxy target is resolved the way the network resolves it:

- a compose service name (``proxy_pass http://dash:5006``) reaches the containers of
  that service in the same project, on the port the server inside listens on;
- a Kubernetes Service name reaches, through its ``port``/``targetPort``, the
  containers of the workloads its selector picks;
- a loopback address (``127.0.0.1``, ``localhost``) reaches a process started on the
  same host by a script, a unit file, a Procfile or a supervisord program, on its port;
- ``unix:/path`` reaches the server listening on that socket.

Every link records its evidence and a confidence: a guess is never presented as a
fact. A route that resolves to nothing stands alone, and single-file rules still see it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from msgspec import Struct

from stackaudit.diagnostics import Confidence, Span
from stackaudit.facts.deploy import same_namespace
from stackaudit.facts.serve import ServeCommand, is_loopback_address
from stackaudit.model.deploy import ProxyEvidence
from stackaudit.model.origins import browser_origin_host

if TYPE_CHECKING:
    from stackaudit.config import Config
    from stackaudit.facts.deploy import (
        ComposeService,
        K8sIngress,
        K8sWorkload,
        TraefikMiddleware,
        TraefikRouter,
    )
    from stackaudit.facts.nginx import NginxModel, ProxyRoute
    from stackaudit.model.deploy import DeployModel
    from stackaudit.model.traefik import Traefik


class LinkedFacts(Protocol):
    """What linking needs of the stack (``Stack`` is one): the links are built from the
    stack's parts and the stack asks the links, so neither module imports the other."""

    config: Config

    @property
    def deploy(self) -> DeployModel: ...

    @property
    def serve_commands(self) -> list[ServeCommand]: ...

    @property
    def nginx(self) -> NginxModel: ...

    @property
    def traefik(self) -> Traefik: ...

    @property
    def nginx_routes(self) -> list[ProxyRoute]: ...


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"})
# Carriers that start a process on the host itself, not in a container.
HOST_CARRIERS = frozenset({"shell", "systemd", "supervisord", "procfile", "makefile", "python"})


class Backend(Struct, frozen=True):
    """A server process a proxy reaches, and why stackaudit believes it does."""

    command: ServeCommand
    evidence: str
    confidence: Confidence
    # How many copies of the process run behind the name (compose replicas, Kubernetes
    # replicas); None when unknown, 1 by default.
    replicas: int | None = 1
    replicas_span: Span | None = None
    unit_label: str = ""
    unit_span: Span | None = None

    @property
    def description(self) -> str:
        """``the Panel server in compose service `dash` (docker-compose.yml:9)``."""
        server = _SERVER_NAMES.get(self.command.tool, f"{self.command.label} server")
        if self.unit_label and self.unit_span is not None:
            return f"the {server} in {self.unit_label} ({_at(self.unit_span)})"
        return f"the {server} started by {self.command.context} ({_at(self.command.span)})"


class Frontend(Struct, frozen=True):
    """A proxy route (nginx location, Traefik router, Ingress rule) in front of
    backends, with what it does to requests."""

    kind: str  # "nginx" | "traefik" | "ingress"
    span: Span
    where: str
    hosts: tuple[str, ...]
    tls: bool
    port: int | None
    path: str
    backends: tuple[Backend, ...]
    auth: tuple[str, ...] = ()
    forwards_host: bool | None = None
    strips_path: bool | None = None
    affinity: str | None = None
    route: ProxyRoute | None = None
    # The request rate limits the proxy applies on the route (nginx `limit_req`, a
    # Traefik `ratelimit` middleware, ingress-nginx `limit-rps`...); None when
    # something that may limit it is not known here (a middleware of another file, an
    # include not scanned).
    rate_limits: tuple[str, ...] | None = ()

    @property
    def public_hosts(self) -> tuple[str, ...]:
        """Host names a browser can use: no wildcards, regexes, placeholders or ``_``."""
        return tuple(h for h in self.hosts if _is_hostname(h))

    @property
    def received_base(self) -> str | None:
        """The path (without slashes) the server receives for the route's own path: the
        path itself when the proxy passes it on, "" when it strips it, an nginx
        ``proxy_pass`` URI when it replaces it; None when not known."""
        if self.strips_path is None:
            return None
        if not self.strips_path:
            return self.path.strip("/")
        if self.route is not None:
            return self.route.target.uri.strip("/")
        return ""

    def host_matches(self, origin: str) -> bool | None:
        """Whether the ``Host`` the server receives equals the browser's origin host
        (``host[:port]``); None when the proxy's header is only known at run time."""
        if self.route is None:
            return self.forwards_host
        header = self.route.proxy_header("Host")
        if header is None:
            return None if self.route.opaque_includes else False  # Host $proxy_host
        value = header.value
        if value is None:
            return None
        if value.text == "$http_host":
            return True
        if value.text == "$host":
            return ":" not in origin  # $host has no port
        if value.symbolic or "$" in value.text:
            return None
        return value.text.lower() == origin

    @property
    def proxy(self) -> str:
        """Who serves the route, for messages: ``nginx``, ``Traefik router `dash`
        (compose service `dash`)``, ``Ingress `web```."""
        return "nginx" if self.kind == "nginx" else self.where

    def serves(self, hosts: Iterable[str]) -> str:
        """``nginx serves dash.example.com (nginx/site.conf:3)``."""
        return f"{self.proxy} serves {', '.join(hosts)} ({_at(self.span)})"


_SERVER_NAMES = {"panel-serve": "Panel server", "bokeh-serve": "Bokeh server"}


def _at(span: Span) -> str:
    return f"{span.path}:{span.line}"


def _by_directory(services: list[ComposeService]) -> dict[str, list[ComposeService]]:
    """Services that share a name across compose projects (a monorepo), under every
    directory above their project: a proxy configuration reaches those of the projects
    whose directory shares the most of its own path, since it sits in or beside the
    project that mounts it — the services under the deepest directory above the
    configuration that holds any."""
    under: dict[str, list[ComposeService]] = {}
    for service in services:
        first = service.project_files[0] if service.project_files else service.project
        for directory in _ancestors(posixpath.dirname(first)):
            under.setdefault(directory, []).append(service)
    return under


def _ancestors(directory: str) -> list[str]:
    """``a/b/c`` → ``a/b/c``, ``a/b``, ``a``, ``""`` (deepest first)."""
    parts = [part for part in directory.split("/") if part]
    return ["/".join(parts[:depth]) for depth in range(len(parts), -1, -1)]


def _nginx_strips_path(route: ProxyRoute, rewritten: bool) -> bool | None:
    """Whether nginx replaces the matched location prefix before proxying: a
    ``proxy_pass`` with a URI part (``http://app:5006/``) replaces it by that URI, one
    without (``http://app:5006``) passes the request URI unchanged (ngx_http_proxy_module,
    ``proxy_pass``). None when that is not known here: a regular-expression or named
    location, a target with variables not resolved, or a ``rewrite`` in the location."""
    location = route.location
    if location is None or location.modifier not in ("", "^~", "=") or route.target.symbolic:
        return None
    if rewritten:
        return None
    uri = route.target.uri
    if route.target.uses_variables:
        # With variables, a URI part replaces the whole request URI; without one the
        # request URI is passed unchanged (ngx_http_proxy_module, ``proxy_pass``).
        return None if uri else False
    return bool(uri) and uri != location.path.text


_PASS_HOST_HEADER = re.compile(r"traefik\.http\.services\.[^.]+\.loadbalancer\.passhostheader")
_TLS_ENTRYPOINT = re.compile(r"--entrypoints\.([^.=]+)\.http\.tls(?:[.=]|$)")


def _ingress_strips_path(ingress: K8sIngress) -> bool | None:
    """ingress-nginx and Traefik pass the request path unchanged unless told otherwise
    (``rewrite-target``, a snippet, Traefik router middlewares); None when told
    otherwise or when the controller is not known."""
    if ingress.controller == "ingress-nginx":
        changed = ("rewrite-target", "configuration-snippet", "server-snippet", "app-root")
        return None if any(ingress.nginx(key) for key in changed) else False
    if ingress.controller == "traefik":
        middlewares = ingress.annotation("traefik.ingress.kubernetes.io/router.middlewares")
        return None if middlewares is not None else False
    return None


def _nginx_rate_limits(route: ProxyRoute) -> tuple[str, ...] | None:
    if route.rate_limit is not None:
        return (f"nginx `limit_req {route.rate_limit.text}`",)
    return None if route.opaque_includes else ()


# ingress-nginx's request limits (annotations.md, "Rate Limiting"): requests per second
# or minute, and concurrent connections, per client address. `limit-rate` limits
# bandwidth, not requests.
_INGRESS_LIMITS = ("limit-rps", "limit-rpm", "limit-connections")
_TRAEFIK_INGRESS_MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"


def _ingress_rate_limits(ingress: K8sIngress) -> tuple[str, ...] | None:
    if ingress.controller == "traefik" and ingress.annotation(_TRAEFIK_INGRESS_MIDDLEWARES):
        return None  # Traefik middlewares in CRDs, whose kinds are not read here
    if ingress.controller == "traefik":
        return ()
    return tuple(
        f"ingress-nginx `{key}`"
        for key in _INGRESS_LIMITS
        if (value := ingress.nginx(key)) is not None and value.text.strip() not in ("", "0")
    )


def _is_hostname(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)*", text))


def split_address(text: str) -> tuple[str, str | None]:
    """``host:port``, ``[v6]:port`` or ``host`` as (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, port
    return text, None


def _accepts_on_loopback(command: ServeCommand) -> bool:
    """A server bound only to other addresses (``--address 10.0.0.5``) does not accept
    connections to 127.0.0.1; one bound to every interface, to loopback, or to an
    address not known here may."""
    listeners = command.listeners()
    return not listeners or any(
        listener.host is None or listener.all_interfaces or is_loopback_address(listener.host)
        for listener in listeners
    )


class Links:
    def __init__(self, stack: LinkedFacts) -> None:
        self.stack = stack
        self.deploy: DeployModel = stack.deploy
        self.commands: list[ServeCommand] = stack.serve_commands
        # Same-named services by directory, per name and set of projects running the
        # proxy's configuration (empty: none does).
        self._named_under: dict[tuple[str, tuple[str, ...]], dict[str, list[ComposeService]]] = {}
        self._mounting: dict[str, set[str]] = {}
        self._resolved: dict[tuple[str, str | None, bool, str | None], list[Backend]] = {}

    # -- resolution of one target -------------------------------------------------------

    def resolve(
        self, host: str, port: str | None, *, tls: bool = False, origin: Span | None = None
    ) -> list[Backend]:
        """The server processes ``host:port`` reaches (port None: the scheme's default).
        Answered once per target and file asking: thousands of routes through one
        upstream of hundreds of servers ask the same questions again and again."""
        key = (host, port, tls, origin.path if origin is not None else None)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(host, port, tls, origin)
        return list(found)

    def _resolve(
        self, host: str, port: str | None, tls: bool, origin: Span | None
    ) -> list[Backend]:
        port = port or ("443" if tls else "80")
        if host.startswith("unix:"):
            return self._unix(host[len("unix:") :])
        found = self._compose(host, port, origin) or self._kubernetes(host, port)
        on_this_host = host in LOOPBACK or is_loopback_address(host)
        if not found and on_this_host and not self._in_own_network(origin):
            found = self._loopback(port)
        return found

    def _listens_on(self, command: ServeCommand, port: str) -> Confidence | None:
        ports = command.listen_ports()
        if port in ports:
            return Confidence.HIGH
        if any(p.startswith("$") or "{" in p for p in ports):
            return Confidence.MEDIUM
        return None

    def _compose(self, host: str, port: str, origin: Span | None) -> list[Backend]:
        found = []
        services = self._services_named.get(host, [])
        projects = self._projects_named.get(host, {})
        if origin is not None and len(projects) > 1:
            # A name resolves on the networks of the proxy's own project: the project
            # whose container mounts this configuration, when one does (a local
            # docker-compose.yml and a docker-compose.prod.yml beside it are two).
            running = sorted(p for p in self._projects_mounting(origin.path) if p in projects)
            if running:
                services = [s for _, s in sorted(x for p in running for x in projects[p])]
            if len(running) != 1:
                key = (host, tuple(running))
                if key not in self._named_under:
                    self._named_under[key] = _by_directory(services)
                under = self._named_under[key]
                services = next(
                    (under[d] for d in _ancestors(posixpath.dirname(origin.path)) if d in under),
                    services,
                )
        for service in services:
            for command in self._commands_of(service):
                confidence = self._listens_on(command, port)
                if confidence is None:
                    continue
                replicas = service.replicas.count if service.replicas else 1
                found.append(
                    Backend(
                        command,
                        f"compose service `{service.name}` ({service.span}) runs {command.label} "
                        f"on port {port}",
                        confidence,
                        replicas,
                        service.replicas.value.span if service.replicas else None,
                        f"compose service `{service.name}`",
                        service.span,
                    )
                )
        return found

    def _kubernetes(self, host: str, port: str, namespace: str | None = None) -> list[Backend]:
        """Services named ``host`` (``name``, ``name.namespace``, ``name.namespace.svc...``)
        in ``namespace`` when it is known: an Ingress reaches the Services of its own."""
        name, _, rest = host.partition(".")
        namespace = namespace or rest.split(".", 1)[0] or None
        found = []
        for service in self.deploy.k8s_services:
            if service.name != name or not same_namespace(service.namespace, namespace):
                continue
            target_ports = {p.target_port or p.port for p in service.ports if p.port == port}
            if service.ports and not target_ports:
                continue
            for workload in self.deploy.k8s_workloads:
                if not service.selects(workload):
                    continue
                found.extend(self._workload_backends(workload, target_ports, service.name))
        return found

    def _workload_backends(
        self, workload: K8sWorkload, ports: set[str], through: str
    ) -> list[Backend]:
        found = []
        replicas = workload.replicas.count if workload.replicas else 1
        keys = {container.service_key for container in workload.containers}
        for command in self._commands_of_services(keys):
            listens = set(command.listen_ports())
            named = {p.name for c in workload.containers for p in c.ports if p.name}
            if ports and not (ports & listens) and not (ports & named):
                continue
            found.append(
                Backend(
                    command,
                    f"Service `{through}` selects {workload.label} ({workload.span}), whose "
                    f"container runs {command.label}",
                    Confidence.HIGH,
                    replicas,
                    workload.replicas.value.span if workload.replicas else None,
                    workload.label,
                    workload.span,
                )
            )
        return found

    def _projects_mounting(self, path: str) -> set[str]:
        if path not in self._mounting:
            mounting = self.deploy.services_mounting(path)
            self._mounting[path] = {service.project for service in mounting}
        return self._mounting[path]

    @cached_property
    def _services_named(self) -> dict[str, list[ComposeService]]:
        index: dict[str, list[ComposeService]] = {}
        for service in self.deploy.compose_services:
            index.setdefault(service.name, []).append(service)
        return index

    @cached_property
    def _projects_named(self) -> dict[str, dict[str, list[tuple[int, ComposeService]]]]:
        """Services by name, then by project, with their position: a route picks the
        services of its proxy's project without going through every same-named one."""
        index: dict[str, dict[str, list[tuple[int, ComposeService]]]] = {}
        for position, service in enumerate(self.deploy.compose_services):
            projects = index.setdefault(service.name, {})
            projects.setdefault(service.project, []).append((position, service))
        return index

    @cached_property
    def _by_service(self) -> dict[str, list[tuple[int, ServeCommand]]]:
        """Commands by the service key that runs them, with their position: indexes are
        built once, so resolving a target does not scan every command."""
        index: dict[str, list[tuple[int, ServeCommand]]] = {}
        for position, command in enumerate(self.commands):
            if command.service:
                index.setdefault(command.service, []).append((position, command))
        return index

    @cached_property
    def _by_file(self) -> dict[str, list[ServeCommand]]:
        index: dict[str, list[ServeCommand]] = {}
        for command in self.commands:
            index.setdefault(command.span.path, []).append(command)
        return index

    def _commands_of(self, service: ComposeService) -> list[ServeCommand]:
        """``DeployModel.commands_of`` through the indexes: the service's own
        ``command:``, else the CMD/ENTRYPOINT of the Dockerfile it builds."""
        own = self._commands_of_services(set(service.sources))
        if own:
            return own
        candidates = [
            command
            for dockerfile in self.deploy.dockerfiles_run_by(service)
            for command in self._by_file.get(dockerfile, [])
        ]
        return [c for c in candidates if self.deploy.runs_image_command(service, c)]

    def _commands_of_services(self, keys: set[str]) -> list[ServeCommand]:
        """The commands run by any of the service keys, in the commands' order."""
        found = [p for key in keys for p in self._by_service.get(key, ())]
        return [command for _, command in sorted(found, key=lambda p: p[0])]

    @cached_property
    def _host_listeners(self) -> dict[str, list[ServeCommand]]:
        """Commands started on a host (scripts, units...) by each port they listen on."""
        index: dict[str, list[ServeCommand]] = {}
        for command in self.commands:
            if command.carrier in HOST_CARRIERS:
                for port in dict.fromkeys(command.listen_ports()):
                    index.setdefault(port, []).append(command)
        return index

    def _loopback(self, port: str) -> list[Backend]:
        """The processes started on the host that accept connections to the port on
        loopback. Nothing but the port ties them to the route: a link of medium
        confidence, or of low confidence to each when several processes could be the
        one (only one can hold the port at a time); a command on a script's development
        branch counts only when nothing else listens there."""
        candidates = [
            command
            for command in self._host_listeners.get(port, ())
            if _accepts_on_loopback(command)
        ]
        confidence = Confidence.MEDIUM if len(candidates) == 1 else Confidence.LOW
        return [
            Backend(
                command,
                f"{command.context} ({command.span}) starts {command.label} on port {port} "
                "of the same host",
                confidence,
            )
            for command in candidates
        ]

    def _in_own_network(self, origin: Span | None) -> bool:
        """Whether the proxy configuration written at ``origin`` runs in containers with
        a network of their own (compose services mounting it, none with ``network_mode:
        host``): loopback there is the container, not the host that runs the scripts."""
        if origin is None:
            return False
        mounting = self.deploy.services_mounting(origin.path)
        return bool(mounting) and not any(service.host_network for service in mounting)

    def _unix(self, path: str) -> list[Backend]:
        found = []
        wanted = posixpath.normpath(path)
        for command in self.commands:
            if command.is_bokeh_family:
                socket = command.unix_socket()
                written = socket.value if socket else None
            else:
                written = command.value("uds")
            if written is not None and posixpath.normpath(written.text) == wanted:
                found.append(
                    Backend(command, f"{command.label} listens on {path}", Confidence.HIGH)
                )
        return found

    # -- frontends ----------------------------------------------------------------------

    def backends_of_route(self, route: ProxyRoute) -> list[Backend]:
        target = route.target
        if target.symbolic:
            return []
        if target.unix_socket:
            return self._unix(target.unix_socket)
        if route.upstream is not None:
            found: dict[Backend, None] = {}  # ordered, without repeats
            for server in route.upstream.active_servers:
                host, port = split_address(server.address.text)
                found.update(dict.fromkeys(self.resolve(host, port, origin=route.span)))
            return list(found)
        return self.resolve(
            target.host, target.port or None, tls=target.scheme == "https", origin=route.span
        )

    @cached_property
    def frontends(self) -> list[Frontend]:
        return [*self._nginx_frontends(), *self._traefik_frontends(), *self._ingress_frontends()]

    def _nginx_frontends(self) -> Iterable[Frontend]:
        for route in self.stack.nginx_routes:
            backends = tuple(self.backends_of_route(route))
            listen = next((listen for listen in route.listens), None)
            port = int(listen.port) if listen and listen.port.isdigit() else None
            host_header = route.proxy_header("Host")
            # Without a `proxy_set_header Host` in effect nginx sends `Host $proxy_host`,
            # unless an include that is not scanned sets it (Debian's `proxy_params`
            # sets `Host $http_host`).
            forwards: bool | None = None if route.opaque_includes else False
            if host_header is not None:
                value = host_header.value
                forwards = None if value is None else value.text in ("$host", "$http_host")
            affinity = route.upstream.affinity() if route.upstream is not None else None
            yield Frontend(
                "nginx",
                route.span,
                route.where,
                tuple(word.text for word in route.server_names),
                route.ssl,
                port,
                route.location.path.text if route.location else "/",
                backends,
                route.auth.kinds,
                forwards,
                _nginx_strips_path(route, route.rewrites),
                affinity,
                route,
                _nginx_rate_limits(route),
            )

    def _traefik_frontends(self) -> Iterable[Frontend]:
        for service in self.deploy.compose_services:
            traefik = service.traefik
            if not self.deploy.routed_by_traefik(service) or not traefik.routers:
                continue
            backends = tuple(self._service_backends(service))
            middlewares = {m.name: m for m in traefik.middlewares}
            opened = self._entrypoints_opened(service)
            for router in traefik.routers:
                if not router.reaches_own_container:
                    continue  # api@internal, a service of another provider: not this app
                if (
                    opened is not None
                    and router.entrypoints
                    and not opened & set(router.entrypoints)
                ):
                    continue  # the project's Traefik opens none of its entry points
                auth = tuple(
                    f"traefik {middlewares[name.text.split('@')[0]].kind}"
                    for name in router.middlewares
                    if name.text.split("@")[0] in middlewares
                    and middlewares[name.text.split("@")[0]].authenticates
                )
                prefix = re.search(
                    r"PathPrefix\(`([^`]*)`\)", router.rule.text if router.rule else ""
                )
                yield Frontend(
                    "traefik",
                    router.span,
                    f"Traefik router `{router.name}` ({service.label})",
                    router.hosts,
                    router.tls or bool(self._traefik_tls_entrypoints & set(router.entrypoints)),
                    None,
                    prefix.group(1) if prefix else "/",
                    backends,
                    auth,
                    # Traefik passes the client's Host unless passHostHeader is false.
                    not any(
                        _PASS_HOST_HEADER.fullmatch(label.key.lower())
                        and label.value.text.strip().lower() == "false"
                        for label in service.labels
                    ),
                    self._traefik_strips_path(router),
                    "sticky cookie" if traefik.session_affinity else None,
                    rate_limits=self._traefik_rate_limits(router),
                )

    def _entrypoints_opened(self, service: ComposeService) -> set[str] | None:
        """The entry points the Traefik container of the service's compose project opens,
        when its static configuration is known (its command line or a configuration file
        it mounts); None when no Traefik of the project is known (it runs elsewhere, on a
        shared network). A router on entry points Traefik does not open is not served:
        Traefik logs that the entry point does not exist and skips it there."""
        instance = self.stack.traefik.instance_of_project(service)
        if instance is None:
            return None
        return {entrypoint.name for entrypoint in instance.config.effective_entrypoints()}

    @cached_property
    def _traefik_tls_entrypoints(self) -> set[str]:
        """Entrypoints that terminate TLS for every router on them: those configured
        with ``--entrypoints.<name>.http.tls`` in a compose service's command (the
        Traefik container's static configuration), and ``websecure``, the name Traefik's
        documentation gives the port-443 entrypoint."""
        found = {"websecure"}
        for service in self.deploy.compose_services:
            for arg in service.command_args:
                match = _TLS_ENTRYPOINT.match(arg.lower())
                if match and not arg.lower().endswith("=false"):
                    found.add(match.group(1))
        return found

    @cached_property
    def _traefik_middlewares(self) -> dict[str, list[TraefikMiddleware]]:
        """Middlewares declared in labels: the docker provider shares them between
        containers (``name`` or ``name@docker``)."""
        found: dict[str, list[TraefikMiddleware]] = {}
        for service in self.deploy.compose_services:
            for middleware in service.traefik.middlewares:
                found.setdefault(middleware.name, []).append(middleware)
        return found

    def _traefik_rate_limits(self, router: TraefikRouter) -> tuple[str, ...] | None:
        limited = self.stack.traefik.rate_limited(router, "docker")
        if limited is None:
            return None
        return ("Traefik ratelimit middleware",) if limited else ()

    def _traefik_strips_path(self, router: TraefikRouter) -> bool | None:
        """A ``stripPrefix``/``stripPrefixRegex`` middleware on the router removes the
        matched prefix; None when a middleware is not declared in the scanned labels
        (``@file``, another provider) or may rewrite the path otherwise."""
        strips = False
        for word in router.middlewares:
            name, _, provider = word.text.partition("@")
            found = self._traefik_middlewares.get(name, []) if provider in ("", "docker") else []
            kinds = {middleware.kind for middleware in found}
            if not kinds or kinds & {"replacepath", "replacepathregex", "addprefix", "chain"}:
                return None
            strips = strips or bool(kinds & {"stripprefix", "stripprefixregex"})
        return strips

    def _service_backends(self, service: ComposeService) -> Iterable[Backend]:
        replicas = service.replicas.count if service.replicas else 1
        for command in self._commands_of(service):
            yield Backend(
                command,
                f"compose service `{service.name}` ({service.span}) runs {command.label}",
                Confidence.HIGH,
                replicas,
                service.replicas.value.span if service.replicas else None,
                f"compose service `{service.name}`",
                service.span,
            )

    def _ingress_frontends(self) -> Iterable[Frontend]:
        for ingress in self.deploy.k8s_ingresses:
            auth = tuple(
                f"ingress {key}" for key in ("auth-url", "auth-type") if ingress.nginx(key)
            )
            affinity = ingress.nginx("affinity")
            rate_limits = _ingress_rate_limits(ingress)
            for rule in ingress.backends:
                backends = tuple(
                    self._kubernetes(rule.service, rule.port or "80", ingress.namespace)
                )
                yield Frontend(
                    "ingress",
                    rule.span,
                    f"Ingress `{ingress.name}`",
                    (rule.host,) if rule.host else (),
                    bool(rule.host) and ingress.terminates_tls(rule.host),
                    None,
                    rule.path or "/",
                    backends,
                    auth,
                    # ingress-nginx's upstream-vhost replaces the client's Host.
                    ingress.nginx("upstream-vhost") is None,
                    _ingress_strips_path(ingress),
                    affinity.text if affinity else None,
                    rate_limits=rate_limits,
                )

    @cached_property
    def _frontends_by_command(self) -> dict[ServeCommand, list[Frontend]]:
        """Built once: every rule asks which proxies front a process, and scanning every
        frontend for each question made the run quadratic in the stack's size."""
        index: dict[ServeCommand, list[Frontend]] = {}
        for frontend in self.frontends:
            for command in dict.fromkeys(b.command for b in frontend.backends):
                index.setdefault(command, []).append(frontend)
        return index

    @cached_property
    def _frontends_by_unit(self) -> dict[Span, list[Frontend]]:
        index: dict[Span, list[Frontend]] = {}
        for frontend in self.frontends:
            for unit in dict.fromkeys(b.unit_span for b in frontend.backends):
                if unit is not None:
                    index.setdefault(unit, []).append(frontend)
        return index

    def frontends_of(self, command: ServeCommand) -> list[Frontend]:
        return list(self._frontends_by_command.get(command, ()))

    def frontends_of_unit(self, unit: Span) -> list[Frontend]:
        """The frontends reaching a deployment unit (a compose service, a workload)."""
        return list(self._frontends_by_unit.get(unit, ()))

    @cached_property
    def _configured_proxies(self) -> frozenset[Span]:
        """Compose services that read an nginx configuration of the scanned tree (a
        bind mount of it, or a build context holding it): what they route is known."""
        paths = {route.span.path for route in self.stack.nginx_routes}
        configured = {s.span for path in paths for s in self.deploy.services_mounting(path)}
        contexts = {
            s.build.context.rstrip("/"): s
            for s in self.deploy.compose_services
            if s.is_proxy_image and s.build is not None and s.build.context is not None
        }
        for path in paths:
            parts = path.split("/")
            for depth in range(len(parts) - 1, -1, -1):
                built = contexts.get("/".join(parts[:depth]) or ".")
                if built is not None:
                    configured.add(built.span)
        return frozenset(configured)

    def proxy_evidence(self, service: ComposeService) -> list[ProxyEvidence]:
        """Why a proxy is believed to send traffic to ``service``: nginx locations
        linked to it, its Traefik labels, nginx-proxy's ``VIRTUAL_HOST``, and a proxy
        container that depends on it when that proxy's configuration is not known."""
        found = self.deploy.proxy_evidence(service, self._configured_proxies)
        for frontend in self.frontends_of_unit(service.span):
            if frontend.kind != "nginx" or frontend.route is None:
                continue
            port = frontend.route.target.port
            found.append(
                ProxyEvidence(
                    frontend.route.pass_span,
                    f"nginx {frontend.where} proxies to it",
                    Confidence.HIGH,
                    (port,) if port else (),
                )
            )
        return found

    def browser_hosts_of(self, command: ServeCommand) -> list[str]:
        """The ``host[:port]`` browsers put in their Origin for this server: the hosts of
        the proxies in front of it (with a port only where it is not the scheme's
        default), else `public-hosts` from the configuration."""
        hosts = [
            browser_origin_host(host, frontend.port, frontend.tls)
            for frontend in self.frontends_of(command)
            for host in frontend.public_hosts
        ]
        return list(dict.fromkeys(hosts)) or self.public_hosts_of(command)

    def public_hosts_of(self, command: ServeCommand) -> list[str]:
        hosts = [h for f in self.frontends_of(command) for h in f.public_hosts]
        return list(dict.fromkeys(hosts or self.stack.config.public_hosts))
