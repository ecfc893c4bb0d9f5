"""Traefik's Kubernetes CRDs (``IngressRoute``, ``Middleware``) read from YAML nodes, and
its configuration files (``traefik.yml``, ``traefik.toml``: the static configuration,
and the dynamic one a file provider reads); the meaning of Traefik's keys (labels, CRDs
and files alike) is in ``stackaudit.facts.traefik``."""

from __future__ import annotations

import re
import sys
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.yamlnodes import (
    BUDGET_MESSAGE,
    BudgetExceeded,
    Walker,
    load_documents,
    node_span,
    scalar,
)
from stackaudit.facts.common import ParseProblem, Word, has_expansion
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.deploy import IngressRouteService, TraefikFileConfig, TraefikIngressRoute
from stackaudit.facts.traefik import Option, file_dynamic_config, headers_cors, static_config
from stackaudit.source import SourceFile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

# -- Kubernetes CRDs ------------------------------------------------------------------------


def _word(source: SourceFile, node: Node | None) -> Word | None:
    if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
        return None
    return Word(node.value, node_span(source, node))


def ingress_route(
    source: SourceFile, walker: Walker, document: Node, name: str, namespace: str | None
) -> TraefikIngressRoute:
    matches: list[Word] = []
    services: list[IngressRouteService] = []
    middlewares: list[str] = []
    spec = walker.get(document, "spec")
    for route in walker.sequence(walker.get(spec, "routes")):
        match = _word(source, walker.get(route, "match"))
        if match is not None:
            matches.append(match)
        for target in walker.sequence(walker.get(route, "services")):
            target_name = scalar(walker.get(target, "name"))
            if not target_name:
                continue
            cookie = walker.get(walker.get(target, "sticky"), "cookie")
            sticky = None
            if cookie is not None and scalar(cookie) not in ("false", "null", "~"):
                sticky = Word("cookie", node_span(source, cookie))
            services.append(
                IngressRouteService(
                    name=target_name,
                    span=node_span(source, target),
                    port=scalar(walker.get(target, "port")) or "",
                    kind=scalar(walker.get(target, "kind")) or "Service",
                    sticky_cookie=sticky,
                    strategy=_word(source, walker.get(target, "strategy")),
                    native_lb=_word(source, walker.get(target, "nativeLB")),
                )
            )
        for middleware in walker.sequence(walker.get(route, "middlewares")):
            middleware_name = scalar(walker.get(middleware, "name"))
            if middleware_name:
                middlewares.append(middleware_name)
    return TraefikIngressRoute(
        file=source.path,
        name=name,
        span=_key_span(source, walker, document),
        namespace=namespace,
        matches=tuple(matches),
        services=tuple(services),
        middlewares=tuple(middlewares),
    )


def _key_span(source: SourceFile, walker: Walker, document: Node) -> Span:
    for key, _ in walker.key_items(document):
        if key.value == "kind":
            return node_span(source, key)
    return node_span(source, document)


def middleware_cors(
    source: SourceFile, walker: Walker, document: Node, name: str
) -> CorsPolicy | None:
    """A ``Middleware`` CRD's ``spec.headers`` CORS options."""
    headers = walker.get(walker.get(document, "spec"), "headers")
    if not isinstance(headers, MappingNode):
        return None
    settings: list[tuple[str, Word]] = []
    for key, value in walker.key_items(headers):
        if isinstance(value, ScalarNode):
            word = _word(source, value)
            if word is not None:
                settings.append((key.value, word))
        else:
            items = [w for item in walker.sequence(value) if (w := _word(source, item))]
            if items:
                joined = Word(
                    ",".join(w.text for w in items),
                    node_span(source, value),
                    any(w.symbolic for w in items),
                )
                settings.append((key.value, joined))
    return headers_cors(name, node_span(source, headers), settings, f"Middleware `{name}`")


# -- configuration files (traefik.yml, traefik.toml) ---------------------------------------

# A file's top-level keys tell which configuration it is: the static one (entry points,
# providers, the API) or a file provider's dynamic one (`http`, `tcp`, `udp`, `tls`).
_STATIC_ROOTS = frozenset(
    {"entrypoints", "providers", "api", "certificatesresolvers", "ping", "metrics", "log"}
)
_DYNAMIC_ROOTS = frozenset({"http", "tcp", "udp"})
_TEMPLATE_SUFFIX = re.compile(r"\.(tpl|tmpl|template|j2|jinja2?)$")
# Deep enough for any Traefik option (`entryPoints.web.http.tls.domains[0].sans`).
_MAX_DEPTH = 12


