"""Call sites → facts. A keyword argument of ``pn.serve``/``Server``/``uvicorn.run`` becomes
the ``OptionUse`` the command line would give (same ``dest`` as in data/cli_specs.json),
so every command-line rule reads Python code without knowing Python.

Mapping of keywords to CLI dests, read from the installed sources:
- ``pn.serve``/``get_server``/``Viewable.show`` (panel/io/server.py:1027-1128, 1153-1452;
  panel/viewable.py:468-510): ``websocket_origin`` (a string becomes a one-item list and,
  when truthy, replaces ``allow_websocket_origin``), ``basic_auth``, ``oauth_*``,
  ``cookie_secret``, ``admin``, ``session_history``...; the rest goes to Bokeh ``Server``.
  ``oauth_encryption_key`` is accepted by ``get_server`` and never used, so it is not
  mapped.
- Bokeh ``Server`` (bokeh/server/server.py:352-455, ``_ServerOpts`` 496-560) and
  ``BokehTornado`` (bokeh/server/tornado.py:251-280): ``*_milliseconds`` map to the CLI
  options in milliseconds (``keep_alive_milliseconds`` → ``--keep-alive``);
  ``xsrf_cookies`` → ``--enable-xsrf-cookies``; ``auth_provider=`` stands for
  ``--auth-module`` (both install an auth provider). Keywords neither class takes go
  to ``tornado.web.Application`` as settings: ``debug``, ``autoreload``,
  ``serve_traceback`` become ``AppSetting(framework="tornado")``.
- ``panel.io.fastapi.add_applications``/``serve``/``get_server`` (panel/io/fastapi.py
  244-560) pass ``websocket_origin`` to ``bokeh_fastapi.BokehFastAPI(websocket_origins=)``;
  ``add_application`` (the decorator, 324-358) forwards none of its ``**kwargs``.
  ``panel.io.fastapi.get_server`` pops ``address`` and builds ``uvicorn.Config`` with
  only the port, so it listens on uvicorn's default 127.0.0.1. Apps added to an
  existing FastAPI app or to a ``BokehTornado`` listen wherever that server does: their
  ``address`` is recorded as symbolic (unknown), never as the Bokeh default.

Boolean options (``store_true``/``store_false`` in the spec) carry their value word
(``True``/``False``) and are recorded only when the value is known and differs from the
default (``admin=False`` is no ``--admin``); ``None`` and empty lists are recorded as
absent, as Panel and Bokeh treat them as "not given".
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from msgspec.structs import replace

from stackaudit.diagnostics import Span
from stackaudit.extractors.python_names import JUDGED_CALLS, JUDGED_MIDDLEWARE, TORNADO_SETTINGS
from stackaudit.facts.app import AppSetting
from stackaudit.facts.asgi import AsgiApplication, AuthScheme, BuiltinEndpoint, EndpointKind
from stackaudit.facts.common import Word
from stackaudit.facts.cors import CORS_PARAMETERS, CorsPolicy, OriginPattern
from stackaudit.facts.python import (
    CallSite,
    KeywordValue,
    LibraryCall,
    PendingPythonFacts,
    PythonWord,
    PyValue,
    StarletteCorsCall,
    python_word,
)
from stackaudit.facts.serve import MAIN_GUARD, OptionUse, ServeCommand

_MS = {
    "keep_alive_milliseconds": "keep_alive",
    "check_unused_sessions_milliseconds": "check_unused_sessions",
    "unused_session_lifetime_milliseconds": "unused_session_lifetime",
    "stats_log_frequency_milliseconds": "stats_log_frequency",
    "mem_log_frequency_milliseconds": "mem_log_frequency",
}
_COOKIES = {
    name: name
    for name in ("include_cookies", "exclude_cookies", "include_headers", "exclude_headers")
}
_BOKEH_TORNADO_COMMON = {
    **_MS,
    **_COOKIES,
    "xsrf_cookies": "enable_xsrf_cookies",
    "session_token_expiration": "session_token_expiration",
    "websocket_compression_level": "websocket_compression_level",
    "websocket_compression_mem_level": "websocket_compression_mem_level",
    "ico_path": "ico_path",
    "index": "index",
    "prefix": "prefix",
    "auth_provider": "auth_module",
    "cookie_secret": "cookie_secret",
}
_SERVER = {
    **_BOKEH_TORNADO_COMMON,
    "port": "port",
    "address": "address",
    "num_procs": "num_procs",
    "unix_socket": "unix_socket",
    "allow_websocket_origin": "allow_websocket_origin",
    "use_xheaders": "use_xheaders",
    "ssl_certfile": "ssl_certfile",
    "ssl_keyfile": "ssl_keyfile",
    "websocket_max_message_size": "websocket_max_message_size",
}
_PANEL = {
    **_SERVER,
    "websocket_origin": "allow_websocket_origin",
    "admin": "admin",
    "basic_auth": "basic_auth",
    "oauth_provider": "oauth_provider",
    "oauth_key": "oauth_key",
    "oauth_secret": "oauth_secret",
    "oauth_redirect_uri": "oauth_redirect_uri",
    "oauth_extra_params": "oauth_extra_params",
    "oauth_error_template": "oauth_error_template",
    "oauth_jwt_user": "oauth_jwt_user",
    "oauth_refresh_tokens": "oauth_refresh_tokens",
    "oauth_guest_endpoints": "oauth_guest_endpoints",
    "oauth_optional": "oauth_optional",
    "cookie_path": "cookie_path",
    "root_path": "root_path",
    "login_endpoint": "login_endpoint",
    "logout_endpoint": "logout_endpoint",
    "logout_template": "logout_template",
    "login_template": "basic_login_template",
    "basic_login_template": "basic_login_template",
    "session_history": "session_history",
    "liveness": "liveness",
    "warm": "warm",
}
_BOKEH_TORNADO = {
    **_BOKEH_TORNADO_COMMON,
    "extra_websocket_origins": "allow_websocket_origin",
    "websocket_max_message_size_bytes": "websocket_max_message_size",
}
_BOKEH_FASTAPI = {
    **_MS,
    **_COOKIES,
    "prefix": "prefix",
    "websocket_origins": "allow_websocket_origin",
}
_PANEL_FASTAPI = {
    **_BOKEH_FASTAPI,
    "websocket_origin": "allow_websocket_origin",
    "admin": "admin",
    "session_history": "session_history",
    "liveness": "liveness",
}
# api -> (tool, keyword table, positional parameter names, address when not given)
_SERVE: dict[str, tuple[str, dict[str, str], tuple[str, ...], str | None]] = {
    "panel.io.server.serve": (
        "panel-serve",
        _PANEL,
        ("panels", "port", "address", "websocket_origin"),
        None,
    ),
    "panel.io.server.get_server": (
        "panel-serve",
        _PANEL,
        ("panel", "port", "address", "websocket_origin"),
        None,
    ),
    "panel.show": ("panel-serve", _PANEL, ("title", "port", "address", "websocket_origin"), None),
    "bokeh.server.server.Server": ("bokeh-serve", _SERVER, ("applications",), None),
    "bokeh.server.tornado.BokehTornado": ("bokeh-serve", _BOKEH_TORNADO, ("applications",), ""),
    "bokeh_fastapi.BokehFastAPI": ("bokeh-serve", _BOKEH_FASTAPI, ("applications", "app"), ""),
    "panel.io.fastapi.add_applications": ("panel-serve", _PANEL_FASTAPI, ("panel", "app"), ""),
    "panel.io.fastapi.add_application": ("panel-serve", {}, ("path", "app"), ""),
    "panel.io.fastapi.serve": (
        "panel-serve",
        {**_PANEL_FASTAPI, "port": "port"},
        ("panels", "port"),
        "127.0.0.1",
    ),
    "panel.io.fastapi.get_server": (
        "panel-serve",
        {**_PANEL_FASTAPI, "port": "port"},
        ("panel", "port"),
        "127.0.0.1",
    ),
}
_LIST_DESTS = frozenset(
    {
        "allow_websocket_origin",
        "include_cookies",
        "exclude_cookies",
        "include_headers",
        "exclude_headers",
        "oauth_guest_endpoints",
        "forwarded_allow_ips",
        "reload_dirs",
        "reload_includes",
        "reload_excludes",
        "headers",
    }
)
_UVICORN_POSITIONAL = ("app", "host", "port")
_TORNADO_NOT_SETTINGS = frozenset({"handlers", "default_host", "transforms"})


@cache
def _boolean_defaults(tool: str) -> dict[str, bool]:
    """Dests of flag options and their default (``--admin``: False)."""
    from stackaudit.invocation.argv import _specs

    found: dict[str, bool] = {}
    for option in _specs()[tool]["options"]:
        if option["action"] in ("store_true", "store_false"):
            default = option["default"]
            found.setdefault(option["dest"], bool(default) if default is not None else False)
    return found


@cache
def _uvicorn_dests() -> frozenset[str]:
    from stackaudit.invocation.argv import _specs

    return frozenset(o["dest"] for o in _specs()["uvicorn"]["options"])


def truthy(value: PyValue) -> bool | None:
    """Python truthiness of a known value, None when unknown."""
    if value.kind in ("bool", "int", "float", "str"):
        return bool(value.value)
    if value.kind == "none":
        return False
    if value.kind in ("list", "dict"):
        return True if value.items else (False if value.complete else None)
    return None


def has_reference(value: PyValue) -> bool:
    return value.kind == "ref" or any(has_reference(item) for item in value.items)


class Builder:
    """Builds the facts of one call site."""

    def build(self, site: CallSite) -> list[object]:
        facts = self.facts_of(site)
        if facts and (
            any(has_reference(v) for v in site.positional)
            or any(has_reference(k.value) for k in site.keywords)
        ):
            facts.append(PendingPythonFacts(site, tuple(facts)))
        return facts

    def facts_of(self, site: CallSite) -> list[object]:
        api = site.api
        if api in _SERVE:
            return self._serve(site)
        if api in ("uvicorn.run", "uvicorn.Config"):
            return [self._uvicorn(site)]
        if api in _FLASK_RUN:
            return [self._flask_run(site)]
        if api == "cors":
            return self._cors(site)
        if api == "tornado":
            return [
                self._setting("tornado", kw, site)
                for kw in site.keywords
                if kw.name not in _TORNADO_NOT_SETTINGS
            ]
        if api in ("fastapi", "starlette"):
            keywords = list(site.keywords)
            if api == "starlette" and site.positional:
                first = site.positional[0]
                keywords.append(KeywordValue("debug", first.span, first))
            settings: list[object] = [
                self._setting(api, kw, site) for kw in keywords if kw.name == "debug"
            ]
            if api == "fastapi":
                settings += [AsgiApplication(api, site.span), *_fastapi_endpoints(site)]
            return settings
        if api.startswith("metrics:"):
            return _metrics_endpoint(site)
        if api.startswith("auth-scheme:"):
            return [AuthScheme(api.split(":", 1)[1], site.span)]
        if api in ("panel-config", "assign:panel-config"):
            return [self._setting("panel-config", kw, site) for kw in site.keywords]
        if api.startswith("assign:"):
            return [self._setting(api.split(":", 1)[1], kw, site) for kw in site.keywords]
        if api in JUDGED_MIDDLEWARE or api in JUDGED_CALLS:
            return [
                LibraryCall(
                    api,
                    site.label,
                    site.span,
                    site.positional,
                    site.keywords,
                    site.open_keywords,
                    function=site.function,
                )
            ]
        return []

    # -- words --------------------------------------------------------------------------

    def word(self, value: PyValue, span: Span | None = None) -> PythonWord:
        where = span or value.span
        if value.kind == "str":
            return python_word(
                str(value.value), where, defined_at=value.defined_at, env_name=value.env_name
            )
        if value.kind in ("bool", "int", "float", "none"):
            return python_word(
                _literal_text(value), where, defined_at=value.defined_at, env_name=value.env_name
            )
        return python_word(
            value.text, where, symbolic=True, defined_at=value.defined_at, env_name=value.env_name
        )

    def words(self, value: PyValue) -> list[PythonWord]:
        """The items of a list value (one word each), or the value itself."""
        if value.kind == "list":
            found = [self.word(item) for item in value.items]
            if not value.complete:
                found.append(
                    python_word(
                        value.text,
                        value.span,
                        symbolic=True,
                        defined_at=value.defined_at,
                        env_name=value.env_name,
                    )
                )
            return found
        return [self.word(value)]

    # -- servers ------------------------------------------------------------------------

    def _keywords(self, site: CallSite, positional_names: tuple[str, ...]) -> list[KeywordValue]:
        found = [
            KeywordValue(name, value.span, value)
            for name, value in zip(positional_names, site.positional, strict=False)
        ]
        return found + list(site.keywords)

    def _serve(self, site: CallSite) -> list[object]:
        tool, table, positional_names, address = _SERVE[site.api]
        keywords = self._keywords(site, positional_names)
        booleans = _boolean_defaults(tool)
        options: list[OptionUse] = []
        settings: list[object] = []
        # get_server: `if websocket_origin: opts['allow_websocket_origin'] = ...`
        replaced = "websocket_origin" in table and any(
            kw.name == "websocket_origin" and truthy(kw.value) is not False for kw in keywords
        )
        for keyword in keywords:
            name = keyword.name
            dest = table.get(name)
            if dest is None:
                if name in TORNADO_SETTINGS and site.api in (
                    "panel.io.server.serve",
                    "panel.io.server.get_server",
                    "panel.show",
                    "bokeh.server.server.Server",
                    "bokeh.server.tornado.BokehTornado",
                ):
                    settings.append(self._setting("tornado", keyword, site))
                continue
            if dest == "allow_websocket_origin" and name != "websocket_origin" and replaced:
                continue
            use = self._option(dest, keyword, booleans)
            if use is not None:
                options.append(use)
        if address is not None and not any(use.dest == "address" for use in options):
            flag = python_word("address", site.span, symbolic=True)
            value = (
                python_word(address, site.span)
                if address
                else python_word(
                    "<the address of the server that runs this app>", site.span, symbolic=True
                )
            )
            options.append(OptionUse("address", flag, (value,)))
        positionals = (
            () if site.api == "panel.show" else tuple(self.word(v) for v in site.positional[:1])
        )
        return [self._command(tool, site, options, positionals), *settings]

    def _option(
        self, dest: str, keyword: KeywordValue, booleans: dict[str, bool]
    ) -> OptionUse | None:
        value = keyword.value
        flag = python_word(keyword.name, keyword.name_span)
        known = truthy(value)
        if dest in booleans:
            if known is None or known == booleans[dest]:
                return None
            return OptionUse(dest, flag, (self.word(value),))
        if value.kind == "none" or (value.kind == "list" and known is False):
            return None
        if dest in _LIST_DESTS:
            return OptionUse(dest, flag, tuple(self.words(value)))
        return OptionUse(dest, flag, (self.word(value),))

    def _command(
        self, tool: str, site: CallSite, options: Iterable[OptionUse], positionals: tuple[Word, ...]
    ) -> ServeCommand:
        command = ServeCommand(
            tool=tool,
            program=site.callee,
            span=site.span,
            options=tuple(options),
            positionals=positionals,
            app_args=(),
            unknown=(),
            env=(),
            carrier="python",
            context=f"{site.label} call",
            deployment=False,
            api_call=True,
        )
        return main_launcher(command, site)

    def _uvicorn(self, site: CallSite) -> ServeCommand:
        keywords = self._keywords(site, _UVICORN_POSITIONAL)
        booleans = _boolean_defaults("uvicorn")
        dests = _uvicorn_dests()
        options = []
        for keyword in keywords:
            if keyword.name in dests and keyword.name != "app":
                use = self._option(keyword.name, keyword, booleans)
                if use is not None:
                    options.append(use)
        positionals = tuple(self.word(v) for v in site.positional[:1])
        return self._command("uvicorn", site, options, positionals)

    def _flask_run(self, site: CallSite) -> ServeCommand:
        """``app.run(host, port, debug, load_dotenv, **options)`` (flask/app.py
        ``Flask.run``: ``options`` go to ``run_simple``) and ``run_simple(hostname, port,
        application, use_reloader, use_debugger, ...)`` (werkzeug/serving.py), as the
        ``flask run`` options they stand for. A value of None is "not given"; any other
        value, even ``False``, decides over the defaults."""
        positional_names, table = _FLASK_RUN[site.api]
        options = [
            OptionUse(table[kw.name], python_word(kw.name, kw.name_span), (self.word(kw.value),))
            for kw in self._keywords(site, positional_names)
            if kw.name in table and kw.value.kind != "none"
        ]
        return self._command("flask-run", site, options, ())

    # -- settings -----------------------------------------------------------------------

    def _setting(self, framework: str, keyword: KeywordValue, site: CallSite) -> AppSetting:
        return AppSetting(
            framework, keyword.name, self.word(keyword.value), keyword.name_span, site.span
        )

    # -- CORS ---------------------------------------------------------------------------

    def _cors(self, site: CallSite) -> list[object]:
        keywords = self._keywords(site, CORS_PARAMETERS)
        extra = tuple(self.word(v) for v in site.positional[len(CORS_PARAMETERS) :])
        unknown = tuple(
            python_word(kw.name, kw.name_span)
            for kw in site.keywords
            if kw.name not in CORS_PARAMETERS
        )
        given = {kw.name: kw.value for kw in keywords}
        origins: tuple[Word, ...] = ()
        origins_string: Word | None = None
        value = given.get("allow_origins")
        if value is not None:
            if value.kind == "str":
                origins_string = self.word(value)
                origins = (origins_string,)
            elif value.kind == "list":
                origins = tuple(
                    self.word(item) for item in value.items if item.kind not in ("symbolic", "ref")
                )
        patterns: tuple[OriginPattern, ...] = ()
        regex_not_string: Word | None = None
        regex = given.get("allow_origin_regex")
        if regex is not None:
            if regex.kind == "str":
                patterns = (OriginPattern(str(regex.value), regex.span, "fullmatch"),)
            elif regex.kind in ("list", "dict"):
                regex_not_string = self.word(regex)
        credentials: Word | None = None
        allow = given.get("allow_credentials")
        if allow is not None and truthy(allow):
            credentials = self.word(allow)
        policy = CorsPolicy(
            "starlette",
            site.span,
            f"CORSMiddleware ({site.label})",
            allowed_origins=origins,
            origin_patterns=patterns,
            allow_credentials=credentials,
        )
        call = StarletteCorsCall(
            site.span, unknown, extra, origins_string, regex_not_string, credentials
        )
        return [policy, call]


# api -> (positional parameter names, keyword -> ``flask run`` dest)
_FLASK_RUN: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "flask.run": (
        ("host", "port", "debug", "load_dotenv"),
        {"host": "host", "port": "port", "debug": "debug", "use_debugger": "debugger"},
    ),
    "werkzeug.run_simple": (
        ("hostname", "port", "application", "use_reloader", "use_debugger"),
        {"hostname": "host", "port": "port", "use_debugger": "debugger"},
    ),
}


def _literal_text(value: PyValue) -> str:
    if value.kind == "none":
        return "None"
    if value.kind == "bool":
        return "True" if value.value else "False"
    return str(value.value)


def main_launcher(command: ServeCommand, site: CallSite) -> ServeCommand:
    """A server started under ``if __name__ == "__main__":`` runs only when the file is
    run as a script (``python app.py``). Bound to loopback only, it is a developer's
    entry point: its branch is development. Otherwise it is conditional: whether a
    deployment runs the file so is for the stack to tell (``Stack.serve_commands``)."""
    if site.main_guard is None:
        return command
    branch = "development" if command.loopback_only() else "conditional"
    return replace(command, condition=Word(MAIN_GUARD, site.main_guard), branch=branch)


# -- endpoints libraries add ----------------------------------------------------------------

# FastAPI's own pages: (keyword, kind, default path) (fastapi/applications.py, 0.165.0).
_FASTAPI_PAGES: tuple[tuple[str, EndpointKind, str], ...] = (
    ("openapi_url", "openapi", "/openapi.json"),
    ("docs_url", "docs", "/docs"),
    ("redoc_url", "redoc", "/redoc"),
)


def _fastapi_endpoints(site: CallSite) -> list[BuiltinEndpoint]:
    """The pages ``FastAPI(...)`` serves: each at its keyword's path or the default;
    ``None`` turns one off, and the pages need the schema (``openapi_url``). A value not
    known here (computed, from settings, or ``**kwargs``) is not judged."""
    if site.open_keywords:
        return []
    given = {kw.name: kw.value for kw in site.keywords}
    paths: dict[EndpointKind, str | None] = {}
    for keyword, kind, default in _FASTAPI_PAGES:
        value = given.get(keyword)
        if value is None:
            paths[kind] = default
        elif value.kind == "none" or (value.kind == "str" and not value.value):
            paths[kind] = None
        elif value.kind == "str":
            paths[kind] = str(value.value)
        else:
            return []  # not known: neither this page nor those that need the schema
    if paths["openapi"] is None:
        return []
    return [
        BuiltinEndpoint(kind, path, site.span, "FastAPI()")
        for kind, path in paths.items()
        if path is not None
    ]


def _metrics_endpoint(site: CallSite) -> list[object]:
    """``app.mount(path, make_asgi_app())``, ``app.add_route(path, handle_metrics)``
    (the path first), ``Instrumentator().expose(app, endpoint=...)`` (``/metrics`` by
    default)."""
    if site.api == "metrics:expose":
        endpoint = next((kw.value for kw in site.keywords if kw.name == "endpoint"), None)
        if endpoint is None and len(site.positional) >= 3:
            endpoint = site.positional[2]
        if site.open_keywords or (endpoint is not None and endpoint.kind != "str"):
            return []
        path = str(endpoint.value) if endpoint is not None else "/metrics"
    else:
        if not site.positional or site.positional[0].kind != "str":
            return []
        path = str(site.positional[0].value)
    return [BuiltinEndpoint("metrics", path, site.span, site.label)]
