"""nginx resolved: includes followed, the tree built, the routes and headers derived.

The extractor gives one ``NginxFile`` per file: its directive tree, every ``include``
unresolved. ``resolve_nginx`` (run once per run by ``Stack.nginx``) reads them all:

- includes are followed like nginx follows them: a relative path is relative to the main
  configuration's directory (then to the including file's directory), an absolute path
  (``/etc/nginx/conf.d/*.conf``) is mapped onto the scanned tree by its trailing
  components, masks are expanded in sorted order; cycles are reported and cut; nothing
  outside the scanned files is ever read;
- a file included elsewhere is analysed only where it is included; a file nobody includes
  is a root: a whole configuration when it holds ``http``/``events``, else a fragment
  analysed as if it sat in an ``http {}`` block;
- the resulting tree (``NginxNode``: http → server → location → if, with parents) answers
  *effective value* questions the way nginx merges configuration levels: ordinary
  directives are inherited downwards, array directives (``proxy_set_header``,
  ``add_header``, ``allow``/``deny``) only when a level defines none (``add_header_inherit
  merge``/``off``, nginx >= 1.29.3, change that for ``add_header``), and nginx's defaults
  apply where nothing is set.

From the tree come the facts rules read: ``ProxyRoute`` (one per proxying location),
``Upstream``, ``NginxMap``, ``HeaderLoss`` (array directives dropped by a level that
defines its own) and ``CorsPolicy`` (kind ``"nginx"``).

References: https://nginx.org/en/docs/ngx_core_module.html#include,
https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_set_header,
https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header,
https://nginx.org/en/docs/http/ngx_http_upstream_module.html,
https://nginx.org/en/docs/http/ngx_http_map_module.html.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from fnmatch import fnmatchcase
from typing import Literal

import msgspec
import msgspec.structs
from msgspec.structs import replace

from stackaudit.diagnostics import Confidence, Span
from stackaudit.facts.common import ParseProblem, Word
from stackaudit.facts.cors import CorsPolicy, OriginPattern
from stackaudit.facts.nginx import (
    _STOCK_INERT,
    _VARIABLE,
    BackendInfo,
    ConnectionUpgrade,
    Header,
    HeaderLoss,
    Listen,
    LocationMatch,
    MapEntry,
    NginxDirective,
    NginxFile,
    NginxMap,
    NginxModel,
    NginxNode,
    ProxyRoute,
    ProxyTarget,
    RouteAuth,
    Setting,
    Upstream,
    UpstreamServer,
    WebSocketEvidence,
    array_level,
    effective_scalar,
    is_symbolic,
    opaque_in_chain,
    variables_in,
)


def parse_version(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    match = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(p) for p in match.groups(default="0"))


def nginx_version_from_images(facts: Iterable[object]) -> str | None:
    """The nginx version the stack runs, read from ``nginx:<tag>`` images (compose
    services, Kubernetes containers) when they all name the same version."""
    from stackaudit.facts.deploy import ComposeFile, ImageRef, K8sWorkload

    images: list[ImageRef | None] = []
    for fact in facts:
        if isinstance(fact, ComposeFile):
            images.extend(service.image for service in fact.services)
        elif isinstance(fact, K8sWorkload):
            images.extend(container.image for container in fact.containers)
    versions = {
        image.version
        for image in images
        if image is not None and image.name == "nginx" and not image.symbolic
    }
    if len(versions) == 1:
        return next(iter(versions))
    return None


# -- include resolution -----------------------------------------------------------------

_MAX_INCLUDE_DEPTH = 16
_MAX_BLOCK_DEPTH = 64
# The work one scan may spend building trees: a directive placed, or a file expanded at
# an include, costs one. A real configuration, every include expanded, is a few thousand
# directives; an include bomb (a file including the next twice, twenty levels down, or
# files that each include the whole directory again) would be millions.
_MAX_NODES = 200_000


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def _match_components(pattern: list[str], path: list[str]) -> bool:
    return len(pattern) == len(path) and all(
        fnmatchcase(name, glob) for glob, name in zip(pattern, path, strict=True)
    )


class _Includes:
    """Maps an include argument onto the scanned nginx files."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = sorted(paths)
        self.parts = {p: _split(p) for p in self.paths}
        self.resolved: dict[tuple[str, str, str | None], list[str] | None] = {}
        self.masks: dict[str, list[str]] = {}
        self.trailing: dict[tuple[str, ...], list[tuple[int, str]]] = {}

    def resolve(self, pattern: str, including: str, main: str | None) -> list[str] | None:
        """The scanned files an include names, sorted as nginx sorts a mask; None when
        the argument cannot be resolved here (a variable, or no such scanned file).
        Remembered: matching a mask tries every scanned file."""
        key = (pattern, including, main)
        if key not in self.resolved:
            self.resolved[key] = self._resolve(pattern, including, main)
        return self.resolved[key]

    def _resolve(self, pattern: str, including: str, main: str | None) -> list[str] | None:
        if not pattern or is_symbolic(pattern):
            return None
        if pattern.startswith("/"):
            return self._by_trailing(_split(pattern), including)
        bases = []
        if main is not None:
            bases.append(posixpath.dirname(main))
        directory = posixpath.dirname(including)
        while True:
            if directory not in bases:
                bases.append(directory)
            if not directory:
                break
            directory = posixpath.dirname(directory)
        for base in bases:
            joined = (
                posixpath.normpath(posixpath.join(base, pattern))
                if base
                else (posixpath.normpath(pattern))
            )
            if joined.startswith("../") or joined == "..":
                continue  # never outside the scanned root
            found = self._matching(joined)
            if found:
                return found
        return self._by_trailing(_split(pattern), including)

    def _matching(self, joined: str) -> list[str]:
        if not any(c in joined for c in "*?["):
            return [joined] if joined in self.parts else []
        if joined not in self.masks:
            wanted = _split(joined)
            self.masks[joined] = [p for p in self.paths if _match_components(wanted, self.parts[p])]
        return self.masks[joined]

    def _by_trailing(self, wanted: list[str], including: str) -> list[str] | None:
        """Files whose path ends like ``wanted`` (``/etc/nginx/conf.d/*.conf`` ->
        ``deploy/nginx/conf.d/app.conf``), with as many trailing components matching as
        any file has; a mask in the last component needs its directory to match too."""
        if not wanted:
            return None
        key = tuple(wanted)
        if key not in self.trailing:
            self.trailing[key] = self._deepest_trailing(wanted)
        best = self.trailing[key]
        if not best:
            return None
        # Several trees may hold such a file (two deployments in one repository): keep
        # the directory closest to the including file.
        by_directory: dict[str, list[str]] = {}
        for _, path in best:
            by_directory.setdefault(posixpath.dirname(path), []).append(path)
        chosen = max(sorted(by_directory), key=lambda d: _common_prefix(d, including))
        return sorted(by_directory[chosen])

    def _deepest_trailing(self, wanted: list[str]) -> list[tuple[int, str]]:
        minimum = 2 if any(c in wanted[-1] for c in "*?[") and len(wanted) > 1 else 1
        best: list[tuple[int, str]] = []
        best_depth = 0
        for path in self.paths:
            parts = self.parts[path]
            depth = 0
            while (
                depth < len(wanted)
                and depth < len(parts)
                and fnmatchcase(parts[-1 - depth], wanted[-1 - depth])
            ):
                depth += 1
            if depth < minimum:
                continue
            if depth > best_depth:
                best, best_depth = [], depth
            if depth == best_depth:
                best.append((depth, path))
        return best