def extract_traefik_file(source: SourceFile) -> Extraction:
    """A Traefik configuration file: its static configuration and the routers and
    middlewares it gives the file provider. A template (``traefik.toml.tpl``) is read
    as written; when it does not parse before rendering, it is not judged."""
    result = Extraction()
    template = bool(_TEMPLATE_SUFFIX.search(source.path))
    toml_file = _TEMPLATE_SUFFIX.sub("", source.path).endswith(".toml")
    try:
        options = _toml_options(source) if toml_file else _yaml_options(source, result)
    except ValueError as exc:
        if not template:
            result.problems.append(ParseProblem(Span(source.path, 1, 1), str(exc)))
        return result
    if template:
        result.problems.clear()
    roots = {key.split(".", 1)[0] for key, _ in options}
    span = options[0][1].span if options else Span(source.path, 1, 1)
    if roots & _STATIC_ROOTS:
        result.facts.append(static_config(options, span, "file", source.path))
    if roots & _DYNAMIC_ROOTS:
        result.facts.append(TraefikFileConfig(source.path, file_dynamic_config(options)))
    return result


def _yaml_options(source: SourceFile, result: Extraction) -> list[Option]:
    documents, problems = load_documents(source)
    if problems:
        raise ValueError(problems[0].message)
    walker = Walker()
    options: list[Option] = []
    try:
        for document in documents[:1]:
            _flatten_yaml(source, walker, document, "", options, 0)
    except BudgetExceeded:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), BUDGET_MESSAGE))
    return options


def _flatten_yaml(
    source: SourceFile, walker: Walker, node: Node, path: str, out: list[Option], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, MappingNode):
        items = list(walker.key_items(node))
        if not items and path:
            out.append((path, Word("", node_span(source, node))))  # `api: {}`
        for key, value in items:
            name = f"{path}.{key.value.lower()}" if path else key.value.lower()
            if isinstance(value, ScalarNode) and value.tag.endswith(":null"):
                out.append((name, Word("", node_span(source, key))))  # `api:`
            else:
                _flatten_yaml(source, walker, value, name, out, depth + 1)
    elif isinstance(node, SequenceNode):
        for item in walker.sequence(node):
            _flatten_yaml(source, walker, item, path, out, depth + 1)
    elif isinstance(node, ScalarNode) and path:
        out.append((path, Word(node.value, node_span(source, node), has_expansion(node.value))))


def _toml_options(source: SourceFile) -> list[Option]:
    try:
        table: dict[str, Any] = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid TOML: {exc}") from exc
    places = _TomlPlaces(source)
    options: list[Option] = []
    _flatten_toml(table, "", places, options, 0)
    return options


def _flatten_toml(
    value: Any, path: str, places: _TomlPlaces, out: list[Option], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        if not value and path:
            out.append((path, Word("", places.span(path))))
        for key, item in value.items():
            name = f"{path}.{str(key).lower()}" if path else str(key).lower()
            _flatten_toml(item, name, places, out, depth + 1)
    elif isinstance(value, list):
        for item in value[:1000]:
            _flatten_toml(item, path, places, out, depth + 1)
    elif path:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        out.append((path, Word(text, places.span(path), has_expansion(text))))


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")


class _TomlPlaces:
    """Where each dotted option is written (tomllib keeps no positions): the line of
    its key, else of the table that holds it, else the file's first line."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.lines: dict[str, Span] = {}
        table = ""
        offset = 0
        for line in source.text.splitlines(keepends=True):
            header = _TOML_HEADER.match(line)
            key = _TOML_KEY.match(line) if header is None else None
            name = ""
            if header is not None:
                table = _dotted(header.group(1))
                name = table
            elif key is not None:
                name = f"{table}.{_dotted(key.group(1))}" if table else _dotted(key.group(1))
            if name:
                stripped = len(line) - len(line.lstrip())
                end = offset + len(line.rstrip("\r\n"))
                self.lines.setdefault(name, source.span(offset + stripped, end))
            offset += len(line)

    def span(self, path: str) -> Span:
        parts = path.split(".")
        for depth in range(len(parts), 0, -1):
            found = self.lines.get(".".join(parts[:depth]))
            if found is not None:
                return found
        return Span(self.source.path, 1, 1)


def _dotted(text: str) -> str:
    return ".".join(part.strip().strip("\"'").lower() for part in text.split("."))
