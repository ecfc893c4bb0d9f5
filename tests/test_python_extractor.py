"""The Python and notebook extractors, directly: facts, values and exact positions."""

from __future__ import annotations

import ast
import json
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackaudit.extractors.notebook import extract_notebook
from stackaudit.extractors.python import can_matter, extract_python, module_name
from stackaudit.extractors.python_branches import branch_kinds
from stackaudit.extractors.python_link import link_python_facts
from stackaudit.facts.app import AppSetting
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.python import (
    SESSION_PARAMETERS,
    CookieRead,
    LibraryCall,
    PendingPythonFacts,
    PermissiveCheckOrigin,
    PythonClass,
    PythonWord,
    StarletteCorsCall,
    WebSocketEndpoint,
    is_websocket_handler,
)
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.sa301_cors_wildcard_credentials import CorsWildcardCredentials
from stackaudit.source import SourceFile


def facts(code: str, path: str = "app.py") -> list[object]:
    result = extract_python(SourceFile(path, "python", textwrap.dedent(code)))
    assert result.problems == []
    return result.facts


def only(found: list[object], kind: type) -> list:  # type: ignore[type-arg]
    return [f for f in found if isinstance(f, kind)]


def at(word: object) -> tuple[int, int, int, int]:
    span = word.span  # type: ignore[attr-defined]
    return (span.line, span.column, span.end_line, span.end_column)


def test_pn_serve_keywords_become_cli_options_with_exact_spans() -> None:
    found = facts("""\
        import panel as pn
        pn.serve(app, port=5006, websocket_origin=["a.example.com", "*"], admin=False)
    """)
    [command] = only(found, ServeCommand)
    assert (command.tool, command.carrier, command.deployment) == ("panel-serve", "python", False)
    assert command.context == "pn.serve() call"
    assert [w.text for w in command.values("allow_websocket_origin")] == ["a.example.com", "*"]
    use = command.last("allow_websocket_origin")
    assert use is not None and use.flag.text == "websocket_origin"
    assert at(use.flag) == (2, 26, 2, 42)
    assert [at(w) for w in use.values] == [(2, 45, 2, 58), (2, 62, 2, 63)]
    assert command.value("port") is not None and command.value("port").text == "5006"
    assert not command.has("admin")  # admin=False is no --admin


def test_aliases_and_re_exports() -> None:
    found = facts("""\
        from bokeh.server.server import Server as S
        import fastapi.middleware.cors as cors
        from panel import serve
        S({}, allow_websocket_origin=["*:5006"], num_procs=0)
        serve(app, websocket_origin="dash.example.com")
        app.add_middleware(cors.CORSMiddleware, allow_origins=["*"])
    """)
    tools = [c.tool for c in only(found, ServeCommand)]
    assert tools == ["bokeh-serve", "panel-serve"]
    [policy] = only(found, CorsPolicy)
    assert [w.text for w in policy.allowed_origins] == ["*"]


def test_shadowing_and_unrelated_names_do_not_match() -> None:
    found = facts("""\
        from panel import serve
        from mylib import CORSMiddleware

        def serve(app, **kw):
            pass

        serve(app, websocket_origin="*")
        app.add_middleware(CORSMiddleware, allow_origins=["*"])

        def inner():
            from panel import serve
            serve = make_server
            serve(app, websocket_origin="*")
    """)
    assert only(found, ServeCommand) == []
    assert only(found, CorsPolicy) == []


def test_optional_import_fallback_keeps_the_module() -> None:
    found = facts("""\
        try:
            import panel as pn
        except ImportError:
            pn = None
        pn.serve(app, num_procs=2)
    """)
    assert [c.tool for c in only(found, ServeCommand)] == ["panel-serve"]


def test_module_level_binding_in_order_and_functions_see_the_final_one() -> None:
    found = facts("""\
        import panel as pn
        serve = pn.serve
        serve(app, websocket_origin="first")
        def run():
            serve(app, websocket_origin="late")
        def serve(app, **kw):
            pass
    """)
    commands = only(found, ServeCommand)
    assert [c.values("allow_websocket_origin")[0].text for c in commands] == ["first"]


