"""Where a process's environment comes from beyond its own command line: the
environment files it reads, what its Kubernetes container adds from ConfigMaps and
Secrets, and what its platform sets at deploy time."""

from __future__ import annotations

import posixpath
from functools import cached_property

from msgspec.structs import replace

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.deploy import K8sConfigMap, K8sContainerEnv
from stackaudit.facts.envfile import EnvFile
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.platforms import Platforms, nearest


class Environment:
    """Indexes over the run's environment sources, built once."""

    def __init__(self, facts: list[object], platforms: Platforms) -> None:
        self.facts = facts
        self.platforms = platforms

    @cached_property
    def _env_files(self) -> dict[str, EnvFile]:
        return {f.path: f for f in self.facts if isinstance(f, EnvFile)}

    def from_env_files(
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

    def at_deploy(self, command: ServeCommand) -> ServeCommand:
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
        return {f.container_key: f for f in self.facts if isinstance(f, K8sContainerEnv)}

    @cached_property
    def _k8s_config_maps(self) -> dict[tuple[bool, str], list[K8sConfigMap]]:
        index: dict[tuple[bool, str], list[K8sConfigMap]] = {}
        for config_map in (f for f in self.facts if isinstance(f, K8sConfigMap)):
            index.setdefault((config_map.secret, config_map.name), []).append(config_map)
        return index

    def _config_map(
        self, secret: bool, name: str, namespace: str | None, near: str
    ) -> K8sConfigMap | None:
        """The ConfigMap (Secret) ``name`` of the pod's namespace (one written without a
        namespace matches any: it goes where it is applied), the one written nearest
        the workload's file when several are: the same file, else the same
        directory..."""
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
