"""Tornado handlers beside a Bokeh/Panel app: the routes a server adds
(``extra_patterns``, imported route lists, plugins' ``ROUTES``) and the verbs a handler
answers without a check of the user, through the project's base classes."""

from __future__ import annotations

import textwrap

from stackaudit.extractors.python import extract_python
from stackaudit.facts.python import PythonClass, RouteTable, ServerRoutes
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.handlers import TornadoHandlers
from stackaudit.source import SourceFile


def facts_of(**files: str) -> list[object]:
    found: list[object] = []
    for name, text in files.items():
        path = name.replace("__", "/") + ".py"
        found.extend(extract_python(SourceFile(path, "python", textwrap.dedent(text))).facts)
    return found


def open_verbs(handler: str, **files: str) -> list[tuple[str, str | None]] | None:
    verbs = TornadoHandlers(facts_of(**files)).open_verbs(handler)
    if verbs is None:
        return None
    return [(v.verb, v.method.name if v.method else None) for v in verbs]


HEADER = """
import tornado.web
from tornado.web import HTTPError, RequestHandler, authenticated
from bokeh.server.views.auth_request_handler import AuthRequestHandler
"""


def test_every_verb_without_a_check_is_open() -> None:
    code = (
        HEADER
        + """
class Api(RequestHandler):
    def get(self):
        self.write("x")

    @authenticated
    def post(self):
        pass

    def delete(self):
        if self.current_user is None:
            raise HTTPError(403)
"""
    )
    assert open_verbs("handlers.Api", handlers=code) == [("get", "get")]


def test_prepare_of_a_base_in_another_module_guards_every_verb() -> None:
    base = (
        HEADER
        + """
class LoggedInHandler(AuthRequestHandler):
    def prepare(self):
        user = self.get_current_user()
        if not user:
            raise HTTPError(403)
"""
    )
    api = """
from app.base import LoggedInHandler

class Api(LoggedInHandler):
    def get(self):
        self.write("x")
"""
    assert open_verbs("app.api.Api", app__base=base, app__api=api) == []


def test_a_subclass_overriding_prepare_loses_the_guard() -> None:
    code = (
        HEADER
        + """
class LoggedIn(RequestHandler):
    def prepare(self):
        if not self.current_user:
            raise HTTPError(403)

class Api(LoggedIn):
    def prepare(self):
        self.set_header("X-Api", "1")

    def get(self):
        self.write("x")
"""
    )
    assert open_verbs("handlers.Api", handlers=code) == [("get", "get")]


def test_helpers_that_refuse_or_test_the_user_guard_their_callers() -> None:
    code = (
        HEADER
        + """
class Api(AuthRequestHandler):
    def require_user(self):
        if not self.current_user:
            raise HTTPError(401)

    def is_admin(self):
        return self.current_user == "admin"

    def get(self):
        self.require_user()

    def put(self):
        if not self.is_admin():
            raise HTTPError(403)

    def post(self):
        # Reading the user for a greeting refuses no one.
        self.write(f"hello {self.get_current_user()}")
"""
    )
    assert open_verbs("handlers.Api", handlers=code) == [("post", "post")]


def test_get_current_user_override_is_no_guard_for_its_callers() -> None:
    code = (
        HEADER
        + """
class Api(RequestHandler):
    def get_current_user(self):
        user = self.get_signed_cookie("user")
        if user:
            return user.decode()
        return None

    def get(self):
        self.write({"user": self.get_current_user()})
"""
    )
    assert open_verbs("handlers.Api", handlers=code) == [("get", "get")]


def test_login_and_logout_handlers_are_open_by_design() -> None:
    code = (
        HEADER
        + """
class Login(RequestHandler):
    def get(self):
        self.render("login.html")

    def post(self):
        self.set_secure_cookie("user", self.get_argument("username"))
        self.redirect("/")

class Logout(RequestHandler):
    def get(self):
        self.clear_cookie("user")
        self.redirect("/")
"""
    )
    assert open_verbs("handlers.Login", handlers=code) == []
    assert open_verbs("handlers.Logout", handlers=code) == []


def test_library_classes() -> None:
    assert open_verbs("tornado.web.StaticFileHandler") == [("get", None), ("head", None)]
    assert open_verbs("panel.io.server.AuthenticatedStaticFileHandler") == []
    assert open_verbs("tornado.web.RequestHandler") == []
    # Neither a project class nor a known library class: not judged.
    assert open_verbs("tornado.web.FallbackHandler") is None
    assert open_verbs("jupyter_server.base.handlers.APIHandler") is None


def test_unknown_base_or_decorator_is_not_judged() -> None:
    code = (
        HEADER
        + """
from somelib import SecureHandler
from myauth import login_required

class A(SecureHandler):
    def get(self):
        pass

class B(RequestHandler):
    @login_required
    def get(self):
        pass
"""
    )
    assert open_verbs("handlers.A", handlers=code) is None
    assert open_verbs("handlers.B", handlers=code) == []


def test_websocket_open_is_judged_after_the_library_handshake() -> None:
    code = """
from tornado.websocket import WebSocketHandler

class Feed(WebSocketHandler):
    def open(self):
        self.write_message("hi")

class Guarded(WebSocketHandler):
    def open(self):
        if not self.get_secure_cookie("user"):
            self.close()

class Bare(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)
"""
    assert open_verbs("handlers.Feed", handlers=code) == [("open", "open")]
    assert open_verbs("handlers.Guarded", handlers=code) == []
    assert open_verbs("handlers.Bare", handlers=code) == [("get", None)]


def test_routes_of_a_server_inline_named_spread_and_imported() -> None:
    handlers = (
        HEADER
        + """
class A(RequestHandler):
    def get(self):
        pass

MORE = [(r"/b", A)]
"""
    )
    server = """
import panel as pn
from handlers import A, MORE
import handlers

LOCAL = [(r"/c", A)]
pn.serve(app, extra_patterns=[(r"/a", A), *LOCAL] + MORE + handlers.MORE)
"""
    facts = facts_of(handlers=handlers, server=server)
    tables = [f for f in facts if isinstance(f, RouteTable)]
    assert [t.qualname for t in tables] == ["handlers.MORE", "server.LOCAL"]
    given = next(f for f in facts if isinstance(f, ServerRoutes))
    assert [(r.pattern.text, r.handler) for r in given.routes] == [
        ("/a", "handlers.A"),
        ("/c", "handlers.A"),
    ]
    assert given.tables == ("handlers.MORE", "handlers.MORE")
    command = next(f for f in facts if isinstance(f, ServeCommand))
    routes = TornadoHandlers(facts).routes_of(command)
    assert sorted(r.pattern.text for r in routes) == ["/a", "/b", "/c"]


def test_routes_of_panel_plugins() -> None:
    plugin = (
        HEADER
        + """
class Download(RequestHandler):
    def get(self, name):
        pass

ROUTES = [(r"/download/(\\w+)", Download)]
"""
    )
    facts = facts_of(plugins__reports=plugin)
    assert any(isinstance(f, PythonClass) for f in facts)
    from stackaudit.extractors.shell import extract_shell

    script = SourceFile(
        "start.sh", "shell", "#!/bin/sh\nexec panel serve app.py --plugins reports\n"
    )
    commands = [f for f in extract_shell(script).facts if isinstance(f, ServeCommand)]
    routes = TornadoHandlers(facts).routes_of(commands[0])
    assert [(r.pattern.text, r.handler) for r in routes] == [
        ("/download/(\\w+)", "plugins.reports.Download")
    ]
