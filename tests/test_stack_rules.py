"""What the stack rules SA105, SA506 and SA508 read from the links: how a proxy route
treats the path and the Host header, whether it terminates TLS, and the helpers the
rules decide with."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stackaudit.config import Config
from stackaudit.diagnostics import Span
from stackaudit.facts.common import Word
from stackaudit.facts.deploy import TraefikRouter
from stackaudit.facts.deps import DependencyPin
from stackaudit.facts.serve import only_loopback_addresses
from stackaudit.graph import build_stack
from stackaudit.model.links import Frontend
from stackaudit.model.stack import Stack

from .support import scan, write_files

COMPOSE = """
services:
  dash:
    image: registry.example.com/dash:1
    command: panel serve app.py --allow-websocket-origin=dash.example.com
"""


def stack_of(tmp_path: Path, files: dict[str, str]) -> Stack:
    write_files(tmp_path, {name: textwrap.dedent(text) for name, text in files.items()})
    return build_stack([tmp_path], tmp_path, Config(), 1)


def nginx_frontend(tmp_path: Path, location: str, body: str) -> Frontend:
    conf = f"""
    server {{
        listen 80;
        server_name dash.example.com;
        location {location} {{
            {body}
        }}
    }}
    """
    frontends = stack_of(
        tmp_path, {"docker-compose.yml": COMPOSE, "site.conf": conf}
    ).links.frontends
    assert len(frontends) == 1
    return frontends[0]


# -- nginx: path handling -------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "body", "strips", "base"),
    [
        ("/dash/", "proxy_pass http://dash:5006;", False, "dash"),
        ("/dash/", "proxy_pass http://dash:5006/;", True, ""),
        ("/dash/", "proxy_pass http://dash:5006/dash/;", False, "dash"),
        ("/dash/", "proxy_pass http://dash:5006/app/;", True, "app"),
        ("~ ^/dash/", "proxy_pass http://dash:5006;", None, None),
        ("/dash/", "proxy_pass http://dash:5006$request_uri;", None, None),
        ("/dash/", "rewrite ^/dash/(.*)$ /$1 break; proxy_pass http://dash:5006;", None, None),
    ],
)
def test_nginx_path_handling(
    tmp_path: Path, location: str, body: str, strips: bool | None, base: str | None
) -> None:
    frontend = nginx_frontend(tmp_path, location, body)
    assert frontend.strips_path is strips
    assert frontend.received_base == base


@pytest.mark.parametrize(
    ("header", "forwards"),
    [
        ("", False),
        ("proxy_set_header Host $host;", True),
        ("proxy_set_header Host $http_host;", True),
        ("proxy_set_header Host dash.internal;", False),
        ("include proxy_params;", None),
    ],
)
def test_nginx_host_forwarding(tmp_path: Path, header: str, forwards: bool | None) -> None:
    frontend = nginx_frontend(tmp_path, "/", f"proxy_pass http://dash:5006; {header}")
    assert frontend.forwards_host is forwards


@pytest.mark.parametrize(
    ("header", "origin", "matches"),
    [
        ("proxy_set_header Host $host;", "dash.example.com", True),
        ("proxy_set_header Host $host;", "dash.example.com:8080", False),
        ("proxy_set_header Host $http_host;", "dash.example.com:8080", True),
        ("proxy_set_header Host dash.example.com;", "dash.example.com", True),
        ("proxy_set_header Host $server_name;", "dash.example.com", None),
        ("", "dash.example.com", False),
    ],
)
def test_host_seen_by_the_server(
    tmp_path: Path, header: str, origin: str, matches: bool | None
) -> None:
    frontend = nginx_frontend(tmp_path, "/", f"proxy_pass http://dash:5006; {header}")
    assert frontend.host_matches(origin) is matches


def test_backend_and_frontend_descriptions(tmp_path: Path) -> None:
    frontend = nginx_frontend(tmp_path, "/", "proxy_pass http://dash:5006;")
    assert frontend.serves(frontend.public_hosts) == "nginx serves dash.example.com (site.conf:5)"
    assert frontend.backends[0].description == (
        "the Panel server in compose service `dash` (docker-compose.yml:3)"
    )


# -- Traefik and Ingress ----------------------------------------------------------------


def traefik(tmp_path: Path, *labels: str, command: str = "--providers.docker") -> Frontend:
    lines = "\n".join(f"      - {label}" for label in labels)
    compose = f"""
