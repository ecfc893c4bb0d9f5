"""nginx, as each file says it, and the records the resolved configuration yields.

The extractor gives one ``NginxFile`` per file: its directive tree, every ``include``
unresolved. ``stackaudit.model.nginx`` follows the includes, builds the tree
(``NginxNode``: http → server → location → if, with parents, answering *effective
value* questions the way nginx merges levels) and derives the records defined here:
``ProxyRoute`` (one per proxying location), ``Upstream``, ``NginxMap``, ``HeaderLoss``
and ``CorsPolicy`` (kind ``"nginx"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Literal

import msgspec
import msgspec.structs

from stackaudit.diagnostics import Confidence, Edit, Span
from stackaudit.facts.common import ParseProblem, Word
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.durations import parse_duration

# A word nginx or a template engine fills in at run time: an nginx variable ($x, ${x}),
# an envsubst ${VAR}, a %PLACEHOLDER% (Hestia, Plesk...) or a Jinja/Go {{ expr }}.
_SYMBOLIC = re.compile(r"\$(?:[A-Za-z_0-9]|\{)|%[A-Za-z_][A-Za-z0-9_]*%|\{\{")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def is_symbolic(text: str) -> bool:
    return _SYMBOLIC.search(text) is not None


def variables_in(text: str) -> list[str]:
    """nginx variable names used in ``text``, lower-cased (nginx variable names are
    case-insensitive)."""
    return [(m.group(1) or m.group(2)).lower() for m in _VARIABLE.finditer(text)]


# -- one file ---------------------------------------------------------------------------


class NginxDirective(msgspec.Struct, frozen=True):
    """One directive as written: its name, arguments (quotes removed) and, for a block,
    the directives inside. ``span`` runs from the name to the ``;`` or ``{``."""

    name: str
    args: tuple[Word, ...]
    span: Span
    name_span: Span
    block: tuple[NginxDirective, ...] | None = None
    end_span: Span | None = None
    # The blanks before the directive when it begins its line (None when something
    # precedes it there): directives written beside it by a fix copy them.
    indent: str | None = None

    def arg(self, index: int) -> str:
        return self.args[index].text if index < len(self.args) else ""

    def child_at(self, span: Span) -> NginxDirective | None:
        """The directive written directly in this block at ``span``."""
        return next((c for c in self.block or () if c.span == span), None)

    @property
    def inner_indent(self) -> str:
        """The indentation of the directives inside this block: that of its first child
        written on a line of its own, else one level deeper than the block itself."""
        for child in self.block or ():
            if child.indent is not None:
                return child.indent
        outer = self.indent or ""
        return outer + ("\t" if outer.startswith("\t") else _INDENT_UNIT)

    def insert(
        self, lines: Sequence[str], *, after: Span | None = None, before: Span | None = None
    ) -> Edit | None:
        """An edit writing ``lines`` (directives; a line's leading groups of four spaces
        nest it one level deeper) into this block: on the lines after the child at
        ``after``, or before the child at ``before``, else at the end of the block. New
        lines take the indentation of their siblings; in a block written on one line the
        directives go inline before ``}``. None when the block is not closed."""
        if self.block is None or self.end_span is None:
            return None
        path, end = self.span.path, self.end_span
        if before is not None:
            child = self.child_at(before)
            if child is not None and child.indent is not None:
                line = child.span.line
                return Edit(Span(path, line, 1, line, 1), self._lines(lines))
        if after is not None:
            child = self.child_at(after)
            if child is not None:
                line = _last_line(child)
                following = self.block[self.block.index(child) + 1 :]
                if end.line != line and all(c.span.line != line for c in following):
                    return Edit(Span(path, line + 1, 1, line + 1, 1), self._lines(lines))
        last = max((_last_line(c) for c in self.block), default=self.span.end_line)
        if end.line > last:
            return Edit(Span(path, end.line, 1, end.line, 1), self._lines(lines))
        inline = "".join(line.strip() + " " for line in lines if line.strip())
        return Edit(Span(path, end.line, end.column, end.line, end.column), inline)

    def insert_before(self, lines: Sequence[str]) -> Edit | None:
        """An edit writing ``lines`` on the lines just before this directive, at its
        indentation (a ``map`` before the first ``server``). None when something precedes
        the directive on its line."""
        if self.indent is None:
            return None
        line = self.span.line
        return Edit(
            Span(self.span.path, line, 1, line, 1), _indented(lines, self.indent, self.unit)
        )

    @property
    def unit(self) -> str:
        """One level of indentation as this block's children are written."""
        inner, outer = self.inner_indent, self.indent or ""
        if inner.startswith(outer) and len(inner) > len(outer):
            return inner[len(outer) :]
        return "\t" if "\t" in inner else _INDENT_UNIT

    def _lines(self, lines: Sequence[str]) -> str:
        return _indented(lines, self.inner_indent, self.unit)


