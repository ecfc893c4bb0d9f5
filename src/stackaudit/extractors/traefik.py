"""Traefik's Kubernetes CRDs (``IngressRoute``, ``Middleware``) read from YAML nodes; the
meaning of Traefik's keys (labels and CRDs alike) is in ``stackaudit.facts.traefik``."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.yamlnodes import Walker, node_span, scalar
from stackaudit.facts.common import Word
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.deploy import IngressRouteService, TraefikIngressRoute
from stackaudit.facts.traefik import headers_cors
from stackaudit.source import SourceFile

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
