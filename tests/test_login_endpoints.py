"""Login routes and rate limits: the Python facts, the nginx `limit_req` in effect, and
the limits a Traefik router or an Ingress applies (SA217 asks these)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stackaudit.extractors.python import can_matter, extract_python
from stackaudit.facts.asgi import AppRateLimit, LoginEndpoint
from stackaudit.source import SourceFile
from tests.support import scan, write_files


def facts(code: str) -> list[object]:
    result = extract_python(SourceFile("app.py", "python", textwrap.dedent(code)))
    assert result.problems == []
    return result.facts


def logins(code: str) -> list[LoginEndpoint]:
    return [f for f in facts(code) if isinstance(f, LoginEndpoint)]


HEAD = """
from typing import Annotated
from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.security import OAuth2PasswordRequestForm
app = FastAPI()
router = APIRouter(prefix="/auth")
"""


def test_password_form_makes_a_login_whatever_the_path() -> None:
    found = logins(
        HEAD
        + """
@app.post("/session")
def start(form: OAuth2PasswordRequestForm = Depends()):
    pass
"""
    )
    assert [(f.path, f.function, f.complete, f.limited) for f in found] == [
        ("/session", "start", True, False)
    ]


@pytest.mark.parametrize(
    ("decorator", "name", "path"),
    [
        ('@router.post("/login")', "handler", "/auth/login"),
        ('@app.post("/api/v1/login/access-token")', "handler", "/api/v1/login/access-token"),
        ('@app.post("/token")', "handler", "/token"),
        ('@app.api_route("/signin", methods=["POST"])', "handler", "/signin"),
        ('@app.post("/session")', "login_for_access_token", "/session"),
    ],
)
def test_post_routes_at_login_paths_or_names(decorator: str, name: str, path: str) -> None:
    found = logins(HEAD + f"\n{decorator}\ndef {name}(username: str = Form()):\n    pass\n")
    assert [f.path for f in found] == [path]


@pytest.mark.parametrize(
    "decorator",
    [
        '@app.get("/tokens")',
        '@app.post("/tokens")',
        '@app.get("/login")',
        '@app.post("/token/refresh")',
        '@app.post("/login/test-token")',
        '@app.api_route("/login")',
    ],
)
def test_not_logins(decorator: str) -> None:
    assert logins(HEAD + f"\n{decorator}\ndef handler():\n    pass\n") == []


def test_app_level_limits_on_the_route() -> None:
    found = logins(
        HEAD
        + """
from slowapi import Limiter
from fastapi_limiter.depends import RateLimiter
limiter = Limiter(key_func=None)

@app.post("/login")
@limiter.limit("5/minute")
def one(request):
    pass

@app.post("/token", dependencies=[Depends(RateLimiter(times=5, seconds=60))])
def two():
    pass

@app.post("/signin")
def three(limit: None = Depends(RateLimiter(times=5, seconds=60))):
    pass
"""
    )
    assert [f.limiter is not None for f in found] == [True, True, True]


def test_app_wide_limits() -> None:
    found = [
        f
        for f in facts(
            """
            from fastapi import Depends, FastAPI
            from fastapi_limiter.depends import RateLimiter
            from slowapi.middleware import SlowAPIMiddleware
            from starlette.middleware import Middleware

            app = FastAPI(dependencies=[Depends(RateLimiter(times=5, seconds=60))])
            app.add_middleware(SlowAPIMiddleware)
            other = FastAPI(middleware=[Middleware(SlowAPIMiddleware)])
            """
        )
        if isinstance(f, AppRateLimit)
    ]
    assert [f.what for f in found] == [
        "RateLimiter in dependencies=",
        "SlowAPIMiddleware",
        "SlowAPIMiddleware",
    ]


def test_prescan_lets_login_routes_through() -> None:
    assert can_matter('from fastapi import APIRouter\n@router.post("/login")\n')
    assert can_matter("app.add_middleware(SlowAPIMiddleware)\n")


API = """
from fastapi import FastAPI, Form
app = FastAPI()

@app.post("/login")
def login(password: str = Form()):  # expect: SA217
    pass
"""
COMPOSE = """
services:
  api:
    build: .
    command: uvicorn main:app --host 0.0.0.0 --port 8000
  proxy:
    image: nginx:1.29.8
    ports: ["80:80"]
    volumes:
      - ./nginx.conf:/etc/nginx/conf.d/default.conf:ro
"""


def _findings(tmp_path: Path, nginx: str) -> set[int]:
    write_files(tmp_path, {"main.py": API, "docker-compose.yml": COMPOSE, "nginx.conf": nginx})
    result = scan(tmp_path, select=["SA217"])
    return {d.span.line for d in result.diagnostics if d.code == "SA217"}


LOCATION = "location / { proxy_pass http://api:8000; }"


@pytest.mark.parametrize(
    ("nginx", "fires"),
    [
        (f"server {{ listen 80; {LOCATION} }}", True),
        (f"limit_req zone=a; server {{ listen 80; {LOCATION} }}", False),
        (f"server {{ listen 80; limit_req zone=a; {LOCATION} }}", False),
        # the dry run only counts
        (f"server {{ listen 80; limit_req zone=a; limit_req_dry_run on; {LOCATION} }}", True),
        # a location with its own limit_req for another path does not cover `/`
        (
            f"server {{ listen 80; {LOCATION} "
            "location /upload { limit_req zone=a; proxy_pass http://api:8000; } }",
            True,
        ),
        # the login path selects the limited location
        (
            f"server {{ listen 80; {LOCATION} "
            "location = /login { limit_req zone=a; proxy_pass http://api:8000; } }",
            False,
        ),
        # loopback only
        ("server { listen 127.0.0.1:80; " + LOCATION + " }", False),
        # an include not scanned may hold a limit_req
        (f"server {{ listen 80; location / {{ include limits.conf; {LOCATION[13:]} }}", False),
    ],
)
def test_nginx_limit_req_in_effect(tmp_path: Path, nginx: str, fires: bool) -> None:
    assert bool(_findings(tmp_path, nginx)) is fires