def _common_prefix(directory: str, including: str) -> int:
    a, b = _split(directory), _split(posixpath.dirname(including))
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def _include_targets(directive: NginxDirective) -> str:
    return directive.arg(0)


class _TreeBuilder:
    def __init__(self, files: Sequence[NginxFile]) -> None:
        self.files = {f.path: f for f in files}
        self.includes = _Includes(self.files)
        self.problems: list[ParseProblem] = []
        self.expanded: set[str] = set()
        # (file, level) pairs already expanded: a file included twice at one level adds
        # nothing the first time did not (nginx would read the same directives again).
        self.placed: set[tuple[str, int]] = set()
        self.nodes = 0
        self.exhausted: set[str] = set()
        self.depth = 0
        self.reported: set[Span] = set()

    def included_files(self) -> set[str]:
        """Files some other file includes (as far as can be told without a main file)."""
        targets: set[str] = set()
        for file in self.files.values():
            for directive in _all_directives(file.directives):
                if directive.name != "include":
                    continue
                found = self.includes.resolve(_include_targets(directive), file.path, None)
                targets.update(p for p in found or () if p != file.path)
        return targets

    def build_root(self, file: NginxFile) -> NginxNode:
        context = "main" if file.is_main else "http"
        root = NginxNode(None, None, context=context)
        self._expand(file.directives, root, file.path, (file.path,), (), file.path)
        return root

    def _spend(self, span: Span, main: str) -> bool:
        """Count one unit of work; False, reported once for each configuration, when
        the budget is spent."""
        if self.nodes < _MAX_NODES:
            self.nodes += 1
            return True
        if main not in self.exhausted:
            self.exhausted.add(main)
            self._problem(
                span,
                f"the configuration expands to more than {_MAX_NODES:,} directives "
                "(includes followed); the rest is not analysed",
            )
        return False

    def _problem(self, span: Span, message: str) -> None:
        if span not in self.reported:
            self.reported.add(span)
            self.problems.append(ParseProblem(span, message))

    def _expand(
        self,
        directives: Iterable[NginxDirective],
        parent: NginxNode,
        path: str,
        chain: tuple[str, ...],
        via: tuple[Span, ...],
        main: str,
    ) -> None:
        self.expanded.add(path)
        for directive in directives:
            if directive.name == "include" and directive.block is None:
                self._include(directive, parent, path, chain, via, main)
                continue
            if not self._spend(directive.span, main):
                return
            node = NginxNode(directive, parent, via)
            parent.children.append(node)
            if directive.block is None:
                continue
            if self.depth >= _MAX_BLOCK_DEPTH:
                # Real configs nest a handful of levels; this bounds the walk (and the
                # recursion of every later query) on hostile input.
                self._problem(
                    directive.span,
                    f"blocks nested more than {_MAX_BLOCK_DEPTH} deep; "
                    "the inner ones are not analysed",
                )
                continue
            self.depth += 1
            try:
                self._expand(directive.block, node, path, chain, via, main)
            finally:
                self.depth -= 1

    def _include(
        self,
        directive: NginxDirective,
        parent: NginxNode,
        path: str,
        chain: tuple[str, ...],
        via: tuple[Span, ...],
        main: str,
    ) -> None:
        if not directive.args:
            return
        argument = directive.args[0]
        pattern = argument.text
        found = self.includes.resolve(pattern, path, main)
        if found is None:
            if posixpath.basename(pattern) not in _STOCK_INERT:
                parent.opaque_includes.append(argument)
            return
        for target in found:
            if target in chain:
                if directive.span in self.reported:
                    continue
                cycle = " -> ".join([*chain[chain.index(target) :], target])
                self._problem(directive.span, f"include cycle: {cycle}")
                continue
            if len(chain) >= _MAX_INCLUDE_DEPTH:
                self._problem(directive.span, "includes nested too deeply to follow")
                continue
            if (target, id(parent)) in self.placed:
                continue
            if not self._spend(directive.span, main):
                return
            self.placed.add((target, id(parent)))
            self._expand(
                self.files[target].directives,
                parent,
                target,
                (*chain, target),
                (*via, directive.span),
                main,
            )


