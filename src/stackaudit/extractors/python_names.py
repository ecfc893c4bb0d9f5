"""The Python APIs the extractor recognises, by canonical qualified name.

Re-exports and import paths that lead to the same object map to one name
(``panel.serve`` is ``panel.io.server.serve``; ``fastapi.middleware.cors.CORSMiddleware``
is Starlette's), so the rest of the extractor compares one string."""

from __future__ import annotations

from stackaudit.facts.python import (
    JOSE_DECODERS,
    PYJWT_DECODERS,
    SESSION_MIDDLEWARE,
    TRUSTED_HOST_MIDDLEWARE,
)

ALIASES = {
    # panel/__init__.py and panel/io/__init__.py re-export serve; config is an object.
    "panel.serve": "panel.io.server.serve",
    "panel.io.serve": "panel.io.server.serve",
    "panel.config.config": "panel.config",
    "panel.config.panel_extension": "panel.extension",
    # panel/__init__.py re-exports the one `state` object of panel/io/state.py.
    "panel.io.state.state": "panel.state",
    "bokeh_fastapi.application.BokehFastAPI": "bokeh_fastapi.BokehFastAPI",
    "fastapi.applications.FastAPI": "fastapi.FastAPI",
    "fastapi.routing.APIRouter": "fastapi.APIRouter",
    "fastapi.param_functions.Cookie": "fastapi.Cookie",
    "fastapi.params.Cookie": "fastapi.Cookie",
    "fastapi.param_functions.Depends": "fastapi.Depends",
    "fastapi.WebSocket": "starlette.websockets.WebSocket",
    "fastapi.websockets.WebSocket": "starlette.websockets.WebSocket",
    "fastapi.middleware.cors.CORSMiddleware": "starlette.middleware.cors.CORSMiddleware",
    "fastapi.middleware.Middleware": "starlette.middleware.Middleware",
    "fastapi.middleware.trustedhost.TrustedHostMiddleware": (
        "starlette.middleware.trustedhost.TrustedHostMiddleware"
    ),
    "fastapi.middleware.sessions.SessionMiddleware": (
        "starlette.middleware.sessions.SessionMiddleware"
    ),
    # PyJWT's module functions are bound methods of one PyJWT() instance.
    "jwt.api_jwt.decode": "jwt.decode",
    "jwt.api_jwt.decode_complete": "jwt.decode_complete",
    "socketio.server.Server": "socketio.Server",
    "socketio.async_server.AsyncServer": "socketio.AsyncServer",
    "engineio.server.Server": "engineio.Server",
    "engineio.async_server.AsyncServer": "engineio.AsyncServer",
    "fastapi.routing.APIWebSocketRoute": "starlette.routing.WebSocketRoute",
    "starlette.applications.Starlette": "starlette.Starlette",
    "uvicorn.main.run": "uvicorn.run",
    "flask.app.Flask": "flask.Flask",
    # Werkzeug < 2.1 re-exported run_simple at the top of the package.
    "werkzeug.run_simple": "werkzeug.serving.run_simple",
    "uvicorn.config.Config": "uvicorn.Config",
    "pydantic.v1.BaseSettings": "pydantic_settings.BaseSettings",
    "pydantic.BaseSettings": "pydantic_settings.BaseSettings",
    "pydantic.main.BaseModel": "pydantic.BaseModel",
    "pydantic.fields.Field": "pydantic.Field",
    "prometheus_client.asgi.make_asgi_app": "prometheus_client.make_asgi_app",
    "prometheus_client.exposition.make_asgi_app": "prometheus_client.make_asgi_app",
    "prometheus_fastapi_instrumentator.instrumentation.PrometheusFastApiInstrumentator": (
        "prometheus_fastapi_instrumentator.Instrumentator"
    ),
}

CORS_MIDDLEWARE = "starlette.middleware.cors.CORSMiddleware"
MIDDLEWARE = "starlette.middleware.Middleware"
# Library calls recorded with their arguments (``LibraryCall``) for the rules that judge
# them; value: the label of the call. Middleware classes are recorded however they are
# added: ``app.add_middleware(C, ...)``, ``Middleware(C, ...)`` or ``C(app, ...)``.
JUDGED_MIDDLEWARE = {
    SESSION_MIDDLEWARE: "SessionMiddleware",
    TRUSTED_HOST_MIDDLEWARE: "TrustedHostMiddleware",
}
JWT_DECODERS = {api: f"{api}()" for api in sorted(PYJWT_DECODERS | JOSE_DECODERS)}
SOCKETIO_LABELS: dict[str, str] = {
    "socketio.Server": "socketio.Server()",
    "socketio.AsyncServer": "socketio.AsyncServer()",
    "engineio.Server": "engineio.Server()",
    "engineio.AsyncServer": "engineio.AsyncServer()",
    "flask_socketio.SocketIO": "SocketIO()",
    "flask_socketio.SocketIO().init_app": "SocketIO.init_app()",
}
JUDGED_CALLS = {**JWT_DECODERS, **SOCKETIO_LABELS}
# What reads the request's cookies, or the session kept in one: evidence that a
# Socket.IO server's users are recognised by cookie.
COOKIE_READERS = frozenset(
    {
        "flask.session",
        "flask.globals.session",
        "flask_login.current_user",
        "flask_login.utils.current_user",
        "flask.request.cookies",
    }
)

