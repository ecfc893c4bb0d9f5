"""Traefik's dynamic configuration as written in container labels (docker provider) and
in Kubernetes CRDs (``IngressRoute``, ``Middleware``).

Labels map onto the dynamic configuration model key by key and are case-insensitive
(``traefik.http.services.app.loadBalancer.sticky.cookie`` is
``...loadbalancer.sticky.cookie``). Stickiness needs the ``cookie`` part: a service
pins clients when ``sticky.cookie`` (or any ``sticky.cookie.*`` option) is set, not
``false``, or when its ``strategy`` is ``hrw``. A headers middleware's CORS options
become a ``CorsPolicy`` of kind ``traefik``: Traefik answers an origin listed in
``accessControlAllowOriginList`` with that entry (``*`` stays ``*``), and one matched
by ``accessControlAllowOriginListRegex`` (Go ``regexp.MatchString``: a search, not a
full match) with the request's own Origin."""

from __future__ import annotations

from collections.abc import Sequence

from stackaudit.diagnostics import Span
from stackaudit.facts.common import Word
from stackaudit.facts.cors import CorsPolicy, OriginPattern
from stackaudit.facts.deploy import (
    Label,
    TraefikConfig,
    TraefikMiddleware,
    TraefikRouter,
    TraefikService,
)

_ROUTERS = "traefik.http.routers."
_SERVICES = "traefik.http.services."
_MIDDLEWARES = "traefik.http.middlewares."


def _split_list(word: Word) -> tuple[Word, ...]:
    """A comma-separated label value as words (Traefik trims the spaces)."""
    parts = []
    offset = 0
    span = word.span
    exact = span.line == span.end_line and span.end_column - span.column == len(word.text)
    for part in word.text.split(","):
        stripped = part.strip()
        if stripped:
            part_span = span
            if exact:
                start = span.column + offset + (len(part) - len(part.lstrip()))
                part_span = Span(span.path, span.line, start, span.line, start + len(stripped))
            parts.append(Word(stripped, part_span, word.symbolic, word.default_used))
        offset += len(part) + 1
    return tuple(parts)


def traefik_config(labels: Sequence[Label]) -> TraefikConfig:
    """The routers, services and middlewares one container's labels declare."""
    enable: Word | None = None
    routers: dict[str, dict[str, Label]] = {}
    services: dict[str, dict[str, Label]] = {}
    middlewares: dict[str, dict[str, Label]] = {}
    names: dict[str, str] = {}
    tcp_or_udp = False
    for label in labels:
        key = label.key.strip().lower()
        if key == "traefik.enable":
            enable = label.value
            continue
        if key.startswith(("traefik.tcp.", "traefik.udp.")):
            tcp_or_udp = True
            continue
        for prefix, table in (
            (_ROUTERS, routers),
            (_SERVICES, services),
            (_MIDDLEWARES, middlewares),
        ):
            if key.startswith(prefix):
                name, _, option = key[len(prefix) :].partition(".")
                if name and option:
                    names.setdefault(prefix + name, label.key.strip()[len(prefix) :].split(".")[0])
                    table.setdefault(name, {})[option] = label
                break
    return TraefikConfig(
        enable=enable,
        routers=tuple(_router(names[_ROUTERS + n], o) for n, o in routers.items()),
        services=tuple(_service(names[_SERVICES + n], o) for n, o in services.items()),
        middlewares=tuple(
            m for n, o in middlewares.items() for m in _middleware(names[_MIDDLEWARES + n], o)
        ),
        tcp_or_udp=tcp_or_udp,
    )


def _first_span(options: dict[str, Label]) -> Span:
    return min(label.span for label in options.values())


def _value(options: dict[str, Label], key: str) -> Word | None:
    label = options.get(key)
    return label.value if label is not None else None


def _router(name: str, options: dict[str, Label]) -> TraefikRouter:
    middlewares = _value(options, "middlewares")
    entrypoints = _value(options, "entrypoints")
    tls = _value(options, "tls")
    return TraefikRouter(
        name=name,
        span=_first_span(options),
        rule=_value(options, "rule"),
        service=_value(options, "service"),
        middlewares=_split_list(middlewares) if middlewares else (),
        entrypoints=tuple(w.text for w in _split_list(entrypoints)) if entrypoints else (),
        tls=(tls is not None and tls.text.strip().lower() != "false")
        or any(k.startswith("tls.") for k in options),
    )


def _service(name: str, options: dict[str, Label]) -> TraefikService:
    sticky: Word | None = None
    for option in sorted(options):
        if option == "loadbalancer.sticky.cookie" or option.startswith(
            "loadbalancer.sticky.cookie."
        ):
            label = options[option]
            if (
                option == "loadbalancer.sticky.cookie"
                and label.value.text.strip().lower() == "false"
            ):
                sticky = None
                break
            if sticky is None:
                sticky = Word(label.value.text, label.span, label.value.symbolic)
    return TraefikService(
        name=name,
        span=_first_span(options),
        server_port=_value(options, "loadbalancer.server.port"),
        sticky_cookie=sticky,
        cookie_name=_value(options, "loadbalancer.sticky.cookie.name"),
        strategy=_value(options, "loadbalancer.strategy"),
    )


def _middleware(name: str, options: dict[str, Label]) -> list[TraefikMiddleware]:
    kinds: dict[str, list[tuple[str, Label]]] = {}
    for option, label in options.items():
        kind, _, setting = option.partition(".")
        kinds.setdefault(kind, []).append((setting, label))
    return [
        TraefikMiddleware(
            name=name,
            kind=kind,
            span=min(label.span for _, label in settings),
            settings=tuple((setting, label.value) for setting, label in settings),
        )
        for kind, settings in kinds.items()
    ]


# -- CORS ---------------------------------------------------------------------------------


def traefik_cors_policies(config: TraefikConfig, where: str) -> list[CorsPolicy]:
    policies = []
    for middleware in config.middlewares:
        if middleware.kind == "headers":
            policy = headers_cors(middleware.name, middleware.span, middleware.settings, where)
            if policy is not None:
                policies.append(policy)
    return policies


def headers_cors(
    name: str, span: Span, settings: Sequence[tuple[str, Word]], where: str
) -> CorsPolicy | None:
    """The CORS part of a headers middleware (label or CRD keys, lower-cased)."""
    table = {key.lower(): value for key, value in settings}
    origins: list[Word] = []
    for key in ("accesscontrolalloworiginlist", "accesscontrolalloworigin"):
        if key in table:
            origins.extend(_split_list(table[key]))
    patterns = [
        OriginPattern(word.text, word.span, "search")
        for word in (
            _split_list(table["accesscontrolalloworiginlistregex"])
            if "accesscontrolalloworiginlistregex" in table
            else ()
        )
    ]
    credentials = table.get("accesscontrolallowcredentials")
    if credentials is not None and credentials.text.strip().lower() != "true":
        credentials = None
    if not origins and not patterns and credentials is None:
        return None
    return CorsPolicy(
        kind="traefik",
        span=span,
        where=f"Traefik headers middleware `{name}` ({where})",
        allowed_origins=tuple(origins),
        origin_patterns=tuple(patterns),
        reflects_origin=patterns[0].span if patterns else None,
        reflection_guarded=bool(patterns),
        allow_credentials=credentials,
    )
