"""Login routes of FastAPI/Starlette apps, and the rate limits the app puts on them
(``facts.asgi.LoginEndpoint``, ``AppRateLimit``).

A route is a login when it takes a password or is written as the place one is sent:

- a parameter of type ``OAuth2PasswordRequestForm`` (or ``...Strict``), FastAPI's
  form of ``username``/``password`` (fastapi/security/oauth2.py), written as the
  annotation (``Annotated[OAuth2PasswordRequestForm, Depends()]``) or in the default
  (``Depends(OAuth2PasswordRequestForm)``);
- a ``POST`` route whose last path segment is a login word (``/login``, ``/signin``,
  ``/token``, ``/login/access-token``) or whose function's name has one
  (``login_for_access_token``, the FastAPI tutorial's). ``GET`` routes are pages or
  listings (``GET /tokens``), not a place credentials are sent, and ``/tokens`` or
  ``/token/refresh`` end in other words.

App-level limits, as slowapi 0.1.10 and fastapi-limiter 0.2.0 apply them:

- slowapi's ``@limiter.limit("5/minute")``/``@limiter.shared_limit(...)`` wraps the
  route and checks the limit itself (slowapi/extension.py ``Limiter.__limit_decorator``);
  the limiter's ``default_limits`` apply only through ``SlowAPIMiddleware`` or
  ``SlowAPIASGIMiddleware`` (slowapi/middleware.py ``_check_limits``);
- fastapi-limiter's ``RateLimiter`` is a dependency: ``dependencies=[Depends(
  RateLimiter(...))]`` on the route, its router or the app, or a parameter's
  ``Depends(RateLimiter(...))`` (fastapi_limiter/depends.py).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.asgi import LoginEndpoint

Qualify = Callable[[ast.expr], str | None]

PASSWORD_FORMS = frozenset(
    f"fastapi.security{module}.{name}"
    for name in ("OAuth2PasswordRequestForm", "OAuth2PasswordRequestFormStrict")
    for module in ("", ".oauth2")
)
RATE_LIMITERS = frozenset({"fastapi_limiter.depends.RateLimiter"})
SLOWAPI_MIDDLEWARE = frozenset(
    {"slowapi.middleware.SlowAPIMiddleware", "slowapi.middleware.SlowAPIASGIMiddleware"}
)
# The decorator methods of FastAPI/Starlette apps and routers, and the methods they
# register (None: from `methods=`, GET when not given).
_ROUTE_METHODS: dict[str, tuple[str, ...] | None] = {
    "get": ("GET",),
    "post": ("POST",),
    "put": ("PUT",),
    "patch": ("PATCH",),
    "api_route": None,
    "route": None,
}
_APPS = frozenset({"fastapi.FastAPI()", "starlette.Starlette()"})
# Constructors whose `dependencies=` apply to every route they hold.
APP_CONSTRUCTORS = frozenset({"fastapi.FastAPI", "fastapi.APIRouter"})
_ROUTERS = frozenset({"fastapi.APIRouter()", "starlette.routing.Router()"})
_LOGIN_SEGMENTS = frozenset(
    {
        "login",
        "log-in",
        "log_in",
        "logon",
        "signin",
        "sign-in",
        "sign_in",
        "token",
        "access-token",
        "access_token",
    }
)
_LOGIN_WORDS = frozenset({"login", "signin", "logon"})
_SLOWAPI_DECORATORS = frozenset({"limit", "shared_limit"})


class Route(Struct, frozen=True):
    """A route decorator: ``@app.post("/login")``."""

    path: str
    methods: tuple[str, ...]
    complete: bool
    call: ast.Call


def route_of(
    decorator: ast.expr, qualify: Qualify, prefix_of: Callable[[ast.expr], str], asgi: bool
) -> Route | None:
    """The route ``decorator`` declares, when its object is a FastAPI/Starlette app or
    router (or, in a module importing one, an object not known here) and its path is
    a literal."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return None
    if decorator.func.attr not in _ROUTE_METHODS:
        return None
    owner = qualify(decorator.func.value)
    if owner is None and not asgi:
        return None
    if owner is not None and owner not in _APPS and owner not in _ROUTERS:
        return None
    path = _literal(decorator.args[0] if decorator.args else _keyword(decorator, "path"))
    if path is None:
        return None
    methods = _ROUTE_METHODS[decorator.func.attr]
    if methods is None:
        methods = _methods(_keyword(decorator, "methods"))
    complete = owner in _APPS
    prefix = "" if complete else prefix_of(decorator.func.value)
    return Route(prefix + path, methods, complete, decorator)


