"""A server process as it is started: the tool, its options with their real argument
semantics, and the environment it runs in."""

from __future__ import annotations

import posixpath
import re
from typing import Literal

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word

BOKEH_FAMILY = frozenset({"bokeh-serve", "panel-serve"})
ASGI_SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "fastapi-run", "fastapi-dev"})
UVICORN_FAMILY = frozenset({"uvicorn", "fastapi-run", "fastapi-dev"})
# gunicorn's own worker classes by their short names (gunicorn/workers/__init__.py
# SUPPORTED_WORKERS; eventlet until gunicorn 26).
_GUNICORN_OWN_WORKERS = frozenset(
    {"sync", "gthread", "gevent", "gevent_wsgi", "gevent_pywsgi", "eventlet", "asgi"}
)
GunicornWorker = Literal["gunicorn", "uvicorn", "tornado", "unknown"]

TOOL_LABELS = {
    "bokeh-serve": "bokeh serve",
    "panel-serve": "panel serve",
    "uvicorn": "uvicorn",
    "gunicorn": "gunicorn",
    "hypercorn": "hypercorn",
    "fastapi-run": "fastapi run",
    "fastapi-dev": "fastapi dev",
    "flask-run": "flask run",
}


class OptionUse(Struct, frozen=True):
    """One option as written: ``flag`` is the word that named it (possibly an
    abbreviation or ``--flag=value``), ``values`` the words it consumed."""

    dest: str
    flag: Word
    values: tuple[Word, ...]

    @property
    def span(self) -> Span:
        last = self.values[-1].span if self.values else self.flag.span
        if last.path != self.flag.span.path or last.line < self.flag.span.line:
            return self.flag.span
        return Span(
            self.flag.span.path,
            self.flag.span.line,
            self.flag.span.column,
            last.end_line,
            last.end_column,
        )


class OriginEntry(Struct, frozen=True):
    """One entry of the effective WebSocket origin allowlist and where it comes from."""

    text: str
    span: Span
    from_env: bool
    symbolic: bool = False


