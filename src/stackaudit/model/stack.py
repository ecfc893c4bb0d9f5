"""All facts of one run, and (as the model grows) the links between them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Literal, TypeVar

from msgspec import Struct
from msgspec.structs import replace

from stackaudit.config import Config
from stackaudit.diagnostics import Span
from stackaudit.facts.common import ParseProblem
from stackaudit.facts.deps import DependencyPin
from stackaudit.facts.serve import MAIN_GUARD, ServeCommand
from stackaudit.model.modules import imported_module_paths

if TYPE_CHECKING:
    from stackaudit.facts.cors import CorsPolicy
    from stackaudit.facts.nginx import BackendInfo, NginxModel, ProxyRoute, Upstream
    from stackaudit.model.apps import Apps
    from stackaudit.model.deploy import DeployModel
    from stackaudit.model.environment import Environment
    from stackaudit.model.handlers import TornadoHandlers
    from stackaudit.model.links import Links
    from stackaudit.model.modules import ModuleIndex
    from stackaudit.model.nginx_servers import NginxServers
    from stackaudit.model.platforms import Platform, Platforms
    from stackaudit.model.startup import StartFailure
    from stackaudit.model.traefik import Traefik

T = TypeVar("T")
# Service managers that start a process on the machine itself, never in a container
# (a script or Python code may run in either).
_HOST_UNITS = frozenset({"systemd", "supervisord"})


class PublicWay(Struct, frozen=True):
    """How requests from beyond the machine reach a server, for messages."""

    description: str
    span: Span


class Stack:
    def __init__(self, facts: Iterable[object], config: Config | None = None) -> None:
        self.facts = list(facts)
        self.config = config or Config()

    def of(self, kind: type[T]) -> list[T]:
        return [fact for fact in self.facts if isinstance(fact, kind)]

    @cached_property
    def serve_commands(self) -> list[ServeCommand]:
        """Every server process, each container's as Docker puts it together: the
        image's ENTRYPOINT + CMD, what a compose service or Kubernetes container sets
        over them, and the entrypoint script they run (``model.containers``). A command
        a container runs carries the container's environment after the image's ENV
        (``env_file:`` below ``environment:``, as in Compose's precedence). A command
        its own parser refuses starts nothing (``commands_that_never_start``): no rule
        judges what it would have served."""
        return [c for c in self._launched_commands if not self._start_failures[id(c)]]

    @cached_property
    def commands_that_never_start(self) -> list[tuple[ServeCommand, list[StartFailure]]]:
        """The commands that exit at start (an unknown option, a missing value, the
        whole command line as one exec-form element), with why."""
        return [
            (command, self._start_failures[id(command)])
            for command in self._launched_commands
            if self._start_failures[id(command)]
        ]

    @cached_property
    def _start_failures(self) -> dict[int, list[StartFailure]]:
        from stackaudit.model.startup import start_failures

        answers: dict[tuple[str, str], bool] = {}

        def older(package: str, version: str) -> bool:
            if (package, version) not in answers:
                found = self.installed_relative_to(package, version)
                answers[package, version] = found is not None and found[0] == "old"
            return answers[package, version]

        return {id(c): start_failures(c, older) for c in self._launched_commands}

    @cached_property
    def _launched_commands(self) -> list[ServeCommand]:
        from stackaudit.facts.image import DockerImage, ShellScript
        from stackaudit.model.containers import container_commands

        resolution = container_commands(
            self.of(ServeCommand),
            self.of(DockerImage),
            self.of(ShellScript),
            self.deploy,
            self.environment.from_env_files,
        )
        found: list[ServeCommand] = []
        for command in resolution.kept:
            loaded, unread = self.environment.from_env_files(command.env_files, command.span.path)
            if loaded or unread != command.env_files:
                command = replace(command, env=(*loaded, *command.env), env_files=unread)
            found.append(command)
        commands = found + resolution.added
        # Modules a server command line imports (`uvicorn main:app`): run that way, their
        # `if __name__ == "__main__":` block never runs.
        imported = {
            path
            for command in commands
            if command.carrier != "python"
            for path in imported_module_paths(command)
        }
        # A command only a development branch of its script runs (`if [ "$ENV" = dev ]`)
        # is not the deployed process: no rule judges it as one.
        return [
            self.environment.at_deploy(command)
            for command in commands
            if not command.development_branch and not _launcher_of(command, imported)
        ]

    @cached_property
    def environment(self) -> Environment:
        """Where a process's environment comes from beyond its own command line:
        environment files, Kubernetes ConfigMaps and Secrets, platforms."""
        from stackaudit.model.environment import Environment

        return Environment(self.facts, self.platforms)

    # -- platforms ------------------------------------------------------------------------

    @cached_property
    def platforms(self) -> Platforms:
        """The hosting platforms the files declare (Procfile, app.yaml, fly.toml,
        render.yaml, gcloud/az deploys, Knative Services), indexed once."""
        from stackaudit.model.platforms import Platforms

        return Platforms(self.facts)

    def platform_for(self, command: ServeCommand) -> Platform | None:
        """The platform whose router is in front of ``command``: TLS, X-Forwarded-*,
        its timeouts and, when known, its public origin. None off a platform."""
        return self.platforms.platform_for(command)

    @cached_property
    def public_origins(self) -> list[str]:
        """The origins browsers load this stack's pages from: `public-hosts` from the
        configuration, else the hosts its proxies serve (``https://dash.example.com``)."""
        from stackaudit.model.origins import configured_origins, frontend_origins

        return configured_origins(self.config.public_hosts) or frontend_origins(
            self.links.frontends
        )

    @cached_property
    def _modules(self) -> ModuleIndex:
        from stackaudit.model.modules import ModuleIndex

        paths = {
            span.path
            for fact in self.facts
            if (span := getattr(fact, "span", None)) is not None
            and span.path.endswith((".py", ".pyw"))
        }
        return ModuleIndex(paths, self.deploy)

    def module_files(self, command: ServeCommand) -> tuple[str, ...]:
        """The file(s) of the tree an ASGI server command line imports (``uvicorn
        main:app``), looked for from where the command's files are (``model.modules``)."""
        return self._modules.files_imported_by(command)

    def public_way(self, command: ServeCommand) -> PublicWay | None:
        """How requests from beyond the machine reach ``command``, when the scanned
        files show one: a proxy route (nginx, Traefik, Ingress) whose hosts are not all
        ``localhost`` names, a compose port published on every interface, a platform
        router, or a systemd/supervisord unit listening beyond loopback. None when
        none is shown: a container whose ports are not published here, a script that
        may run in one, a server on loopback only."""
        for frontend in self.links.frontends_of(command):
            names = [host.lower().rstrip(".") for host in frontend.hosts]
            if names and all(n == "localhost" or n.endswith(".localhost") for n in names):
                continue  # RFC 6761: `localhost` names resolve to loopback
            return PublicWay(f"{frontend.where} proxies to it", frontend.span)
        exposure = self.deploy.exposure(command)
        if exposure is not None and exposure.reachable_without_proxy is True:
            published = exposure.on_all_interfaces[0]
            return PublicWay(
                f"{exposure.service.label} publishes `{published.describe()}` on every interface",
                published.span,
            )
        platform = self.platform_for(command)
        if platform is not None:
            return PublicWay(f"{platform.label} routes to it", platform.span)
        if command.carrier in _HOST_UNITS and command.reachable_beyond_loopback() is True:
            address = command.bind_address()
            where = (
                f"`{address.text}`" if address is not None and address.text else "every interface"
            )
            return PublicWay(f"it listens on {where} of the host", command.span)
        return None

    def asgi_servers_of(self, path: str) -> list[ServeCommand]:
        """The ASGI server commands that import the module at ``path`` (``main:app``,
        ``pkg.main:app``, ``main.py``)."""
        return [c for c in self.serve_commands if path in self.module_files(c)]

    def servers_running_module(self, path: str) -> list[ServeCommand]:
        """The server processes that hold the module at ``path`` in their memory: those
        whose command line imports it (``uvicorn main:app``, ``panel serve --plugins
        chat``) and the server calls written in it (``pn.serve(...)``,
        ``uvicorn.run(...)``), which run in the process that ran the module."""
        direct = self.asgi_servers_of(path)
        return direct + [c for c in self._python_commands.get(path, ()) if c not in direct]

    def servers_below_import_root(self, path: str) -> list[ServeCommand]:
        """The ASGI servers whose app module (one that constructs ``FastAPI()`` or
        ``Starlette()``) is imported from a directory that holds ``path``: the app can
        import the module at ``path``, which is likely but not certain (no import graph
        is kept)."""
        return [
            command
            for command in self.serve_commands
            if any(path.startswith(root) for root in self.apps.import_roots(command))
        ]

    @cached_property
    def _python_commands(self) -> dict[str, list[ServeCommand]]:
        by_path: dict[str, list[ServeCommand]] = {}
        for command in self.serve_commands:
            if command.carrier == "python":
                by_path.setdefault(command.span.path, []).append(command)
        return by_path

    def tls_in_front_of_module(self, path: str) -> list[TlsEvidence]:
        """Where TLS reaches the ASGI app of the module at ``path``: a proxy route with
        TLS (nginx ``listen ... ssl``, a Traefik router with TLS, an Ingress host under
        ``spec.tls``), a platform router that terminates TLS, or the server's own
        certificate (``--ssl-certfile``/``--certfile``). The servers are those whose
        command line imports the module; when none does, those that import a module of
        the same top-level package (the module is then imported indirectly, which is
        likely but not certain: ``direct`` is False)."""
        direct = self.asgi_servers_of(path)
        commands = direct or [c for c in self.serve_commands if _same_package(c, path)]
        found: list[TlsEvidence] = []
        for command in commands:
            for frontend in self.links.frontends_of(command):
                if frontend.tls:
                    found.append(TlsEvidence(frontend.span, frontend.where, bool(direct)))
            platform = self.platform_for(command)
            if platform is not None and platform.terminates_tls:
                found.append(
                    TlsEvidence(platform.span, f"{platform.label} serves HTTPS", bool(direct))
                )
            for dest in ("ssl_certfile", "certfile"):
                use = command.last(dest)
                if use is not None and use.values:
                    found.append(
                        TlsEvidence(use.flag.span, f"{command.label} {use.flag.text}", bool(direct))
                    )
        return list(dict.fromkeys(found))

    def origins_serving(self, commands: Iterable[ServeCommand]) -> list[str]:
        """The origins of the proxies in front of ``commands``, else the stack's."""
        from stackaudit.model.origins import frontend_origins

        frontends = [f for command in commands for f in self.links.frontends_of(command)]
        return frontend_origins(frontends) or self.public_origins

    @cached_property
    def nginx_servers(self) -> NginxServers:
        """The nginx ``server`` blocks: their TLS, their plain-HTTP redirects, and the
        location a path selects in each."""
        from stackaudit.model.nginx_servers import NginxServers

        return NginxServers(self.nginx)

    @cached_property
    def apps(self) -> Apps:
        """What the application code behind each server process states: how it
        authenticates, which endpoints libraries add to it (``/docs``, ``/metrics``)."""
        from stackaudit.model.apps import Apps

        return Apps(self.facts, self.module_files, self._modules.directories_of)

    @cached_property
    def handlers(self) -> TornadoHandlers:
        """Tornado handlers a Bokeh/Panel server adds beside its applications
        (``extra_patterns``, plugins' ``ROUTES``) and the verbs each answers without
        asking for a user."""
        from stackaudit.model.handlers import TornadoHandlers

        return TornadoHandlers(self.facts)

    @cached_property
    def links(self) -> Links:
        """Proxy routes linked to the server processes they reach."""
        from stackaudit.model.links import Links

        return Links(self)

    def installed_relative_to(
        self, package: str, version: str
    ) -> tuple[Literal["old", "new"], DependencyPin] | None:
        """Whether the stack installs ``package`` before ``version`` ("old") or at or
        after it ("new"), with the pin that says so; None when no valid pin decides. A
        lock file's exact version decides over a requirement's range."""
        pins = [pin for pin in self.of(DependencyPin) if pin.package == package and pin.valid]
        deciding = [pin for pin in pins if pin.locked] or pins
        for pin in deciding:
            if pin.entirely_at_least(version) or pin.floor_at_least(version):
                return "new", pin
        for pin in deciding:
            if pin.entirely_below(version):
                return "old", pin
        return None

    def problems(self) -> list[ParseProblem]:
        """Problems that appear only when files are put together (an include cycle)."""
        return list(self.nginx.problems)

    @cached_property
    def nginx(self) -> NginxModel:
        """Every nginx file with its includes resolved, once per run."""
        from stackaudit.facts.nginx import NginxFile
        from stackaudit.model.nginx import nginx_version_from_images, resolve_nginx

        version = self.config.nginx_version or nginx_version_from_images(self.facts)
        return resolve_nginx(self.of(NginxFile), version=version, backend=self._backend_info)

    def _backend_info(self, route: ProxyRoute) -> BackendInfo | None:
        """What the linked backends tell the nginx rules: Bokeh/Panel behind the route
        (a WebSocket route whatever its path), and the shortest ping interval."""
        from stackaudit.facts.nginx import BackendInfo

        backends = self.links.backends_of_route(route)
        if not backends:
            return None
        bokeh = [b for b in backends if b.command.is_bokeh_family]
        chosen = bokeh[0] if bokeh else backends[0]
        pings = [(b.command.ping_interval(), b) for b in backends]
        known = [(p, b) for p, b in pings if p[0] is not None]
        (interval, span, source), pinger = (
            min(known, key=lambda item: item[0][0] or 0.0) if known else ((None, None, ""), chosen)
        )
        paths = [b.command.websocket_paths() for b in backends]
        sure = max((b.confidence for b in bokeh or backends), key=lambda c: c.rank)
        return BackendInfo(
            description=chosen.evidence,
            span=chosen.command.span,
            serves_websocket=bool(bokeh),
            bokeh_family=bool(bokeh),
            confidence=sure,
            # Known only when every backend is a Bokeh/Panel server that tells its own.
            websocket_paths=None
            if any(p is None for p in paths)
            else tuple(dict.fromkeys(path for found in paths for path in found or ())),
            ping_interval=interval,
            ping_span=span or pinger.command.span,
            ping_source=f"{pinger.command.label}: {source}",
            uvicorn_only=all(b.command.runs_uvicorn for b in backends),
        )

    @property
    def nginx_routes(self) -> list[ProxyRoute]:
        return self.nginx.routes

    @property
    def nginx_upstreams(self) -> list[Upstream]:
        return self.nginx.upstreams

    @cached_property
    def cors_policies(self) -> list[CorsPolicy]:
        """CORS decisions from every source: extracted facts and nginx locations, but
        not those code sets up only on a development path."""
        from stackaudit.facts.cors import CorsPolicy

        deployed = [p for p in self.of(CorsPolicy) if not p.development_branch]
        return [*deployed, *self.nginx.cors_policies]

    @cached_property
    def deploy(self) -> DeployModel:
        """Compose projects merged (override, extends, include), Kubernetes workloads,
        Services and Ingresses, and the Traefik routing in labels, once per run."""
        from stackaudit.model.deploy import resolve_deployment

        return resolve_deployment(self.facts)

    @cached_property
    def traefik(self) -> Traefik:
        """The Traefik containers with their static configuration, and the routers to
        Traefik's own API, once per run."""
        from stackaudit.facts.deploy import TraefikFileConfig, TraefikStaticConfig
        from stackaudit.model.traefik import Traefik

        return Traefik(self.of(TraefikStaticConfig), self.of(TraefikFileConfig), self.deploy)


class TlsEvidence(Struct, frozen=True):
    """A place that puts TLS in front of a server (``Stack.tls_in_front_of_module``)."""

    span: Span
    what: str
    direct: bool


def _same_package(command: ServeCommand, path: str) -> bool:
    """Whether the module a server command imports (``app/main.py``) and ``path`` are in
    one top-level package; a top-level module (``main.py``) shares the whole tree."""
    for module in imported_module_paths(command):
        top = module.split("/")[0] if "/" in module else ""
        if not top or path.startswith(top + "/") or f"/{top}/" in path:
            return True
    return False


def _launcher_of(command: ServeCommand, imported: set[str]) -> bool:
    """A server started under ``if __name__ == "__main__":`` in a module that a server
    command line of the stack imports: the deployment runs the module that way, so the
    block is a developer's launcher."""
    if command.carrier != "python" or command.condition is None:
        return False
    if command.condition.text != MAIN_GUARD:
        return False
    parts = command.span.path.split("/")
    return any("/".join(parts[depth:]) in imported for depth in range(len(parts)))
