"""Traefik routers that serve a container over plain HTTP while another router serves
it over TLS, as compose labels and the Traefik container's command line configure it.

- A router with a ``tls`` section handles HTTPS only, one without handles plain HTTP
  only; an entrypoint with ``http.tls`` makes every router on it a TLS router. A
  router without ``entrypoints`` listens on all (default) entrypoints.
- Plain requests are redirected by a ``redirectScheme`` middleware on the router, or
  for a whole entrypoint by ``--entrypoints.<name>.http.redirections.entrypoint.to``.

The static configuration is known only when the project's Traefik container gives it
on its command line; a project whose Traefik reads ``traefik.yml`` (not read here) is
not judged.

References: https://doc.traefik.io/traefik/routing/routers/#tls,
https://doc.traefik.io/traefik/routing/entrypoints/#redirection,
https://doc.traefik.io/traefik/middlewares/http/redirectscheme/.
"""

from __future__ import annotations

import re

from msgspec import Struct

from stackaudit.facts.deploy import ComposeService, TraefikRouter
from stackaudit.model.deploy import DeployModel

_OPTION = re.compile(r"--entrypoints\.([^.=]+)\.([a-z.]+)(?:=(.*))?$")


class StaticConfig(Struct, frozen=True):
    entrypoints: frozenset[str]
    tls: frozenset[str]
    redirecting: frozenset[str]


def static_config(deploy: DeployModel, service: ComposeService) -> StaticConfig | None:
    """The entrypoints the project's Traefik container declares on its command line;
    None when no Traefik container of the project declares any there."""
    entrypoints: set[str] = set()
    tls: set[str] = set()
    redirecting: set[str] = set()
    for proxy in deploy.project_services(service):
        if proxy.image is None or proxy.image.name != "traefik":
            continue
        for arg in proxy.command_args:
            match = _OPTION.match(arg.lower())
            if match is None:
                continue
            name, option, value = match.group(1), match.group(2), match.group(3)
            entrypoints.add(name)
            if option.startswith("http.tls") and value != "false":
                tls.add(name)
            if option == "http.redirections.entrypoint.to":
                redirecting.add(name)
    if not entrypoints:
        return None
    return StaticConfig(frozenset(entrypoints), frozenset(tls), frozenset(redirecting))


class PlainRoute(Struct, frozen=True):
    """A router serving the service over plain HTTP on ``entrypoints``, while
    ``tls_router`` serves it over TLS."""

    service: ComposeService
    router: TraefikRouter
    tls_router: TraefikRouter
    entrypoints: tuple[str, ...]


def plain_routes_beside_tls(deploy: DeployModel) -> list[PlainRoute]:
    found = []
    for service in deploy.compose_services:
        if not deploy.routed_by_traefik(service):
            continue
        config = None
        routers = [r for r in service.traefik.routers if r.reaches_own_container]
        for router in routers:
            config = config or static_config(deploy, service)
            if config is None:
                break  # the static configuration is not on a command line: not judged
            if _is_tls(router, config):
                continue
            tls_router = next((r for r in routers if _is_tls(r, config)), None)
            if tls_router is None:
                continue
            plain = _unredirected_entrypoints(
                router, config, _redirect_middlewares(deploy, service)
            )
            if plain:
                found.append(PlainRoute(service, router, tls_router, plain))
    return found


def _is_tls(router: TraefikRouter, config: StaticConfig) -> bool:
    return router.tls or (bool(router.entrypoints) and set(router.entrypoints) <= config.tls)


def _redirect_middlewares(deploy: DeployModel, service: ComposeService) -> dict[str, bool]:
    """Middleware names of the project's labels: whether each redirects to HTTPS, or
    may (``redirectScheme``; a ``chain`` of others is not followed)."""
    found: dict[str, bool] = {}
    for other in deploy.project_services(service):
        for middleware in other.traefik.middlewares:
            redirects = middleware.kind in ("redirectscheme", "chain")
            found[middleware.name] = found.get(middleware.name, False) or redirects
    return found


def _unredirected_entrypoints(
    router: TraefikRouter, config: StaticConfig, middlewares: dict[str, bool]
) -> tuple[str, ...]:
    """The plain entrypoints the router answers on without redirecting; () when a
    middleware redirects, or may (one declared elsewhere, ``name@file``)."""
    for word in router.middlewares:
        name, _, provider = word.text.partition("@")
        if provider not in ("", "docker") or name not in middlewares or middlewares[name]:
            return ()
    entrypoints = router.entrypoints or tuple(sorted(config.entrypoints))
    return tuple(
        e
        for e in entrypoints
        if e.lower() not in config.tls and e.lower() not in config.redirecting
    )
