"""``stackaudit graph``: the linked picture of a project, proxy routes to the server
processes behind them, with the evidence of every link, so a user can see why a
cross-file finding was made."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from stackaudit.config import Config
from stackaudit.diagnostics import Diagnostic, Span
from stackaudit.engine import extract_all
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.links import Backend, Frontend
from stackaudit.model.stack import Stack


def build_stack(paths: list[Path], root: Path, config: Config, jobs: int) -> Stack:
    from stackaudit.discovery import discover
    from stackaudit.extractors.python_link import link_python_facts

    candidates, _ = discover(
        [p.resolve() for p in paths],
        root,
        [*config.exclude, *config.extend_exclude],
        config.max_file_size,
    )
    facts = [fact for result in extract_all(candidates, jobs) for fact in result.facts]
    return Stack(link_python_facts(facts), config)


def _server(command: ServeCommand) -> dict[str, Any]:
    origins = command.effective_origins() if command.is_bokeh_family else []
    interval, _, ping = command.ping_interval()
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
    }


def _backend(backend: Backend) -> dict[str, Any]:
    return {
        "server": _server(backend.command),
        "evidence": backend.evidence,
        "confidence": backend.confidence.value,
        "replicas": backend.replicas,
    }


def _frontend(frontend: Frontend) -> dict[str, Any]:
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
        "backends": [_backend(b) for b in frontend.backends],
    }


def graph_dict(stack: Stack) -> dict[str, Any]:
    linked = {id(b.command) for f in stack.links.frontends for b in f.backends}
    return {
        "frontends": [_frontend(f) for f in stack.links.frontends],
        "unproxied_servers": [_server(c) for c in stack.serve_commands if id(c) not in linked],
    }


def render_graph_json(stack: Stack) -> str:
    from stackaudit.formatters.escape import json_text

    return json_text(graph_dict(stack))


def render_graph_text(stack: Stack, width: int | None = None) -> str:
    """The links as indented text; with ``width`` (the reader's terminal), long lines
    wrap under their own indentation, never inside a word (paths and locations stay
    whole, ready to copy)."""
    from stackaudit.formatters.escape import printable_line

    data = graph_dict(stack)
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
        if not frontend["backends"]:
            lines.append("  → no server process found for this target in the scanned files")
        for backend in frontend["backends"]:
            lines.extend(_server_lines(backend["server"], "  → "))
            lines.append(
                f"      linked by: {backend['evidence']} ({backend['confidence']} confidence)"
                + (f"; {backend['replicas']} replicas" if (backend["replicas"] or 1) > 1 else "")
            )
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


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _server_lines(server: dict[str, Any], bullet: str) -> list[str]:
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
    return lines


# -- Mermaid -------------------------------------------------------------------------------

# A picture past this many nodes is unreadable (and GitHub refuses very large diagrams):
# the rest is counted in one node.
MAX_NODES = 60
_LABEL_LIMIT = 80
_ENTRY = "entry"


class _Node(Struct):
    key: object
    title: str
    span: Span | None
    codes: list[str]


class _Picture:
    """Nodes (in the order they are met) and edges of the stack picture, before any is
    written: ids are generated, never taken from the scanned files."""

    def __init__(self) -> None:
        self.nodes: dict[object, _Node] = {}
        self.edges: dict[tuple[object, object], None] = {}

    def node(self, key: object, title: str, span: Span | None) -> object:
        if key not in self.nodes:
            self.nodes[key] = _Node(key, title, span, [])
        return key

    def edge(self, source: object, target: object) -> None:
        self.edges[source, target] = None


def render_graph_mermaid(
    stack: Stack, diagnostics: Sequence[Diagnostic] = (), max_nodes: int = MAX_NODES
) -> str:
    """The stack as a Mermaid ``flowchart LR``: the outside world, proxy routes, the
    compose services and Kubernetes workloads that run the servers, the server
    processes, and the ports compose publishes; a node where a finding's primary
    location lies is marked with its codes."""
    picture = _stack_picture(stack)
    _mark_findings(picture, diagnostics)
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
    return "\n".join(lines) + "\n"


def stack_diagram(stack: Stack, diagnostics: Sequence[Diagnostic] = ()) -> str | None:
    """The Mermaid picture for the job summary, None when the files hold no proxy
    route and no server process."""
    if not stack.links.frontends and not stack.serve_commands:
        return None
    return render_graph_mermaid(stack, diagnostics)


def _stack_picture(stack: Stack) -> _Picture:
    picture = _Picture()
    entry = picture.node(_ENTRY, "internet / host", None)
    for frontend in stack.links.frontends:
        route = picture.node(
            ("route", frontend.span), f"{frontend.kind}: {frontend.where}", frontend.span
        )
        picture.edge(entry, route)
        for backend in frontend.backends:
            picture.edge(route, _server_and_unit(picture, stack, backend.command))
    for command in stack.serve_commands:
        _server_and_unit(picture, stack, command)
        exposure = stack.deploy.exposure(command)
        if exposure is None:
            continue
        unit = _unit(picture, stack, command)
        for port in exposure.ports:
            published = f"{port.host_ip + ':' if port.host_ip else ''}{port.published or '?'}"
            key = picture.node(
                ("port", port.span), f"published {published} to {port.target}", port.span
            )
            picture.edge(entry, key)
            if unit is not None:
                picture.edge(key, unit)
    if not any(source == _ENTRY for source, _ in picture.edges):
        del picture.nodes[_ENTRY]  # nothing is reached from outside
    return picture


def _server_and_unit(picture: _Picture, stack: Stack, command: ServeCommand) -> object:
    """Add the server process of ``command`` and the compose service or Kubernetes
    workload that runs it; return the node a route leads to (the unit when known)."""
    unit = _unit(picture, stack, command)
    ports = ", ".join(command.listen_ports())
    server = picture.node(
        ("server", command.span, command.label),
        f"{command.label}{' :' + ports if ports else ''}",
        command.span,
    )
    if unit is None:
        return server
    picture.edge(unit, server)
    return unit


def _unit(picture: _Picture, stack: Stack, command: ServeCommand) -> object | None:
    """The node of the compose service or Kubernetes workload that runs ``command``
    (added on first use), None when no scanned file runs it in one."""
    service = stack.deploy.compose_service_for(command)
    if service is not None:
        title = f"compose service {service.name}"
        return picture.node(("unit", service.span, title), title, service.span)
    workload = stack.deploy.workload_for(command)
    if workload is not None:
        return picture.node(("unit", workload.span, workload.label), workload.label, workload.span)
    return None


def _mark_findings(picture: _Picture, diagnostics: Sequence[Diagnostic]) -> None:
    """Codes of the findings whose primary location lies on a node's span, indexed by
    (path, line) once."""
    by_line: dict[tuple[str, int], list[str]] = {}
    for diagnostic in diagnostics:
        by_line.setdefault((diagnostic.span.path, diagnostic.span.line), []).append(diagnostic.code)
    for node in picture.nodes.values():
        span = node.span
        if span is None:
            continue
        for line in range(span.line, min(span.end_line, span.line + 200) + 1):
            node.codes.extend(by_line.get((span.path, line), ()))
        node.codes = sorted(set(node.codes))


def _mermaid_label(node: _Node) -> str:
    from stackaudit.formatters.escape import mermaid_text

    parts = [node.title]
    if node.span is not None:
        parts.append(f"{node.span.path}:{node.span.line}")
    if node.codes:
        parts.append("findings: " + " ".join(node.codes))
    shortened = [p if len(p) <= _LABEL_LIMIT else p[: _LABEL_LIMIT - 1] + "…" for p in parts]
    # `<br/>` is written by stackaudit, between parts that are each escaped.
    return "<br/>".join(mermaid_text(part) for part in shortened)
