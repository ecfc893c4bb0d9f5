"""Proxy details: nginx targets written with variables, the WebSocket path a location
can carry, links made on a port alone, Traefik's internal services."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stackaudit.config import Config
from stackaudit.diagnostics import Confidence
from stackaudit.extractors.nginx import extract_nginx
from stackaudit.extractors.shell import extract_shell
from stackaudit.facts.nginx import NginxFile, ProxyRoute, ProxyTarget
from stackaudit.facts.serve import ServeCommand
from stackaudit.graph import build_stack
from stackaudit.model.nginx import carries_path, resolve_nginx
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile

from .support import write_files


def routes_of(text: str) -> list[ProxyRoute]:
    extraction = extract_nginx(SourceFile("site.conf", "nginx", textwrap.dedent(text)))
    return resolve_nginx([f for f in extraction.facts if isinstance(f, NginxFile)]).routes


def started_by(script: str) -> ServeCommand:
    facts = extract_shell(SourceFile("start.sh", "shell", "#!/bin/sh\n" + script)).facts
    [command] = [fact for fact in facts if isinstance(fact, ServeCommand)]
    return command


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


# -- the WebSocket path a location can carry ------------------------------------------


@pytest.mark.parametrize(
    ("line", "paths"),
    [
        ("panel serve app.py", ("/app/ws",)),
        ("bokeh serve sales.py maps/ --prefix /dash/", ("/dash/sales/ws", "/dash/maps/ws")),
        ("bokeh serve", ("/ws",)),
        ("panel serve app.py other.ipynb --index app", ("/app/ws", "/other/ws", "/ws")),
        ("panel serve app.py --index index.html", ("/app/ws",)),
        ("panel serve apps/*.py", None),
        ("panel serve app.py --glob", None),
        ("panel serve $APP", None),
        ("panel serve app.py --prefix $PREFIX", None),
        ("uvicorn main:app", None),
    ],
)
def test_websocket_paths_of_a_server(line: str, paths: tuple[str, ...] | None) -> None:
    assert started_by(line).websocket_paths() == paths


@pytest.mark.parametrize(
    ("location", "target", "carries"),
    [
        ("/", "http://dash:5006", True),
        ("/app/", "http://dash:5006", True),
        ("/static/", "http://dash:5006", False),
        ("/app/ws/extra", "http://dash:5006", False),
        ("= /app/ws", "http://dash:5006", True),
        ("= /app", "http://dash:5006", False),
        ("/live/", "http://dash:5006/app/", True),
        ("/live/", "http://dash:5006/static/", False),
        ("~ /ws$", "http://dash:5006", True),
        ("~ \\.js$", "http://dash:5006", False),
        ("~* /WS$", "http://dash:5006", True),
        ("~ ^/(", "http://dash:5006", True),  # not a pattern Python reads: unknown
        ("@fallback", "http://dash:5006", True),
        ("/static/", "http://dash:5006$request_uri", True),  # unknown target
    ],
)
def test_location_carries_the_websocket_path(location: str, target: str, carries: bool) -> None:
    [route] = routes_of(f"server {{ listen 80; location {location} {{ proxy_pass {target}; }} }}")
    assert carries_path(route, ("/app/ws",)) is carries


def test_a_rewrite_makes_the_path_unknown() -> None:
    [route] = routes_of(
        "server { location /static/ { rewrite ^/static/(.*)$ /$1 break; "
        "proxy_pass http://dash:5006; } }"
    )
    assert carries_path(route, ("/app/ws",))


# -- links made on a port alone -------------------------------------------------------


def stack_of(tmp_path: Path, files: dict[str, str]) -> Stack:
    write_files(tmp_path, {name: textwrap.dedent(text) for name, text in files.items()})
    return build_stack([tmp_path], tmp_path, Config(), 1)


SITE = "server { listen 80; location / { proxy_pass http://%s; } }\n"


@pytest.mark.parametrize(
    ("scripts", "target", "expected"),
    [
        # one server on the port: linked, medium confidence
        (["panel serve app.py --port 5006"], "127.0.0.1:5006", [Confidence.MEDIUM]),
        (["panel serve app.py"], "localhost:5006", [Confidence.MEDIUM]),
        (["panel serve app.py"], "127.0.0.2:5006", [Confidence.MEDIUM]),
        (["uvicorn main:app"], "127.0.0.1:8000", [Confidence.MEDIUM]),
        (["gunicorn main:app"], "127.0.0.1:8000", [Confidence.MEDIUM]),
        # a default counts only for the server whose default it is
        (["panel serve app.py"], "127.0.0.1:8000", []),
        (["uvicorn main:app"], "127.0.0.1:5006", []),
        # another machine: the port alone says nothing
        (["panel serve app.py"], "10.0.0.7:5006", []),
        (["panel serve app.py"], "dash.internal:5006", []),
        # bound to another interface only
        (["panel serve app.py --address 10.0.0.5"], "127.0.0.1:5006", []),
        (["uvicorn main:app --host 10.0.0.5"], "127.0.0.1:8000", []),
        # several could hold the port: each, at low confidence
        (["panel serve a.py", "panel serve b.py"], "127.0.0.1:5006", [Confidence.LOW] * 2),
        # a development branch counts only when nothing else listens there
        (
            ['if [ "$ENV" = dev ]; then panel serve a.py --dev; fi', "panel serve b.py"],
            "127.0.0.1:5006",
            [Confidence.MEDIUM],
        ),
    ],
)
def test_links_on_a_port_alone(
    tmp_path: Path, scripts: list[str], target: str, expected: list[Confidence]
) -> None:
    files = {f"run{i}.sh": "#!/bin/sh\n" + line + "\n" for i, line in enumerate(scripts)}
    stack = stack_of(tmp_path, {**files, "site.conf": SITE % target})
    [frontend] = stack.links.frontends
    assert [backend.confidence for backend in frontend.backends] == expected


def test_loopback_of_a_container_is_not_the_host(tmp_path: Path) -> None:
    compose = """
    services:
      nginx:
        image: nginx:1.27
        %s
        volumes: ["./site.conf:/etc/nginx/conf.d/default.conf:ro"]
    """
    script = {"run.sh": "#!/bin/sh\npanel serve app.py\n", "site.conf": SITE % "127.0.0.1:5006"}
    own = stack_of(tmp_path / "own", {**script, "docker-compose.yml": compose % ""})
    assert own.links.frontends[0].backends == ()
    host = stack_of(
        tmp_path / "host", {**script, "docker-compose.yml": compose % "network_mode: host"}
    )
    assert len(host.links.frontends[0].backends) == 1


def test_websocket_finding_is_as_sure_as_the_link(tmp_path: Path) -> None:
    stack = stack_of(
        tmp_path,
        {"run.sh": "#!/bin/sh\npanel serve app.py\n", "site.conf": SITE % "127.0.0.1:5006"},
    )
    [route] = stack.nginx_routes
    assert route.is_websocket and route.websocket_confidence == Confidence.MEDIUM