def _all_directives(directives: Iterable[NginxDirective]) -> Iterator[NginxDirective]:
    pending = list(directives)
    while pending:
        directive = pending.pop()
        yield directive
        if directive.block:
            pending.extend(directive.block)


# -- building the facts -----------------------------------------------------------------

_LOCATION_MODIFIERS = ("=", "^~", "~*", "~")
_WS_PATH = re.compile(r"/(ws|websockets?)/?(\$|\\b|\)|\?|\*)*$", re.IGNORECASE)


def _location_match(node: NginxNode) -> LocationMatch | None:
    args = node.args
    if not args:
        return None
    if len(args) >= 2 and args[0].text in _LOCATION_MODIFIERS:
        return LocationMatch(args[0].text, args[1])
    first = args[0]
    for modifier in _LOCATION_MODIFIERS:
        if first.text.startswith(modifier) and len(first.text) > len(modifier):
            rest = first.text[len(modifier) :]
            return LocationMatch(modifier, Word(rest, first.span, first.symbolic))
    if first.text.startswith("@"):
        return LocationMatch("@", first)
    return LocationMatch("", first)


def _proxy_target(word: Word) -> ProxyTarget:
    text = word.text
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", text)
    if not match:
        return ProxyTarget(word, "", text, "", "")
    scheme, rest = match.group(1).lower(), match.group(2)
    if rest.startswith("unix:"):
        socket, _, uri = rest[5:].partition(":")
        return ProxyTarget(word, scheme, "", "", uri, unix_socket=socket)
    authority, slash, uri = rest.partition("/")
    uri = slash + uri if slash else ""
    host, port = authority, ""
    if authority.startswith("["):
        close = authority.find("]")
        host = authority[: close + 1]
        if authority[close + 1 : close + 2] == ":":
            port = authority[close + 2 :]
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
    return ProxyTarget(word, scheme, host, port, uri)


# -- proxy_pass targets written with variables
#
# ``set`` belongs to the rewrite module, whose directives run in order: those of the
# server level, then those of the location the request is found in (a nested location
# does not run its enclosing location's: the module's configuration is not inherited),
# an ``if`` block's when its condition holds. The last ``set`` that runs gives the value.
# https://nginx.org/en/docs/http/ngx_http_rewrite_module.html

_REWRITE_DIRECTIVES = frozenset({"set", "if", "break", "return", "rewrite"})
# A variable's value after the directives that ran: the text and the `set` directives it
# came from, or None when it may differ from run to run (set under a condition, or from
# a value not known here). A variable absent from the table was never set.
_Assigned = tuple[str, tuple[Span, ...]] | None


def _ends_processing(node: NginxNode) -> bool:
    """``break``, ``return`` and ``rewrite ... last|break`` end the rewrite directives
    of the level (``rewrite`` with another flag redirects or goes on)."""
    if node.name in ("break", "return"):
        return True
    return node.name == "rewrite" and any(a.text in ("last", "break") for a in node.args[2:])


def _substituted(text: str, values: dict[str, _Assigned]) -> tuple[str, tuple[Span, ...]] | None:
    """``text`` with the variables ``values`` knows replaced; None when one is unknown."""
    spans: list[Span] = []
    parts: list[str] = []
    last = 0
    for match in _VARIABLE.finditer(text):
        found = values.get((match.group(1) or match.group(2)).lower())
        if found is None:
            return None
        parts += [text[last : match.start()], found[0]]
        spans.extend(found[1])
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), tuple(spans)


def _run_rewrites(
    directives: Iterable[NginxNode], values: dict[str, _Assigned], holding: NginxNode | None
) -> bool:
    """Apply the ``set`` directives of one level to ``values``, in order. ``holding`` is
    the ``if`` block that holds the ``proxy_pass`` asked about: its condition holds
    whenever that ``proxy_pass`` runs. False when the level stops the processing."""
    certain = True
    for node in directives:
        if node.name == "set":
            _assign(node, values, certain)
        elif node.name == "if":
            for inner in node.children:
                if inner.name == "set":
                    _assign(inner, values, certain and node is holding)
                elif _ends_processing(inner):
                    if node is holding:
                        return False
                    certain = False  # what follows runs only when the condition fails
        elif _ends_processing(node):
            return False
    return True


def _assign(node: NginxNode, values: dict[str, _Assigned], certain: bool) -> None:
    if len(node.args) < 2 or node.span is None:
        return
    name = _var_name(node.args[0].text)
    if not name:
        return
    found = _substituted(node.args[1].text, values) if certain else None
    values[name] = None if found is None else (found[0], (*found[1], node.span))


def _resolve_target(target: ProxyTarget, text: str, spans: tuple[Span, ...]) -> ProxyTarget | None:
    """The target ``text`` (a ``proxy_pass`` argument with its variables replaced)
    names; a scheme left as ``$scheme`` is unknown, which is enough when the port is
    written."""
    unknown_scheme = text.lower().startswith("$scheme://")
    if unknown_scheme:
        text = "http://" + text[len("$scheme://") :]
    if is_symbolic(text):
        return None
    resolved = _proxy_target(Word(text, target.word.span))
    if not resolved.host and not resolved.unix_socket:
        return None
    if unknown_scheme:
        if not resolved.port:
            return None  # 80 or 443: the request's scheme decides
        resolved = replace(resolved, scheme="")
    return replace(resolved, word=target.word, resolved_by=spans or (target.word.span,))


