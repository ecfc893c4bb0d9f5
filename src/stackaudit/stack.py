"""All facts of one run, and (as the model grows) the links between them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from stackaudit.config import Config
from stackaudit.facts.common import ParseProblem
from stackaudit.facts.serve import ServeCommand

if TYPE_CHECKING:
    from stackaudit.facts.cors import CorsPolicy
    from stackaudit.facts.deploy import DeployModel
    from stackaudit.facts.nginx import NginxModel, ProxyRoute, Upstream

T = TypeVar("T")


class Stack:
    def __init__(self, facts: Iterable[object], config: Config | None = None) -> None:
        self.facts = list(facts)
        self.config = config or Config()

    def of(self, kind: type[T]) -> list[T]:
        return [fact for fact in self.facts if isinstance(fact, kind)]

    @cached_property
    def serve_commands(self) -> list[ServeCommand]:
        return self.of(ServeCommand)

    def problems(self) -> list[ParseProblem]:
        """Problems that appear only when files are put together (an include cycle)."""
        return list(self.nginx.problems)

    @cached_property
    def nginx(self) -> NginxModel:
        """Every nginx file with its includes resolved, once per run."""
        from stackaudit.facts.nginx import NginxFile, nginx_version_from_images, resolve_nginx

        version = self.config.nginx_version or nginx_version_from_images(self.facts)
        return resolve_nginx(self.of(NginxFile), version=version)

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
        from stackaudit.facts.deploy import resolve_deployment

        return resolve_deployment(self.facts)
