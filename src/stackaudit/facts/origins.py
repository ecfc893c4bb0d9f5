"""Bokeh's WebSocket origin allowlist, reproduced from bokeh/server/util.py.

``create_hosts_allowlist`` turns the ``--allow-websocket-origin`` values into patterns
(no port means ``:80``; ``*`` stays as is; more than one ``:``, an empty host or a
non-integer port raise at startup) and ``match_host`` compares an origin's host and port
label by label, ``*`` matching any one label or any port."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OriginProblem:
    """Why an allowlist entry can never match, or stops the server from starting."""

    reason: str
    crashes: bool


def origin_problem(entry: str, *, from_env: bool) -> OriginProblem | None:
    """Check one allowlist entry the way Bokeh reads it.

    CLI/kwarg entries go through ``create_hosts_allowlist`` (errors stop the server);
    entries of ``BOKEH_ALLOW_WS_ORIGIN`` are used as raw patterns by the WebSocket
    handler, so a bad one silently matches nothing."""
    if entry == "":
        return OriginProblem("empty value", crashes=not from_env)
    if "://" in entry:
        return OriginProblem(
            "an origin is `host[:port]`, not a URL: the scheme makes "
            + (
                'Bokeh refuse to start ("Invalid port in host value")'
                if not from_env
                else "the entry match nothing"
            ),
            crashes=not from_env,
        )
    if from_env and entry != entry.strip():
        return OriginProblem(
            "BOKEH_ALLOW_WS_ORIGIN is split on `,` without trimming: the space becomes "
            "part of the host, so this entry matches nothing",
            crashes=False,
        )
    if "/" in entry:
        return OriginProblem("a path cannot appear in an origin", crashes=False)
    if "," in entry and not from_env:
        return OriginProblem(
            "a comma does not separate values of --allow-websocket-origin: this is one "
            "host that matches nothing; repeat the flag for each host",
            crashes=False,
        )
    parts = entry.split(":")
    if len(parts) > 2:
        return OriginProblem(
            "more than one `:` (IPv6 literals and URLs are not accepted)", crashes=not from_env
        )
    host = parts[0]
    if host == "":
        return OriginProblem("empty host", crashes=not from_env)
    if len(parts) == 2 and parts[1] != "*" and not parts[1].isdigit():
        return OriginProblem(f"port `{parts[1]}` is not an integer", crashes=not from_env)
    if host == "0.0.0.0":
        return OriginProblem(
            "0.0.0.0 is a bind address, not a host a browser sends as its Origin",
            crashes=False,
        )
    return None


def admits_every_host(entry: str) -> bool:
    """True for ``*``, ``*:*`` and ``*:<port>``: a host part of ``*`` matches any host."""
    host = entry.rsplit(":", 1)[0] if ":" in entry else entry
    return host.strip() == "*"


def split_env_origins(value: str) -> list[str]:
    """``BOKEH_ALLOW_WS_ORIGIN`` as bokeh/settings.py reads it: split on ``,``, no trim."""
    return value.split(",")


def normalize_cli_origin(entry: str) -> str:
    """The pattern Bokeh stores for a CLI/kwarg entry: no port means port 80."""
    if entry == "*" or ":" in entry:
        return entry
    return entry + ":80"


def match_host(host: str, pattern: str) -> bool:
    """Bokeh >= 3.8.2 ``match_host``: same number of labels, each equal or ``*``."""
    host_port: str | None = None
    if ":" in host:
        host, host_port = host.rsplit(":", 1)
    pattern_port: str | None = None
    if ":" in pattern:
        pattern, pattern_port = pattern.rsplit(":", 1)
    if pattern_port == "*":
        pattern_port = None
    if pattern_port is not None and host_port != pattern_port:
        return False
    if pattern == "*":
        return True
    host_parts = host.split(".")
    pattern_parts = pattern.split(".")
    if len(pattern_parts) != len(host_parts):
        return False
    return all(p in (h, "*") for h, p in zip(host_parts, pattern_parts, strict=True))
