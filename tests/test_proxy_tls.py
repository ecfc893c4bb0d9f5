"""TLS as nginx and OpenSSL read it (SA512), nginx servers and location selection
(SA513, SA605), and the ASGI facts the Python extractor records for them."""

from __future__ import annotations

import textwrap

import pytest

from stackaudit.extractors.nginx import extract_nginx
from stackaudit.extractors.python import extract_python
from stackaudit.facts.asgi import AuthScheme, BuiltinEndpoint
from stackaudit.facts.nginx import NginxFile
from stackaudit.facts.tls import default_protocols, weak_cipher_families, weak_protocols
from stackaudit.model.nginx import resolve_nginx
from stackaudit.model.nginx_servers import NginxServers
from stackaudit.source import SourceFile


def nginx_file(path: str, text: str) -> NginxFile:
    facts = extract_nginx(SourceFile(path, "nginx", textwrap.dedent(text).lstrip("\n"))).facts
    return next(f for f in facts if isinstance(f, NginxFile))


@pytest.mark.parametrize(
    ("ciphers", "weak"),
    [
        ("HIGH:!aNULL:!MD5", []),
        ("HIGH:!MD5", ["ADH", "AECDH"]),
        ("HIGH:!ADH:!MD5", ["AECDH"]),
        ("ALL:!aNULL:!eNULL:!EXPORT:!RC4:!DES:!3DES:!MD5", []),
        ("ALL:!aNULL:!EXPORT:!DES:!MD5", ["RC4", "3DES"]),
        ("DES-CBC3-SHA:HIGH:!aNULL:!DES", ["3DES"]),
        ("!RC4:RC4-SHA:HIGH:!aNULL", []),  # `!` removes for good
        ("-RC4:RC4-SHA:HIGH:!aNULL", ["RC4"]),  # `-` lets it back in
        ("EECDH+AESGCM:EDH+AESGCM", []),
        ("kEDH+AESGCM", ["ADH"]),
        ("ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256", []),
        ("NULL-SHA:EXP-RC4-MD5", ["NULL", "EXPORT", "RC4"]),
        ("PROFILE=SYSTEM", []),  # not known here: never flagged on a guess
        ("@SECLEVEL=0:HIGH:!aNULL", []),
    ],
)
def test_cipher_strings_read_as_openssl_reads_them(ciphers: str, weak: list[str]) -> None:
    assert weak_cipher_families(ciphers) == weak


def test_protocol_defaults_follow_the_nginx_version() -> None:
    assert default_protocols((1, 22, 1)) == ("TLSv1", "TLSv1.1", "TLSv1.2")
    assert default_protocols((1, 25, 3)) == ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    assert default_protocols((1, 27, 3)) == ("TLSv1.2", "TLSv1.3")
    assert default_protocols(None) is None
    assert default_protocols((1, 27, 0)) is None  # `nginx:1.27` follows the newest 1.27.x
    assert weak_protocols(("tlsv1", "TLSv1.2")) == ["TLSv1"]


def _servers(text: str, version: str | None = None) -> NginxServers:
    return NginxServers(resolve_nginx([nginx_file("site.conf", text)], version=version))


SITE = """
server {
    listen 443 ssl default_server;
    server_name _;
    ssl_protocols TLSv1 TLSv1.2;
    return 444;
}
server {
    listen 443 ssl;
    server_name dash.example.com;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /exact { proxy_pass http://a; }
    location /static/ { root /srv; }
    location ^~ /assets/ { root /srv; }
    location ~ \\.png$ { root /srv; }
    location /api/ {
        location ~ /api/admin { deny all; }
        proxy_pass http://a;
    }
    location / { proxy_pass http://a; }
}
"""


def test_the_default_server_decides_the_protocols_before_nginx_1_29_2() -> None:
    old = next(s for s in _servers(SITE) if s.names == ("dash.example.com",))
    assert old.protocols().words == ("TLSv1", "TLSv1.2")
    new = next(s for s in _servers(SITE, "1.29.2") if s.names == ("dash.example.com",))
    assert new.protocols().words == ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize(
    ("path", "chosen"),
    [
        ("/exact", "location = /exact"),
        ("/static/a.png", "location ~ \\.png$"),  # a regex beats a plain prefix
        ("/assets/a.png", "location ^~ /assets/"),  # ^~ stops the regex search
        ("/api/admin/x", "location ~ /api/admin"),  # nested regex first
        ("/api/users", "location /api/"),
        ("/docs", "location /"),
    ],
)
def test_location_selection_follows_nginx(path: str, chosen: str) -> None:
    server = next(s for s in _servers(SITE) if s.names == ("dash.example.com",))
    found = server.location_for(path)
    assert found is not None and found.label == chosen


def test_plain_http_redirects_at_server_level() -> None:
    servers = _servers(
        """
        server { listen 80; server_name a; return 301 https://$host$request_uri; }
        server { listen 80; server_name b; rewrite ^ https://$host$request_uri permanent; }
        server { listen 80; server_name c; if ($scheme = http) { return 301 https://c$uri; } }
        server { listen 80; server_name d; if ($host = x) { return 301 https://x; } }
        """
    )
    assert {s.names[0]: s.redirects_plain_http for s in servers} == {
        "a": True,
        "b": True,
        "c": True,
        "d": False,
    }


def _python(text: str) -> list[object]:
    return extract_python(SourceFile("app/main.py", "python", text)).facts


def test_fastapi_pages_follow_its_keywords() -> None:
    found = _python(
        "from fastapi import FastAPI\n"
        "a = FastAPI(docs_url='/api/docs', redoc_url=None)\n"
        "b = FastAPI(openapi_url=None)\n"
        "c = FastAPI(**settings)\n"
        "d = FastAPI(docs_url=DOCS)\n"
    )
    endpoints = [(f.kind, f.path, f.span.line) for f in found if isinstance(f, BuiltinEndpoint)]
    assert endpoints == [("openapi", "/openapi.json", 2), ("docs", "/api/docs", 2)]


def test_metrics_endpoints_and_security_schemes_are_recorded() -> None:
    found = _python(
        "from fastapi import FastAPI\n"
        "from fastapi.security import HTTPBasic\n"
        "from prometheus_client import make_asgi_app\n"
        "from prometheus_fastapi_instrumentator import Instrumentator\n"
        "app = FastAPI(openapi_url=None)\n"
        "security = HTTPBasic()\n"
        "metrics_app = make_asgi_app()\n"
        "app.mount('/internal/metrics', metrics_app)\n"
        "Instrumentator().instrument(app).expose(app, endpoint='/prom')\n"
    )
    endpoints = [(f.path, f.span.line) for f in found if isinstance(f, BuiltinEndpoint)]
    assert endpoints == [("/internal/metrics", 8), ("/prom", 9)]
    assert [f.name for f in found if isinstance(f, AuthScheme)] == ["HTTPBasic"]