# Callables that start a Panel/Bokeh server; value: (tool, label of the call).
SERVE_APIS = {
    "panel.io.server.serve": ("panel-serve", "pn.serve()"),
    "panel.io.server.get_server": ("panel-serve", "panel.io.server.get_server()"),
    "panel.io.fastapi.serve": ("panel-serve", "panel.io.fastapi.serve()"),
    "panel.io.fastapi.get_server": ("panel-serve", "panel.io.fastapi.get_server()"),
    "panel.io.fastapi.add_applications": ("panel-serve", "panel.io.fastapi.add_applications()"),
    "panel.io.fastapi.add_application": ("panel-serve", "panel.io.fastapi.add_application()"),
    "bokeh.server.server.Server": ("bokeh-serve", "bokeh Server()"),
    "bokeh.server.tornado.BokehTornado": ("bokeh-serve", "BokehTornado()"),
    "bokeh_fastapi.BokehFastAPI": ("bokeh-serve", "BokehFastAPI()"),
}
# These put a Bokeh/Panel app on FastAPI through bokeh_fastapi.
PANEL_ON_FASTAPI = frozenset(
    {
        "panel.io.fastapi.serve",
        "panel.io.fastapi.get_server",
        "panel.io.fastapi.add_applications",
        "panel.io.fastapi.add_application",
        "bokeh_fastapi.BokehFastAPI",
    }
)

UVICORN_APIS = {"uvicorn.run": "uvicorn.run()", "uvicorn.Config": "uvicorn.Config()"}

# Werkzeug's development server: Flask's ``app.run()`` (flask/app.py ``Flask.run``) and
# ``werkzeug.serving.run_simple``; value: the call site's api and label.
FLASK_RUN_APIS = {
    "flask.Flask().run": ("flask.run", "app.run()"),
    "werkzeug.serving.run_simple": ("werkzeug.run_simple", "run_simple()"),
}
FLASK_APP = "flask.Flask()"

# argv-list launchers: name -> index of the argv list, or -1 for "the arguments
# from the first on are argv" (execl*, create_subprocess_exec).
ARGV_APIS = {
    "subprocess.run": 0,
    "subprocess.Popen": 0,
    "subprocess.call": 0,
    "subprocess.check_call": 0,
    "subprocess.check_output": 0,
    "os.execv": 1,
    "os.execve": 1,
    "os.execvp": 1,
    "os.execvpe": 1,
    "os.execl": -2,
    "os.execle": -2,
    "os.execlp": -2,
    "os.execlpe": -2,
    "os.spawnv": 2,
    "os.spawnvp": 2,
    "asyncio.create_subprocess_exec": -1,
}
SHELL_APIS = frozenset(
    {
        "os.system",
        "os.popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "asyncio.create_subprocess_shell",
    }
)

ENV_GET = frozenset({"os.environ.get", "os.getenv", "os.environ.setdefault"})
ENVIRON = "os.environ"

SETTINGS_BASES = frozenset({"pydantic_settings.BaseSettings"})
MODEL_BASES = frozenset({"pydantic.BaseModel"})
FIELD = "pydantic.Field"

WEBSOCKET_TYPE = "starlette.websockets.WebSocket"
WEBSOCKET_ENDPOINT = "starlette.endpoints.WebSocketEndpoint"
WEBSOCKET_ROUTE = "starlette.routing.WebSocketRoute"
COOKIE_PARAM = "fastapi.Cookie"
DEPENDS = "fastapi.Depends"
ASGI_APPS = frozenset(
    {"fastapi.FastAPI", "starlette.Starlette", "fastapi.APIRouter", "starlette.routing.Router"}
)

# Endpoints a metrics library adds to an ASGI app (``facts.asgi``).
PROMETHEUS_ASGI_APP = "prometheus_client.make_asgi_app"
INSTRUMENTATOR = "prometheus_fastapi_instrumentator.Instrumentator"
STARLETTE_EXPORTER_HANDLERS = frozenset(
    {"starlette_exporter.handle_metrics", "starlette_exporter.handle_openmetrics"}
)
# fastapi.security's schemes (fastapi/security/__init__.py), by every import path.
_SECURITY_CLASSES = (
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPBasic",
    "HTTPBearer",
    "HTTPDigest",
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OpenIdConnect",
)
AUTH_SCHEMES = frozenset(
    f"fastapi.security{module}.{name}"
    for name in _SECURITY_CLASSES
    for module in ("", ".api_key", ".http", ".oauth2", ".open_id_connect_url")
)

TORNADO_APPLICATION = "tornado.web.Application"
# Tornado Application settings that a Bokeh/Panel server passes through its **kwargs.
TORNADO_SETTINGS = frozenset(
    {
        "debug",
        "autoreload",
        "serve_traceback",
        "compiled_template_cache",
        "static_hash_cache",
    }
)


def canonical(qualname: str) -> str:
    return ALIASES.get(qualname, qualname)


# Panel's logged-in user: the name and the provider's id-token claims
# (panel/io/state.py ``_state.user`` and ``_state.user_info``).
PANEL_USER = frozenset({"panel.state.user", "panel.state.user_info"})