def listens(server: NginxNode | None) -> tuple[Listen, ...]:
    """A server's ``listen`` addresses as nginx reads them: a port alone listens on
    every address, an address alone on port 80; none at all is ``*:80``. ``ssl`` on
    the listen (or the old ``ssl on;``) makes it TLS."""
    if server is None:
        return ()
    ssl_on = any(n.args and n.args[0].text == "on" for n in server.own("ssl"))
    found = []
    for node in server.own("listen"):
        if not node.args:
            continue
        address = node.args[0].text
        params = {a.text for a in node.args[1:]}
        host, port = "*", address
        if address.startswith("unix:"):
            host, port = address, ""
        elif address.startswith("["):
            close = address.find("]")
            host, port = address[: close + 1], address[close + 2 :] or "80"
        elif ":" in address:
            host, _, port = address.rpartition(":")
        elif not address.isdigit():
            host, port = address, "80"
        found.append(Listen(host, port, "ssl" in params or ssl_on, node.span))
    if not found:
        found.append(Listen("*", "80", ssl_on, None))
    return tuple(found)


def _headers(level: NginxNode | None, name: str) -> list[Header]:
    if level is None:
        return []
    found = []
    for node in level.own(name):
        if not node.args or node.span is None:
            continue
        value = node.args[1] if len(node.args) > 1 else None
        always = any(a.text == "always" for a in node.args[2:])
        found.append(Header(node.args[0].text, value, node.span, always))
    return found


def _more_set_headers(level: NginxNode) -> list[Header]:
    """``more_set_headers 'Name: value' ...`` (headers-more module) at one level."""
    found = []
    for node in level.own("more_set_headers"):
        if node.span is None:
            continue
        for arg in node.args:
            if arg.text.startswith("-"):
                continue
            name, colon, value = arg.text.partition(":")
            if colon:
                found.append(
                    Header(
                        name.strip(), Word(value.strip(), arg.span, arg.symbolic), node.span, True
                    )
                )
    return found


def effective_add_headers(node: NginxNode) -> list[Header]:
    """The ``add_header`` directives in effect at ``node``: a level's own, else the
    enclosing level's; ``add_header_inherit merge`` (nginx >= 1.29.3) appends the enclosing
    level's to the level's own, ``off`` keeps only the level's own."""
    levels = list(node.chain())
    inherited: list[Header] = []
    for level in reversed(levels):
        own = _headers(level, "add_header")
        if level.parent is None:
            inherited = own
            continue
        mode_node = effective_scalar(level, "add_header_inherit")
        mode = mode_node.args[0].text if mode_node and mode_node.args else "on"
        if mode == "off":
            inherited = own
        elif mode == "merge":
            inherited = inherited + own
        elif own:
            inherited = own
    return inherited


class _Values:
    """Possible values of an nginx expression, following ``set`` and ``map``."""

    def __init__(self, maps: dict[str, list[NginxMap]]) -> None:
        self.maps = maps

    def map_for(self, variable: str, root_id: int) -> NginxMap | None:
        candidates = self.maps.get(variable, [])
        same = [m for m in candidates if m.root_id == root_id]
        if same:
            return same[0]
        return candidates[0] if len(candidates) == 1 else None

    def sets_in_scope(self, node: NginxNode, variable: str) -> list[NginxNode]:
        found = []
        for level in node.chain():
            for child in level.own("set"):
                if child.args and _var_name(child.args[0].text) == variable:
                    found.append(child)
            for branch in level.own("if"):
                found.extend(
                    n for n in branch.own("set") if n.args and _var_name(n.args[0].text) == variable
                )
            if level.name in ("server", "http") or level.directive is None:
                break
        return found

    def possible(self, text: str, node: NginxNode, depth: int = 0) -> set[str] | None:
        """Literal values ``text`` can take at ``node``; None when unknown. The special
        value ``<client Connection>`` stands for ``$http_connection``."""
        names = variables_in(text)
        if not names:
            return {text}
        if depth > 6 or len(names) > 1 or _VARIABLE.fullmatch(text.strip()) is None:
            return None
        variable = names[0]
        if variable == "http_connection":
            return {"<client Connection>"}
        values: set[str] = set()
        sets = self.sets_in_scope(node, variable)
        mapping = self.map_for(variable, _root_id(node))
        if not sets and mapping is None:
            return None
        for set_node in sets:
            if len(set_node.args) < 2:
                return None
            found = self.possible(set_node.args[1].text, set_node, depth + 1)
            if found is None:
                return None
            values |= found
        if mapping is not None:
            if mapping.opaque:
                return None
            for entry in mapping.entries:
                found = self.possible(entry.value.text, node, depth + 1)
                if found is None:
                    return None
                values |= found
            if mapping.default is None:
                values.add("")
        return values


def _var_name(text: str) -> str:
    names = variables_in(text)
    return names[0] if names else ""


def _root_id(node: NginxNode) -> int:
    return id(node.root)


def _connection_upgrade(
    header: Header | None, node: NginxNode, values: _Values
) -> ConnectionUpgrade:
    if header is None:
        return "no"
    possible = values.possible(header.value_text, node)
    if possible is None:
        return "unknown"
    if any("upgrade" in v.lower() or v == "<client Connection>" for v in possible):
        return "yes"
    return "no"


def _auth(node: NginxNode) -> RouteAuth:
    basic = effective_scalar(node, "auth_basic")
    request = effective_scalar(node, "auth_request")
    jwt = effective_scalar(node, "auth_jwt")
    satisfy = effective_scalar(node, "satisfy")

    def on(found: NginxNode | None) -> Word | None:
        if found is None or not found.args or found.args[0].text == "off":
            return None
        return found.args[0]

    restricted = False
    access_span = None
    for level in node.chain():
        if not level.own("allow") and not level.own("deny"):
            continue
        rules = [c for c in level.children if c.name in ("allow", "deny")]
        if rules:
            last = rules[-1]
            restricted = last.name == "deny" and bool(last.args) and last.args[0].text == "all"
            access_span = last.span
            break
    return RouteAuth(
        basic=on(basic),
        request=on(request),
        jwt=on(jwt),
        access_restricted=restricted,
        access_span=access_span,
        satisfy=satisfy.args[0].text if satisfy and satisfy.args else "all",
    )