_INDENT_UNIT = "    "


def _indented(lines: Sequence[str], indent: str, unit: str) -> str:
    out = []
    for line in lines:
        text = line.lstrip(" ")
        depth = (len(line) - len(text)) // len(_INDENT_UNIT)
        out.append(indent + unit * depth + text + "\n" if text else "\n")
    return "".join(out)


def _last_line(directive: NginxDirective) -> int:
    return (directive.end_span or directive.span).end_line


def quote_arg(text: str) -> str | None:
    """``text`` written as one nginx argument (quoted when it must be), or None when
    it cannot be written without escapes."""
    if text and not re.search(r"[\s;{}\"'#\\]", text):
        return text
    if "\\" in text or ('"' in text and "'" in text):
        return None
    quote = "'" if '"' in text else '"'
    return quote + text + quote


class NginxFile(msgspec.Struct, frozen=True):
    """One nginx file of the scanned tree, includes unresolved."""

    path: str
    directives: tuple[NginxDirective, ...]
    template: bool = False

    @property
    def is_main(self) -> bool:
        return any(d.name in _MAIN_ONLY for d in self.directives)


_MAIN_ONLY = frozenset(
    {
        "http",
        "events",
        "stream",
        "mail",
        "worker_processes",
        "user",
        "pid",
        "load_module",
        "daemon",
        "master_process",
        "worker_rlimit_nofile",
        "pcre_jit",
        "thread_pool",
    }
)

# Stock files of nginx packages that hold only MIME types, charset maps or
# fastcgi/uwsgi/scgi parameters: following them cannot change any fact read here.
_STOCK_INERT = frozenset(
    {
        "mime.types",
        "fastcgi_params",
        "fastcgi.conf",
        "uwsgi_params",
        "scgi_params",
        "koi-utf",
        "koi-win",
        "win-utf",
    }
)


# -- the resolved tree ------------------------------------------------------------------