class ServeCommand(Struct, frozen=True):
    """A ``panel serve`` / ``bokeh serve`` / ``uvicorn`` / ``gunicorn`` / ``fastapi`` /
    ``hypercorn`` invocation found in any carrier (Dockerfile, shell, compose, ...).

    ``deployment`` tells whether the carrier deploys the app (Dockerfile, compose, unit
    files, Procfile, entrypoint scripts) rather than a developer's own script."""

    tool: str
    program: Word
    span: Span
    options: tuple[OptionUse, ...]
    positionals: tuple[Word, ...]
    app_args: tuple[Word, ...]
    unknown: tuple[Word, ...]
    env: tuple[EnvVar, ...]
    carrier: str
    context: str
    deployment: bool
    # The container or unit that runs the process ("compose:<file>:<service>",
    # "k8s:<file>:<kind>/<namespace>/<workload>/<container>"), so the stack can link it;
    # "" when unknown.
    service: str = ""
    # Environment files the process reads that stackaudit cannot see into (systemd
    # EnvironmentFile=, compose env_file:, Kubernetes envFrom:): a setting "missing"
    # here may come from one of them.
    env_files: tuple[Word, ...] = ()
    # A platform that starts the process and supplies its address and origins
    # ("anaconda-project" for commands with supports_http_options), or "".
    launcher: str = ""
    # The conditions a script runs the command under (``[ "$ENV" = dev ]``, ``case
    # $MODE in dev)``, ``not [ -n "$DEBUG" ]`` for an else branch), None when it runs
    # unconditionally; ``branch`` is what they select: "" (no condition),
    # "development", "production" or "conditional" (a condition naming neither).
    condition: Word | None = None
    branch: str = ""
    # Options that take a value and were written without one (the parser exits with a
    # usage error, as it does for ``unknown`` options).
    missing_values: tuple[Word, ...] = ()
    # The one argv word that holds the whole command line (``CMD ["panel serve
    # app.py"]``): the kernel is asked to run a program of that name, which does not
    # exist, so nothing starts; the words inside are what was meant.
    whole_line: Word | None = None
    # Started by a call in Python (``pn.serve``, ``bokeh.server.Server``), not a command
    # line: only the call's arguments configure it.
    api_call: bool = False

    # -- options ------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return TOOL_LABELS.get(self.tool, self.tool)

    @property
    def development_branch(self) -> bool:
        """Started only on a script's development path (``if [ "$ENV" = dev ]``)."""
        return self.branch == "development"

    @property
    def conditional(self) -> bool:
        """Started under a condition that names neither development nor production:
        findings on it are less certain to concern the deployed process."""
        return self.branch == "conditional"

    def loopback_only(self) -> bool:
        """Whether the server listens on loopback (or a unix socket) only, as written."""
        if self.is_bokeh_family:
            return self.reachable_beyond_loopback() is False
        listeners = self.listeners()
        return bool(listeners) and all(
            listener.host is not None and is_loopback_address(listener.host)
            for listener in listeners
        )

    @property
    def is_bokeh_family(self) -> bool:
        return self.tool in BOKEH_FAMILY

    def gunicorn_worker(self) -> GunicornWorker | None:
        """What serves requests in a gunicorn command's workers (None for another tool):
        "gunicorn" for its own workers (the default ``sync``, ``gthread``, ``gevent``,
        ``eventlet``, ``asgi``), which parse requests with gunicorn's own header policy
        (gunicorn/http/message.py); "uvicorn" for ``uvicorn.workers.UvicornWorker`` /
        ``UvicornH11Worker`` and the ``uvicorn-worker`` package, which run uvicorn's
        protocols and middleware (uvicorn/workers.py); "tornado" for gunicorn's Tornado
        worker; "unknown" for a class of the app's own, a value known only at run time,
        or no ``-k`` with a ``-c`` configuration file that may set ``worker_class``."""
        if self.tool != "gunicorn":
            return None
        values = self.values("worker_class")
        if not values:
            return "unknown" if self.has("config") else "gunicorn"
        word = values[-1]
        if word.symbolic:
            return "unknown"
        name = word.text.strip().removeprefix("egg:gunicorn#")
        if name.startswith(("uvicorn.workers.", "uvicorn_worker.")):
            return "uvicorn"
        if name == "tornado" or name.startswith("gunicorn.workers.gtornado."):
            return "tornado"
        if name in _GUNICORN_OWN_WORKERS or name.startswith("gunicorn.workers."):
            return "gunicorn"
        return "unknown"

    @property
    def runs_uvicorn(self) -> bool:
        """uvicorn's HTTP and WebSocket protocols serve the requests: uvicorn itself,
        ``fastapi run``/``dev`` (fastapi-cli calls ``uvicorn.run``), or gunicorn with a
        uvicorn worker class."""
        return self.tool in UVICORN_FAMILY or self.gunicorn_worker() == "uvicorn"

    def uses(self, dest: str) -> list[OptionUse]:
        return [use for use in self.options if use.dest == dest]

    def last(self, dest: str) -> OptionUse | None:
        """The use that wins for a ``store`` option (argparse and click: the last)."""
        found = self.uses(dest)
        return found[-1] if found else None

    def values(self, dest: str) -> list[Word]:
        """Every value of an ``append``/greedy option, in order."""
        return [word for use in self.uses(dest) for word in use.values]

    def value(self, dest: str) -> Word | None:
        use = self.last(dest)
        return use.values[-1] if use and use.values else None

    def has(self, dest: str) -> bool:
        return any(use.dest == dest for use in self.options)

    # -- environment --------------------------------------------------------------------

    def env_var(self, name: str) -> EnvVar | None:
        """The definition that wins (the last one written for this process)."""
        found = [var for var in self.env if var.name == name]
        return found[-1] if found else None

    def unread_env_note(self) -> str:
        """``", unless <source> sets it"`` when the process reads variables whose names
        are not known here (``env_files``: an unscanned env file, an ``envFrom``
        Secret, a platform env group), else ``""``: a setting missing here may be
        set there, so findings on it are less certain."""
        if not self.env_files:
            return ""
        first = self.env_files[0].text
        more = f" (or {len(self.env_files) - 1} more)" if len(self.env_files) > 1 else ""
        return f", unless {first}{more} sets it"

    def setting(self, dest: str, env_name: str | None = None) -> Word | EnvVar | None:
        """A setting given by option or, failing that, by its environment variable."""
        word = self.value(dest)
        if word is not None:
            return word
        return self.env_var(env_name) if env_name else None

    # -- WebSocket origins (Bokeh family) -----------------------------------------------

    def origin_source(self) -> Literal["env", "cli", "default"]:
        """Where Bokeh takes the allowlist from: ``BOKEH_ALLOW_WS_ORIGIN`` replaces the
        CLI list at every handshake (bokeh/server/views/ws.py)."""
        var = self.env_var("BOKEH_ALLOW_WS_ORIGIN")
        if var is not None:
            # Set at all, even empty: bokeh/settings.py tests `in os.environ`, and ""
            # splits to [""], a non-empty list that replaces the flags and admits nothing.
            return "env"
        if self.values("allow_websocket_origin"):
            return "cli"
        return "default"

    def cli_origins(self) -> list[OriginEntry]:
        return [
            OriginEntry(word.text, word.span, from_env=False, symbolic=word.symbolic)
            for word in self.values("allow_websocket_origin")
        ]

    def env_origins(self) -> list[OriginEntry]:
        var = self.env_var("BOKEH_ALLOW_WS_ORIGIN")
        if var is None or var.value is None or var.value.symbolic:
            return []
        value = var.value
        span = value.span
        # The entry's own columns when the value is written out as is on one line.
        exact = span.line == span.end_line and span.end_column - span.column == len(value.text)
        entries = []
        offset = 0
        for part in split_env_origins(value.text):
            part_span = span
            if exact:
                start = span.column + offset
                part_span = Span(span.path, span.line, start, span.line, start + len(part))
            entries.append(OriginEntry(part, part_span, from_env=True))
            offset += len(part) + 1
        return entries

    def effective_origins(self) -> list[OriginEntry]:
        """The entries that decide, or [] when Bokeh falls back to ``localhost:<port>``
        or the value is symbolic."""
        source = self.origin_source()
        if source == "env":
            return self.env_origins()
        if source == "cli":
            return self.cli_origins()
        return []

    # -- reachability, authentication and secrets (Bokeh family) -------------------------
    # Panel reads PANEL_* variables in panel/config.py and raises when a variable and its
    # flag are both given (panel/command/serve.py); Bokeh's PrioritizedSetting lets the
    # flag win over BOKEH_* variables (bokeh/settings.py). The queries below return the
    # source that takes effect: the flag first, then the variable.

    def option_setting(self, dest: str) -> SettingSource | None:
        """The option that sets ``dest`` (the last one written), when it has a value
        (an empty literal counts as unset, as Panel and Bokeh test truthiness)."""
        use = self.last(dest)
        if use is None or not use.values:
            return None
        word = use.values[-1]
        if word.text == "" and not word.symbolic:
            return None
        return SettingSource(use.flag.text, word.span, word, from_env=False)

    def env_setting(self, *names: str) -> SettingSource | None:
        """The first of ``names`` set in this process's environment. A variable whose
        value is not written here (a secret reference, a pass-through) counts as set;
        an empty literal does not."""
        for name in names:
            var = self.env_var(name)
            if var is None:
                continue
            if var.value is not None and var.value.text == "" and not var.value.symbolic:
                continue
            return SettingSource(name, var.span, var.value, from_env=True, reference=var.reference)
        return None

    def effective_setting(self, dest: str, *env_names: str) -> SettingSource | None:
        return self.option_setting(dest) or self.env_setting(*env_names)

    def listen_port(self) -> str:
        """The port as written (``--port``, else ``BOKEH_DEFAULT_SERVER_PORT``, else 5006:
        bokeh/resources.py ``DEFAULT_SERVER_PORT``)."""
        setting = self.effective_setting("port", "BOKEH_DEFAULT_SERVER_PORT")
        if setting is not None and setting.value is not None:
            return setting.value.text
        return "5006"

    def unix_socket(self) -> SettingSource | None:
        return self.option_setting("unix_socket")

    def bind_address(self) -> Word | None:
        return self.value("address")

    def reachable_beyond_loopback(self) -> bool | None:
        """Whether a Bokeh/Panel server listens on a non-loopback interface: with no
        ``--address`` (or an empty one) Tornado's ``bind_sockets`` listens on every
        interface; a unix socket or a loopback address keeps it local. None when the
        address is only known at run time (or the tool is not of the Bokeh family)."""
        if not self.is_bokeh_family:
            return None
        if self.unix_socket() is not None:
            return False
        address = self.bind_address()
        if address is None or (address.text == "" and not address.symbolic):
            return True
        if address.symbolic:
            return None
        return not is_loopback_address(address.text)

    def auth(self) -> AuthSetting | None:
        """The authentication the server enforces. ``panel serve`` lets an OAuth provider
        replace basic auth, and either replace ``--auth-module`` (panel/command/serve.py
        ``customize_kwargs``); ``pn.serve`` prefers ``basic_auth`` (panel/io/server.py
        ``get_server``)."""
        if not self.is_bokeh_family:
            return None
        if self.tool == "panel-serve":
            # `pn.serve` installs a login only for its own `basic_auth`/`oauth_provider`
            # arguments; PANEL_BASIC_AUTH / PANEL_OAUTH_PROVIDER protect nothing there
            # (panel 1.9.4 panel/io/server.py L1382 `if basic_auth or oauth_provider:`).
            env_names = (
                ((), ()) if self.api_call else (("PANEL_OAUTH_PROVIDER",), ("PANEL_BASIC_AUTH",))
            )
            found = []
            oauth = self.effective_setting("oauth_provider", *env_names[0])
            if oauth is not None:
                provider = None
                if oauth.value is not None and not oauth.value.symbolic:
                    provider = oauth.value.text.lower()
                found.append(AuthSetting("oauth", oauth, provider))
            basic = self.effective_setting("basic_auth", *env_names[1])
            if basic is not None:
                found.append(AuthSetting("basic", basic))
            if found:
                return found[-1] if self.carrier == "python" else found[0]
        module = self.effective_setting("auth_module", "BOKEH_AUTH_MODULE")
        if module is not None:
            return AuthSetting("auth-module", module)
        return None

    def guest_access(self) -> SettingSource | None:
        """``--oauth-optional`` / ``PANEL_OAUTH_OPTIONAL`` (``1``/``true``): Panel's basic
        and OAuth providers then let anyone in as ``guest`` (panel/auth.py
        ``_allow_guest``)."""
        if self.tool != "panel-serve":
            return None
        use = self.last("oauth_optional")
        if use is not None:
            return SettingSource(use.flag.text, use.flag.span, None, from_env=False)
        var = self.env_var("PANEL_OAUTH_OPTIONAL")
        value = var.value if var is not None and var.is_literal else None
        if var is not None and value is not None and value.text.lower() in ("1", "true"):
            return SettingSource(var.name, var.span, value, from_env=True)
        return None

    def requires_login(self) -> bool:
        return self.auth() is not None and self.guest_access() is None

    def opens_browser(self) -> bool:
        """``--show`` (bokeh/panel ``serve``): a browser opened on the machine that runs
        the server, i.e. someone's interactive session, not a deployment."""
        return self.is_bokeh_family and self.has("show")

    def cookie_secret(self) -> SettingSource | None:
        """``--cookie-secret``, else ``PANEL_COOKIE_SECRET`` then ``BOKEH_COOKIE_SECRET``
        for Panel (panel/config.py), ``BOKEH_COOKIE_SECRET`` for Bokeh."""
        if self.tool == "panel-serve":
            return self.effective_setting(
                "cookie_secret", "PANEL_COOKIE_SECRET", "BOKEH_COOKIE_SECRET"
            )
        return self.effective_setting("cookie_secret", "BOKEH_COOKIE_SECRET")

    def oauth_encryption_key(self) -> SettingSource | None:
        return self.effective_setting("oauth_encryption_key", "PANEL_OAUTH_ENCRYPTION")

    def cookie_filter(self) -> OptionUse | None:
        """``--include-cookies`` or ``--exclude-cookies``: which request cookies Bokeh
        copies into the session token (bokeh/server/views/session_handler.py)."""
        return self.last("include_cookies") or self.last("exclude_cookies")

    def cookie_header_filtered(self) -> bool:
        """Whether the raw ``Cookie`` request header stays out of the session token by
        the header filter alone (Bokeh also drops it when at least one cookie of the
        request survives the cookie filter: ``cookie_in_token``)."""
        return self.header_in_token("Cookie") is not True

    def header_in_token(self, name: str) -> bool | None:
        """Whether Bokeh copies request header ``name`` (as Tornado spells it:
        ``Cookie``, ``Authorization``) into the session token embedded in the page:
        ``--include-headers`` keeps only the names listed, ``--exclude-headers`` drops
        those listed; both compare names exactly, so ``authorization`` drops nothing
        (bokeh/server/views/session_handler.py). None when the list is only known at
        run time."""
        return self._passes_filter(name, "include_headers", "exclude_headers")

    def cookie_in_token(self, name: str) -> bool | None:
        """Whether Bokeh copies request cookie ``name`` into the session token:
        ``--include-cookies`` keeps only the names listed, ``--exclude-cookies`` drops
        those listed (exact names)."""
        return self._passes_filter(name, "include_cookies", "exclude_cookies")

    def _passes_filter(self, name: str, include: str, exclude: str) -> bool | None:
        """The option is a greedy ``store``: its last use is the list. None when that
        list is only known at run time (``"$HEADERS"``)."""
        for dest, listed_passes in ((include, True), (exclude, False)):
            use = self.last(dest)
            if use is None:
                continue
            if any(word.symbolic for word in use.values):
                return None
            listed = name in [word.text for word in use.values]
            return listed if listed_passes else not listed
        return True

    def written_secrets(self) -> list[SettingSource]:
        """Options whose value is a secret written out literally (no run-time expansion):
        a cookie secret, an OAuth secret or encryption key, a Panel ``--basic-auth``
        password (not a credentials file), a TLS key password."""
        found = []
        for dest in SECRET_OPTIONS.get(self.tool, ()):
            for use in self.uses(dest):
                for word in use.values:
                    if word.symbolic or word.text == "":
                        continue
                    if dest == "basic_auth" and looks_like_file_path(word.text):
                        continue
                    found.append(SettingSource(use.flag.text, word.span, word, from_env=False))
        return found

    # -- switches, listening sockets, processes, generated secrets ----------------------
    # (SA205-SA208, SA403, SA404, SA507)

    def turns_on(self, use: OptionUse) -> bool | None:
        """Whether one use of an on/off option turns it on. A bare flag does and its
        ``--no-`` twin turns it off (click's ``--no-reload``, ``--no-proxy-headers``); a
        value (a keyword argument in Python code) is read as a literal. None when the
        value is only known at run time."""
        if not use.values:
            return not use.flag.text.startswith("--no-")
        word = use.values[-1]
        if word.symbolic:
            return None
        return literal_truth(word.text)

    def enabled(self, dest: str) -> OptionUse | None:
        """The last use of an on/off option, when that use turns it on."""
        use = self.last(dest)
        return use if use is not None and self.turns_on(use) else None

    def written(self, use: OptionUse) -> str:
        """An option as written, for messages: ``--reload``, ``--num-procs 0``,
        ``reload=True`` (a keyword argument in Python code)."""
        if not use.values:
            return use.flag.text
        value = " ".join(word.text for word in use.values)
        if not use.flag.text.startswith("-"):
            return f"{use.flag.text}={value}"
        flag, first = use.flag.span, use.values[0].span
        if first.line == flag.end_line and first.column == flag.end_column:
            return f"{use.flag.text}{value}"  # -b0.0.0.0:80
        return f"{use.flag.text} {value}"

    def dev_switches(self) -> list[Switch]:
        """What runs this server in development mode: panel ``--dev``/``--autoreload``
        (panel/command/serve.py ``invoke``), bokeh ``--dev`` (greedy, Tornado autoreload:
        bokeh/command/subcommands/serve.py), ``--reload`` of uvicorn, gunicorn, hypercorn
        and ``fastapi run``, ``UVICORN_RELOAD`` (read by uvicorn's click command through
        ``auto_envvar_prefix``, not by ``uvicorn.run()``), and ``fastapi dev`` itself,
        which reloads unless ``--no-reload``."""
        found: list[Switch] = []
        if self.tool == "panel-serve":
            for dest in ("dev", "autoreload"):
                use = self.enabled(dest)
                if use is not None:
                    found.append(Switch(self.written(use), use.span))
        elif self.tool == "bokeh-serve":
            use = self.enabled("dev") if self.carrier == "python" else self.last("dev")
            if use is not None:
                found.append(Switch(self.written(use), use.span))
        elif self.tool == "fastapi-dev":
            use = self.last("reload")
            if use is None or self.turns_on(use):
                found.append(Switch("fastapi dev", self.program.span))
        elif self.tool in ASGI_SERVERS:
            use = self.last("reload")
            if use is not None:
                if self.turns_on(use):
                    found.append(Switch(self.written(use), use.span))
            elif self.tool == "uvicorn" and self.carrier != "python":
                var = self.env_var("UVICORN_RELOAD")
                if (
                    var is not None
                    and var.is_literal
                    and var.value is not None
                    and click_bool(var.value.text)
                ):
                    found.append(Switch(f"{var.name}={var.value.text}", var.span))
        return found

    def werkzeug_debugger(self) -> Switch | None:
        """What turns on Werkzeug's interactive debugger in a ``flask run`` /
        ``app.run()`` / ``run_simple()`` process, when something written here does.

        ``flask run`` (flask/cli.py ``run_command``): ``--debugger``/``--no-debugger``
        decide, else debug mode: ``--debug``/``--no-debug`` (which set ``FLASK_DEBUG``;
        ``FLASK_RUN_DEBUG`` through click's ``auto_envvar_prefix``), else ``FLASK_DEBUG``,
        on unless empty, ``0``, ``false`` or ``no`` (flask/helpers.py ``get_debug_flag``).
        ``app.run()``: ``use_debugger=``, else ``debug=``; the app's own ``debug`` (and
        ``FLASK_DEBUG``, which overrides it) are for the stack to add. ``run_simple``:
        ``use_debugger=`` only. None when off or known only at run time."""
        if self.tool != "flask-run":
            return None
        for dest in ("debugger", "debug"):
            use = self.last(dest)
            if use is not None:
                return Switch(self.written(use), use.span) if self.turns_on(use) else None
        if self.carrier == "python":
            return None
        for name in ("FLASK_RUN_DEBUGGER", "FLASK_RUN_DEBUG"):
            var = self.env_var(name)
            if var is not None and var.is_literal and var.value is not None:
                on = click_bool(var.value.text)
                return Switch(f"{name}={var.value.text}", var.span) if on else None
        var = self.env_var("FLASK_DEBUG")
        if var is None or not var.is_literal or var.value is None:
            return None
        value = var.value.text
        if value and value.lower() not in ("0", "false", "no"):
            return Switch(f"FLASK_DEBUG={value}", var.span)
        return None

    def literal_int(self, dest: str) -> tuple[int, OptionUse] | None:
        """The integer value of ``dest`` as written last, when it is a literal."""
        use = self.last(dest)
        if use is None or not use.values or use.values[-1].symbolic:
            return None
        try:
            return int(use.values[-1].text.strip()), use
        except ValueError:
            return None

    def worker_processes(self) -> WorkerProcesses | None:
        """How many processes serve requests when the command line or its environment
        asks for more than one, as written; None for one process (the default, an
        explicit 1, or a reloader that overrides the count).

        uvicorn: ``--workers``, else ``UVICORN_WORKERS`` (its click command's envvar) or
        ``WEB_CONCURRENCY`` (uvicorn/config.py reads it when ``workers`` is not given,
        ``uvicorn.run()`` included); ``--reload`` wins over workers (uvicorn/main.py
        ``run``), and ``fastapi dev`` reloads. ``fastapi run --workers`` (or
        ``WEB_CONCURRENCY``) passes the count to ``uvicorn.run``. gunicorn: ``-w`` /
        ``--workers``, default ``WEB_CONCURRENCY`` (gunicorn/config.py ``Workers``).
        hypercorn: ``-w``. Bokeh/Panel: ``--num-procs``/``num_procs=`` (0 or less: one
        per core; ``bokeh serve --dev`` forces one)."""
        if self.tool == "fastapi-dev":
            return None
        if self.is_bokeh_family:
            if self.tool == "bokeh-serve" and self.dev_switches():
                return None
            use = self.last("num_procs")
            return _process_count(use, self.written(use) if use else "", None, per_core_below=1)
        if self.tool not in ASGI_SERVERS:
            return None
        if self.tool in UVICORN_FAMILY and self.dev_switches():
            return None
        env_names: tuple[str, ...] = ()
        if self.tool == "uvicorn":
            env_names = ("WEB_CONCURRENCY",)
            if self.carrier != "python":
                env_names = ("UVICORN_WORKERS", "WEB_CONCURRENCY")
        elif self.tool in ("fastapi-run", "gunicorn"):
            env_names = ("WEB_CONCURRENCY",)
        variable = next(
            (var for name in env_names if (var := self.env_var(name)) is not None), None
        )
        use = self.last("workers")
        written = self.written(use) if use else ""
        return _process_count(use, written, variable, per_core_below=None)

    def listeners(self) -> list[Listener]:
        """Where the server listens, as the command line tells: the options, the
        variables the tool reads, or the tool's default.

        Bokeh/Panel with no ``--address`` pass ``None`` to Tornado's ``bind_sockets``,
        which listens on every interface; uvicorn and ``fastapi dev`` default to
        127.0.0.1 and ``fastapi run`` to 0.0.0.0; gunicorn binds ``127.0.0.1:8000``, or
        ``0.0.0.0:$PORT`` when ``PORT`` is set (gunicorn/config.py ``Bind``), and the
        platforms that run a Procfile set ``PORT``; hypercorn binds 127.0.0.1:8000. A host
        of None is not known here (a variable, a unix socket, a file descriptor, a
        ``GUNICORN_CMD_ARGS`` string)."""
        if self.is_bokeh_family:
            socket = self.last("unix_socket")
            if socket is not None:
                return [Listener(None, self.written(socket), socket.span)]
            use = self.last("address")
            if use is None or not use.values:
                return [Listener("", "no --address", None)]
            return [self._listener(use, use.values[-1].text)]
        if self.tool in ("uvicorn", "fastapi-run", "fastapi-dev"):
            for dest in ("uds", "fd"):
                use = self.last(dest)
                if use is not None:
                    return [Listener(None, self.written(use), use.span)]
            use = self.last("host")
            if use is not None and use.values:
                return [self._listener(use, use.values[-1].text)]
            if self.tool == "uvicorn" and self.carrier != "python":
                for name in ("UVICORN_UDS", "UVICORN_FD"):
                    var = self.env_var(name)
                    if var is not None and (var.value is None or var.value.text):
                        return [Listener(None, name, var.span)]
                var = self.env_var("UVICORN_HOST")
                if var is not None and (var.value is None or var.value.text):
                    symbolic = var.value is None or var.value.symbolic
                    host = None if symbolic or var.value is None else var.value.text
                    text = var.value.text if var.value is not None else ""
                    return [Listener(host, f"UVICORN_HOST={text}", var.span)]
            default = "0.0.0.0" if self.tool == "fastapi-run" else "127.0.0.1"
            return [Listener(default, f"{self.label}'s default host {default}", None)]
        if self.tool == "flask-run":
            use = self.last("host")
            if use is not None and use.values and use.values[-1].text:
                return [self._listener(use, use.values[-1].text)]
            var = self.env_var("FLASK_RUN_HOST") if self.carrier != "python" else None
            if var is not None and (var.value is None or var.value.text):
                symbolic = var.value is None or var.value.symbolic
                host = None if symbolic or var.value is None else var.value.text
                text = var.value.text if var.value is not None else ""
                return [Listener(host, f"FLASK_RUN_HOST={text}", var.span)]
            return [Listener("127.0.0.1", "the default host 127.0.0.1", None)]
        if self.tool in ("gunicorn", "hypercorn"):
            uses = self.uses("bind" if self.tool == "gunicorn" else "binds")
            args = self.env_var("GUNICORN_CMD_ARGS") if self.tool == "gunicorn" else None
            if args is not None:
                # Binds on the command line replace those of GUNICORN_CMD_ARGS.
                written = [use for use in uses if not _within(use.flag.span, args.span)]
                uses = written or uses
            found = [
                self._listener(use, bind_host(word.text), word)
                for use in uses
                for word in use.values
            ]
            if found:
                return found
            if self.tool == "gunicorn":
                args = self.env_var("GUNICORN_CMD_ARGS")
                if args is not None and (
                    args.value is None or args.value.symbolic or "-b" in args.value.text
                ):
                    return [Listener(None, "GUNICORN_CMD_ARGS", args.span)]
                port = self.env_var("PORT")
                if port is not None:
                    return [Listener("0.0.0.0", "no --bind, PORT set: 0.0.0.0:$PORT", port.span)]
                if self.carrier == "procfile":
                    return [
                        Listener(
                            "0.0.0.0",
                            "no --bind, PORT set by the Procfile's platform: 0.0.0.0:$PORT",
                            None,
                        )
                    ]
            return [Listener("127.0.0.1", f"{self.label}'s default bind 127.0.0.1:8000", None)]
        return []

    def _listener(self, use: OptionUse, host: str | None, word: Word | None = None) -> Listener:
        word = word or use.values[-1]
        symbolic = word.symbolic or host is None
        return Listener(None if symbolic else host, self.written(use), use.span)

    def generated_secrets(self) -> list[GeneratedSecret]:
        """Secrets a shell generates when this command starts (``$(openssl rand ...)``,
        ``$(uuidgen)``, ``$(python -c 'import secrets...')``, ``/dev/urandom``,
        ``$RANDOM``): in an option, or in a variable assigned by the shell that runs the
        command. Docker's ``ENV`` and exec form, Compose and Kubernetes perform no command
        substitution, so a ``$(...)`` written there is a constant string, not this.

        Bokeh/Panel: the cookie secret, the OAuth encryption key, ``BOKEH_SECRET_KEY``.
        Other servers: variables whose name holds ``SECRET`` or ends in ``_KEY`` (the
        application reads them)."""
        found: list[GeneratedSecret] = []
        if self.is_bokeh_family:
            for dest in ("cookie_secret", "oauth_encryption_key"):
                for use in self.uses(dest):
                    for word in use.values:
                        generator = secret_generator(word)
                        if generator:
                            found.append(GeneratedSecret(use.flag.text, word, use.span, generator))
        for var in self.env:
            if var.value is None or var.source not in SHELL_ASSIGNMENTS:
                continue
            if self.is_bokeh_family:
                if var.name not in GENERATED_SECRET_ENV_VARS:
                    continue
            elif "SECRET" not in var.name.upper() and not var.name.upper().endswith("_KEY"):
                continue
            generator = secret_generator(var.value)
            if generator:
                found.append(GeneratedSecret(var.name, var.value, var.span, generator))
        return found

    # -- where it listens and how often it pings (for linking proxies to it) -----------

    def websocket_paths(self) -> tuple[str, ...] | None:
        """The paths of a Bokeh/Panel server's WebSocket endpoints: ``<prefix>/<app>/ws``
        for every application, ``<prefix>/ws`` for one served at ``/`` (bokeh/server/
        tornado.py adds each of bokeh/server/urls.py ``per_app_patterns`` under the
        application's route; Panel keeps ``/ws``). An application's route is the name of
        its file without the extension, or of its directory (``url_path`` of
        bokeh/application/handlers/code.py and directory.py); with no file ``bokeh
        serve`` serves an empty application at ``/``, and Panel's ``--index <app>`` serves
        that application at ``/`` as well. None when not known here: not of the Bokeh
        family, a prefix or file named by a variable or a glob, or an application given in
        Python (``pn.serve``)."""
        if not self.is_bokeh_family or self.carrier == "python" or self.has("glob"):
            return None
        prefix = self.value("prefix")
        if prefix is not None and prefix.symbolic:
            return None
        base = "/" + prefix.text.strip("/") if prefix is not None and prefix.text.strip("/") else ""
        routes: list[str] = []
        for word in self.positionals:
            if word.symbolic or any(c in word.text for c in "*?["):
                return None
            name = posixpath.basename(word.text.rstrip("/"))
            directory = word.text.endswith("/")
            routes.append("/" + (name if directory else posixpath.splitext(name)[0]))
        if not routes:
            routes.append("/")
        index = self.value("index") if self.tool == "panel-serve" else None
        if index is not None and not index.text.endswith(".html"):
            stem = posixpath.basename(index.text)
            for extension in (".py", ".ipynb", ".md"):
                stem = stem.removesuffix(extension)
            if "/" + stem in routes:
                routes.append("/")
        return tuple(dict.fromkeys(base + ("" if r == "/" else r) + "/ws" for r in routes))

    def listen_ports(self) -> list[str]:
        """The TCP ports the server listens on, as written (may be symbolic): Bokeh and
        Panel ``--port`` (default 5006); uvicorn ``--port``/``UVICORN_PORT`` and
        ``fastapi`` ``--port``/``PORT`` (default 8000); gunicorn and hypercorn
        ``--bind`` (gunicorn: ``0.0.0.0:$PORT`` when ``PORT`` is set, else 8000)."""
        if self.is_bokeh_family:
            return [] if self.unix_socket() is not None else [self.listen_port()]
        if self.tool in ("uvicorn", "fastapi-run", "fastapi-dev"):
            if self.has("uds") or self.has("fd"):
                return []
            names = ("UVICORN_PORT",) if self.tool == "uvicorn" else ("PORT",)
            setting = self.effective_setting("port", *names)
            return [setting.value.text] if setting and setting.value else ["8000"]
        binds = [word.text for word in self.values("bind")]
        if not binds and self.tool == "gunicorn" and self.env_var("PORT") is not None:
            port = self.env_var("PORT")
            return [port.value.text if port and port.value else "$PORT"]
        if not binds:
            return ["8000"]
        ports = []
        for bind in binds:
            if bind.startswith(("unix:", "fd://")):
                continue
            ports.append(bind.rsplit(":", 1)[1] if ":" in bind.split("]")[-1] else "8000")
        return ports

    def ping_interval(self) -> tuple[float | None, Span | None, str]:
        """Seconds between the server's WebSocket pings (0: it never pings; None:
        unknown), where that is decided, and how. Bokeh/Panel ``--keep-alive`` is in
        milliseconds, default 37000 (bokeh/server/tornado.py ``DEFAULT_KEEP_ALIVE_MS``),
        0 disables; uvicorn ``--ws-ping-interval`` is in seconds, default 20
        (uvicorn/config.py), and gunicorn's uvicorn workers and ``fastapi`` use uvicorn's
        default; hypercorn sends none unless configured."""
        if self.is_bokeh_family:
            use = self.last("keep_alive")
            if use is None or not use.values:
                return 37.0, None, "Bokeh's default keep-alive (37 s)"
            return _number(use.values[-1], 1000), use.span, f"--keep-alive {use.values[-1].text}"
        if self.tool in ("uvicorn", "fastapi-run", "fastapi-dev"):
            setting = self.effective_setting("ws_ping_interval", "UVICORN_WS_PING_INTERVAL")
            if setting is None or setting.value is None:
                return 20.0, None, "uvicorn's default ping interval (20 s)"
            return _number(setting.value, 1), setting.span, f"{setting.label}"
        if self.tool == "gunicorn" and "uvicorn" in " ".join(
            w.text for w in self.values("worker_class")
        ):
            return 20.0, None, "uvicorn's default ping interval (20 s)"
        if self.tool == "hypercorn":
            return 0.0, None, "hypercorn sends no pings by default"
        return None, None, "unknown"