def login_endpoint(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    qualify: Qualify,
    span: Span,
    route: Route,
    decorators: list[ast.expr],
) -> LoginEndpoint | None:
    """The login ``function`` declares with ``route``, or None when it is not one."""
    form = _password_form(function, qualify)
    if form is not None:
        evidence = f"route `{function.name}` takes `{form}`"
    elif "POST" in route.methods and _login_path(route.path):
        evidence = f"`{function.name}` is a POST route at a login path"
    elif "POST" in route.methods and _LOGIN_WORDS & set(function.name.lower().split("_")):
        evidence = f"`{function.name}` is a POST route named for a login"
    else:
        return None
    limiter = _route_limiter(function, qualify, route, decorators)
    return LoginEndpoint(route.path, span, function.name, evidence, route.complete, limiter)


def limits_every_route(call: ast.Call, qualify: Qualify) -> str | None:
    """What limits every route of the app or router ``call`` constructs
    (``FastAPI(dependencies=[Depends(RateLimiter(...))])``), None when nothing does."""
    dependencies = _keyword(call, "dependencies")
    if dependencies is not None and _calls(dependencies, qualify, RATE_LIMITERS):
        return "RateLimiter in dependencies="
    return None


def _route_limiter(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    qualify: Qualify,
    route: Route,
    decorators: list[ast.expr],
) -> str | None:
    for decorator in decorators:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr in _SLOWAPI_DECORATORS
            and qualify(decorator.func.value) not in _APPS | _ROUTERS
        ):
            return f"@{decorator.func.attr}(...)"
    dependencies = _keyword(route.call, "dependencies")
    if dependencies is not None and _calls(dependencies, qualify, RATE_LIMITERS):
        return "RateLimiter in the route's dependencies="
    arguments = function.args
    for node in [*arguments.defaults, *arguments.kw_defaults]:
        if node is not None and _calls(node, qualify, RATE_LIMITERS):
            return "a RateLimiter dependency"
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        if arg.annotation is not None and _calls(arg.annotation, qualify, RATE_LIMITERS):
            return "a RateLimiter dependency"
    return None


def _password_form(
    function: ast.FunctionDef | ast.AsyncFunctionDef, qualify: Qualify
) -> str | None:
    arguments = function.args
    written = [
        *(a.annotation for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]),
        *arguments.defaults,
        *arguments.kw_defaults,
    ]
    for expr in written:
        if expr is None:
            continue
        for node in ast.walk(expr):
            if isinstance(node, ast.Name | ast.Attribute):
                qual = qualify(node)
                if qual in PASSWORD_FORMS:
                    return qual.rsplit(".", 1)[1]
    return None


def _login_path(path: str) -> bool:
    segments = [s for s in path.split("/") if s]
    return bool(segments) and segments[-1].lower() in _LOGIN_SEGMENTS


def _calls(expr: ast.expr, qualify: Qualify, wanted: frozenset[str]) -> bool:
    return any(
        isinstance(node, ast.Call) and qualify(node.func) in wanted for node in ast.walk(expr)
    )


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _methods(node: ast.expr | None) -> tuple[str, ...]:
    """``methods=["POST"]``; GET when absent (FastAPI's ``api_route`` and Starlette's
    ``route`` default), every method when not a literal list."""
    if node is None:
        return ("GET",)
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        return ("GET", "POST")
    found = tuple(m.upper() for e in node.elts if (m := _literal(e)) is not None)
    return found if len(found) == len(node.elts) else ("GET", "POST")


def router_prefix(call: ast.Call) -> str:
    """``APIRouter(prefix="/auth")``'s literal prefix ("" when none is written)."""
    return _literal(_keyword(call, "prefix")) or ""