class NginxNode:
    """A directive where it takes effect, with its parent: the same file included in two
    places gives two nodes. The root is the ``main`` context of a whole configuration,
    or a virtual ``http`` block around a fragment."""

    __slots__ = (
        "_index",
        "_scalars",
        "children",
        "context",
        "directive",
        "name",
        "opaque_includes",
        "parent",
        "via",
    )

    def __init__(
        self,
        directive: NginxDirective | None,
        parent: NginxNode | None,
        via: tuple[Span, ...] = (),
        context: str = "",
    ) -> None:
        self.directive = directive
        self.parent = parent
        self.via = via
        self.context = context or (directive.name if directive else "main")
        self.name = directive.name if directive else self.context
        self.children: list[NginxNode] = []
        self._index: dict[str, list[NginxNode]] | None = None
        self._scalars: dict[str, NginxNode | None] = {}
        # Includes at this level whose files are not among the scanned ones: whatever
        # they hold is unknown.
        self.opaque_includes: list[Word] = []

    @property
    def args(self) -> tuple[Word, ...]:
        return self.directive.args if self.directive else ()

    @property
    def span(self) -> Span | None:
        return self.directive.span if self.directive else None

    def own(self, name: str) -> list[NginxNode]:
        """This level's directives called ``name`` (included files expanded). Read once
        the tree is complete: the first call indexes the children."""
        if self._index is None:
            index: dict[str, list[NginxNode]] = {}
            for child in self.children:
                index.setdefault(child.name, []).append(child)
            self._index = index
        return self._index.get(name, [])

    def chain(self) -> Iterator[NginxNode]:
        node: NginxNode | None = self
        while node is not None:
            yield node
            node = node.parent

    def enclosing(self, name: str) -> NginxNode | None:
        return next((n for n in self.chain() if n.name == name and n.directive), None)

    def walk(self) -> Iterator[NginxNode]:
        pending: list[NginxNode] = [self]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(reversed(node.children))

    @property
    def root(self) -> NginxNode:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    @property
    def label(self) -> str:
        """``location /ws``, ``server example.com``, ``if ($http_origin ~ ...)``."""
        if self.directive is None:
            return "http" if self.context == "http" else "main context"
        if self.name == "server":
            names = [a.text for a in self.own_args("server_name")]
            return "server " + " ".join(names) if names else "unnamed server"
        if self.name == "if":
            return "if (" + " ".join(a.text for a in self.args) + ")"
        if self.args:
            return self.name + " " + " ".join(a.text for a in self.args)
        return self.name

    def own_args(self, name: str) -> list[Word]:
        return [arg for child in self.own(name) for arg in child.args]

    @property
    def where(self) -> str:
        """The node and the server it belongs to, for messages."""
        label = self.label
        if self.name == "if" and self.parent is not None and self.parent.name == "location":
            label = f"{label} in {self.parent.label}"
        server = self.enclosing("server")
        if server is None or server is self:
            return label
        return f"{label} ({server.label})"


def effective_scalar(node: NginxNode, name: str) -> NginxNode | None:
    """The directive an ordinary (inherited) setting takes its value from at ``node``.
    Remembered on every level walked, so asking at each of many deep locations (or at
    each level of one, as ``effective_add_headers`` does) costs no walk to the top."""
    walked: list[NginxNode] = []
    found: NginxNode | None = None
    level: NginxNode | None = node
    while level is not None:
        if name in level._scalars:
            found = level._scalars[name]
            break
        walked.append(level)
        own = level.own(name)
        if own:
            found = own[0]  # nginx refuses a duplicate; the first one is what it read
            break
        level = level.parent
    for seen in walked:
        seen._scalars[name] = found
    return found


def array_level(node: NginxNode, name: str) -> NginxNode | None:
    """The level whose ``name`` directives apply at ``node`` for an array directive that
    is inherited only when a level defines none."""
    for level in node.chain():
        if level.own(name):
            return level
    return None


def opaque_in_chain(node: NginxNode) -> list[Word]:
    return [word for level in node.chain() for word in level.opaque_includes]


# -- facts read by rules ----------------------------------------------------------------


class Header(msgspec.Struct, frozen=True):
    """A header set by ``proxy_set_header``/``add_header`` (or ``more_set_headers``)."""

    name: str
    value: Word | None
    span: Span
    always: bool = False

    @property
    def value_text(self) -> str:
        return self.value.text if self.value else ""

    def written(self, directive: str) -> str | None:
        """The header as a directive line (``proxy_set_header Host $host;``), or None
        when its value cannot be written back without escapes. A value written in
        quotes keeps them."""
        if self.value is None:
            return None
        name, value = quote_arg(self.name), quote_arg(self.value_text)
        span, text = self.value.span, self.value.text
        if span.line == span.end_line and span.end_column - span.column == len(text) + 2:
            value = f'"{text}"' if '"' not in text and "\\" not in text else value
        if name is None or value is None:
            return None
        return f"{directive} {name} {value}" + (" always" if self.always else "") + ";"


def restore_headers(
    level: NginxDirective | None, lost: Sequence[Header], first_own: Span
) -> Edit | None:
    """The edit that writes the ``proxy_set_header`` a level drops (``lost``) into it,
    before its own first one (``first_own``), as nginx would have sent them. The same
    edit serves every rule that needs them back, so that it is written once."""
    lines = [header.written("proxy_set_header") for header in lost]
    if level is None or not lines or any(line is None for line in lines):
        return None
    return level.insert([line for line in lines if line], before=first_own)


