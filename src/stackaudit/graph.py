"""``stackaudit graph``: the linked picture of a project, proxy routes to the server
processes behind them, with the evidence of every link, so a user can see why a
cross-file finding was made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackaudit.config import Config
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


def render_graph_text(stack: Stack) -> str:
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
    return "\n".join(printable_line(line) for line in lines).rstrip("\n") + "\n"


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