def _rate_limit(location: NginxNode) -> Word | None:
    """The first ``limit_req`` in effect at ``location`` (array inheritance), unless
    ``limit_req_dry_run on`` makes it only count (ngx_http_limit_req_module)."""
    level = array_level(location, "limit_req")
    if level is None:
        return None
    dry_run = effective_scalar(location, "limit_req_dry_run")
    if dry_run is not None and dry_run.args and dry_run.args[0].text == "on":
        return None
    first = level.own("limit_req")[0]
    return first.args[0] if first.args else None


def _setting(node: NginxNode, name: str, default: str) -> Setting:
    found = effective_scalar(node, name)
    if found is None or not found.args:
        return Setting(name, None, None, default)
    return Setting(name, found.args[0], found.span, default)


def _http_level(location: NginxNode) -> tuple[NginxDirective | None, NginxDirective | None]:
    """The `http {}` block above ``location``, or the first server of the fragment
    that stands for it."""
    server = location.enclosing("server")
    http = server.parent if server is not None else None
    if http is None or http.name != "http":
        return None, None
    if http.directive is not None:
        return http.directive, None
    first = next((c for c in http.children if c.name == "server" and c.directive), None)
    return None, first.directive if first is not None else None


def _pass_node(location: NginxNode) -> NginxNode | None:
    own = location.own("proxy_pass")
    if own:
        return own[0]
    for child in location.own("if") + location.own("limit_except"):
        inner = child.own("proxy_pass")
        if inner:
            return inner[0]
    return None