class WorkerProcesses(Struct, frozen=True):
    """Several server processes asked for by one command (``ServeCommand.worker_processes``):
    ``count`` of them, None for one per CPU core or a value known only at run time
    (``symbolic``); ``written`` the setting as written, ``span`` where."""

    count: int | None
    written: str
    span: Span
    symbolic: bool = False

    @property
    def description(self) -> str:
        if self.symbolic:
            return f"a worker count set at run time (`{self.written}`)"
        if self.count is None:
            return f"one process per CPU core (`{self.written}`)"
        return f"{self.count} processes (`{self.written}`)"


def _process_count(
    use: OptionUse | None,
    written: str,
    variable: EnvVar | None,
    *,
    per_core_below: int | None,
) -> WorkerProcesses | None:
    """The process count an option (or, without it, a variable) asks for; None for one.
    ``per_core_below``: counts below it mean one process per core (Tornado's
    ``fork_processes``)."""
    if use is not None:
        if not use.values:
            return None
        word = use.values[-1]
        span = use.span
    elif variable is not None and variable.value is not None:
        word = variable.value
        written = f"{variable.name}={word.text}"
        span = variable.span
    else:
        return None
    if word.symbolic:
        return WorkerProcesses(None, written, span, symbolic=True)
    try:
        count = int(word.text.strip())
    except ValueError:
        return None
    if per_core_below is not None and count < per_core_below:
        return WorkerProcesses(None, written, span)
    return WorkerProcesses(count, written, span) if count > 1 else None


