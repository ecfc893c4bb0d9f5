"""Bokeh's WebSocket origin allowlist, reproduced from bokeh/server/util.py.

``create_hosts_allowlist`` turns the ``--allow-websocket-origin`` values into patterns
(no port means ``:80``; only a bare ``*`` stays as is; more than one ``:``, an empty
host or a port ``int()`` refuses, ``*`` included, raise at startup) and ``match_host``
compares an origin's host and port label by label, ``*`` matching any one label or any
port."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from msgspec import Struct


class ServedHosts(Protocol):
    """What a proxy route says about where browsers reach it (``links.Frontend``)."""

    @property
    def public_hosts(self) -> tuple[str, ...]: ...

    @property
    def port(self) -> int | None: ...

    @property
    def tls(self) -> bool: ...


class OriginProblem(Struct, frozen=True):
    """Why an allowlist entry can never match, or stops the server from starting."""

    reason: str
    crashes: bool


def origin_problem(entry: str, *, from_env: bool) -> OriginProblem | None:
    """Check one allowlist entry the way Bokeh reads it.

    CLI/kwarg entries go through ``create_hosts_allowlist`` (its ``ValueError`` stops the
    server) and are then compared with ``match_host``; entries of
    ``BOKEH_ALLOW_WS_ORIGIN`` are used as raw patterns by the WebSocket handler, so a bad
    one silently matches nothing."""
    if not from_env:
        error = cli_origin_error(entry)
        if error is not None:
            return OriginProblem(_crash_reason(entry) + f" (`ValueError: {error}`)", True)
    elif entry == "":
        return OriginProblem("an empty entry admits no origin", crashes=False)
    elif "://" in entry:
        return OriginProblem(
            "an origin is `host[:port]`, not a URL: with the scheme this entry matches nothing",
            crashes=False,
        )
    reason = _never_matches(entry, from_env=from_env)
    return OriginProblem(reason, crashes=False) if reason else None


def cli_origin_error(entry: str) -> str | None:
    """The ``ValueError`` message ``create_hosts_allowlist`` raises for a command-line
    or keyword entry (Bokeh then refuses to start), or None.

    Only the bare ``*`` escapes validation; the port part is read with ``int()``, so
    ``*:*`` and ``host:*`` stop the server although ``BOKEH_ALLOW_WS_ORIGIN`` accepts
    them."""
    if entry == "*":
        return None
    parts = entry.split(":")
    if len(parts) == 1:
        return "Empty host value" if entry == "" else None
    if len(parts) > 2:
        return f"Invalid host value: {entry}"
    try:
        int(parts[1])
    except ValueError:
        return f"Invalid port in host value: {entry}"
    return "Empty host value" if parts[0] == "" else None


def _crash_reason(entry: str) -> str:
    if entry == "":
        return "an empty value stops Bokeh at startup"
    if "://" in entry:
        return "an origin is `host[:port]`, not a URL: the scheme stops Bokeh at startup"
    parts = entry.split(":")
    if len(parts) > 2:
        return "more than one `:` stops Bokeh at startup (URLs and IPv6 literals are refused)"
    if parts[1] == "*":
        return (
            "a `*` port is accepted only in BOKEH_ALLOW_WS_ORIGIN; on the command line it "
            "stops Bokeh at startup"
        )
    if parts[0] == "":
        return "an empty host stops Bokeh at startup"
    return f"port `{parts[1]}` is not an integer: Bokeh stops at startup"


# Characters of unexpanded templates and quoting (`${HOST}`, `%(host)s`, `{{ host }}`,
# `"host"`), never part of a host name.
_TEMPLATE_CHARACTERS = frozenset("$%{}()`'\"<>")


def _never_matches(entry: str, *, from_env: bool) -> str | None:
    """Why a pattern that passed validation can match no browser Origin."""
    if any(char.isspace() for char in entry):
        if from_env:
            return (
                "BOKEH_ALLOW_WS_ORIGIN is split on `,` without trimming: the space becomes "
                "part of the host, so this entry matches nothing"
            )
        return "whitespace inside the value: this entry matches nothing"
    if "," in entry:
        return (
            "a comma does not separate values of --allow-websocket-origin: this is one "
            "host that matches nothing; repeat the flag for each host"
        )
    if "/" in entry:
        return "a path cannot appear in an origin: this entry matches nothing"
    host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
    if from_env and ":" in host:
        return "more than one `:`: this entry matches nothing"
    if ":" in entry and port == "":
        return "empty port: this entry matches nothing"
    if port and port != "*" and not (port.isascii() and port.isdigit() and str(int(port)) == port):
        try:
            number = int(port)
        except ValueError:
            return f"port `{port}` is not an integer: this entry matches nothing"
        return (
            f"port `{port}` is compared as text with the Origin's port (`{number}`): "
            "this entry matches nothing"
        )
    if host == "" and entry != "*":
        return "empty host: this entry matches nothing"
    template = next((char for char in host if char in _TEMPLATE_CHARACTERS), None)
    if template is not None:
        return (
            f"`{template}` cannot appear in the host of a browser's Origin: the entry is "
            "compared as written (no shell or Compose expands it here), so it matches nothing"
        )
    if host != host.lower():
        return (
            "Bokeh lower-cases the browser's Origin but not the allowlist: with upper-case "
            "letters this entry matches nothing"
        )
    if host == "0.0.0.0":
        return "0.0.0.0 is a bind address, not a host a browser sends as its Origin"
    if port == "443":
        # Browsers leave the scheme's default port out of Origin, and check_allowlist
        # reads a host without a port as port 80 (bokeh/server/util.py:96-97).
        return (
            "browsers send `https://host` without `:443`, and Bokeh compares such an origin "
            "as port 80: this entry matches no page on the default HTTPS port; write the "
            "host without a port"
        )
    return None


def admits_every_host(entry: str) -> bool:
    """True for ``*``, ``*:*`` and ``*:<port>``: a host part of ``*`` matches any host."""
    host = entry.rsplit(":", 1)[0] if ":" in entry else entry
    return host.strip() == "*"


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


def frontend_origins(frontends: Iterable[ServedHosts]) -> list[str]:
    """The page origins (``https://dash.example.com``) browsers use through these proxy
    routes: their public hosts with the scheme and, when not the default, the port."""
    found = [
        f"{'https' if f.tls else 'http'}://{browser_origin_host(host, f.port, f.tls)}"
        for f in frontends
        for host in f.public_hosts
    ]
    return list(dict.fromkeys(found))


def configured_origins(hosts: Iterable[str]) -> list[str]:
    """`public-hosts` from the configuration as origins (https unless a scheme is given)."""
    return list(dict.fromkeys(h if "://" in h else f"https://{h}" for h in hosts))


def origin_pattern(origins: list[str]) -> str:
    """An anchored regular expression that matches exactly ``origins``
    (``https://dash.example.com``), for suggestions; a placeholder when none is known."""
    if not origins:
        return r"^https://app\.example\.com$"
    escaped = [origin.replace(".", r"\.") for origin in origins]
    return f"^{escaped[0]}$" if len(escaped) == 1 else f"^({'|'.join(escaped)})$"


def browser_origin_host(host: str, port: int | None, tls: bool) -> str:
    """The ``host[:port]`` a browser puts in its Origin header for a page served at
    ``host`` on ``port``: the default port of the scheme (80 for http, 443 for https) is
    left out."""
    default = 443 if tls else 80
    return host.lower() if port in (None, default) else f"{host.lower()}:{port}"


def bokeh_admits(origin_host: str, patterns: list[str]) -> bool:
    """Bokeh's WebSocket decision (bokeh/server/util.py ``check_allowlist``): a host
    without a port is taken as port 80, then compared with each stored pattern."""
    host = origin_host if ":" in origin_host else origin_host + ":80"
    return host in patterns or any(match_host(host, pattern) for pattern in patterns)


def stored_patterns(entries: list[tuple[str, bool]], port: str) -> list[str]:
    """The patterns Bokeh compares with: ``BOKEH_ALLOW_WS_ORIGIN`` entries as written,
    command-line entries through ``create_hosts_allowlist`` (no port → ``:80``), and
    ``localhost:<port>`` when neither is given. ``entries`` holds (text, from_env)."""
    if not entries:
        return [f"localhost:{port}"]
    return [text if from_env else normalize_cli_origin(text) for text, from_env in entries]
