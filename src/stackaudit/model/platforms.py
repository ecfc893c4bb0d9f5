"""Hosting platforms in front of server processes: which platform starts a command, and
what its router does in front of it (terminates TLS, sets ``X-Forwarded-*``, its
documented timeouts, the public origin when the files tell it).

On each of these platforms the process is reached only through the platform's router:
the app's port is not published anywhere else (docs/upstream-facts.md, F13). The
platforms' behaviour, as documented:

- Heroku: "Inbound requests are received by a load balancer that offers SSL
  termination"; the router adds X-Forwarded-For, X-Forwarded-Proto and
  X-Forwarded-Port; after the first response byte, a 55-second window: a connection
  (a WebSocket too) with no data either way for 55 s is closed (H15). The app's name
  is not in the repository, so its origin is unknown.
  https://devcenter.heroku.com/articles/http-routing (Routing, Timeouts, Heroku
  Headers), https://devcenter.heroku.com/articles/websockets#timeouts
- Cloud Run: HTTPS on ``*.run.app`` terminated by Google's front end; the request
  timeout is 300 s by default, at most 3600 s, and a WebSocket is a request it cuts
  (idle or not). https://cloud.google.com/run/docs/configuring/request-timeout,
  https://cloud.google.com/run/docs/triggering/websockets
- App Engine: HTTPS terminated by Google's front end, requests forwarded with
  X-Forwarded-For and X-Forwarded-Proto.
  https://cloud.google.com/appengine/docs/flexible/reference/request-headers
- Fly.io: the proxy's ``tls`` handler terminates TLS, the ``http`` handler adds
  X-Forwarded-For/-Proto/-Port (set in fly.toml); ``app = "name"`` is served as
  ``https://name.fly.dev``. https://fly.io/docs/networking/services/,
  https://fly.io/docs/networking/request-headers/
- Render: "Render's edge proxy accepts HTTPS from the public internet, terminates TLS,
  and forwards plain HTTP to your process"; a service's onrender.com host may carry a
  suffix, so its origin is not inferred. https://render.com/docs/web-services
- Azure App Service: TLS terminated in front of the app (third-party accounts: ARR adds
  X-ARR-SSL); X-Forwarded-Proto not verified here (docs/upstream-facts.md, F13).
- Cloud Run and Render: X-Forwarded-* not found in the pages checked; assumed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.platform import (
    APP_ENGINE,
    AZURE_APP_SERVICE,
    CLOUD_RUN,
    FLY,
    HEROKU,
    RENDER,
    PlatformEnv,
    PlatformService,
)
from stackaudit.facts.serve import ServeCommand

T = TypeVar("T")


class PlatformTimeout(Struct, frozen=True):
    """A limit the platform's router puts on a connection, WebSockets included.
    ``idle``: traffic in either direction (a WebSocket ping) resets it; otherwise it
    caps the whole connection whatever passes. ``span`` is where it is written, None
    for the platform's default."""

    seconds: float
    idle: bool
    written: str
    span: Span | None = None
    maximum: float | None = None


class _Profile(Struct, frozen=True):
    title: str
    terminates_tls: bool
    forwarded_headers: bool
    timeout: PlatformTimeout | None = None


_PROFILES: dict[str, _Profile] = {
    HEROKU: _Profile(
        "Heroku",
        True,
        True,
        PlatformTimeout(55.0, True, "Heroku's router: 55 s with no data on a connection"),
    ),
    CLOUD_RUN: _Profile(
        "Cloud Run",
        True,
        True,
        PlatformTimeout(
            300.0, False, "Cloud Run's default request timeout (300 s)", maximum=3600.0
        ),
    ),
    APP_ENGINE: _Profile("App Engine", True, True),
    FLY: _Profile("Fly.io", True, True),
    RENDER: _Profile("Render", True, True),
    AZURE_APP_SERVICE: _Profile("Azure App Service", True, True),
}


class Platform(Struct, frozen=True):
    """The platform that starts a server process, as the model resolves it."""

    key: str
    title: str
    span: Span
    terminates_tls: bool
    forwarded_headers: bool
    public_origin: str | None
    timeout: PlatformTimeout | None
    service: PlatformService

    @property
    def reached_only_through_router(self) -> bool:
        """The process's port is reachable from outside only through the platform's
        router (none of these platforms publishes it otherwise)."""
        return True

    @property
    def label(self) -> str:
        name = self.service.name
        return f"{self.title} service `{name.text}`" if name else self.title


def _seconds(word: Word | None) -> float | None:
    """gcloud's ``--timeout`` (``300``, ``300s``, ``5m``, ``1h``) or Knative's
    ``timeoutSeconds``, in seconds."""
    if word is None or word.symbolic:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", word.text)
    if match is None:
        return None
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _platform(service: PlatformService) -> Platform:
    profile = _PROFILES[service.platform]
    timeout = profile.timeout
    written = _seconds(service.timeout)
    if timeout is not None and written is not None and service.timeout is not None:
        timeout = PlatformTimeout(
            written,
            timeout.idle,
            f"request timeout {service.timeout.text}",
            service.timeout.span,
            timeout.maximum,
        )
    tls = profile.terminates_tls if service.tls is None else service.tls
    headers = profile.forwarded_headers if service.http is None else service.http
    origin = None
    if service.platform == FLY and service.name is not None and not service.name.symbolic:
        origin = f"https://{service.name.text}.fly.dev" if tls else None
    return Platform(
        service.platform,
        profile.title,
        service.span,
        tls,
        headers,
        origin,
        timeout,
        service,
    )