class Switch(Struct, frozen=True):
    """An on/off setting that is on, as written (``--reload``, ``UVICORN_RELOAD=1``,
    ``fastapi dev``), and where."""

    written: str
    span: Span


class Listener(Struct, frozen=True):
    """One address a server listens on. ``host`` is ``""`` or a wildcard for every
    interface, None when not known here; ``written`` says what decides it; ``span`` is
    None for a default."""

    host: str | None
    written: str
    span: Span | None

    @property
    def all_interfaces(self) -> bool:
        return self.host is not None and self.host.strip("[]") in ("", "0.0.0.0", "::")


class GeneratedSecret(Struct, frozen=True):
    """A secret whose value a shell generates at start (``setting`` is the flag or the
    variable name; ``generator`` the command that makes it, for messages)."""

    setting: str
    value: Word
    span: Span
    generator: str


class SettingSource(Struct, frozen=True):
    """Where an effective setting is written: an option (``name`` is the flag as
    written, abbreviation included) or an environment variable. ``value`` is None when
    it is not written here (a flag without value, a secret reference, a pass-through)."""

    name: str
    span: Span
    value: Word | None
    from_env: bool
    reference: bool = False

    @property
    def is_literal(self) -> bool:
        return self.value is not None and not self.value.symbolic and not self.reference

    @property
    def label(self) -> str:
        return self.name if self.from_env else f"`{self.name}`"


