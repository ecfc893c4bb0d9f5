"""``stackaudit graph``: the linked picture of a project, proxy routes to the server
processes behind them, with the evidence of every link, so a user can see why a
cross-file finding was made."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from stackaudit.config import Config
from stackaudit.config_tree import ConfigTree
from stackaudit.diagnostics import Diagnostic, Span
from stackaudit.engine import extract_all
from stackaudit.facts.deploy import ComposeFile, ComposeService, K8sIngress, PortMapping
from stackaudit.facts.nginx import NginxDirective, NginxFile, ProxyRoute
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.links import Backend, Frontend
from stackaudit.model.stack import Stack


def build_stack(
    paths: list[Path], root: Path, config: Config, jobs: int, tree: ConfigTree | None = None
) -> Stack:
    """The stack of ``paths`` without running the rules; ``tree``'s nested
    configurations exclude what they exclude in a check."""
    from stackaudit.discovery import discover
    from stackaudit.extractors.python_link import link_python_facts
    from stackaudit.paths import walk_starts

    absolute = walk_starts(paths)
    if tree is not None:
        tree.prepare(absolute)
    candidates, _ = discover(
        absolute,
        root,
        [*config.exclude, *config.extend_exclude],
        config.max_file_size,
        nested=tree.enter if tree is not None else None,
    )
    facts = [fact for result in extract_all(candidates, jobs) for fact in result.facts]
    return Stack(link_python_facts(facts), config)


def _server(stack: Stack, picture: _Picture, command: ServeCommand) -> dict[str, Any]:
    origins = command.effective_origins() if command.is_bokeh_family else []
    interval, _, ping = command.ping_interval()
    unit = _unit_key(stack, command)
    exposure = stack.deploy.exposure(command)
    return {
        "tool": command.label,
        "where": str(command.span),
        "context": command.context,
        "ports": command.listen_ports(),
        "listens": [listener.written for listener in command.listeners()],
        "origins": {
            "source": command.origin_source() if command.is_bokeh_family else None,
            "entries": [entry.text for entry in origins],
        },
        "ping_interval_seconds": interval,
        "ping": ping,
        **_findings(picture, _server_key(command)),
        "runs_in": None
        if unit is None
        else {"unit": unit[1], "where": str(unit[2]), **_findings(picture, unit[0])},
        "published": [
            {
                "port": _port_title(port),
                "where": str(port.span),
                **_findings(picture, _port_key(port)),
            }
            for port in (exposure.ports if exposure is not None else ())
        ],
    }


def _findings(picture: _Picture, key: object) -> dict[str, list[str]]:
    node = picture.nodes.get(key)
    return {
        "findings": list(node.codes) if node else [],
        "related_findings": list(node.related) if node else [],
    }


def _backend(stack: Stack, picture: _Picture, backend: Backend) -> dict[str, Any]:
    return {
        "server": _server(stack, picture, backend.command),
        "evidence": backend.evidence,
        "confidence": backend.confidence.value,
        "replicas": backend.replicas,
    }


def _frontend(stack: Stack, picture: _Picture, frontend: Frontend) -> dict[str, Any]:
    return {
        "kind": frontend.kind,
        "where": frontend.where,
        "location": str(frontend.span),
        "hosts": list(frontend.hosts),
        "tls": frontend.tls,
        "path": frontend.path,
        "auth": list(frontend.auth),
        "forwards_host": frontend.forwards_host,
        "affinity": frontend.affinity,
        **_findings(picture, _route_key(frontend)),
        "backends": [_backend(stack, picture, b) for b in frontend.backends],
    }


def graph_dict(stack: Stack, diagnostics: Sequence[Diagnostic] = ()) -> dict[str, Any]:
    """The linked stack as plain data; each route, server, unit and published port
    lists the codes of the findings marked on it (see ``stack_picture``)."""
    picture = stack_picture(stack, diagnostics)
    linked = {id(b.command) for f in stack.links.frontends for b in f.backends}
    return {
        "frontends": [_frontend(stack, picture, f) for f in stack.links.frontends],
        "unproxied_servers": [
            _server(stack, picture, c) for c in stack.serve_commands if id(c) not in linked
        ],
    }


def render_graph_json(stack: Stack, diagnostics: Sequence[Diagnostic] = ()) -> str:
    from stackaudit.formatters.escape import json_text

    return json_text(graph_dict(stack, diagnostics))


def render_graph_text(
    stack: Stack, diagnostics: Sequence[Diagnostic] = (), width: int | None = None
) -> str:
    """The links as indented text, with a ``findings:`` line under each part holding
    any; with ``width`` (the reader's terminal), long lines wrap under their own
    indentation, never inside a word (paths and locations stay whole, ready to copy)."""
    from stackaudit.formatters.escape import printable_line

    data = graph_dict(stack, diagnostics)
    lines: list[str] = []
    for frontend in data["frontends"]:
        hosts = ", ".join(frontend["hosts"]) or "any host"
        scheme = "https" if frontend["tls"] else "http"
        lines.append(f"{frontend['where']}  [{frontend['location']}]")
        lines.append(
            f"  serves {scheme}://{hosts}{frontend['path']} · auth: "
            f"{', '.join(frontend['auth']) or 'none'} · affinity: {frontend['affinity'] or 'none'}"
            f" · forwards Host: {_yes_no(frontend['forwards_host'])}"
        )
        lines.extend(_findings_line(frontend, "  "))
        if not frontend["backends"]:
            lines.append("  → no server process found for this target in the scanned files")
        for backend in frontend["backends"]:
            link = (
                f"      linked by: {backend['evidence']} ({backend['confidence']} confidence)"
                + (f"; {backend['replicas']} replicas" if (backend["replicas"] or 1) > 1 else "")
            )
            lines.extend(_server_lines(backend["server"], "  → ", link))
        lines.append("")
    if data["unproxied_servers"]:
        lines.append("Servers no scanned proxy reaches:")
        for server in data["unproxied_servers"]:
            lines.extend(_server_lines(server, "  • "))
    if not lines:
        lines.append("No proxy routes and no server processes found.")
    shown = [printable_line(line) for line in lines]
    if width is not None:
        shown = [part for line in shown for part in _wrapped(line, width)]
    return "\n".join(shown).rstrip("\n") + "\n"


def _wrapped(line: str, width: int) -> list[str]:
    """``line`` cut at spaces to ``width``, continuation lines four columns deeper than
    its own indentation."""
    import textwrap

    if len(line) <= width:
        return [line]
    indent = " " * (len(line) - len(line.lstrip(" ")))
    return textwrap.wrap(
        line.lstrip(" "),
        width,
        initial_indent=indent,
        subsequent_indent=indent + "    ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _findings_line(part: dict[str, Any], indent: str) -> list[str]:
    """``findings: SA101 SA601 · related: SA401`` for a part holding any."""
    found = [" ".join(part["findings"])] if part["findings"] else []
    if part["related_findings"]:
        found.append("related: " + " ".join(part["related_findings"]))
    return [f"{indent}findings: {' · '.join(found)}"] if found else []


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _server_lines(server: dict[str, Any], bullet: str, link: str | None = None) -> list[str]:
    origins = server["origins"]
    lines = [f"{bullet}{server['tool']} ({server['context']}) [{server['where']}]"]
    listens = ", ".join(server["listens"]) or "?"
    detail = f"      listens: {listens} port {', '.join(server['ports']) or '?'}"
    if origins["source"]:
        entries = ", ".join(f"`{e}`" for e in origins["entries"]) or "`localhost:<port>` (default)"
        detail += f" · origins ({origins['source']}): {entries}"
    if server["ping"]:
        detail += f" · pings: {server['ping']}"
    lines.append(detail)
    if link is not None:
        lines.append(link)
    lines.extend(_findings_line(server, "      "))
    if server["runs_in"] is not None:
        lines.append(f"      runs in: {server['runs_in']['unit']} [{server['runs_in']['where']}]")
        lines.extend(_findings_line(server["runs_in"], "        "))
    for port in server["published"]:
        lines.append(f"      {port['port']} [{port['where']}]")
        lines.extend(_findings_line(port, "        "))
    return lines


# -- Mermaid -------------------------------------------------------------------------------

# A picture past this many nodes is unreadable (and GitHub refuses very large diagrams):
# the rest is counted in one node.
MAX_NODES = 60
_LABEL_LIMIT = 80
_ENTRY = "entry"
# How far a node's extent is followed into the fact records that were read from inside
# it (a bound on hostile files with thousands of entries in one service).
_WALK_LIMIT = 20_000


class Extent(Struct, frozen=True):
    """The lines of one file a node of the picture stands for: a whole nginx location
    block, a compose service's mapping, the labels of a Traefik router. ``lines`` are
    inclusive ranges."""

    path: str
    lines: tuple[tuple[int, int], ...]

    @property
    def size(self) -> int:
        return sum(end - start + 1 for start, end in self.lines)


class _Node(Struct):
    key: object
    title: str
    span: Span | None
    extents: list[Extent]
    # Codes of the findings whose primary location, or one of whose related
    # locations, lies in this node (and in no node nested deeper inside it).
    codes: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)


class _Picture:
    """Nodes (in the order they are met) and edges of the stack picture, before any is
    written: ids are generated, never taken from the scanned files."""

    def __init__(self) -> None:
        self.nodes: dict[object, _Node] = {}
        self.edges: dict[tuple[object, object], None] = {}

    def node(
        self, key: object, title: str, span: Span | None, extents: Sequence[Extent] = ()
    ) -> object:
        if key not in self.nodes:
            own = [Extent(span.path, ((span.line, span.end_line),))] if span else []
            self.nodes[key] = _Node(key, title, span, [*extents] or own)
        return key

    def edge(self, source: object, target: object) -> None:
        self.edges[source, target] = None


def render_graph_mermaid(
    stack: Stack, diagnostics: Sequence[Diagnostic] = (), max_nodes: int = MAX_NODES
) -> str:
    """The stack as a Mermaid ``flowchart LR``: the outside world, proxy routes, the
    compose services and Kubernetes workloads that run the servers, the server
    processes, and the ports compose publishes; a node holding a finding's primary
    location is marked with its code, one holding a related location lists it as
    related."""
    picture = stack_picture(stack, diagnostics)
    nodes = list(picture.nodes.values())
    shown, hidden = nodes[:max_nodes], len(nodes) - max_nodes
    ids = {node.key: f"n{index}" for index, node in enumerate(shown)}
    lines = ["flowchart LR"]
    for node in shown:
        lines.append(f'  {ids[node.key]}["{_mermaid_label(node)}"]')
    if hidden > 0:
        lines.append(f'  more["{hidden} more not shown"]')
    for source, target in picture.edges:
        if source in ids and target in ids:
            lines.append(f"  {ids[source]} --> {ids[target]}")
    marked = [ids[node.key] for node in shown if node.codes]
    if marked:
        lines.append("  classDef finding fill:#fde2e1,stroke:#c62828,stroke-width:2px")
        lines.append(f"  class {','.join(marked)} finding")
    related = [ids[node.key] for node in shown if node.related and not node.codes]
    if related:
        lines.append("  classDef related stroke:#c62828,stroke-width:2px,stroke-dasharray:4")
        lines.append(f"  class {','.join(related)} related")
    return "\n".join(lines) + "\n"


def stack_diagram(stack: Stack, diagnostics: Sequence[Diagnostic] = ()) -> str | None:
    """The Mermaid picture for the job summary, None when the files hold no proxy
    route and no server process."""
    if not stack.links.frontends and not stack.serve_commands:
        return None
    return render_graph_mermaid(stack, diagnostics)


def stack_picture(stack: Stack, diagnostics: Sequence[Diagnostic] = ()) -> _Picture:
    """The nodes and edges of the stack, findings marked."""
    picture = _Picture()
    extents = _Extents(stack)
    entry = picture.node(_ENTRY, "internet / host", None)
    for frontend in stack.links.frontends:
        route = picture.node(
            _route_key(frontend),
            f"{frontend.kind}: {frontend.where}",
            frontend.span,
            extents.of_frontend(frontend),
        )
        picture.edge(entry, route)
        for backend in frontend.backends:
            picture.edge(route, _server_and_unit(picture, stack, extents, backend.command))
    for command in stack.serve_commands:
        _server_and_unit(picture, stack, extents, command)
        exposure = stack.deploy.exposure(command)
        if exposure is None:
            continue
        unit = _unit(picture, stack, extents, command)
        for port in exposure.ports:
            key = picture.node(_port_key(port), _port_title(port), port.span)
            picture.edge(entry, key)
            if unit is not None:
                picture.edge(key, unit)
    if not any(source == _ENTRY for source, _ in picture.edges):
        del picture.nodes[_ENTRY]  # nothing is reached from outside
    _mark_findings(picture, diagnostics)
    return picture


def _route_key(frontend: Frontend) -> object:
    return ("route", frontend.span)


def _server_key(command: ServeCommand) -> object:
    return ("server", command.span, command.label)


def _port_key(port: PortMapping) -> object:
    return ("port", port.span)


def _port_title(port: PortMapping) -> str:
    published = f"{port.host_ip + ':' if port.host_ip else ''}{port.published or '?'}"
    return f"published {published} to {port.target}"


def _server_and_unit(
    picture: _Picture, stack: Stack, extents: _Extents, command: ServeCommand
) -> object:
    """Add the server process of ``command`` and the compose service or Kubernetes
    workload that runs it; return the node a route leads to (the unit when known)."""
    unit = _unit(picture, stack, extents, command)
    ports = ", ".join(command.listen_ports())
    server = picture.node(
        _server_key(command),
        f"{command.label}{' :' + ports if ports else ''}",
        command.span,
    )
    if unit is None:
        return server
    picture.edge(unit, server)
    return unit


def _unit_key(stack: Stack, command: ServeCommand) -> tuple[object, str, Span] | None:
    """The key, title and place of the compose service or Kubernetes workload node
    that runs ``command``; None when no scanned file runs it in one."""
    service = stack.deploy.compose_service_for(command)
    if service is not None:
        title = f"compose service {service.name}"
        return ("unit", service.span, title), title, service.span
    workload = stack.deploy.workload_for(command)
    if workload is not None:
        return ("unit", workload.span, workload.label), workload.label, workload.span
    return None


def _unit(
    picture: _Picture, stack: Stack, extents: _Extents, command: ServeCommand
) -> object | None:
    """The node of the compose service or Kubernetes workload that runs ``command``
    (added on first use), None when no scanned file runs it in one."""
    unit = _unit_key(stack, command)
    if unit is None:
        return None
    key, title, span = unit
    if key in picture.nodes:
        return key
    service = stack.deploy.compose_service_for(command)
    if service is not None:
        return picture.node(key, title, span, extents.of_service(service))
    workload = stack.deploy.workload_for(command)
    return picture.node(key, title, span, extents.of_record(workload, span))


class _Extents:
    """Where each kind of node begins and ends, from what the extractors recorded:
    indexes over the scanned files, built once."""

    def __init__(self, stack: Stack) -> None:
        self._servers = _nginx_servers(stack)
        # The services as each compose file writes them: their order bounds each one
        # (a service's mapping ends where the next one begins).
        self._fragments: dict[tuple[str, str], ComposeService] = {}
        self._starts: dict[str, list[int]] = {}
        for file in stack.of(ComposeFile):
            for service in file.services:
                self._fragments[service.file, service.name] = service
                self._starts.setdefault(service.span.path, []).append(service.span.line)
        for starts in self._starts.values():
            starts.sort()
        self._routers: dict[Span, tuple[ComposeService, str]] = {
            router.span: (service, router.name)
            for service in stack.deploy.compose_services
            for router in service.traefik.routers
        }
        self._ingresses: dict[Span, K8sIngress] = {
            rule.span: ingress
            for ingress in stack.deploy.k8s_ingresses
            for rule in ingress.backends
        }

    def of_frontend(self, frontend: Frontend) -> list[Extent]:
        if frontend.route is not None:
            return self._of_location(frontend.route)
        if frontend.kind == "traefik" and frontend.span in self._routers:
            service, name = self._routers[frontend.span]
            return [_router_labels(service, name, frontend.span)]
        if frontend.kind == "ingress" and frontend.span in self._ingresses:
            # The rule's own line, and the Ingress as a whole: what is not in one of
            # its rules (its name, annotations, TLS) concerns each of them.
            ingress = self._ingresses[frontend.span]
            own = Extent(frontend.span.path, ((frontend.span.line, frontend.span.end_line),))
            return [own, *self.of_record(ingress, ingress.span)]
        return []

    def _of_location(self, route: ProxyRoute) -> list[Extent]:
        """The location block from its name to its closing brace, and the lines of the
        enclosing server block outside every location (its server-level directives,
        which apply to this location and are drawn nowhere else)."""
        span, block = route.span, route.block
        end = block.end_span.end_line if block is not None and block.end_span else span.end_line
        found = [Extent(span.path, ((span.line, end),))]
        servers = self._servers.get(span.path, [])
        # Server blocks do not nest: the last one beginning before the location is the
        # only one that can hold it.
        index = bisect.bisect_right(servers, span.line, key=lambda e: e.lines[0][0]) - 1
        if index >= 0 and servers[index].lines[-1][1] >= span.line:
            found.append(servers[index])
        return found

    def of_service(self, service: ComposeService) -> list[Extent]:
        """Each mapping the service is merged from (an override file's included)."""
        fragments = []
        for source in service.sources:
            _, file, name = source.split(":", 2) if source.count(":") >= 2 else ("", "", "")
            fragment = self._fragments.get((file, name))
            if fragment is not None:
                fragments.append(fragment)
        return [self._of_fragment(fragment) for fragment in fragments or [service]]

    def _of_fragment(self, service: ComposeService) -> Extent:
        """A service's mapping ends where the next service of its file begins; the
        last one's, at the last line recorded inside it (a trailing key no fact
        records, `restart:` say, is left out rather than a top-level key after the
        services taken in)."""
        span = service.span
        starts = self._starts.get(span.path, [])
        after = bisect.bisect_right(starts, span.line)
        if after < len(starts):
            return Extent(span.path, ((span.line, starts[after] - 1),))
        return self.of_record(service, span)[0]

    @staticmethod
    def of_record(record: object, span: Span) -> list[Extent]:
        """The lines from ``span`` to the last place recorded inside ``record`` in the
        same file (a Kubernetes workload's document, as far as it was read)."""
        last = span.end_line
        for inner in _spans_within(record):
            if inner.path == span.path:
                last = max(last, inner.end_line)
        return [Extent(span.path, ((span.line, last),))]


def _router_labels(service: ComposeService, name: str, span: Span) -> Extent:
    """The label lines that define the Traefik router ``name`` (Traefik reads label
    keys case-insensitively)."""
    prefix = f"traefik.http.routers.{name.lower()}."
    lines = sorted(
        {
            (label.span.line, label.span.end_line)
            for label in service.labels
            if label.key.lower().startswith(prefix) and label.span.path == span.path
        }
        | {(span.line, span.end_line)}
    )
    return Extent(span.path, tuple(lines))


def _nginx_servers(stack: Stack) -> dict[str, list[Extent]]:
    """Per nginx file, each ``server`` block as the lines outside its locations."""
    found: dict[str, list[Extent]] = {}
    for file in stack.of(NginxFile):
        pending = list(file.directives)
        visited = 0
        while pending and visited < _WALK_LIMIT:
            directive = pending.pop()
            visited += 1
            if directive.block is None:
                continue
            if directive.name == "server" and directive.end_span is not None:
                found.setdefault(file.path, []).append(_outside_locations(directive))
            else:
                pending.extend(directive.block)
    for servers in found.values():
        servers.sort(key=lambda extent: extent.lines[0][0])
    return found


def _outside_locations(server: NginxDirective) -> Extent:
    start, end = server.span.line, (server.end_span or server.span).end_line
    holes = sorted(
        (child.span.line, (child.end_span or child.span).end_line)
        for child in server.block or ()
        if child.name == "location"
    )
    lines: list[tuple[int, int]] = []
    for hole_start, hole_end in holes:
        if hole_start > start:
            lines.append((start, hole_start - 1))
        start = max(start, hole_end + 1)
    if start <= end:
        lines.append((start, end))
    return Extent(server.span.path, tuple(lines) or ((server.span.line, server.span.line),))


def _spans_within(record: object) -> Iterator[Span]:
    """Every Span held in a fact record, its nested records and tuples (bounded)."""
    pending = [record]
    visited = 0
    while pending and visited < _WALK_LIMIT:
        value = pending.pop()
        visited += 1
        if isinstance(value, Span):
            yield value
        elif isinstance(value, Struct):
            pending.extend(getattr(value, name) for name in value.__struct_fields__)
        elif isinstance(value, (tuple, list)):
            pending.extend(value)


def _mark_findings(picture: _Picture, diagnostics: Sequence[Diagnostic]) -> None:
    """Mark each finding's code on the deepest node holding its primary location, and
    as related on the deepest node holding each related location; a code is marked
    once per node, as primary when it is. The deepest node is the one whose extent
    holding the line is the smallest: a published port inside its compose service, a
    location inside its server.

    Nodes sharing an extent (the locations of one server share its server-level
    lines) are marked through it: codes gather on the extent first, then go to its
    nodes once, so a thousand findings about a server-level line cost a thousand
    steps, not a thousand times the number of its locations. The lines asked about are
    indexed per file once, and each extent is matched by bisection."""
    holders: dict[Extent, list[_Node]] = {}
    for node in picture.nodes.values():
        for extent in dict.fromkeys(node.extents):
            holders.setdefault(extent, []).append(node)
    asked: dict[str, set[int]] = {}
    for diagnostic in diagnostics:
        for span in (diagnostic.span, *(r.span for r in diagnostic.related)):
            asked.setdefault(span.path, set()).add(span.line)
    wanted = {path: sorted(lines) for path, lines in asked.items()}
    deepest: dict[tuple[str, int], tuple[int, list[Extent]]] = {}
    for extent in holders:
        lines = wanted.get(extent.path, [])
        for start, end in extent.lines:
            for line in lines[bisect.bisect_left(lines, start) : bisect.bisect_right(lines, end)]:
                held = deepest.get((extent.path, line))
                if held is None or extent.size < held[0]:
                    deepest[extent.path, line] = (extent.size, [extent])
                elif extent.size == held[0]:
                    held[1].append(extent)
    primary: dict[Extent, set[str]] = {}
    related: dict[Extent, set[str]] = {}
    for diagnostic in diagnostics:
        place = (diagnostic.span.path, diagnostic.span.line)
        for extent in deepest.get(place, (0, []))[1]:
            primary.setdefault(extent, set()).add(diagnostic.code)
        for other in diagnostic.related:
            for extent in deepest.get((other.span.path, other.span.line), (0, []))[1]:
                related.setdefault(extent, set()).add(diagnostic.code)
    for extent, nodes in holders.items():
        for node in nodes:
            node.codes.extend(primary.get(extent, ()))
            node.related.extend(related.get(extent, ()))
    for node in picture.nodes.values():
        node.codes = sorted(set(node.codes))
        node.related = sorted(set(node.related) - set(node.codes))


def _mermaid_label(node: _Node) -> str:
    from stackaudit.formatters.escape import mermaid_text

    parts = [node.title]
    if node.span is not None:
        parts.append(f"{node.span.path}:{node.span.line}")
    if node.codes:
        parts.append("findings: " + " ".join(node.codes))
    if node.related:
        parts.append("related: " + " ".join(node.related))
    shortened = [p if len(p) <= _LABEL_LIMIT else p[: _LABEL_LIMIT - 1] + "…" for p in parts]
    # `<br/>` is written by stackaudit, between parts that are each escaped.
    return "<br/>".join(mermaid_text(part) for part in shortened)
