"""The Python APIs the extractor recognises, by canonical qualified name.

Re-exports and import paths that lead to the same object map to one name
(``panel.serve`` is ``panel.io.server.serve``; ``fastapi.middleware.cors.CORSMiddleware``
is Starlette's), so the rest of the extractor compares one string."""

from __future__ import annotations

ALIASES = {
    # panel/__init__.py and panel/io/__init__.py re-export serve; config is an object.
    "panel.serve": "panel.io.server.serve",
    "panel.io.serve": "panel.io.server.serve",
    "panel.config.config": "panel.config",
    "panel.config.panel_extension": "panel.extension",
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
}

CORS_MIDDLEWARE = "starlette.middleware.cors.CORSMiddleware"
MIDDLEWARE = "starlette.middleware.Middleware"

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