class _FactBuilder:
    def __init__(self, roots: list[NginxNode]) -> None:
        self.roots = roots
        self.maps: list[NginxMap] = []
        self.upstreams: list[Upstream] = []
        self.routes: list[ProxyRoute] = []
        self.losses: list[HeaderLoss] = []
        self.cors: list[CorsPolicy] = []
        self.values = _Values({})
        self._server_rewrites: dict[int, tuple[dict[str, _Assigned], bool]] = {}
        # Upstreams by lower-cased name, in file order: every proxy_pass looks its host
        # up here (a scan of all upstreams per route made a 2,000-site tree quadratic).
        self.upstreams_by_name: dict[str, list[Upstream]] = {}

    def build(self) -> None:
        maps: dict[str, list[NginxMap]] = {}
        for root in self.roots:
            for node in root.walk():
                if node.name == "map" and node.directive and node.directive.block is not None:
                    mapping = self._map(node)
                    if mapping is not None:
                        self.maps.append(mapping)
                        maps.setdefault(mapping.variable, []).append(mapping)
                elif (
                    node.name == "upstream" and node.directive and node.directive.block is not None
                ):
                    upstream = self._upstream(node)
                    self.upstreams.append(upstream)
                    self.upstreams_by_name.setdefault(upstream.name.lower(), []).append(upstream)
        self.values = _Values(maps)
        for root in self.roots:
            for node in root.walk():
                if node.name == "location" and node.directive:
                    route = self._route(node)
                    if route is not None:
                        self.routes.append(route)
                if node.directive and node.name in ("server", "location", "if"):
                    self._losses(node)
                if node.name in ("add_header", "more_set_headers"):
                    self._cors(node)

    # -- maps and upstreams

    def _map(self, node: NginxNode) -> NginxMap | None:
        if len(node.args) < 2 or node.span is None:
            return None
        entries = []
        hostnames = False
        for child in node.children:
            assert child.directive is not None
            key = Word(
                child.directive.name, child.directive.name_span, is_symbolic(child.directive.name)
            )
            if child.name in ("hostnames", "volatile") and not child.args:
                hostnames = hostnames or child.name == "hostnames"
                continue
            if not child.args:
                continue
            entries.append(MapEntry(key, child.args[0], child.directive.span))
        return NginxMap(
            node.args[0],
            _var_name(node.args[1].text),
            tuple(entries),
            node.span,
            hostnames,
            bool(node.opaque_includes),
            _root_id(node),
        )

    def _upstream(self, node: NginxNode) -> Upstream:
        assert node.span is not None
        servers = []
        method, method_span, key, consistent = "round-robin", None, "", False
        for child in node.children:
            if child.span is None:
                continue
            if child.name == "server" and child.args:
                params = {a.text for a in child.args[1:]}
                servers.append(
                    UpstreamServer(child.args[0], child.span, "backup" in params, "down" in params)
                )
            elif child.name in (
                "ip_hash",
                "least_conn",
                "random",
                "hash",
                "sticky",
                "least_time",
                "ntlm",
                "fair",
                "consistent_hash",
            ):
                if child.name == "ntlm":
                    continue
                method, method_span = child.name, child.span
                if child.name in ("hash", "consistent_hash"):
                    key = child.args[0].text if child.args else ""
                    consistent = child.name == "consistent_hash" or any(
                        a.text == "consistent" for a in child.args[1:]
                    )
                    method = "hash"
        name = node.args[0].text if node.args else ""
        return Upstream(
            name,
            node.span,
            tuple(servers),
            method,
            method_span,
            key,
            consistent,
            bool(node.opaque_includes),
            _root_id(node),
            node.directive,
        )

    def _upstream_named(self, name: str, root_id: int) -> Upstream | None:
        candidates = self.upstreams_by_name.get(name.lower(), [])
        same = [u for u in candidates if u.root_id == root_id]
        if same:
            return same[0]
        # Fragments nobody includes (conf.d/*.conf) end up in one http block at run time.
        return candidates[0] if len(candidates) == 1 else None

    # -- routes

    def _route(self, location: NginxNode) -> ProxyRoute | None:
        pass_node = _pass_node(location)
        if pass_node is None or not pass_node.args or location.span is None:
            return None
        assert pass_node.span is not None
        server = location.enclosing("server")
        header_level = array_level(location, "proxy_set_header")
        proxy_headers = _headers(header_level, "proxy_set_header")
        add_headers = effective_add_headers(location)
        target = _proxy_target(pass_node.args[0])
        if target.uses_variables:
            target = self._resolved(target, location, pass_node)
        upstream = None
        if target.host and not target.symbolic and not target.unix_socket:
            upstream = self._upstream_named(target.host, _root_id(location))
        connection = next((h for h in proxy_headers if h.name.lower() == "connection"), None)
        http_block, http_anchor = _http_level(location)
        route = ProxyRoute(
            span=location.span,
            where=location.where,
            location=_location_match(location),
            server_names=tuple(server.own_args("server_name")) if server else (),
            listens=listens(server),
            target=target,
            pass_span=pass_node.span,
            proxy_headers=tuple(proxy_headers),
            proxy_headers_from=header_level.where if header_level else None,
            add_headers=tuple(add_headers),
            read_timeout=_setting(location, "proxy_read_timeout", "60s"),
            send_timeout=_setting(location, "proxy_send_timeout", "60s"),
            http_version=_setting(location, "proxy_http_version", "1.0"),
            buffering=_setting(location, "proxy_buffering", "on"),
            auth=_auth(location),
            connection_upgrade=_connection_upgrade(connection, location, self.values),
            websocket_evidence=(),
            opaque_includes=tuple(opaque_in_chain(location)),
            rewrites=any(node.name == "rewrite" for node in location.walk()),
            via=location.via,
            upstream=upstream,
            dropped_proxy_headers=tuple(self._dropped(location, header_level)),
            block=location.directive,
            headers_own=header_level is location,
            http_block=http_block,
            http_anchor=http_anchor,
            root_id=_root_id(location),
            rate_limit=_rate_limit(location),
        )
        return replace(route, websocket_evidence=tuple(_ws_evidence(route)))

    def _resolved(
        self, target: ProxyTarget, location: NginxNode, pass_node: NginxNode
    ) -> ProxyTarget:
        """``target`` with the variables the rewrite directives give constant values
        replaced, as they stand when ``proxy_pass`` runs; unchanged when one is unknown
        (a ``map``, a request variable, a conditional ``set``)."""
        server = location.enclosing("server")
        values: dict[str, _Assigned] = {}
        if server is not None:
            at_server, goes_on = self._server_values(server)
            if not goes_on:
                return target  # the server level answers before any location
            values.update(at_server)
        holding = pass_node.parent if pass_node.parent is not location else None
        own = [c for c in location.children if c.name in _REWRITE_DIRECTIVES]
        if not _run_rewrites(own, values, holding) and holding is None:
            return target
        found = _substituted(target.word.text, values)
        if found is None:
            # `$scheme` alone may stay: it picks TLS or not, not the server reached.
            values.setdefault("scheme", ("$scheme", ()))
            found = _substituted(target.word.text, values)
        if found is None:
            return target
        return _resolve_target(target, *found) or target

    def _server_values(self, server: NginxNode) -> tuple[dict[str, _Assigned], bool]:
        """The variables the server level's rewrite directives set, and whether the
        processing goes on to a location; computed once per server, since its many
        locations ask the same question."""
        key = id(server)
        if key not in self._server_rewrites:
            values: dict[str, _Assigned] = {}
            directives = [c for c in server.children if c.name in _REWRITE_DIRECTIVES]
            goes_on = _run_rewrites(directives, values, None)
            self._server_rewrites[key] = (values, goes_on)
        return self._server_rewrites[key]

    def _dropped(self, location: NginxNode, header_level: NginxNode | None) -> list[Header]:
        if header_level is None or header_level.parent is None:
            return []
        inherited = _headers(
            array_level(header_level.parent, "proxy_set_header"), "proxy_set_header"
        )
        own = {h.name.lower() for h in _headers(header_level, "proxy_set_header")}
        return [h for h in inherited if h.name.lower() not in own]

    # -- inheritance losses

    def _losses(self, node: NginxNode) -> None:
        assert node.directive is not None
        for name in ("proxy_set_header", "add_header"):
            if name == "proxy_set_header" and node.name == "if":
                continue  # not allowed in "if"
            own = _headers(node, name)
            if not own or node.parent is None or node.opaque_includes:
                continue
            if name == "proxy_set_header" and not any(n.name == "proxy_pass" for n in node.walk()):
                continue  # nothing here proxies: the headers are never sent
            if name == "add_header":
                mode = effective_scalar(node, "add_header_inherit")
                if mode is not None and mode.args and mode.args[0].text in ("merge", "off"):
                    continue
                if node.name == "if" and node.own("return"):
                    continue  # a short-circuit answer (a CORS preflight), not a page
            parent_level = array_level(node.parent, name)
            if parent_level is None:
                continue
            inherited = (
                effective_add_headers(node.parent)
                if name == "add_header"
                else _headers(parent_level, name)
            )
            names = {h.name.lower() for h in own}
            lost = tuple(h for h in inherited if h.name.lower() not in names)
            if lost:
                self.losses.append(
                    HeaderLoss(
                        name,
                        node.where,
                        own[0].span,
                        node.directive.span,
                        lost,
                        tuple(own),
                        parent_level.where,
                        node.directive,
                    )
                )

    # -- CORS

    def _cors(self, node: NginxNode) -> None:
        level = node.parent
        if level is None or node.span is None:
            return
        if node.name == "add_header":
            if len(node.args) < 2 or node.args[0].text.lower() != "access-control-allow-origin":
                return
            origin_value = node.args[1]
        else:
            found = [
                h
                for h in _more_set_headers(level)
                if h.span == node.span and h.name.lower() == "access-control-allow-origin"
            ]
            if not found or found[0].value is None:
                return
            origin_value = found[0].value
        headers = effective_add_headers(level) + _more_set_headers(level)
        credentials = None
        for header in headers:
            if header.name.lower() != "access-control-allow-credentials" or header.value is None:
                continue
            possible = self.values.possible(header.value.text, level)
            if possible and any(v.lower() == "true" for v in possible):
                credentials = header.value
        flows = _origin_flows(origin_value, node, self.values)
        allowed: list[Word] = []
        patterns: list[OriginPattern] = []
        reflect_unguarded: Span | None = None
        reflect_guarded: Span | None = None
        for flow in flows:
            if flow.kind == "literal" and flow.word is not None and flow.word.text:
                allowed.append(flow.word)
            elif flow.kind == "reflect":
                if flow.guarded:
                    reflect_guarded = reflect_guarded or flow.span
                else:
                    reflect_unguarded = reflect_unguarded or flow.span
                allowed.extend(flow.exact)
                patterns.extend(flow.patterns)
        reflects = reflect_unguarded or reflect_guarded
        self.cors.append(
            CorsPolicy(
                kind="nginx",
                span=node.span,
                where=f"nginx {level.where}",
                allowed_origins=tuple(_unique_words(allowed)),
                origin_patterns=tuple(patterns),
                reflects_origin=reflects,
                reflection_guarded=reflects is not None and reflect_unguarded is None,
                allow_credentials=credentials,
            )
        )