class Setting(msgspec.Struct, frozen=True):
    """The effective value of an ordinary directive at a location: written here, inherited
    from an enclosing level (``span`` says where), or nginx's default (``value`` None)."""

    name: str
    value: Word | None
    span: Span | None
    default: str

    @property
    def explicit(self) -> bool:
        return self.value is not None

    @property
    def text(self) -> str:
        return self.value.text if self.value is not None else self.default

    @property
    def seconds(self) -> float | None:
        return parse_duration(self.text)

    def describe(self) -> str:
        return f"{self.name} {self.text}" + ("" if self.explicit else " (nginx default)")


class Listen(msgspec.Struct, frozen=True):
    address: str
    port: str
    ssl: bool
    span: Span | None


class LocationMatch(msgspec.Struct, frozen=True):
    """``location [modifier] path``: modifier ``""`` (prefix), ``=``, ``^~``, ``~``,
    ``~*``, or ``@`` for a named location."""

    modifier: str
    path: Word

    @property
    def is_regex(self) -> bool:
        return self.modifier in ("~", "~*")

    def __str__(self) -> str:
        return f"{self.modifier} {self.path.text}".strip()


class ProxyTarget(msgspec.Struct, frozen=True):
    """What ``proxy_pass`` names: ``http://host:port/uri``, an upstream, a unix socket.

    A target written with variables (``proxy_pass http://$upstream;``) whose variables
    ``set`` gives constant values is resolved: ``scheme``, ``host``, ``port`` and ``uri``
    are then those of the value, ``resolved_by`` the ``set`` directives used (the scheme
    stays "" when only ``$scheme`` is left unknown)."""

    word: Word
    scheme: str
    host: str
    port: str
    uri: str
    unix_socket: str = ""
    resolved_by: tuple[Span, ...] = ()

    @property
    def symbolic(self) -> bool:
        """Not known here: variables that no constant ``set`` resolves."""
        return self.word.symbolic and not self.resolved_by

    @property
    def uses_variables(self) -> bool:
        """Written with variables: nginx then passes a URI part as the whole request
        URI, and looks the host up among the upstreams, then with the resolver."""
        return self.word.symbolic

    @property
    def has_explicit_port(self) -> bool:
        return bool(self.port)


class UpstreamServer(msgspec.Struct, frozen=True):
    address: Word
    span: Span
    backup: bool = False
    down: bool = False


class Upstream(msgspec.Struct, frozen=True):
    """An ``upstream`` block: its servers and how it balances them."""

    name: str
    span: Span
    servers: tuple[UpstreamServer, ...]
    # "round-robin" (nginx's default), "least_conn", "random", "ip_hash", "hash",
    # "sticky", "least_time", or another module's directive name.
    method: str
    method_span: Span | None = None
    hash_key: str = ""
    consistent: bool = False
    opaque: bool = False  # an unreadable include inside: servers or method may be missing
    root_id: int = 0
    block: NginxDirective | None = None

    @property
    def active_servers(self) -> tuple[UpstreamServer, ...]:
        return tuple(s for s in self.servers if not s.backup and not s.down)

    def affinity(self) -> str | None:
        """Why requests of one client keep reaching one server, or None when they do not.

        ``ip_hash`` and ``sticky`` pin a client; ``hash <key>`` pins every request with
        the same key whether or not ``consistent`` is given (``consistent`` only limits
        remapping when servers are added or removed), so it pins a client unless the key
        changes between the page and its WebSocket (``$request_uri``, ``$uri``...)."""
        if self.method in ("ip_hash", "sticky"):
            return self.method
        if self.method == "hash":
            per_request = set(variables_in(self.hash_key)) & _PER_REQUEST_VARIABLES
            if per_request:
                return None
            return f"hash {self.hash_key}" + (" consistent" if self.consistent else "")
        if self.method in ("round-robin", "least_conn", "random", "least_time"):
            return None
        return self.method  # a third-party balancer: not judged


# Variables that differ between a page request and its WebSocket request.
_PER_REQUEST_VARIABLES = frozenset(
    {
        "request_uri",
        "uri",
        "document_uri",
        "args",
        "query_string",
        "request",
        "request_id",
        "msec",
        "request_method",
        "is_args",
        "connection",
        "connection_requests",
    }
)


