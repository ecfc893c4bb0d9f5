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
