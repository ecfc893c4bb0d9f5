"""nginx ``server`` blocks as nginx uses them: which server answers a connection's TLS
handshake, what TLS it offers, whether it redirects plain HTTP before any location
runs, and which of its locations a request path selects.

- ``ssl_protocols`` and ``ssl_ciphers`` are server-level settings inherited from
  ``http`` (the innermost one written is in effect). The protocol list of a name-based
  server is chosen by OpenSSL before nginx selects the server by SNI, so the *default
  server* of the address and port decides it (nginx docs, "Server names": "protocols
  should be specified only for a default server"); from nginx 1.29.2 with OpenSSL
  1.1.1 or later it is applied after SNI, so each server's own list holds. Ciphers are
  always taken from the server SNI selects. The default server is the one whose
  ``listen`` says ``default_server``, else the first listing the address and port.
- The rewrite module's directives at server level run before a location is chosen:
  an unconditional ``return``, a ``rewrite`` to an ``https://``/``$scheme`` URL of
  every path, or an ``if`` on ``$scheme``/``$https``/``$server_port`` holding a
  ``return`` to ``https://`` answers plain requests there.
- Location selection (ngx_http_core_module ``location``): an exact ``=`` match wins;
  else the longest matching prefix, taken at once when it has ``^~``; else the first
  regular expression that matches, in the order written (those nested in the chosen
  prefix first); else the longest prefix.

References: https://nginx.org/en/docs/http/server_names.html,
https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_protocols,
https://nginx.org/en/docs/http/ngx_http_core_module.html#location,
https://nginx.org/en/docs/http/ngx_http_rewrite_module.html.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property

from stackaudit.diagnostics import Span
from stackaudit.facts.common import Word
from stackaudit.facts.nginx import (
    Listen,
    NginxModel,
    NginxNode,
    ProxyRoute,
    effective_scalar,
)
from stackaudit.facts.serve import is_loopback_address
from stackaudit.facts.tls import default_protocols
from stackaudit.model.nginx import listens

# Protocols set after SNI from this version on (with OpenSSL >= 1.1.1).
_PROTOCOLS_AFTER_SNI = (1, 29, 2)
_REDIRECT_CODES = frozenset({"301", "302", "303", "307", "308"})
_MATCH_EVERY_PATH = frozenset({"^", "^/", "^(.*)", "^(.*)$", "^/(.*)", "^/(.*)$", ".*", "(.*)"})
_SCHEME_TESTS = frozenset({"scheme", "https", "server_port"})
_MAX_NESTING = 8


class TlsSetting:
    """The value of ``ssl_protocols``/``ssl_ciphers`` in effect for a server: the words
    written (``written`` is where), or nginx's default (``written`` None)."""

    def __init__(self, words: tuple[str, ...] | None, written: NginxNode | None) -> None:
        self.words = words
        self.written = written

    @property
    def span(self) -> Span | None:
        return self.written.span if self.written is not None else None

    @property
    def text(self) -> str:
        return " ".join(self.words or ())

    @property
    def symbolic(self) -> bool:
        return self.written is not None and any(a.symbolic for a in self.written.args)


class NginxServer:
    """One ``server`` block where it takes effect (a file included twice gives two)."""

    def __init__(
        self, node: NginxNode, listens: tuple[Listen, ...], version: tuple[int, ...] | None
    ):
        self.node = node
        self.listens = listens
        self.version = version
        self.default_for: NginxServer | None = None  # set by the index

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(word.text for word in self.node.own_args("server_name"))

    @property
    def span(self) -> Span:
        assert self.node.span is not None
        return self.node.span

    @property
    def label(self) -> str:
        return self.node.label

    @property
    def tls_listens(self) -> tuple[Listen, ...]:
        return tuple(listen for listen in self.listens if listen.ssl)

    @property
    def plain_listens(self) -> tuple[Listen, ...]:
        return tuple(listen for listen in self.listens if not listen.ssl)

    @property
    def public(self) -> bool:
        """Listening beyond loopback (an address not known here counts as public)."""
        return any(
            not listen.address.startswith("unix:")
            and (listen.address in ("*", "") or not is_loopback_address(listen.address))
            for listen in self.listens
        )

    # -- TLS ------------------------------------------------------------------------------

    def own_protocols(self) -> TlsSetting:
        found = effective_scalar(self.node, "ssl_protocols")
        if found is not None and found.args:
            return TlsSetting(tuple(a.text for a in found.args), found)
        return TlsSetting(default_protocols(self.version), None)

    def protocols_server(self) -> NginxServer:
        """The server whose ``ssl_protocols`` the handshake uses: this one from nginx
        1.29.2, else the default server of its TLS address (see the module's notes)."""
        if self.version is not None and self.version >= _PROTOCOLS_AFTER_SNI:
            return self
        return self.default_for or self

    def protocols(self) -> TlsSetting:
        return self.protocols_server().own_protocols()

    def ciphers(self) -> TlsSetting:
        found = effective_scalar(self.node, "ssl_ciphers")
        if found is not None and found.args:
            return TlsSetting((found.args[0].text,), found)
        return TlsSetting(("HIGH:!aNULL:!MD5",), None)

    # -- plain HTTP --------------------------------------------------------------------

    @cached_property
    def redirects_plain_http(self) -> bool:
        """Whether the server answers a plain-HTTP request before any location runs:
        an unconditional ``return``, a ``rewrite`` of every path to an absolute URL, or
        a test of the scheme holding a redirect to ``https://``."""
        for child in self.node.children:
            if child.name == "return":
                return True
            if child.name == "rewrite" and _rewrites_every_path_away(child.args):
                return True
            if (
                child.name == "if"
                and _tests_scheme(child.args)
                and any(_redirects_to_https(inner) for inner in child.own("return"))
            ):
                return True
        return False

    @property
    def opaque(self) -> bool:
        """An include at server level that is not scanned: locations may hide there."""
        return bool(self.node.opaque_includes)

    # -- locations ---------------------------------------------------------------------

    def location_for(self, path: str) -> NginxNode | None:
        """The location a request for ``path`` is handled in; None when no location
        matches or the choice cannot be made here (a pattern Python cannot read)."""
        return _select(self.node, path, 0)


