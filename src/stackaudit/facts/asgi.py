"""What an ASGI application serves beyond its own routes, and how it authenticates,
as Python source states it.

- ``FastAPI()`` serves its OpenAPI schema at ``openapi_url`` (default
  ``/openapi.json``), Swagger UI at ``docs_url`` (default ``/docs``) and ReDoc at
  ``redoc_url`` (default ``/redoc``); ``None`` turns one off, and without
  ``openapi_url`` neither page is served (fastapi/applications.py ``FastAPI.setup``,
  0.165.0). They are Starlette routes added with ``add_route``, so the app's
  ``dependencies=`` do not apply to them.
- Prometheus metrics: ``app.mount(path, prometheus_client.make_asgi_app())``,
  ``Instrumentator().expose(app)`` (prometheus_fastapi_instrumentator, ``endpoint``
  default ``/metrics``, an API route), ``app.add_route(path, handle_metrics)``
  (starlette_exporter).
- Authentication: a ``fastapi.security`` scheme (``HTTPBasic``, ``OAuth2PasswordBearer``,
  ``APIKeyCookie``...) constructed in the project: the app takes credentials from
  requests.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from stackaudit.diagnostics import Span

EndpointKind = Literal["openapi", "docs", "redoc", "metrics"]

ENDPOINT_LABELS: dict[str, str] = {
    "openapi": "the OpenAPI schema",
    "docs": "Swagger UI",
    "redoc": "ReDoc",
    "metrics": "Prometheus metrics",
}


class BuiltinEndpoint(Struct, frozen=True):
    """An endpoint a library adds to an ASGI app (``/docs``, ``/metrics``): ``path`` as
    the app serves it, ``span`` where it is turned on (the ``FastAPI(...)`` call, the
    ``mount``/``expose`` call), ``provider`` the call, for messages."""

    kind: EndpointKind
    path: str
    span: Span
    provider: str

    @property
    def label(self) -> str:
        return ENDPOINT_LABELS[self.kind]


class AuthScheme(Struct, frozen=True):
    """A ``fastapi.security`` scheme constructed in the project (``HTTPBasic()``)."""

    name: str
    span: Span


class AsgiApplication(Struct, frozen=True):
    """A ``FastAPI()``/``Starlette()`` application object constructed in a module."""

    framework: str
    span: Span


class LoginEndpoint(Struct, frozen=True):
    """A route that checks credentials, so that guessing them costs one request a try:
    one taking FastAPI's ``OAuth2PasswordRequestForm``, or a ``POST`` route whose path
    ends in a login segment (``/login``, ``/token``, ``/login/access-token``) or whose
    function is named for one (``login_for_access_token``).

    ``path`` is the route's path with its router's own ``prefix=``; ``complete`` says
    it is the path the app serves (a route on the ``FastAPI()``/``Starlette()`` object
    itself): a router's routes may get more prefixes where it is included. ``limiter``
    names the app-level rate limit on the route (slowapi's ``@limiter.limit(...)``,
    fastapi-limiter's ``Depends(RateLimiter(...))``), None when there is none."""

    path: str
    span: Span
    function: str
    evidence: str
    complete: bool
    limiter: str | None = None

    @property
    def limited(self) -> bool:
        return self.limiter is not None


class AppRateLimit(Struct, frozen=True):
    """A rate limit on every route of an app or router: slowapi's
    ``SlowAPIMiddleware``/``SlowAPIASGIMiddleware`` added (it applies the limiter's
    ``default_limits``), a fastapi-limiter ``RateLimiter`` in ``FastAPI(dependencies=)``
    or ``APIRouter(dependencies=)``."""

    span: Span
    what: str