class Platforms:
    """Every platform service of a run, indexed once: by the file whose region or
    image command they run, and by Knative container-key prefix."""

    def __init__(self, facts: Iterable[object]) -> None:
        self._in_file: dict[str, list[PlatformService]] = {}
        self._files: dict[str, list[PlatformService]] = {}
        self._containers: dict[str, PlatformService] = {}
        self._by_platform: dict[str, list[PlatformService]] = {}
        self._settings: list[PlatformEnv] = []
        for fact in facts:
            if isinstance(fact, PlatformService):
                self._add(fact)
            elif isinstance(fact, PlatformEnv):
                self._settings.append(fact)
        self._env = self._index_env()

    def _add(self, service: PlatformService) -> None:
        self._by_platform.setdefault(service.platform, []).append(service)
        if service.runs_in is not None:
            self._in_file.setdefault(service.runs_in.path, []).append(service)
        for path in service.runs_files:
            self._files.setdefault(path, []).append(service)
        if service.runs_containers:
            self._containers.setdefault(service.runs_containers, service)

    def _index_env(self) -> dict[int, tuple[list[EnvVar], list[Word]]]:
        """Variables set apart from the deploy (``heroku config:set``...), per service
        (by identity): on the services of that platform with the app's name; when the
        command or the services name no app, on the nearest services of that platform
        (the CLI acts on the app of the directory it runs in)."""
        found: dict[int, tuple[list[EnvVar], list[Word]]] = {}
        for setting in self._settings:
            services = self._by_platform.get(setting.platform, [])
            app = setting.app.text if setting.app and not setting.app.symbolic else None
            named = [s for s in services if app and s.name and not s.name.symbolic]
            if named:
                targets = [s for s in named if s.name and s.name.text == app]
            else:
                targets = nearest(setting.span.path, services, lambda s: s.span.path)
            for service in targets:
                env, sources = found.setdefault(id(service), ([], []))
                env.extend(setting.env)
                sources.extend(setting.env_sources)
        return found

    def service_for(self, command: ServeCommand) -> PlatformService | None:
        """The platform service that starts ``command``: one whose start command is
        written around it, one that runs the image (or script) it is the command of, or
        a Knative Service whose container runs it. An explicit deploy wins over a
        Procfile read as Heroku's."""
        candidates: list[PlatformService] = []
        for service in self._in_file.get(command.span.path, ()):
            if service.runs_in is not None and _within(command.span, service.runs_in):
                candidates.append(service)
        if command.carrier == "dockerfile" and not command.context.endswith("RUN"):
            candidates.extend(self._files.get(command.span.path, ()))
        elif command.carrier == "shell" or (
            command.carrier == "procfile" and "`web`" in command.context
        ):
            # A start script the platform names, or a Procfile's web process built by
            # buildpacks from the deployed source.
            candidates.extend(self._files.get(command.span.path, ()))
        if command.service.startswith("k8s:"):
            prefix = command.service.rsplit("/", 1)[0] + "/"
            known = self._containers.get(prefix)
            if known is not None:
                candidates.append(known)
        if not candidates:
            return None
        explicit = [c for c in candidates if c.platform != HEROKU]
        return (explicit or candidates)[0]

    def platform_for(self, command: ServeCommand) -> Platform | None:
        service = self.service_for(command)
        return _platform(service) if service is not None else None

    def environment(self, service: PlatformService) -> tuple[list[EnvVar], list[Word]]:
        """What the platform sets for the service's process: its deploy's variables,
        then those set on the app apart from it; and the sources whose names are
        unknown here."""
        env, sources = self._env.get(id(service), ([], []))
        return [*service.env, *env], [*service.env_sources, *sources]


def nearest(path: str, items: Sequence[T], path_of: Callable[[T], str]) -> list[T]:
    """The items whose file shares the longest leading directories with ``path`` (the
    same file first): of two copies of a project in one tree, each one's own."""
    here = path.split("/")

    def shared(item: T) -> int:
        there = path_of(item).split("/")
        if there == here:
            return len(here) + 1
        depth = 0
        for mine, theirs in zip(here[:-1], there[:-1], strict=False):
            if mine != theirs:
                break
            depth += 1
        return depth

    if not items:
        return []
    scores = [shared(item) for item in items]
    best = max(scores)
    return [item for item, score in zip(items, scores, strict=True) if score == best]


def _within(inner: Span, outer: Span) -> bool:
    return (
        inner.path == outer.path
        and (outer.line, outer.column) <= (inner.line, inner.column)
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)
    )


__all__ = ["Platform", "PlatformTimeout", "Platforms"]
