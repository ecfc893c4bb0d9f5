"""All facts of one run, and (as the model grows) the links between them."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Literal, TypeVar

from msgspec.structs import replace

from stackaudit.config import Config
from stackaudit.facts.common import EnvVar, ParseProblem, Word
from stackaudit.facts.deps import DependencyPin
from stackaudit.facts.envfile import EnvFile
from stackaudit.facts.serve import ASGI_SERVERS, ServeCommand

if TYPE_CHECKING:
    from stackaudit.facts.cors import CorsPolicy
    from stackaudit.facts.nginx import BackendInfo, NginxModel, ProxyRoute, Upstream
    from stackaudit.model.deploy import DeployModel
    from stackaudit.model.links import Links

T = TypeVar("T")


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
        (``env_file:`` below ``environment:``, as in Compose's precedence)."""
        from stackaudit.facts.image import DockerImage, ShellScript
        from stackaudit.model.containers import container_commands

        resolution = container_commands(
            self.of(ServeCommand),
            self.of(DockerImage),
            self.of(ShellScript),
            self.deploy,
            self._env_file_variables,
        )
        found: list[ServeCommand] = []
        for command in resolution.kept:
            loaded, unread = self._env_file_variables(command.env_files, command.span.path)
            if loaded or unread != command.env_files:
                command = replace(command, env=(*loaded, *command.env), env_files=unread)
            found.append(command)
        return found + resolution.added

    @cached_property
    def _env_files(self) -> dict[str, EnvFile]:
        return {env_file.path: env_file for env_file in self.of(EnvFile)}

    def _env_file_variables(
        self, names: tuple[Word, ...], written_in: str
    ) -> tuple[list[EnvVar], tuple[Word, ...]]:
        """The variables the scanned environment files ``names`` (relative to the file
        that names them) define, in order; and the names of those not scanned, whose
        content stays unknown (``ServeCommand.env_files``)."""
        found: list[EnvVar] = []
        unread: list[Word] = []
        for name in names:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(written_in), name.text))
            env_file = None if name.symbolic else self._env_files.get(path)
            if env_file is None:
                unread.append(name)
            else:
                found.extend(env_file.variables)
        return found, tuple(unread)

    @cached_property
    def public_origins(self) -> list[str]:
        """The origins browsers load this stack's pages from: `public-hosts` from the
        configuration, else the hosts its proxies serve (``https://dash.example.com``)."""
        from stackaudit.model.origins import configured_origins, frontend_origins

        return configured_origins(self.config.public_hosts) or frontend_origins(
            self.links.frontends
        )

    def asgi_servers_of(self, path: str) -> list[ServeCommand]:
        """The ASGI server commands that import the module at ``path`` (``main:app``,
        ``pkg.main:app``, ``main.py``)."""
        return [c for c in self.serve_commands if _imports_module(c, path)]

    def origins_serving(self, commands: Iterable[ServeCommand]) -> list[str]:
        """The origins of the proxies in front of ``commands``, else the stack's."""
        from stackaudit.model.origins import frontend_origins

        frontends = [f for command in commands for f in self.links.frontends_of(command)]
        return frontend_origins(frontends) or self.public_origins

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
        )

    @property
    def nginx_routes(self) -> list[ProxyRoute]:
        return self.nginx.routes

    @property
    def nginx_upstreams(self) -> list[Upstream]:
        return self.nginx.upstreams

    @cached_property
    def cors_policies(self) -> list[CorsPolicy]:
        """CORS decisions from every source: extracted facts and nginx locations."""
        from stackaudit.facts.cors import CorsPolicy

        return [*self.of(CorsPolicy), *self.nginx.cors_policies]

    @cached_property
    def deploy(self) -> DeployModel:
        """Compose projects merged (override, extends, include), Kubernetes workloads,
        Services and Ingresses, and the Traefik routing in labels, once per run."""
        from stackaudit.model.deploy import resolve_deployment

        return resolve_deployment(self.facts)


def _imports_module(command: ServeCommand, path: str) -> bool:
    if command.tool not in ASGI_SERVERS or not command.positionals:
        return False
    module = command.positionals[0].text.split(":")[0]
    wanted = module if module.endswith(".py") else module.replace(".", "/") + ".py"
    return path == wanted or path.endswith("/" + wanted)