def test_constants_kwargs_dicts_and_conditional_values() -> None:
    found = facts("""\
        import os
        import panel as pn
        HOSTS = ["dash.example.com"]
        OPTIONS = dict(num_procs=4, websocket_origin=HOSTS)
        if os.environ.get("DEV"):
            PORT = 5006
        else:
            PORT = 80
        pn.serve(app, port=PORT, **OPTIONS)
    """)
    [command] = only(found, ServeCommand)
    origin = command.values("allow_websocket_origin")[0]
    assert isinstance(origin, PythonWord)
    assert origin.text == "dash.example.com"
    assert at(origin) == (9, 28, 9, 35)  # the `OPTIONS` argument
    assert origin.defined_at is not None and origin.defined_at.line == 3
    assert command.value("num_procs").text == "4"
    port = command.value("port")
    assert port is not None and port.symbolic and port.text == "PORT"


def test_environment_defaults_and_settings_classes() -> None:
    found = facts("""\
        import os
        from fastapi.middleware.cors import CORSMiddleware
        from pydantic_settings import BaseSettings, SettingsConfigDict

        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            origins: list[str] = ["*"]

        settings = Settings()
        app.add_middleware(CORSMiddleware, allow_origins=settings.origins,
                           allow_credentials=os.getenv("CREDS", "yes"))
    """)
    [policy] = only(found, CorsPolicy)
    [origin] = policy.allowed_origins
    assert isinstance(origin, PythonWord) and origin.env_name == "APP_ORIGINS"
    assert origin.from_env_default
    credentials = policy.allow_credentials
    assert isinstance(credentials, PythonWord) and credentials.env_name == "CREDS"
    assert credentials.text == "yes"


def test_subprocess_argv_goes_through_the_command_line_extractor() -> None:
    code = 'import subprocess, sys\nsubprocess.run([sys.executable, "-m", "bokeh", "serve", "a.py", "--allow-websocket-origin=*"])\n'
    [command] = only(facts(code), ServeCommand)
    assert command.tool == "bokeh-serve" and command.context == "subprocess.run() argv"
    [origin] = command.values("allow_websocket_origin")
    assert origin.text == "*" and at(origin) == (2, 91, 2, 92)
    shell = 'import os\nos.system("panel serve a.py --num-procs 2")\n'
    [command] = only(facts(shell), ServeCommand)
    assert command.value("num_procs").text == "2"
    assert at(command.value("num_procs")) == (2, 41, 2, 42)


def test_uvicorn_and_framework_settings() -> None:
    found = facts("""\
        import uvicorn, tornado.web
        import panel as pn
        from fastapi import FastAPI
        app = FastAPI(debug=True)
        pn.config.cookie_secret = "abc"
        tornado.web.Application([], debug=True, serve_traceback=False)
        uvicorn.run("main:app", host="0.0.0.0", reload=True, proxy_headers=True)
    """)
    [command] = only(found, ServeCommand)
    assert command.tool == "uvicorn"
    assert [w.text for w in command.positionals] == ["main:app"]
    assert command.value("host").text == "0.0.0.0"
    assert command.has("reload") and not command.has("proxy_headers")  # True is the default
    settings = {(s.framework, s.name, s.value.text) for s in only(found, AppSetting)}
    assert settings == {
        ("fastapi", "debug", "True"),
        ("panel-config", "cookie_secret", "abc"),
        ("tornado", "debug", "True"),
        ("tornado", "serve_traceback", "False"),
    }


def test_cors_raw_arguments() -> None:
    found = facts("""\
        from starlette.middleware import Middleware
        from starlette.middleware.cors import CORSMiddleware
        m = Middleware(CORSMiddleware, allow_origins="*", allow_credantials=True,
                       allow_origin_regex=["a", "b"])
    """)
    [call] = only(found, StarletteCorsCall)
    assert [w.text for w in call.unknown_keywords] == ["allow_credantials"]
    assert call.origins_string is not None and call.origins_string.text == "*"
    assert call.regex_not_string is not None and at(call.regex_not_string)[:2] == (4, 35)