class AuthSetting(Struct, frozen=True):
    """The authentication a Bokeh/Panel server enforces and where it is configured."""

    kind: Literal["basic", "oauth", "auth-module"]
    source: SettingSource
    provider: str | None = None

    @property
    def description(self) -> str:
        if self.kind == "oauth":
            name = f" `{self.provider}`" if self.provider else ""
            return f"OAuth{name} ({self.source.label})"
        if self.kind == "basic":
            return f"basic auth ({self.source.label})"
        return f"an auth module ({self.source.label})"


# Options whose value is a credential, per tool.
SECRET_OPTIONS: dict[str, tuple[str, ...]] = {
    "panel-serve": ("cookie_secret", "oauth_secret", "oauth_encryption_key", "basic_auth"),
    "bokeh-serve": ("cookie_secret",),
    "uvicorn": ("ssl_keyfile_password",),
    "hypercorn": ("keyfile_password",),
}

# Environment variables whose value is a credential (bokeh/settings.py, panel/config.py).
SECRET_ENV_VARS: dict[str, str] = {
    "BOKEH_SECRET_KEY": "the key that signs Bokeh session ids",
    "BOKEH_COOKIE_SECRET": "the key that signs the server's cookies",
    "BOKEH_SSL_PASSWORD": "the password of the TLS key file",
    "PANEL_COOKIE_SECRET": "the key that signs Panel's auth cookies",
    "PANEL_OAUTH_SECRET": "the OAuth client secret",
    "PANEL_OAUTH_ENCRYPTION": "the key that encrypts Panel's OAuth tokens",
    "PANEL_BASIC_AUTH": "Panel's basic-auth password",
}

