"""Proxy details: nginx targets written with variables, the WebSocket path a location
can carry, links made on a port alone, Traefik's internal services."""

from __future__ import annotations

import textwrap

import pytest

from stackaudit.extractors.nginx import extract_nginx
from stackaudit.facts.nginx import NginxFile, ProxyTarget
from stackaudit.model.nginx import resolve_nginx
from stackaudit.source import SourceFile


def target_of(server: str, location: str) -> ProxyTarget:
    text = textwrap.dedent(
        f"""
        upstream pool {{ server 10.0.0.1:5006; }}
        map $http_x_backend $chosen {{ default dash:5006; }}
        server {{
            listen 80;
            {server}
            location /app/ {{
                {location}
            }}
        }}
        """
    )
    extraction = extract_nginx(SourceFile("site.conf", "nginx", text))
    files = [f for f in extraction.facts if isinstance(f, NginxFile)]
    [route] = resolve_nginx(files).routes
    return route.target


# -- nginx: proxy_pass with variables -------------------------------------------------


@pytest.mark.parametrize(
    ("server", "location", "expected"),
    [
        # the docker pattern: resolver + set at server level
        (
            "resolver 127.0.0.11; set $upstream app:8000;",
            "proxy_pass http://$upstream;",
            ("http", "app", "8000", ""),
        ),
        ("", "set $upstream app:8000; proxy_pass http://$upstream;", ("http", "app", "8000", "")),
        ("", "set $u app; proxy_pass http://${u}:8000/x;", ("http", "app", "8000", "/x")),
        ("", "set $target https://app:8443; proxy_pass $target;", ("https", "app", "8443", "")),
        # a variable set from another one
        (
            "set $host_only app;",
            "set $u http://$host_only:5006; proxy_pass $u;",
            ("http", "app", "5006", ""),
        ),
        # the last set that runs wins: the location's after the server's
        (
            "set $u app:8000;",
            "set $u dash:5006; proxy_pass http://$u;",
            ("http", "dash", "5006", ""),
        ),
        # $scheme stays unknown: enough when the port is written
        ("", "set $u app:8000; proxy_pass $scheme://$u;", ("", "app", "8000", "")),
        # the name is looked up among the upstreams first
        ("", "set $u pool; proxy_pass http://$u;", ("http", "pool", "", "")),
        # a set inside the if that holds proxy_pass runs whenever it does
        ("", "if ($arg_a) { set $u app:8000; proxy_pass http://$u; }", ("http", "app", "8000", "")),
        # a conditional set after an unconditional one: either value
        ("", "set $u app:8000; if ($arg_a) { set $u dash:5006; } proxy_pass http://$u;", None),
        # set under a condition only
        ("if ($arg_a) { set $u app:8000; }", "proxy_pass http://$u;", None),
        # a map, a request variable, a capture: not known before the request
        ("", "proxy_pass http://$chosen;", None),
        ("", "proxy_pass http://$host:8000;", None),
        ("", "set $u $http_x_backend; proxy_pass http://$u;", None),
        ("", "proxy_pass $scheme://$u;", None),
        # $scheme without a port: 80 or 443, the request decides
        ("", "set $u app; proxy_pass $scheme://$u;", None),
        # a break before the set: the set never runs
        ("", "break; set $u app:8000; proxy_pass http://$u;", None),
        # an enclosing level's `set` in another server does not count
        ("", "proxy_pass http://$elsewhere;", None),
    ],
)
def test_proxy_pass_variables_resolve_through_set(
    server: str, location: str, expected: tuple[str, str, str, str] | None
) -> None:
    target = target_of(server, location)
    if expected is None:
        assert target.symbolic
        return
    assert not target.symbolic and target.uses_variables and target.resolved_by
    assert (target.scheme, target.host, target.port, target.uri) == expected


def test_nested_location_does_not_run_the_enclosing_locations_set() -> None:
    text = textwrap.dedent(
        """
        server {
            listen 80;
            location /outer/ {
                set $u app:8000;
                location /outer/inner/ {
                    proxy_pass http://$u;
                }
            }
        }
        """
    )
    extraction = extract_nginx(SourceFile("site.conf", "nginx", text))
    files = [f for f in extraction.facts if isinstance(f, NginxFile)]
    [route] = resolve_nginx(files).routes
    assert route.target.symbolic


def test_resolved_name_of_an_upstream_gives_the_upstream() -> None:
    text = "upstream pool { server 10.0.0.1:5006; }\nserver { set $u pool; location / { proxy_pass http://$u; } }\n"
    extraction = extract_nginx(SourceFile("site.conf", "nginx", text))
    files = [f for f in extraction.facts if isinstance(f, NginxFile)]
    [route] = resolve_nginx(files).routes
    assert route.upstream is not None and route.upstream.name == "pool"
