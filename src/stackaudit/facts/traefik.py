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
    TraefikEntryPoint,
    TraefikMiddleware,
    TraefikRouter,
    TraefikService,
    TraefikStaticConfig,
    go_bool,
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


# -- static configuration -------------------------------------------------------------------

# Options are handled as Traefik's parser (github.com/traefik/paerser) sees every source:
# dotted paths, case-insensitive (`--entryPoints.web.address=:80`, `entryPoints: web:
# address:` in YAML, `[entryPoints.web]` in TOML, `TRAEFIK_ENTRYPOINTS_WEB_ADDRESS`).
Option = tuple[str, Word]

# Options whose flag takes no value (a bool or a section): `--api.insecure` is
# `--api.insecure=true`; any other flag without `=` takes the next argument.
_FLAG_LEAVES = frozenset(
    {
        "api",
        "insecure",
        "dashboard",
        "debug",
        "docker",
        "swarm",
        "exposedbydefault",
        "watch",
        "tls",
        "accesslog",
        "ping",
        "prometheus",
    }
)


def static_options_from_args(words: Sequence[Word]) -> list[Option]:
    """The options of a Traefik command line (``traefik --api.insecure ...``, or the
    image's arguments alone: its entrypoint prepends ``traefik`` to arguments that start
    with ``-``). Values of list options are split on commas, as paerser does."""
    options: list[Option] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        text = word.text
        if not text.startswith("-") or text in ("-", "--"):
            continue
        name, equals, value = text.lstrip("-").partition("=")
        key = name.lower()
        if equals:
            options.append((key, Word(value, word.span, word.symbolic, word.default_used)))
        elif key.rsplit(".", 1)[-1] in _FLAG_LEAVES:
            options.append((key, Word("true", word.span)))
        elif index < len(words) and not words[index].text.startswith("-"):
            following = words[index]
            index += 1
            options.append(
                (key, Word(following.text, word.span, following.symbolic, following.default_used))
            )
    return options


def static_options_from_env(variables: Sequence[tuple[str, Word]]) -> list[Option]:
    """``TRAEFIK_API_INSECURE=true`` as ``api.insecure``: ``_`` separates the path (an
    entry point whose name holds ``_`` cannot be told apart, and is read as a path)."""
    return [
        (name[len("TRAEFIK_") :].lower().replace("_", "."), value)
        for name, value in variables
        if name.upper().startswith("TRAEFIK_") and len(name) > len("TRAEFIK_")
    ]


def static_config(
    options: Sequence[Option], span: Span, origin: str, file: str = ""
) -> TraefikStaticConfig:
    """The settings of one static configuration that the rules need."""
    api: Word | None = None
    insecure: Word | None = None
    dashboard = True
    docker: Word | None = None
    exposed: Word | None = None
    constraints: Word | None = None
    config_file: Word | None = None
    entrypoints: dict[str, dict[str, list[Word]]] = {}
    spans: dict[str, Span] = {}
    for key, word in options:
        parts = key.split(".")
        root = parts[0]
        if root == "api":
            on = go_bool(word.text) is not False or len(parts) > 1
            api = api or (word if on else None)
            if parts[1:] == ["insecure"]:
                insecure = word if go_bool(word.text) else None
            elif parts[1:] == ["dashboard"]:
                dashboard = go_bool(word.text) is not False
        elif root == "entrypoints" and len(parts) >= 2:
            spans.setdefault(parts[1], word.span)
            entrypoints.setdefault(parts[1], {}).setdefault(".".join(parts[2:]), []).append(word)
        elif root == "providers" and len(parts) >= 2 and parts[1] == "docker":
            if len(parts) == 2 and go_bool(word.text) is False:
                continue
            docker = docker or word
            setting = parts[2] if len(parts) == 3 else ""
            if setting == "exposedbydefault":
                exposed = word
            elif setting == "constraints":
                constraints = word
        elif key == "configfile":
            config_file = word
    return TraefikStaticConfig(
        span=span,
        origin="file" if origin == "file" else "cli" if origin == "cli" else "env",
        file=file,
        api=api,
        api_insecure=insecure if api is not None else None,
        dashboard=dashboard,
        entrypoints=tuple(
            _entrypoint(name, spans[name], settings) for name, settings in entrypoints.items()
        ),
        docker=docker,
        exposed_by_default=exposed,
        docker_constraints=constraints,
        config_file=config_file,
    )


def _entrypoint(name: str, span: Span, settings: dict[str, list[Word]]) -> TraefikEntryPoint:
    address = settings.get("address", [None])[-1]
    insecure = settings.get("forwardedheaders.insecure", [None])[-1]
    trusted = [
        part
        for word in settings.get("forwardedheaders.trustedips", [])
        for part in _split_list(word)
    ]
    return TraefikEntryPoint(
        name=name,
        span=address.span if address is not None else span,
        address=address,
        forwarded_insecure=insecure if insecure is not None and go_bool(insecure.text) else None,
        trusted_ips=tuple(trusted),
        has_middlewares=any(key.startswith("http.middlewares") for key in settings),
    )


def file_dynamic_config(options: Sequence[Option]) -> TraefikConfig:
    """A file provider's ``http`` routers and middlewares, read as the labels that say
    the same (``http.routers.dash.service`` is ``traefik.http.routers.dash.service``)."""
    grouped: dict[str, list[Word]] = {}
    for key, word in options:
        if key.startswith("http."):
            grouped.setdefault(key, []).append(word)
    labels = [
        Label(f"traefik.{key}", _joined(words), words[0].span) for key, words in grouped.items()
    ]
    return traefik_config(labels)


def _joined(words: list[Word]) -> Word:
    if len(words) == 1:
        return words[0]
    return Word(",".join(w.text for w in words), words[0].span, any(w.symbolic for w in words))


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