services:
  traefik:
    image: traefik:v3.3
    command: [{command}]
  dash:
    image: registry.example.com/dash:1
    command: panel serve app.py
    labels:
      - traefik.http.routers.dash.rule=Host(`dash.example.com`) && PathPrefix(`/dash`)
{lines}
"""
    write_files(tmp_path, {"docker-compose.yml": compose})
    frontends = build_stack([tmp_path], tmp_path, Config(), 1).links.frontends
    assert len(frontends) == 1
    return frontends[0]


def test_traefik_defaults(tmp_path: Path) -> None:
    frontend = traefik(tmp_path)
    assert frontend.forwards_host is True
    assert frontend.strips_path is False
    assert frontend.tls is False
    assert frontend.path == "/dash"


def test_traefik_pass_host_header_false(tmp_path: Path) -> None:
    frontend = traefik(tmp_path, "traefik.http.services.dash.loadBalancer.passHostHeader=false")
    assert frontend.forwards_host is False


def test_traefik_strip_prefix_middleware(tmp_path: Path) -> None:
    frontend = traefik(
        tmp_path,
        "traefik.http.routers.dash.middlewares=strip@docker",
        "traefik.http.middlewares.strip.stripprefix.prefixes=/dash",
    )
    assert frontend.strips_path is True
    assert frontend.received_base == ""


def test_traefik_middleware_from_another_provider_is_unknown(tmp_path: Path) -> None:
    frontend = traefik(tmp_path, "traefik.http.routers.dash.middlewares=strip@file")
    assert frontend.strips_path is None


@pytest.mark.parametrize(
    ("labels", "command", "tls"),
    [
        (("traefik.http.routers.dash.tls=true",), "--providers.docker", True),
        (
            ("traefik.http.routers.dash.entrypoints=websecure",),
            "--providers.docker, --entrypoints.websecure.address=:443",
            True,
        ),
        (
            ("traefik.http.routers.dash.entrypoints=web",),
            "--providers.docker, --entrypoints.web.address=:80",
            False,
        ),
        (
            ("traefik.http.routers.dash.entrypoints=https",),
            "--entrypoints.https.http.tls.certresolver=le",
            True,
        ),
    ],
)
def test_traefik_tls(tmp_path: Path, labels: tuple[str, ...], command: str, tls: bool) -> None:
    assert traefik(tmp_path, *labels, command=command).tls is tls


def test_a_router_on_an_entry_point_traefik_does_not_open_is_not_a_route(
    tmp_path: Path,
) -> None:
    """Traefik opens `http` on :80 when its configuration names no entry point; a
    router on `websecure` is then never served (Traefik logs that the entry point does
    not exist). Without a known Traefik in the project, the router is kept."""
    labels = ("traefik.http.routers.dash.entrypoints=websecure",)
    lines = "\n".join(f"      - {label}" for label in labels)
    compose = f"""
services:
  traefik:
    image: traefik:v3.3
    command: [--providers.docker]
  dash:
    image: registry.example.com/dash:1
    command: panel serve app.py
    labels:
      - traefik.http.routers.dash.rule=Host(`dash.example.com`)
{lines}
"""
    write_files(tmp_path, {"docker-compose.yml": compose})
    assert build_stack([tmp_path], tmp_path, Config(), 1).links.frontends == []


INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: dash
  annotations: {annotations}
spec:
  ingressClassName: nginx
  rules:
    - host: dash.example.com
      http:
        paths:
          - path: /dash
            pathType: Prefix
            backend: {{service: {{name: dash, port: {{number: 80}}}}}}
"""