class MapEntry(msgspec.Struct, frozen=True):
    key: Word
    value: Word
    span: Span

    @property
    def is_default(self) -> bool:
        return self.key.text == "default"

    @property
    def is_regex(self) -> bool:
        return self.key.text.startswith("~")

    @property
    def regex(self) -> str:
        text = self.key.text
        return text[2:] if text.startswith("~*") else text[1:]

    @property
    def case_insensitive(self) -> bool:
        return self.key.text.startswith("~*")


class NginxMap(msgspec.Struct, frozen=True):
    """``map <source> $<variable> { key value; ... }``."""

    source: Word
    variable: str
    entries: tuple[MapEntry, ...]
    span: Span
    hostnames: bool = False
    opaque: bool = False
    root_id: int = 0

    @property
    def default(self) -> MapEntry | None:
        return next((e for e in self.entries if e.is_default), None)


class RouteAuth(msgspec.Struct, frozen=True):
    """Authentication nginx itself enforces on a location (effective after inheritance)."""

    basic: Word | None = None  # auth_basic realm (not "off")
    request: Word | None = None  # auth_request URI (not "off")
    jwt: Word | None = None  # auth_jwt (NGINX Plus)
    access_restricted: bool = False  # allow ...; deny all;
    access_span: Span | None = None
    satisfy: str = "all"

    @property
    def any(self) -> bool:
        return bool(self.basic or self.request or self.jwt or self.access_restricted)

    @property
    def kinds(self) -> tuple[str, ...]:
        found = []
        if self.basic:
            found.append("auth_basic")
        if self.request:
            found.append("auth_request")
        if self.jwt:
            found.append("auth_jwt")
        if self.access_restricted:
            found.append("allow/deny")
        return tuple(found)


class WebSocketEvidence(msgspec.Struct, frozen=True):
    """One reason to believe a route carries WebSockets."""

    reason: str
    span: Span | None
    strong: bool = True


class BackendInfo(msgspec.Struct, frozen=True):
    """What the stack knows of the process a route reaches: filled in by
    ``resolve_nginx(..., backend=...)`` once the stack links routes to services (a later
    stage of the stack model); None until then."""

    description: str
    span: Span | None = None
    serves_websocket: bool = False
    bokeh_family: bool = False
    # How sure the link to the backend is (a link made on a port alone is not sure).
    confidence: Confidence = Confidence.HIGH
    # The paths the backend serves WebSockets at (Bokeh/Panel: ``/app/ws``); None when
    # not known.
    websocket_paths: tuple[str, ...] | None = None
    # Seconds between the backend's WebSocket pings; 0 = it never pings; None = unknown.
    ping_interval: float | None = None
    ping_span: Span | None = None
    ping_source: str = ""
    # Every backend runs uvicorn's protocols (uvicorn, fastapi run, gunicorn's uvicorn
    # workers), which upgrade a WebSocket sent as HTTP/1.0 and keep it open.
    uvicorn_only: bool = False


ConnectionUpgrade = Literal["yes", "no", "unknown"]