def _unique_words(words: Iterable[Word]) -> list[Word]:
    seen: set[tuple[str, Span]] = set()
    out = []
    for word in words:
        if (word.text, word.span) not in seen:
            seen.add((word.text, word.span))
            out.append(word)
    return out


def _ws_evidence(route: ProxyRoute) -> Iterator[WebSocketEvidence]:
    location = route.location
    if location is not None and location.modifier != "@":
        path = location.path.text
        if location.is_regex:
            if _WS_PATH.search(path):
                yield WebSocketEvidence(
                    f"location pattern `{path}` ends in /ws", location.path.span
                )
        elif re.search(r"/(ws|websockets?)$", path.rstrip("/"), re.IGNORECASE):
            yield WebSocketEvidence(f"location path `{path}` ends in /ws", location.path.span)
    upgrade = route.proxy_header("Upgrade")
    if upgrade is not None and upgrade.value_text:
        yield WebSocketEvidence(f"sets `Upgrade {upgrade.value_text}`", upgrade.span)
    if route.connection_upgrade == "yes":
        connection = route.proxy_header("Connection")
        assert connection is not None
        yield WebSocketEvidence(f"sets `Connection {connection.value_text}`", connection.span)
    for header in route.dropped_proxy_headers:
        if header.name.lower() == "upgrade" and header.value_text:
            yield WebSocketEvidence(
                f"the enclosing level sets `Upgrade {header.value_text}`", header.span
            )
            break


# -- CORS: where the Access-Control-Allow-Origin value comes from


class _Flow(msgspec.Struct, frozen=True):
    kind: Literal["literal", "reflect", "unknown"]
    word: Word | None = None
    span: Span | None = None
    guarded: bool = False
    patterns: tuple[OriginPattern, ...] = ()
    exact: tuple[Word, ...] = ()


def _origin_guards(node: NginxNode) -> tuple[list[OriginPattern], list[Word]] | None:
    """The checks on ``$http_origin`` that must pass for ``node`` to run: enclosing
    ``if ($http_origin ~ ...)`` blocks, or an earlier ``if ($http_origin !~ ...) { return
    ...; }`` at an enclosing level. None when there is none."""
    patterns: list[OriginPattern] = []
    exact: list[Word] = []
    guarded = False
    for level in node.chain():
        if level.name == "if" and level.directive is not None:
            found = _origin_condition(level, negated=False)
            if found is not None:
                guarded = True
                patterns.extend(found[0])
                exact.extend(found[1])
        for sibling in level.own("if"):
            if sibling is level or not sibling.own("return"):
                continue
            found = _origin_condition(sibling, negated=True)
            if found is not None:
                guarded = True
                patterns.extend(found[0])
                exact.extend(found[1])
        if level.name in ("server", "http"):
            break
    return (patterns, exact) if guarded else None


def _origin_condition(
    node: NginxNode, *, negated: bool
) -> tuple[list[OriginPattern], list[Word]] | None:
    args = node.args
    if len(args) != 3 or _var_name(args[0].text) != "http_origin":
        return None
    operator = args[1].text
    positive = {"~": "~", "~*": "~*", "=": "="}
    negative = {"!~": "~", "!~*": "~*", "!=": "="}
    table = negative if negated else positive
    if operator not in table:
        return None
    kind = table[operator]
    if kind == "=":
        return [], [args[2]]
    return [OriginPattern(args[2].text, args[2].span, "search", kind == "~*")], []