def test_tornado_handlers_check_origin_and_reflection() -> None:
    found = facts(
        """\
        from tornado import websocket, web

        class Base(websocket.WebSocketHandler):
            pass

        class Feed(Base):
            def check_origin(self, origin):
                return True

        class Api(web.RequestHandler):
            def get(self):
                self.set_header("Access-Control-Allow-Origin", self.request.headers.get("Origin"))
    """,
        path="pkg/ws.py",
    )
    [flawed] = only(found, PermissiveCheckOrigin)
    assert (flawed.class_name, flawed.flaw, flawed.bases) == (
        "Feed",
        "always-true",
        ("pkg.ws.Base",),
    )
    classes = {c.qualname: c for c in only(found, PythonClass)}
    assert is_websocket_handler(flawed.bases, classes)
    [policy] = only(found, CorsPolicy)
    assert policy.kind == "tornado" and policy.reflects_origin is not None
    assert not policy.reflection_guarded


def test_websocket_endpoints() -> None:
    found = facts("""\
        from fastapi import FastAPI, WebSocket
        app = FastAPI()

        @app.websocket("/ws")
        async def feed(websocket: WebSocket):
            user = websocket.cookies["user"]

        @app.websocket("/ok")
        async def ok(websocket: WebSocket):
            origin = websocket.headers.get("origin")
            user = websocket.session
    """)
    endpoints = {e.name: e for e in only(found, WebSocketEndpoint)}
    assert endpoints["feed"].credential is not None and not endpoints["feed"].checks_origin
    assert at(endpoints["feed"]) == (5, 11, 5, 15)
    assert endpoints["ok"].checks_origin


def test_cross_module_constants_are_linked() -> None:
    settings_facts = facts('ORIGINS = ["*"]\nCREDENTIALS = True\n', path="app/settings.py")
    main_facts = facts(
        """\
        from fastapi.middleware.cors import CORSMiddleware
        from .settings import ORIGINS
        from app import settings
        app.add_middleware(CORSMiddleware, allow_origins=ORIGINS,
                           allow_credentials=settings.CREDENTIALS)
    """,
        path="app/main.py",
    )
    assert only(main_facts, PendingPythonFacts)
    [before] = only(main_facts, CorsPolicy)
    assert before.allowed_origins == () and before.allow_credentials is None
    linked = link_python_facts([*settings_facts, *main_facts])
    assert only(linked, PendingPythonFacts) == []
    [after] = only(linked, CorsPolicy)
    [origin] = after.allowed_origins
    assert origin.text == "*" and at(origin) == (4, 50, 4, 57)
    assert isinstance(origin, PythonWord) and origin.defined_at is not None
    assert origin.defined_at.path == "app/settings.py"
    findings = list(CorsWildcardCredentials().check(Stack(linked)))
    assert [(d.span.path, d.span.line) for d in findings] == [("app/main.py", 4)]


def test_prefilter_skips_files_that_cannot_matter() -> None:
    assert not can_matter("def f(:\n", "lib/util.py")
    assert extract_python(SourceFile("lib/util.py", "python", "def f(:\n")).problems == []
    assert can_matter("X = 1\n", "app/settings.py")
    assert can_matter("import panel\npanel.Row().show()\n")
    assert not can_matter("import matplotlib.pyplot as plt\nplt.show()\n")
    broken = extract_python(SourceFile("a.py", "python", "import uvicorn\nuvicorn.run(\n"))
    assert broken.problems and broken.problems[0].span.line == 2
    assert module_name("src/app/__init__.py") == "src.app"


def _notebook(*cells: object) -> str:
    return json.dumps(
        {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        indent=1,
        ensure_ascii=False,
    )


def test_notebook_positions_point_into_the_json() -> None:
    text = _notebook(
        {"cell_type": "markdown", "metadata": {}, "source": ["pn.serve(x, websocket_origin='*')"]},
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": ["import panel as pn\n", "%matplotlib inline\n", 'H = "\\u00e9*"\n'],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": ["x = !ls\n", 'pn.serve(app, websocket_origin="*")\n'],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "%%bash\npanel serve a.py\n",
        },
    )
    result = extract_notebook(SourceFile("nb.ipynb", "notebook", text))
    assert result.problems == []
    [command] = only(result.facts, ServeCommand)
    [origin] = command.values("allow_websocket_origin")
    line = text.splitlines()[origin.span.line - 1]
    assert 'pn.serve(app, websocket_origin=\\"*\\")' in line
    assert line[origin.span.column - 1] == "*"


