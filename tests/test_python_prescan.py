"""The Python pre-scan's co-occurrence conditions: a file whose trigger needs a framework
or a server program still passes with it, and stops without it. Each stopped file is
analysed anyway to show that it yields no fact the pre-scan's conditions exist for
(only the class and constant records every parsed module publishes)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from stackaudit.extractors import python
from stackaudit.extractors.python import analyse, can_matter, extract_python, parse
from stackaudit.facts.app import AppSetting
from stackaudit.facts.python import PythonClass, PythonModule
from stackaudit.facts.serve import ServeCommand
from stackaudit.source import SourceFile

# (path, code) that must still reach the parser, with the fact type it yields.
STILL_PASS = [
    # Werkzeug's development server with its debugger (SA212).
    (
        "lib/flask_app.py",
        """
        from flask import Flask
        app = Flask(__name__)
        app.run(debug=True)
        """,
        ServeCommand,
    ),
    (
        "run.py",
        """
        import subprocess
        subprocess.run(["uvicorn", "app:app", "--host", "0.0.0.0"])
        """,
        ServeCommand,
    ),
    (
        "run.py",
        """
        import os, sys
        os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "app:app"])
        """,
        ServeCommand,
    ),
    (
        "launch.py",
        """
        import os
        os.system("exec panel serve app.py --allow-websocket-origin='*'")
        """,
        ServeCommand,
    ),
    (
        "jupyter_config.py",
        """
        c.ServerProxy.servers = {"app": {"command": ["bokeh", "serve", "--port", "{port}"]}}
        """,
        ServeCommand,
    ),
    (
        "app.py",
        """
        from bokeh.server.server import Server
        server = Server({"/": app}, websocket_max_message_size=1)
        """,
        ServeCommand,
    ),
    (
        "web.py",
        """
        import tornado.web
        app = tornado.web.Application(handlers, debug=True)
        """,
        AppSetting,
    ),
    # The framework's own package: a relative import resolves against the path.
    (
        "panel/io/launch.py",
        """
        from .server import serve
        serve(app, autoreload=True)
        """,
        ServeCommand,
    ),
    (
        "bokeh/command/run.py",
        """
        from..server.server import Server
        Server(applications, autoreload=True)
        """,
        ServeCommand,
    ),
]

# (path, code) that no longer reach the parser: the trigger is there, the framework or
# the server program is not.
NOW_STOP = [
    (
        "lib/vcs.py",
        """
        import subprocess
        def head():
            return subprocess.check_output(["git", "rev-parse", "HEAD"])
        """,
    ),
    (
        "lib/spawn.py",
        """
        import os
        os.execvp("make", ["make", "all"])
        os.system("ls -l")
        """,
    ),
    (
        "lib/ws.py",
        """
        import websockets
        async def serve(handler):
            return await websockets.serve(handler, "localhost", 8765)
        """,
    ),
    (
        "lib/http.py",
        """
        from http.server import HTTPServer
        server = HTTPServer(("", 8000), Handler)
        """,
    ),
    # A relative import, but in a package that is none of the frameworks.
    (
        "mylib/app.py",
        """
        from .core import Application
        Application(debug=True)
        """,
    ),
    # The framework named in the path, but nothing imported relatively.
    (
        "panel/tests/test_proc.py",
        """
        import subprocess
        subprocess.run(["python", "-c", "print(1)"])
        """,
    ),
]


@pytest.mark.parametrize(("path", "code", "kind"), STILL_PASS)
def test_trigger_with_its_framework_or_program_still_passes(
    path: str, code: str, kind: type
) -> None:
    text = textwrap.dedent(code)
    assert can_matter(text, path)
    found = extract_python(SourceFile(path, "python", text)).facts
    assert any(isinstance(fact, kind) for fact in found)


@pytest.mark.parametrize(("path", "code"), NOW_STOP)
def test_trigger_without_framework_or_program_stops(path: str, code: str) -> None:
    text = textwrap.dedent(code)
    assert not can_matter(text, path)
    # What the parser would have found: nothing but what every module publishes.
    tree = parse(text, path)
    assert isinstance(tree, ast.Module)
    found = analyse(SourceFile(path, "python", text), text, tree)
    assert all(isinstance(fact, (PythonClass, PythonModule)) for fact in found)


def test_triggers_enough_on_their_own_need_no_framework() -> None:
    # Matched by method name on any object, or followed through project classes.
    assert can_matter("self.set_header('Access-Control-Allow-Origin', '*')\n", "h.py")
    assert can_matter("class Base(WebSocketHandlerBase):\n    pass\n", "h.py")
    assert can_matter("def check_origin(self, origin):\n    return True\n", "h.py")
    assert can_matter("router.add_websocket_route('/ws', endpoint)\n", "r.py")


@pytest.mark.parametrize("trigger", python.TRIGGERS)
def test_every_plain_trigger_passes_alone(trigger: str) -> None:
    assert can_matter(f"x = {trigger!r}\n")


@pytest.mark.parametrize("trigger", python.NEEDS_FRAMEWORK)
def test_every_framework_trigger_passes_with_a_framework_only(trigger: str) -> None:
    assert not can_matter(f"x = {trigger!r}\n")
    assert can_matter(f"import tornado\nx = {trigger!r}\n")


@pytest.mark.parametrize("trigger", python.NEEDS_PROGRAM)
def test_every_process_trigger_passes_with_a_server_program_only(trigger: str) -> None:
    assert not can_matter(f"x = {trigger!r}\n")
    assert not can_matter(f"import tornado\nx = {trigger!r}\n")
    assert can_matter(f"x = {trigger!r}\ncommand = ['hypercorn', 'app:app']\n")


@pytest.mark.parametrize("trigger", python.NEEDS_JWT)
def test_every_jwt_trigger_passes_with_the_library_named_only(trigger: str) -> None:
    # `verify=False` is everywhere (requests); only beside `jwt` can it be PyJWT's.
    assert not can_matter(f"requests.get(url, {trigger}=False)\n")
    assert can_matter(f"import jwt\njwt.decode(token, key, {trigger}=False)\n")


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        ('SECRET_KEY = "x"', True),
        ("app.config['SECRET_KEY'] = 'x'", True),
        ('app.add_middleware(SessionMiddleware, secret_key="x")', True),
        ('key = os.getenv("JWT_SECRET", "dev")', True),
        ('value = config("DB_PASSWORD", default="x")', True),
        ('DATABASES = {"default": {"PASSWORD": "x"}}', True),
        ('    api_token: str = "x"', True),
        ("apiKey = f'{x}'", True),
        ("token = jwt.encode(payload, KEY)", True),
        ('URL = "postgresql://user:pw@db/app"', True),
        ("for token in tokenize(text):\n    pass", False),
        ("PASSWORD_HASHERS = [hasher]", False),
        ('url = "https://example.com/docs"', False),
        ("secret = os.environ['SECRET']", False),
    ],
)
def test_literal_secret_prescan(text: str, passes: bool) -> None:
    from stackaudit.extractors.python_secrets import may_hold_secret

    assert may_hold_secret(text) is passes
