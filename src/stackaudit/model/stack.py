"""All facts of one run, and (as the model grows) the links between them."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Literal, TypeVar

from msgspec.structs import replace

from stackaudit.config import Config
from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, ParseProblem, Word
from stackaudit.facts.deps import DependencyPin
from stackaudit.facts.envfile import EnvFile
from stackaudit.facts.serve import ASGI_SERVERS, MAIN_GUARD, ServeCommand

if TYPE_CHECKING:
    from stackaudit.facts.cors import CorsPolicy
    from stackaudit.facts.deploy import K8sConfigMap, K8sContainerEnv
    from stackaudit.facts.nginx import BackendInfo, NginxModel, ProxyRoute, Upstream
    from stackaudit.model.deploy import DeployModel
    from stackaudit.model.links import Links
    from stackaudit.model.platforms import Platform, Platforms

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
        commands = found + resolution.added
        # Modules a server command line imports (`uvicorn main:app`): run that way, their
        # `if __name__ == "__main__":` block never runs.
        imported = {
            path
            for command in commands
            if command.carrier != "python"
            for path in _module_paths(command)
        }
        # A command only a development branch of its script runs (`if [ "$ENV" = dev ]`)
        # is not the deployed process: no rule judges it as one.
        return [
            self._with_deploy_env(command)
            for command in commands
            if not command.development_branch and not _launcher_of(command, imported)
        ]

    # -- environment set at deploy time -------------------------------------------------

    def _with_deploy_env(self, command: ServeCommand) -> ServeCommand:
        """The command with what its Kubernetes container and its platform add to the
        environment: values known here, variables set with a value not written here
        (a Secret, ``--set-secrets``: set, value unknown), and sources whose names are
        unknown (a Secret or ConfigMap not in the tree, an env group) in
        ``env_files``."""
        command = self._with_k8s_env(command)
        platforms = self.platforms
        service = platforms.service_for(command)
        if service is None:
            return command
        env, sources = platforms.environment(service)
        if not env and not sources:
            return command
        # The platform's variables override an image's ENV; a start command's own shell
        # assignments (`web: FOO=1 gunicorn ...`) override the platform's.
        merged = (*command.env, *env) if command.carrier == "dockerfile" else (*env, *command.env)
        return replace(command, env=merged, env_files=(*command.env_files, *sources))

    @cached_property
    def _k8s_env_sources(self) -> dict[str, K8sContainerEnv]:
        from stackaudit.facts.deploy import K8sContainerEnv

        return {fact.container_key: fact for fact in self.of(K8sContainerEnv)}

    @cached_property
    def _k8s_config_maps(self) -> dict[tuple[bool, str], list[K8sConfigMap]]:
        from stackaudit.facts.deploy import K8sConfigMap

        index: dict[tuple[bool, str], list[K8sConfigMap]] = {}
        for config_map in self.of(K8sConfigMap):
            index.setdefault((config_map.secret, config_map.name), []).append(config_map)
        return index

    def _config_map(
        self, secret: bool, name: str, namespace: str | None, near: str
    ) -> K8sConfigMap | None:
        """The ConfigMap (Secret) ``name`` of the pod's namespace (one written without a
        namespace matches any: it goes where it is applied), the one written nearest
        the workload's file when several are: the same file, else the same
        directory..."""
        from stackaudit.model.platforms import nearest

        candidates = [
            config_map
            for config_map in self._k8s_config_maps.get((secret, name), ())
            if config_map.namespace is None
            or namespace is None
            or config_map.namespace == namespace
        ]
        closest = nearest(near, candidates, lambda config_map: config_map.span.path)
        return closest[0] if closest else None

    def _with_k8s_env(self, command: ServeCommand) -> ServeCommand:
        """Kubernetes ``envFrom`` (each source's keys, in order, below ``env``) and
        ``configMapKeyRef`` values resolved against the tree's ConfigMaps and Secrets
        (kubernetes.io/docs/tasks/configure-pod-container/configure-pod-configmap/)."""
        sources = self._k8s_env_sources.get(command.service) if command.service else None
        if sources is None:
            return command
        loaded: list[EnvVar] = []
        unread: list[Word] = []
        for entry in sources.env_from:
            found = self._config_map(
                entry.kind == "secret", entry.name, sources.namespace, command.span.path
            )
            if found is None:
                what = "Secret" if entry.kind == "secret" else "ConfigMap"
                unread.append(Word(f"envFrom {what} `{entry.name}`", entry.span))
                continue
            loaded.extend(replace(var, name=entry.prefix + var.name) for var in found.data)
        resolved: dict[tuple[str, Span], EnvVar] = {}
        for ref in sources.key_refs:
            config_map = self._config_map(
                False, ref.config_map, sources.namespace, command.span.path
            )
            value = (
                next((var for var in config_map.data if var.name == ref.key), None)
                if config_map is not None
                else None
            )
            if value is not None and value.value is not None:
                resolved[(ref.variable, ref.span)] = EnvVar(
                    ref.variable, value.value, ref.span, f"{value.source} key `{ref.key}`"
                )
        env = [resolved.get((var.name, var.span), var) for var in command.env]
        return replace(command, env=(*loaded, *env), env_files=(*command.env_files, *unread))

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


def _module_paths(command: ServeCommand) -> tuple[str, ...]:
    """The file an ASGI server command line imports, as a path suffix (``main:app`` →
    ``main.py``, ``pkg.main:app`` → ``pkg/main.py``)."""
    if command.tool not in ASGI_SERVERS or not command.positionals:
        return ()
    module = command.positionals[0].text.split(":")[0]
    if not module or "$" in module:
        return ()
    return (module if module.endswith(".py") else module.replace(".", "/") + ".py",)


def _imports_module(command: ServeCommand, path: str) -> bool:
    return any(path == w or path.endswith("/" + w) for w in _module_paths(command))


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