class ProxyRoute(msgspec.Struct, frozen=True):
    """A location that proxies with ``proxy_pass``, with its effective settings."""

    span: Span  # the location directive (its header line)
    where: str  # "location /ws (server example.com)"
    location: LocationMatch | None
    server_names: tuple[Word, ...]
    listens: tuple[Listen, ...]
    target: ProxyTarget
    pass_span: Span
    # proxy_set_header in effect; ``proxy_headers_from`` is the level they are written at
    # (None: nginx's defaults, Host $proxy_host and, before 1.29.7, Connection close).
    proxy_headers: tuple[Header, ...]
    proxy_headers_from: str | None
    add_headers: tuple[Header, ...]
    read_timeout: Setting
    send_timeout: Setting
    http_version: Setting
    buffering: Setting
    auth: RouteAuth
    connection_upgrade: ConnectionUpgrade
    websocket_evidence: tuple[WebSocketEvidence, ...]
    # Includes in scope that could not be followed: anything may be set there.
    opaque_includes: tuple[Word, ...] = ()
    # A ``rewrite`` in the location changes the URI before ``proxy_pass`` sends it.
    rewrites: bool = False
    via: tuple[Span, ...] = ()  # the include directives this location was reached through
    upstream: Upstream | None = None
    backend: BackendInfo | None = None
    # proxy_set_header an enclosing level sets that this location's own ones drop.
    dropped_proxy_headers: tuple[Header, ...] = ()
    # Where a fix writes: the location as written, whether its proxy_set_header are its
    # own, and its http level: the `http {}` block, or in a fragment analysed as if it
    # sat in one, its first server (both None when there is no http level).
    block: NginxDirective | None = None
    headers_own: bool = False
    http_block: NginxDirective | None = None
    http_anchor: NginxDirective | None = None
    root_id: int = 0
    # The first `limit_req` in effect (its `zone=` word): the location's own, else
    # those of the nearest enclosing level that has any (ngx_http_limit_req_module:
    # inherited only when a level defines none); None when there is none, or
    # `limit_req_dry_run on` only counts.
    rate_limit: Word | None = None

    def insert_at_http_level(self, lines: Sequence[str]) -> Edit | None:
        """An edit writing ``lines`` at the http level of this location: in `http {}`
        before its first server or include, or in a fragment before its first server.
        None when the location has no http level to write into."""
        if self.http_block is not None:
            first = next(
                (c for c in self.http_block.block or () if c.name in ("server", "include")), None
            )
            return self.http_block.insert(lines, before=first.span if first else None)
        if self.http_anchor is not None:
            return self.http_anchor.insert_before(lines)
        return None

    @property
    def is_websocket(self) -> bool:
        return bool(self.websocket_evidence)

    @property
    def websocket_confidence(self) -> Confidence:
        """How sure it is that the route carries WebSockets: high when the location
        shows it (its path, its headers) or a sure link does, else as sure as the link
        to the backend that serves them."""
        if any(evidence.strong for evidence in self.websocket_evidence):
            return Confidence.HIGH
        return self.backend.confidence if self.backend is not None else Confidence.HIGH

    @property
    def ssl(self) -> bool:
        return any(listen.ssl for listen in self.listens)

    def proxy_header(self, name: str) -> Header | None:
        wanted = name.lower()
        return next((h for h in self.proxy_headers if h.name.lower() == wanted), None)

    def add_header(self, name: str) -> Header | None:
        wanted = name.lower()
        return next((h for h in self.add_headers if h.name.lower() == wanted), None)

    @property
    def upgrade_forwarded(self) -> bool:
        header = self.proxy_header("Upgrade")
        return header is not None and bool(header.value_text)

    def evidence_text(self) -> str:
        return "; ".join(e.reason for e in self.websocket_evidence)


class HeaderLoss(msgspec.Struct, frozen=True):
    """A level that defines its own ``proxy_set_header``/``add_header`` and so drops
    every one an enclosing level defines (nginx inherits array directives only when a
    level defines none)."""

    directive: str
    where: str
    span: Span  # the first of this level's own directives
    block_span: Span
    lost: tuple[Header, ...]
    kept: tuple[Header, ...]
    from_where: str
    level: NginxDirective | None = None


class NginxModel(msgspec.Struct):
    roots: list[NginxNode] = msgspec.field(default_factory=list)
    routes: list[ProxyRoute] = msgspec.field(default_factory=list)
    upstreams: list[Upstream] = msgspec.field(default_factory=list)
    maps: list[NginxMap] = msgspec.field(default_factory=list)
    cors_policies: list[CorsPolicy] = msgspec.field(default_factory=list)
    header_losses: list[HeaderLoss] = msgspec.field(default_factory=list)
    problems: list[ParseProblem] = msgspec.field(default_factory=list)
    version: tuple[int, ...] | None = None

    @property
    def version_text(self) -> str | None:
        return ".".join(str(p) for p in self.version) if self.version else None

    def version_at_least(self, *wanted: int) -> bool | None:
        """Whether the configured nginx version is at least ``wanted``; None = unknown."""
        if self.version is None:
            return None
        return self.version >= wanted