@pytest.mark.parametrize(
    ("annotations", "forwards", "strips"),
    [
        ("{}", True, False),
        ('{"nginx.ingress.kubernetes.io/upstream-vhost": "dash.internal"}', False, False),
        ('{"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}', True, None),
    ],
)
def test_ingress_host_and_path(
    tmp_path: Path, annotations: str, forwards: bool, strips: bool | None
) -> None:
    stack = stack_of(tmp_path, {"ingress.yaml": INGRESS.format(annotations=annotations)})
    (frontend,) = stack.links.frontends
    assert frontend.forwards_host is forwards
    assert frontend.strips_path is strips


# -- SA105: the Tornado version --------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "at_least"),
    [(">=6.6", True), ("~=6.6", True), (">=6.6,<7", True), (">=6.5", False), ("==6.*", False)],
)
def test_floor_at_least(spec: str, at_least: bool) -> None:
    assert pin(spec).floor_at_least("6.6") is at_least


def pin(spec: str, locked: bool = False) -> DependencyPin:
    return DependencyPin(
        "tornado", f"tornado{spec}", Span("requirements.txt", 1), "requirements", locked
    )


def installed(stack: Stack) -> tuple[str, DependencyPin] | None:
    return stack.installed_relative_to("tornado", "6.6")


def test_tornado_generation() -> None:
    assert installed(Stack([])) is None
    old = pin("==6.5.2")
    assert installed(Stack([old])) == ("old", old)
    new = pin(">=6.6")
    assert installed(Stack([new])) == ("new", new)
    # A lock file's exact version decides over a range.
    locked = pin("==6.5.2", locked=True)
    assert installed(Stack([new, locked])) == ("old", locked)
    # A requirement pip would refuse pins nothing.
    assert installed(Stack([pin("==6.5.2 !!")])) is None


# -- SA508: trust lists ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("127.0.0.1,::1", True),
        ("127.0.0.1", True),
        ("localhost", True),
        ("127.0.0.0/8", True),
        ("172.16.0.0/12", False),
        ("127.0.0.1,10.0.0.5", False),
        ("*", False),
    ],
)
def test_loopback_only(text: str, loopback: bool) -> None:
    assert only_loopback_addresses(text) is loopback


# -- SA506: a sub-path that names an application -----------------------------------------


@pytest.mark.parametrize(
    ("location", "command", "flagged"),
    [
        ("/dash/", "bokeh serve app.py", True),
        ("/app/", "bokeh serve app.py", False),
        ("/app", "bokeh serve /srv/app.py other.py", False),
        ("/dash/app/", "bokeh serve app.py --prefix dash", False),
        ("/app/", "bokeh serve $APP", False),
        ("/static/", "bokeh serve app.py", False),
        ("/dash/static/", "bokeh serve app.py --prefix dash", False),
    ],
)
def test_sub_path_naming_an_application(
    tmp_path: Path, location: str, command: str, flagged: bool
) -> None:
    compose = f"""
services:
  dash:
    image: registry.example.com/dash:1
    command: {command}
"""
    conf = f"server {{ listen 80; location {location} {{ proxy_pass http://dash:5006; }} }}\n"
    write_files(tmp_path, {"docker-compose.yml": compose, "site.conf": conf})
    result = scan(tmp_path, select=["SA506"])
    assert bool(result.diagnostics) is flagged


def test_traefik_router_to_an_internal_service_is_no_route_to_the_app(tmp_path: Path) -> None:
    frontend = traefik(
        tmp_path,
        "traefik.http.routers.api.rule=Host(`traefik.example.com`)",
        "traefik.http.routers.api.service=api@internal",
        "traefik.http.routers.ping.rule=Path(`/ping`)",
        "traefik.http.routers.ping.service=ping@internal",
    )
    assert frontend.where.startswith("Traefik router `dash`")


@pytest.mark.parametrize(
    ("service", "reaches"),
    [
        (None, True),
        ("dash", True),
        ("dash@docker", True),
        ("api@internal", False),
        ("dashboard@internal", False),
        ("noop@internal", False),
        ("acme-http@internal", False),
        ("dash@file", False),
    ],
)
def test_traefik_router_reaches_its_container(service: str | None, reaches: bool) -> None:
    span = Span("docker-compose.yml", 1, 1, 1, 2)
    router = TraefikRouter("r", span, service=Word(service, span) if service else None)
    assert router.reaches_own_container is reaches