def test_notebook_errors_are_problems() -> None:
    bad = extract_notebook(SourceFile("nb.ipynb", "notebook", '{"cells": [uvicorn.run('))
    assert bad.problems and bad.problems[0].message.startswith("invalid notebook JSON")
    text = _notebook(
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "source": ["import panel as pn\n", "pn.serve(app,\n"],
        }
    )
    broken = extract_notebook(SourceFile("nb.ipynb", "notebook", text))
    assert broken.problems and "cell 1" in broken.problems[0].message


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("pn.serve(websocket_origin=['*'])\n \t:\"'#%!{}[],\\")),
        max_size=200,
    )
)
def test_random_text_never_raises(text: str) -> None:
    code = "import panel as pn\n" + text
    extract_python(SourceFile("r.py", "python", code))
    extract_notebook(SourceFile("r.ipynb", "notebook", text))
    extract_notebook(
        SourceFile(
            "r.ipynb",
            "notebook",
            _notebook({"cell_type": "code", "metadata": {}, "outputs": [], "source": [code]}),
        )
    )


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_never_raises(text: str) -> None:
    extract_python(SourceFile("r.py", "python", "import uvicorn\n" + text))


def test_main_guard_launchers_are_conditional_and_on_loopback_development() -> None:
    code = textwrap.dedent(
        """
        import uvicorn
        import panel as pn

        uvicorn.run("app:app", host="127.0.0.1")
        if __name__ == "__main__":
            uvicorn.run("app:app", host="127.0.0.1", reload=True)
            uvicorn.run("app:app", host="0.0.0.0")
            pn.serve(app, address="localhost")
            pn.serve(app)
        """
    )
    commands = only(facts(code), ServeCommand)
    assert [(c.branch, c.condition.text if c.condition else None) for c in commands] == [
        ("", None),
        ("development", 'if __name__ == "__main__"'),
        ("conditional", 'if __name__ == "__main__"'),
        ("development", 'if __name__ == "__main__"'),
        ("conditional", 'if __name__ == "__main__"'),
    ]
    assert commands[1].condition is not None and commands[1].condition.span.line == 6


# -- development paths in Python code ------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "body", "orelse"),
    [
        ("DEBUG", "development", "production"),
        ("settings.LOCAL_MODE", "development", "production"),
        ("not app.testing", "production", "development"),
        ('config["TESTING"]', "development", "production"),
        ('os.getenv("DEV")', "development", "production"),
        ('ENV == "dev"', "development", "production"),
        ('os.environ["ENV"] != "production"', "development", "production"),
        ('MODE in ("local", "test")', "development", "production"),
        ('"prod" == ENV', "production", "development"),
        ("DEBUG and user_is_admin", "development", "production"),
        ("ENABLE_CORS", None, None),
        ('ENV == "eu-west"', None, None),
        ('MODE in ("local", "prod")', None, None),
        ("DEBUG or VERBOSE", None, None),
    ],
)
def test_development_branches_of_an_if(test: str, body: str | None, orelse: str | None) -> None:
    expression = ast.parse(test, mode="eval").body
    assert branch_kinds(expression) == (body, orelse)


# -- library calls judged by their arguments (SA213, SA214, SA308, SA603) ------------------