_FILE_SUFFIXES = (".json", ".txt", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".env")


def split_env_origins(value: str) -> list[str]:
    """``BOKEH_ALLOW_WS_ORIGIN`` as bokeh/settings.py reads it: split on ``,``, no trim."""
    return value.split(",")


def looks_like_file_path(text: str) -> bool:
    """Panel treats a ``basic_auth`` value naming an existing file as a JSON file of
    users (``os.path.isfile``, panel/auth.py ``BasicLoginHandler._validate``): a value
    with a path separator or a file suffix is read as such a file here."""
    return "/" in text or "\\" in text or text.lower().endswith(_FILE_SUFFIXES)


# The condition of a server started under ``if __name__ == "__main__":`` (run as a
# script only).
MAIN_GUARD = 'if __name__ == "__main__"'


def is_loopback_address(text: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ``::1``."""
    import ipaddress

    candidate = text.strip().lower()
    if candidate == "localhost" or candidate.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(candidate.strip("[]")).is_loopback
    except ValueError:
        return False


def only_loopback_addresses(text: str) -> bool:
    """A comma-separated address list (a trusted-proxy list such as Uvicorn's
    ``--forwarded-allow-ips``) naming loopback addresses only; ``*`` and networks
    outside 127.0.0.0/8 are not."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    return all(is_loopback_address(entry.split("/")[0]) for entry in entries)


def literal_truth(text: str) -> bool:
    """A literal read as an on/off value: ``False``, ``0``, ``no``, ``off``, ``None``
    and the empty string are off, anything else is on."""
    return text.strip().lower() not in ("false", "0", "no", "off", "none", "")


def click_bool(text: str) -> bool | None:
    """How click reads a boolean flag from its environment variable (click/types.py
    ``BoolParamType.str_to_bool``); None for a value click rejects."""
    states = {
        "1": True,
        "true": True,
        "t": True,
        "yes": True,
        "y": True,
        "on": True,
        "0": False,
        "false": False,
        "f": False,
        "no": False,
        "n": False,
        "off": False,
        "": False,
    }
    return states.get(text.strip().lower())


def bind_host(text: str) -> str | None:
    """The host of a gunicorn/hypercorn bind (``HOST:PORT``, ``[V6]:PORT``, ``HOST``,
    ``tcp://...``), None for ``unix:`` and ``fd://`` (gunicorn/util.py
    ``parse_address``)."""
    if text.startswith(("unix:", "fd://")):
        return None
    if text.startswith("tcp://"):
        text = text[len("tcp://") :]
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.split(":", 1)[0] if ":" in text else text


# Variables a shell assigns for the command it runs (invocation/commandline.py): their
# `$(...)` is evaluated each time the script runs.
SHELL_ASSIGNMENTS = frozenset({"export", "shell assignment", "command prefix", "env"})

# Bokeh/Panel secrets that must be equal in every instance serving the same users:
# cookie signing (tornado secure cookies), session-id signing, OAuth token encryption.
GENERATED_SECRET_ENV_VARS = frozenset(
    {"PANEL_COOKIE_SECRET", "BOKEH_COOKIE_SECRET", "BOKEH_SECRET_KEY", "PANEL_OAUTH_ENCRYPTION"}
)

_GENERATORS = (
    ("openssl rand", re.compile(r"\bopenssl\s+rand\b")),
    ("uuidgen", re.compile(r"\buuidgen\b")),
    ("/dev/urandom", re.compile(r"/dev/u?random\b")),
    ("/proc/sys/kernel/random/uuid", re.compile(r"/proc/sys/kernel/random/uuid")),
    ("python secrets", re.compile(r"\bsecrets\s*\.\s*(token_\w+|choice|randbits)")),
    ("os.urandom", re.compile(r"\bos\s*\.\s*urandom\b")),
    ("uuid4", re.compile(r"\buuid\s*\.\s*uuid4\b")),
    ("Fernet.generate_key", re.compile(r"\bFernet\s*\.\s*generate_key\b")),
    ("bokeh secret", re.compile(r"\bbokeh\s+secret\b")),
    ("panel secret", re.compile(r"\bpanel\s+(oauth-)?secret\b")),
    ("pwgen", re.compile(r"\bpwgen\b")),
)
_COMMAND_SUBSTITUTION = re.compile(r"\$\(|`")
_RANDOM_VARIABLE = re.compile(r"\$(RANDOM\b|\{RANDOM\})")


def secret_generator(word: Word) -> str | None:
    """The generator a shell runs to make this value (``$(openssl rand -hex 32)``,
    ``$RANDOM``...), or None."""
    if not word.symbolic:
        return None
    if _RANDOM_VARIABLE.search(word.text):
        return "$RANDOM"
    if not _COMMAND_SUBSTITUTION.search(word.text):
        return None
    for name, pattern in _GENERATORS:
        if pattern.search(word.text):
            return name
    return None


def _within(inner: Span, outer: Span) -> bool:
    return (
        inner.path == outer.path
        and (outer.line, outer.column) <= (inner.line, inner.column)
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)
    )


def _number(word: Word, divisor: float) -> float | None:
    """A literal number of milliseconds (divisor 1000) or seconds, as seconds."""
    if word.symbolic:
        return None
    try:
        return float(word.text) / divisor
    except ValueError:
        return None