def _rewrites_every_path_away(args: tuple[Word, ...]) -> bool:
    if len(args) < 2:
        return False
    target = args[1].text
    absolute = target.startswith(("http://", "https://", "$scheme"))
    return args[0].text in _MATCH_EVERY_PATH and absolute


def _tests_scheme(args: tuple[Word, ...]) -> bool:
    return bool(args) and args[0].text.lstrip("$").strip("{}").lower() in _SCHEME_TESTS


def _redirects_to_https(node: NginxNode) -> bool:
    args = [a.text for a in node.args]
    if len(args) == 1:
        return args[0].startswith("https://")
    return len(args) >= 2 and args[0] in _REDIRECT_CODES and args[1].startswith("https://")


def _location_parts(node: NginxNode) -> tuple[str, str] | None:
    args = [a.text for a in node.args]
    if not args:
        return None
    if len(args) >= 2 and args[0] in ("=", "^~", "~", "~*"):
        return args[0], args[1]
    for modifier in ("=", "^~", "~*", "~"):
        if args[0].startswith(modifier) and len(args[0]) > len(modifier):
            return modifier, args[0][len(modifier) :]
    if args[0].startswith("@"):
        return None
    return "", args[0]


def _select(level: NginxNode, path: str, depth: int) -> NginxNode | None:
    locations = [(node, _location_parts(node)) for node in level.own("location")]
    best: tuple[NginxNode, str] | None = None
    for node, parts in locations:
        if parts is None:
            continue
        modifier, text = parts
        if modifier == "=" and text == path:
            return node
        longer = best is None or len(text) > len(best[1])
        if modifier in ("", "^~") and path.startswith(text) and longer:
            best = (node, text)
    if best is not None and depth < _MAX_NESTING:
        inner = _select(best[0], path, depth + 1) if best[0].own("location") else None
        if inner is not None and inner is not best[0]:
            return inner
    if best is not None and _location_parts(best[0]) == ("^~", best[1]):
        return best[0]
    for node, parts in locations:
        if parts is None or parts[0] not in ("~", "~*"):
            continue
        try:
            pattern = re.compile(parts[1], re.IGNORECASE if parts[0] == "~*" else 0)
            matched = pattern.search(path) is not None
        except (re.error, RecursionError, OverflowError):
            return None
        if matched:
            return node
    return best[0] if best is not None else None


def _is_default(server: NginxNode, listen: Listen) -> bool:
    for node in server.own("listen"):
        if node.span == listen.span:
            return any(a.text in ("default_server", "default") for a in node.args[1:])
    return False


class NginxServers:
    """Every server of the resolved configurations, with the default server of each
    address, and the server of each proxying location."""

    def __init__(self, model: NginxModel) -> None:
        self.servers: list[NginxServer] = []
        self._by_location: dict[tuple[int, Span], tuple[NginxServer, NginxNode]] = {}
        for root in model.roots:
            defaults: dict[tuple[str, str], NginxServer] = {}
            first: dict[tuple[str, str], NginxServer] = {}
            in_root: list[NginxServer] = []
            for node in root.walk():
                if node.name != "server" or node.directive is None:
                    continue
                if node.parent is None or node.parent.name not in ("http", "main"):
                    continue  # an upstream's `server` line
                if node.directive.block is None:
                    continue
                server = NginxServer(node, listens(node), model.version)
                in_root.append(server)
                for listen in server.tls_listens:
                    key = (listen.address, listen.port)
                    first.setdefault(key, server)
                    if _is_default(node, listen):
                        defaults.setdefault(key, server)
                for location in node.walk():
                    if location.name == "location" and location.span is not None:
                        self._by_location[(id(root), location.span)] = (server, location)
            for server in in_root:
                for listen in server.tls_listens:
                    key = (listen.address, listen.port)
                    server.default_for = defaults.get(key) or first.get(key)
                    break
            self.servers.extend(in_root)

    def __iter__(self) -> Iterator[NginxServer]:
        return iter(self.servers)

    def server_of(self, route: ProxyRoute) -> NginxServer | None:
        found = self._by_location.get((route.root_id, route.span))
        return found[0] if found is not None else None

    def location_of(self, route: ProxyRoute) -> NginxNode | None:
        found = self._by_location.get((route.root_id, route.span))
        return found[1] if found is not None else None

    @cached_property
    def tls_hosts(self) -> frozenset[str]:
        """Host names some server serves over TLS."""
        return frozenset(
            name.lower() for server in self.servers if server.tls_listens for name in server.names
        )


def location_answers_first(location: NginxNode) -> bool:
    """A location whose own ``return`` runs (rewrite phase) before its ``proxy_pass``
    (content phase) can send anything, or that ``internal`` keeps from clients."""
    return bool(location.own("return")) or bool(location.own("internal"))