def test_judged_middleware_is_recorded_however_it_is_added() -> None:
    found = only(
        facts(
            """
            from fastapi import FastAPI
            from fastapi.middleware.trustedhost import TrustedHostMiddleware as Hosts
            from starlette.middleware import Middleware
            from starlette.middleware.sessions import SessionMiddleware

            app = FastAPI(middleware=[Middleware(Hosts, allowed_hosts=["*"])])
            app.add_middleware(SessionMiddleware, "key", https_only=False)
            wrapped = SessionMiddleware(app, secret_key="key", same_site="none")
            """
        ),
        LibraryCall,
    )
    assert [(c.api.rsplit(".", 1)[-1], c.label) for c in found] == [
        ("TrustedHostMiddleware", "Middleware(TrustedHostMiddleware)"),
        ("SessionMiddleware", "add_middleware(SessionMiddleware)"),
        ("SessionMiddleware", "SessionMiddleware()"),
    ]
    hosts, added, wrapped = found
    assert [item.value for item in hosts.argument("allowed_hosts").items] == ["*"]
    # Positional arguments count after the class (add_middleware) or the app (a call).
    assert added.argument("secret_key", SESSION_PARAMETERS).value == "key"
    assert added.argument("https_only", SESSION_PARAMETERS).value is False
    assert wrapped.argument("same_site", SESSION_PARAMETERS).value == "none"
    assert wrapped.argument("secret_key", SESSION_PARAMETERS).value == "key"


def test_jwt_decoders_are_told_apart_by_their_imports() -> None:
    found = only(
        facts(
            """
            import json
            import jwt as pyjwt
            from jose import jwt as jose_jwt
            from jwt import decode
            from tokens import decode as own_decode

            def user(token):
                pyjwt.decode(token, options={"verify_signature": False})
                decode(token, "k", algorithms=["HS256"])
                jose_jwt.decode(token, "k")
                own_decode(token, options={"verify_signature": False})
                json.loads(token)
            """
        ),
        LibraryCall,
    )
    assert [c.api for c in found] == ["jwt.decode", "jwt.decode", "jose.jwt.decode"]
    # Each knows the function it is in (a decode that verifies beside one that does not).
    assert {c.function.line for c in found if c.function is not None} == {8}


def test_socketio_module_cookie_reads_are_recorded() -> None:
    found = facts(
        """
        import socketio

        sio = socketio.Server(cors_allowed_origins="*")

        @sio.event
        def connect(sid, environ):
            return "sid=" in environ.get("HTTP_COOKIE", "")
        """
    )
    (call,) = only(found, LibraryCall)
    assert call.api == "socketio.Server"
    (read,) = only(found, CookieRead)
    assert read.span.line == 8
    # Without a Socket.IO server in the module, cookie reads are not recorded.
    assert only(facts("from flask import session\nuser = session.get('user')\n"), CookieRead) == []


def test_library_call_values_imported_from_settings_are_linked() -> None:
    settings = facts('ALLOWED_HOSTS = ["*"]\n', "config.py")
    main = facts(
        """
        from fastapi import FastAPI
        from fastapi.middleware.trustedhost import TrustedHostMiddleware
        from config import ALLOWED_HOSTS

        app = FastAPI()
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=ALLOWED_HOSTS)
        if DEBUG:
            app.add_middleware(TrustedHostMiddleware, allowed_hosts=ALLOWED_HOSTS)
        """,
        "main.py",
    )
    deployed, development = only(link_python_facts([*settings, *main]), LibraryCall)
    for call in (deployed, development):
        hosts = call.argument("allowed_hosts")
        assert hosts is not None and [item.value for item in hosts.items] == ["*"]
        assert hosts.defined_at is not None and hosts.defined_at.path == "config.py"
    # The mark of a development path survives the link step.
    assert (deployed.development_branch, development.development_branch) == (False, True)


def test_cors_policy_on_a_development_path_stays_marked_once_linked() -> None:
    settings = facts('ORIGINS = ["*"]\n', "config.py")
    main = facts(
        """
        from fastapi import FastAPI
        from fastapi.middleware.cors import CORSMiddleware
        from config import ORIGINS

        app = FastAPI()
        if DEBUG:
            app.add_middleware(CORSMiddleware, allow_origins=ORIGINS, allow_credentials=True)
        """,
        "main.py",
    )
    (policy,) = only(link_python_facts([*settings, *main]), CorsPolicy)
    assert [w.text for w in policy.allowed_origins] == ["*"]
    assert policy.development_branch