def _origin_flows(value: Word, node: NginxNode, values: _Values, depth: int = 0) -> list[_Flow]:
    names = variables_in(value.text)
    if not names:
        return [_Flow("literal", word=value)]
    if depth > 6:
        return [_Flow("unknown")]
    flows: list[_Flow] = []
    for variable in dict.fromkeys(names):
        if variable == "http_origin":
            guards = _origin_guards(node)
            if guards is None:
                flows.append(_Flow("reflect", span=value.span))
            else:
                flows.append(
                    _Flow(
                        "reflect",
                        span=value.span,
                        guarded=True,
                        patterns=tuple(guards[0]),
                        exact=tuple(guards[1]),
                    )
                )
            continue
        sets = values.sets_in_scope(node, variable)
        for set_node in sets:
            if len(set_node.args) >= 2:
                flows.extend(_origin_flows(set_node.args[1], set_node, values, depth + 1))
        mapping = values.map_for(variable, _root_id(node))
        if mapping is not None:
            flows.extend(_map_flows(mapping, node, values, depth))
        if not sets and mapping is None:
            flows.append(_Flow("unknown"))
    return flows


def _map_flows(mapping: NginxMap, node: NginxNode, values: _Values, depth: int) -> list[_Flow]:
    from_origin = "http_origin" in variables_in(mapping.source.text)
    flows: list[_Flow] = []
    for entry in mapping.entries:
        inner = _origin_flows(entry.value, node, values, depth + 1)
        for flow in inner:
            if flow.kind != "reflect":
                flows.append(flow)
                continue
            reflect_span = entry.span
            if flow.guarded:
                flows.append(replace(flow, span=reflect_span))
            elif not from_origin or entry.is_default:
                flows.append(_Flow("reflect", span=reflect_span))
            elif entry.is_regex:
                flows.append(
                    _Flow(
                        "reflect",
                        span=reflect_span,
                        guarded=True,
                        patterns=(
                            OriginPattern(
                                entry.regex, entry.key.span, "search", entry.case_insensitive
                            ),
                        ),
                    )
                )
            else:
                flows.append(_Flow("reflect", span=reflect_span, guarded=True, exact=(entry.key,)))
    return flows


# -- the entry point --------------------------------------------------------------------

BackendLookup = Callable[[ProxyRoute], "BackendInfo | None"]


def resolve_nginx(
    files: Sequence[NginxFile],
    version: str | None = None,
    backend: BackendLookup | None = None,
) -> NginxModel:
    """Resolve includes across ``files`` and derive the facts rules read.

    ``backend``, when the stack can link a route to the process it reaches, adds what is
    known of that process (WebSocket use, ping interval) to each route."""
    builder = _TreeBuilder(sorted(files, key=lambda f: f.path))
    included = builder.included_files()
    roots: list[NginxNode] = []
    ordered = sorted(builder.files)
    for path in ordered:
        if path not in included:
            roots.append(builder.build_root(builder.files[path]))
    for path in ordered:  # files only reachable through a cycle
        if path not in builder.expanded:
            roots.append(builder.build_root(builder.files[path]))
    facts = _FactBuilder(roots)
    facts.build()
    routes = facts.routes
    if backend is not None:
        routes = [_with_backend(route, backend(route)) for route in routes]
    seen: set[Span] = set()
    cors = []
    for policy in facts.cors:
        if policy.span not in seen:
            seen.add(policy.span)
            cors.append(policy)
    return NginxModel(
        roots=roots,
        routes=routes,
        upstreams=facts.upstreams,
        maps=facts.maps,
        cors_policies=cors,
        header_losses=facts.losses,
        problems=builder.problems,
        version=parse_version(version),
    )


def _with_backend(route: ProxyRoute, info: BackendInfo | None) -> ProxyRoute:
    if info is None:
        return route
    evidence = route.websocket_evidence
    if info.websocket_paths is not None and not carries_path(route, info.websocket_paths):
        # `location /static/` in front of a Bokeh server: no WebSocket can pass here,
        # whatever headers the location sets.
        evidence = ()
    elif info.serves_websocket:
        sure = info.confidence == Confidence.HIGH
        evidence = (
            *evidence,
            WebSocketEvidence(f"proxies to {info.description}", info.span, strong=sure),
        )
    return replace(route, backend=info, websocket_evidence=evidence)


def carries_path(route: ProxyRoute, paths: Sequence[str]) -> bool:
    """Whether some request the location matches reaches the backend at one of
    ``paths``: a prefix location passes the request URI on, or replaces the matched
    prefix with the ``proxy_pass`` URI; an exact location sends that one URI; a
    regular-expression location passes the URI on (ngx_http_core_module ``location``,
    ngx_http_proxy_module ``proxy_pass``). True when that is not known here: a named
    location, a ``rewrite``, a target not resolved, a pattern Python cannot read."""
    location = route.location
    target = route.target
    if location is None or location.modifier == "@" or route.rewrites or target.symbolic:
        return True
    written = location.path.text
    if location.is_regex:
        flags = re.IGNORECASE if location.modifier == "~*" else 0
        try:
            pattern = re.compile(written, flags)
        except (re.error, RecursionError):
            return True
        return any(pattern.search(path) for path in paths)
    if target.uses_variables and target.uri:
        return target.uri in paths  # the URI replaces the whole request URI
    if location.modifier == "=":
        return (target.uri or written) in paths
    sent = target.uri or written
    return any(path.startswith(sent) for path in paths)


def requested_path(route: ProxyRoute, path: str) -> str | None:
    """The request path nginx turns into ``path`` for the backend: passed on unchanged
    (``proxy_pass`` without a URI), or with the location's prefix replaced by the URI
    (ngx_http_proxy_module ``proxy_pass``); None when not known here."""
    location, target = route.location, route.target
    if location is None or location.modifier == "@" or route.rewrites or target.symbolic:
        return None
    uri = target.uri
    if not uri:
        return path
    if location.is_regex or target.uses_variables:
        return None
    prefix = location.path.text
    if location.modifier == "=":
        return prefix if path == uri else None
    return prefix + path[len(uri) :] if path.startswith(uri) else None
