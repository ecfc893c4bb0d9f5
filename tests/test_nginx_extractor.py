"""nginx: parsing with positions, include resolution, templates, nginx's inheritance
rules, and the facts the rules read."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackaudit.diagnostics import Span
from stackaudit.extractors.nginx import extract_nginx, neutralise_templates
from stackaudit.facts.durations import parse_duration
from stackaudit.facts.nginx import NginxFile, NginxModel, ProxyRoute
from stackaudit.facts.origin_regex import (
    analyse_origin_regex,
    matches_every_origin,
    may_match_null,
)
from stackaudit.model.nginx import parse_version, resolve_nginx
from stackaudit.source import SourceFile

from .support import CORPUS


def parse(text: str, path: str = "nginx.conf") -> tuple[NginxFile | None, list[str]]:
    extraction = extract_nginx(SourceFile(path, "nginx", textwrap.dedent(text).lstrip("\n")))
    files = [f for f in extraction.facts if isinstance(f, NginxFile)]
    return (files[0] if files else None), [p.message for p in extraction.problems]


def model(files: dict[str, str], version: str | None = None) -> NginxModel:
    parsed = []
    for path, text in files.items():
        nginx_file, problems = parse(text, path)
        assert nginx_file is not None and problems == [], problems
        parsed.append(nginx_file)
    return resolve_nginx(parsed, version=version)


def route(m: NginxModel, path: str) -> ProxyRoute:
    found = [r for r in m.routes if r.location and r.location.path.text == path]
    assert len(found) == 1, [r.where for r in m.routes]
    return found[0]


def header_names(r: ProxyRoute) -> list[str]:
    return [h.name for h in r.proxy_headers]


# -- positions --------------------------------------------------------------------------


def test_directive_and_argument_columns() -> None:
    nginx_file, problems = parse("""
        server {
            listen 80;
          location  /ws {
                proxy_set_header  Connection "upgrade";  # a comment
            }
        }
    """)
    assert problems == [] and nginx_file is not None
    server = nginx_file.directives[0]
    assert server.span == Span("nginx.conf", 1, 1, 1, 9)
    assert server.block is not None
    location = server.block[1]
    assert location.name_span == Span("nginx.conf", 3, 3, 3, 11)
    assert location.args[0].span == Span("nginx.conf", 3, 13, 3, 16)
    assert location.block is not None
    header = location.block[0]
    assert header.span.line == 4 and header.span.column == 9
    assert header.args[1].text == "upgrade"
    # The quoted argument's span covers the quotes.
    assert header.args[1].span == Span("nginx.conf", 4, 38, 4, 47)


def test_if_parentheses_are_removed_with_their_spans() -> None:
    nginx_file, _ = parse("""
        location / {
            if ($http_origin ~* "^https://a\\.example\\.com$") { return 403; }
        }
    """)
    assert nginx_file is not None and nginx_file.directives[0].block
    condition = nginx_file.directives[0].block[0]
    assert [a.text for a in condition.args] == ["$http_origin", "~*", "^https://a\\.example\\.com$"]
    assert condition.args[0].span.column == 9


def test_lua_blocks_do_not_break_alignment() -> None:
    nginx_file, problems = parse("""
        location / {
            content_by_lua_block { ngx.say("}") }
            proxy_pass http://app:8000;
        }
    """)
    assert problems == [] and nginx_file is not None
    block = nginx_file.directives[0].block
    assert block is not None
    assert block[1].name == "proxy_pass"
    assert block[1].span.line == 3 and block[1].span.column == 5


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("server {\n  listen 80;\n", 2, 'expecting "}"'),
        ("server {\n  listen 80;\n}\n}\n", 4, 'unexpected "}"'),
        ("server {\n  listen 80\n}\n", 3, 'not terminated by ";"'),
        ('server {\n  return 200 "unterminated;\n}\n', 2, "unterminated quoted string"),
    ],
)
def test_syntax_errors_are_problems(text: str, line: int, reason: str) -> None:
    extraction = extract_nginx(SourceFile("nginx.conf", "nginx", text))
    assert [p.span.line for p in extraction.problems] == [line]
    assert reason in extraction.problems[0].message


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="server{};location /ws\"'#$\\\n proxy_pass~^()*.", max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    extraction = extract_nginx(SourceFile("nginx.conf", "nginx", text))
    files = [f for f in extraction.facts if isinstance(f, NginxFile)]
    resolve_nginx(files)


# -- templates --------------------------------------------------------------------------


def test_template_placeholders_keep_offsets() -> None:
    text = "listen {{ port }};\n{% if x %}\nserver_name a;\n{% endif %}\n"
    neutral, changed = neutralise_templates(text)
    assert changed and len(neutral) == len(text)
    assert neutral.count("\n") == text.count("\n")


def test_templates_parse_and_stay_symbolic() -> None:
    nginx_file, problems = parse(
        """
        server {
            listen {{ nginx_port }};
            location / { proxy_pass http://${APP_HOST}:%app_port%; }
        }
    """,
        "nginx/site.tpl",
    )
    assert problems == [] and nginx_file is not None and nginx_file.template
    server = nginx_file.directives[0]
    assert server.block is not None
    listen = server.block[0]
    assert listen.args[0].text == "{{ nginx_port }}" and listen.args[0].symbolic


def test_broken_template_says_so() -> None:
    _, problems = parse("server {\n  listen ${PORT};\n", "default.conf.template")
    assert problems and problems[0].startswith("template could not be read as nginx")


# -- includes ---------------------------------------------------------------------------

WS_SNIPPET = """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
"""


def test_include_inside_location_provides_headers() -> None:
    m = model(
        {
            "nginx.conf": """
            http {
                server {
                    location /ws { proxy_pass http://app; include snippets/ws.conf; }
                }
            }
        """,
            "snippets/ws.conf": WS_SNIPPET,
        }
    )
    r = route(m, "/ws")
    assert header_names(r) == ["Upgrade", "Connection"]
    assert r.http_version.text == "1.1" and r.connection_upgrade == "yes"
    assert r.opaque_includes == ()


def test_absolute_include_maps_onto_the_tree_by_trailing_path() -> None:
    m = model(
        {
            "deploy/nginx/nginx.conf": "http { include /etc/nginx/conf.d/*.conf; }",
            "deploy/nginx/conf.d/b.conf": "server { location /b { proxy_pass http://b; } }",
            "deploy/nginx/conf.d/a.conf": "server { location /a { proxy_pass http://a; } }",
            "other/conf.d/c.conf": "server { location /c { proxy_pass http://c; } }",
        }
    )
    # a.conf and b.conf are analysed inside http {} of nginx.conf, in sorted order;
    # other/conf.d is a different tree (nobody includes it: its own root).
    first_root = m.roots[0]
    assert first_root.context == "main"
    http = first_root.children[0]
    assert [n.children[0].args[0].text for n in http.children] == ["/a", "/b"]
    assert {r.location.path.text for r in m.routes if r.location} == {"/a", "/b", "/c"}


def test_relative_include_is_relative_to_the_main_config() -> None:
    m = model(
        {
            "etc/nginx/nginx.conf": "http { include sites-enabled/*; }",
            "etc/nginx/sites-enabled/site": "server { location /x { proxy_pass http://x; "
            "include snippets/ws.conf; } }",
            "etc/nginx/snippets/ws.conf": WS_SNIPPET,
        }
    )
    assert route(m, "/x").upgrade_forwarded
    assert len(m.roots) == 1


def test_unknown_include_is_opaque_and_stock_ones_are_not() -> None:
    m = model(
        {
            "nginx.conf": """
        http {
            include mime.types;
            server { location / { proxy_pass http://x; include proxy_params; } }
        }
    """
        }
    )
    r = route(m, "/")
    assert [w.text for w in r.opaque_includes] == ["proxy_params"]


def test_include_cycle_is_reported_and_cut() -> None:
    m = model(
        {
            "nginx.conf": "http { include a.conf; }",
            "a.conf": "include b.conf; server { location / { proxy_pass http://x; } }",
            "b.conf": "include a.conf;",
        }
    )
    assert any("include cycle" in p.message for p in m.problems)
    assert len(m.routes) == 1


def test_include_never_leaves_the_scanned_root() -> None:
    m = model({"site/nginx.conf": "http { include ../../etc/passwd; }"})
    assert m.problems == []
    assert m.roots[0].children[0].opaque_includes[0].text == "../../etc/passwd"


def test_fragment_nobody_includes_sits_in_http() -> None:
    m = model({"conf.d/app.conf": "server { location / { proxy_pass http://app; } }"})
    assert m.roots[0].context == "http"
    assert route(m, "/").where == "location / (unnamed server)"


# -- inheritance ------------------------------------------------------------------------

SERVER_HEADERS = """
    http {
        server {
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header Strict-Transport-Security "max-age=1" always;
            location /own { proxy_pass http://a; proxy_set_header X-Id $request_id;
                            add_header Cache-Control public; }
            location /none { proxy_pass http://a; }
            location /nested {
                location /nested/inner { proxy_pass http://a; }
            }
        }
    }
"""


def test_location_defining_one_proxy_header_loses_the_servers() -> None:
    m = model({"nginx.conf": SERVER_HEADERS})
    r = route(m, "/own")
    assert header_names(r) == ["X-Id"]
    assert [h.name for h in r.dropped_proxy_headers] == ["Host", "X-Forwarded-Proto"]
    losses = {(x.directive, x.where) for x in m.header_losses}
    assert ("proxy_set_header", "location /own (unnamed server)") in losses


def test_location_with_none_inherits_them() -> None:
    m = model({"nginx.conf": SERVER_HEADERS})
    assert header_names(route(m, "/none")) == ["Host", "X-Forwarded-Proto"]
    assert header_names(route(m, "/nested/inner")) == ["Host", "X-Forwarded-Proto"]
    assert route(m, "/none").proxy_headers_from == "unnamed server"


def test_add_header_follows_the_same_rule() -> None:
    m = model({"nginx.conf": SERVER_HEADERS})
    assert [h.name for h in route(m, "/own").add_headers] == ["Cache-Control"]
    assert [h.name for h in route(m, "/none").add_headers] == ["Strict-Transport-Security"]
    losses = [x for x in m.header_losses if x.directive == "add_header"]
    assert [h.name for h in losses[0].lost] == ["Strict-Transport-Security"]


def test_add_header_inherit_merge_appends() -> None:
    m = model(
        {
            "nginx.conf": """
        http {
            add_header_inherit merge;
            server {
                add_header A 1;
                location / { proxy_pass http://x; add_header B 2; }
            }
        }
    """
        }
    )
    assert [h.name for h in route(m, "/").add_headers] == ["A", "B"]
    assert m.header_losses == []


def test_add_header_inherit_off_keeps_only_own() -> None:
    m = model(
        {
            "nginx.conf": """
        http {
            server {
                add_header A 1;
                location / { proxy_pass http://x; add_header_inherit off; }
            }
        }
    """
        }
    )
    assert route(m, "/").add_headers == ()


def test_ordinary_directives_inherit_and_default() -> None:
    m = model(
        {
            "nginx.conf": """
        http {
            proxy_read_timeout 1h;
            server {
                location /a { proxy_pass http://x; }
                location /b { proxy_pass http://x; proxy_read_timeout 30; }
            }
        }
    """
        }
    )
    a, b = route(m, "/a"), route(m, "/b")
    assert a.read_timeout.seconds == 3600 and a.read_timeout.explicit
    assert b.read_timeout.seconds == 30
    assert a.http_version.text == "1.0" and not a.http_version.explicit
    assert a.send_timeout.seconds == 60 and not a.send_timeout.explicit


def test_default_proxy_headers_are_nginx_defaults() -> None:
    m = model({"nginx.conf": "server { location /ws { proxy_pass http://x; } }"})
    r = route(m, "/ws")
    assert r.proxy_headers == () and r.proxy_headers_from is None
    assert r.connection_upgrade == "no" and r.is_websocket


# -- route facts ------------------------------------------------------------------------


def test_route_facts() -> None:
    m = model(
        {
            "nginx.conf": """
        http {
            upstream app { ip_hash; server 10.0.0.1:5006; server 10.0.0.2:5006; }
            server {
                listen 443 ssl http2;
                server_name dash.example.com www.example.com;
                auth_basic "closed";
                location ~* ^/app/(.*)/ws$ { proxy_pass http://app; auth_basic off; }
                location = /x { proxy_pass http://unix:/run/app.sock:/x; }
                location /y { proxy_pass http://$backend:8000; allow 10.0.0.0/8; deny all; }
                location /z { proxy_pass https://api.example.com:8443/v1/; }
            }
        }
    """
        }
    )
    ws = route(m, "^/app/(.*)/ws$")
    assert ws.location is not None and ws.location.is_regex and ws.location.modifier == "~*"
    assert [w.text for w in ws.server_names] == ["dash.example.com", "www.example.com"]
    assert ws.ssl and ws.listens[0].port == "443"
    assert ws.upstream is not None and ws.upstream.affinity() == "ip_hash"
    assert not ws.auth.any and ws.is_websocket
    x = route(m, "/x")
    assert x.target.unix_socket == "/run/app.sock" and x.target.uri == "/x"
    assert x.auth.kinds == ("auth_basic",)
    y = route(m, "/y")
    assert y.target.symbolic and y.auth.access_restricted
    z = route(m, "/z")
    assert (z.target.scheme, z.target.host, z.target.port, z.target.uri) == (
        "https",
        "api.example.com",
        "8443",
        "/v1/",
    )


@pytest.mark.parametrize(
    ("method", "affine"),
    [
        ("", False),
        ("least_conn;", False),
        ("random two;", False),
        ("ip_hash;", True),
        ("hash $remote_addr;", True),
        ("hash $binary_remote_addr consistent;", True),
        ("hash $request_uri consistent;", False),
        ("hash $cookie_route;", True),
        ("sticky cookie srv_id;", True),
    ],
)
def test_upstream_affinity(method: str, affine: bool) -> None:
    m = model({"nginx.conf": f"http {{ upstream u {{ {method} server a; server b; }} }}"})
    assert (m.upstreams[0].affinity() is not None) is affine


def test_cors_policy_from_validating_map() -> None:
    m = model(
        {
            "nginx.conf": """
        http {
            map $http_origin $cors {
                default "";
                "~^https://a\\.example\\.com$" $http_origin;
                "https://b.example.com" $http_origin;
            }
            server {
                location / {
                    proxy_pass http://x;
                    add_header Access-Control-Allow-Origin $cors;
                    add_header Access-Control-Allow-Credentials true;
                }
            }
        }
    """
        }
    )
    (policy,) = m.cors_policies
    assert policy.kind == "nginx" and policy.reflection_guarded
    assert [p.pattern for p in policy.origin_patterns] == ["^https://a\\.example\\.com$"]
    assert policy.origin_patterns[0].match == "search"
    assert [w.text for w in policy.allowed_origins] == ["https://b.example.com"]
    assert policy.allow_credentials is not None


def test_connection_map_idiom() -> None:
    m = model(
        {
            "nginx.conf": """
        http {
            map $http_upgrade $connection_upgrade { default upgrade; '' close; }
            map $http_upgrade $keepalive_only { default keep-alive; }
            server {
                location /a { proxy_pass http://x; proxy_set_header Upgrade $http_upgrade;
                              proxy_set_header Connection $connection_upgrade; }
                location /b { proxy_pass http://x; proxy_set_header Upgrade $http_upgrade;
                              proxy_set_header Connection $keepalive_only; }
                location /c { proxy_pass http://x; proxy_set_header Upgrade $http_upgrade;
                              proxy_set_header Connection $undefined; }
            }
        }
    """
        }
    )
    assert route(m, "/a").connection_upgrade == "yes"
    assert route(m, "/b").connection_upgrade == "no"
    assert route(m, "/c").connection_upgrade == "unknown"


# -- values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60", 60),
        ("60s", 60),
        ("1m", 60),
        ("1h", 3600),
        ("1d", 86400),
        ("500ms", 0.5),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("2w", 1209600),
        ("0", 0),
        ("", None),
        ("1y", None),
        ("30 m", None),
        ("1m1h", None),
        ("abc", None),
        ("1x", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_durations_in_seconds_directives() -> None:
    assert parse_duration("1y", msec=False) == 365 * 86400
    assert parse_duration("500ms", msec=False) is None


def test_version() -> None:
    assert parse_version("1.29.7") == (1, 29, 7)
    assert parse_version("1.27") == (1, 27, 0)
    assert parse_version(None) is None and parse_version("mainline") is None


# -- origin regexes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "mode", "kind"),
    [
        (r"^https://example\.com", "search", "unanchored-end"),
        (r"https://.*example\.com", "fullmatch", "wildcard-into-domain"),
        (r"^https://app.example.com$", "search", "unescaped-dot"),
        (r"https://.*\.com", "fullmatch", "tld-only"),
        (r"example\.com$", "search", "unanchored-start"),
        (r"^https://example\.com.*$", "search", "wildcard-after-host"),
        (r"^https?://.*\.?example\.com$", "search", "wildcard-into-domain"),
    ],
)
def test_overbroad_origin_patterns(pattern: str, mode: str, kind: str) -> None:
    findings = analyse_origin_regex(pattern, mode)  # type: ignore[arg-type]
    assert kind in [f.kind for f in findings]


@pytest.mark.parametrize(
    ("pattern", "mode"),
    [
        (r"^https://([a-z0-9-]+\.)*example\.com$", "search"),
        (r"https://.*\.example\.com", "fullmatch"),
        (r"^https://(www\.)?example\.com(:[0-9]+)?$", "search"),
        (r"^https://example.com$", "search"),  # the only unescaped dot is before the TLD
        (r"^(https://a\.com|https://b\.org)$", "search"),
    ],
)
def test_tight_origin_patterns(pattern: str, mode: str) -> None:
    assert analyse_origin_regex(pattern, mode) == []  # type: ignore[arg-type]
    assert not matches_every_origin(pattern, mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern", [".*", "^.*$", ".+", "https?://.*", r"^https://[\w.-]+$"])
def test_patterns_matching_everything(pattern: str) -> None:
    assert matches_every_origin(pattern, "fullmatch")


def test_catastrophic_patterns_are_safe() -> None:
    evil = "^(https?://)?(([a-z]+)*\\.)+(a|aa|aaa)*(x+x+)+y$" * 20
    start = time.perf_counter()
    analyse_origin_regex(evil, "search")
    matches_every_origin(evil, "search")
    assert time.perf_counter() - start < 1
    assert not may_match_null("^(n+)+$x", "search")
    assert may_match_null("^(null|https://a\\.com)$", "search")


# -- the corpus -------------------------------------------------------------------------


def test_every_corpus_config_parses() -> None:
    directory = CORPUS / "nginx"
    if not directory.is_dir():
        pytest.skip("no corpus")
    files: list[NginxFile] = []
    for path in sorted(Path(directory).iterdir()):
        extraction = extract_nginx(SourceFile(path.name, "nginx", path.read_text("utf-8")))
        files.extend(f for f in extraction.facts if isinstance(f, NginxFile))
    m = resolve_nginx(files)
    assert len(m.routes) >= 8
