from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Severity
from stackaudit.facts.app import AppSetting
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# What each development switch does once deployed (see References).
_COMMAND_EFFECTS = {
    "panel-serve": "Panel re-runs the app on file changes and renders any exception it "
    "raises, with the full traceback, into the page",
    "bokeh-serve": "Tornado's autoreload restarts the whole server, dropping every session, "
    "whenever a watched file changes (and --num-procs is forced to 1)",
    "uvicorn": "a file watcher restarts the app on every change in the working directory, "
    "and --workers is ignored",
    "fastapi-run": "a file watcher restarts the app on every change, and --workers is ignored",
    "fastapi-dev": "it runs with auto-reload: a file watcher restarts the app on every change",
    "gunicorn": "workers restart on code changes and, while the reloader is active, any "
    "client sees the full traceback of an app that fails to load",
    "hypercorn": "the server restarts on every code change",
}
_APP_EFFECTS = {
    "debug": "answers server errors with the full traceback",
    "serve_traceback": "answers server errors with the full traceback",
    "autoreload": "restarts the process whenever an imported module changes",
}
_APP_SWITCHES = {
    "tornado": ("debug", "serve_traceback", "autoreload"),
    "fastapi": ("debug",),
    "starlette": ("debug",),
}


class DevModeDeployed(Rule):
    """
    ## What it does
    Flags development switches where the app is deployed: panel `--dev`/`--autoreload`,
    bokeh `--dev`, `--reload` of uvicorn, gunicorn, hypercorn and `fastapi run`,
    `UVICORN_RELOAD`, `fastapi dev`; and in application code Tornado
    `Application(debug=True)`, `serve_traceback=True`, `autoreload=True`,
    `FastAPI(debug=True)`, `Starlette(debug=True)`, and `reload=True` / `autoreload=True`
    given to `uvicorn.run()` / `pn.serve()`.

    Command lines count only in deployment artifacts (Dockerfile, compose, Kubernetes,
    systemd, Procfile, entrypoint and other scripts). A development carrier is exempt:
    a path with a part or name word `dev`, `devel`, `development`, `local`, `debug`,
    `test`, `tests` or `testing` (`scripts/dev/run.sh`, `Dockerfile.dev`,
    `docker-compose.dev.yml`, `run-local.sh`, `tests/`, `test_*.py`), `conftest.py` and
    Compose override files; a Makefile target whose name holds one of those words
    (`dev:`, `serve-dev:`, `run-local:`). In a script, a command on a development
    branch is exempt too: `if [ "$ENV" = dev ]`, a `case` arm `dev|local)`,
    `[ -n "$DEBUG" ] &&`; the `else` of such a test is the production path. A command
    under a condition that names neither is reported with medium confidence.
    Application code is reported unless it lives
    on such a path; a `reload=` passed to a server from Python
    is reported with medium confidence, since that file may be a local launcher only,
    and not at all under `if __name__ == "__main__":` when the server listens on
    loopback only (a developer's `python app.py`).

    ## Why is this bad?
    These modes trade safety and stability for convenience. Tornado's `debug=True` sets
    `serve_traceback`, which sends every uncaught exception's traceback to the client;
    Starlette's `debug=True` answers errors with the traceback and source lines; panel
    `--dev` renders exceptions with their traceback into the page; gunicorn documents
    that while its reloader is active any client can see the traceback of an app that
    fails to load. Reloaders restart the server (dropping every Bokeh session) whenever
    a watched file changes, cost CPU, and uvicorn ignores `--workers` with `--reload`.

    ## Example
    ```
    CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--reload"]
    ```

    ## Use instead
    Leave the switch out of deployed commands and code; enable it from a development
    script or an environment variable read only in development.

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L276-L283
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/handlers.py#L231-L275
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L920-L954
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L2405-L2421
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L1396-L1401
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/errors.py#L163-L169
    - https://github.com/encode/uvicorn/blob/0.54.0/uvicorn/main.py#L61-L62
    - https://github.com/encode/uvicorn/blob/0.54.0/uvicorn/config.py#L367-L368
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/config.py#L1030-L1059
    - https://fastapi.tiangolo.com/fastapi-cli/
    """

    code = "SA207"
    name = "dev-mode-deployed"
    severity = Severity.WARNING
    category = Category.HARDENING
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 489
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA207
            CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--reload"]
        """,
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV UVICORN_RELOAD=true  # expect: SA207
            CMD uvicorn main:app --host 0.0.0.0
        """,
            title="uvicorn reads UVICORN_* variables",
        ),
        Bad(
            "entrypoint.sh",
            """
            #!/bin/sh
            exec panel serve app.py --dev --address 0.0.0.0  # expect: SA207
        """,
        ),
        Bad(
            "Procfile",
            """
            web: bokeh serve --port $PORT --dev app.py  # expect: SA207
        """,
            title="bokeh --dev is greedy: it swallows app.py as a file to watch",
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD fastapi dev main.py --host 0.0.0.0  # expect: SA207
        """,
        ),
        Bad(
            "app.py",
            """
            import tornado.web
            app = tornado.web.Application(handlers, debug=True)  # expect: SA207
        """,
        ),
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            app = FastAPI(debug=True)  # expect: SA207
        """,
        ),
        Good(
            "scripts/dev/run.sh",
            """
            #!/bin/sh
            uvicorn main:app --reload
        """,
            title="a development script",
        ),
        Good(
            "entrypoint.sh",
            """
            #!/bin/sh
            if [ "$APP_ENV" = development ]; then
              exec uvicorn main:app --reload
            fi
            exec uvicorn main:app --host 0.0.0.0 --workers 4
        """,
            title="the development branch of a script",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["panel", "serve", "app.py", "--args", "--dev"]
        """,
            title="words after --args belong to the app",
        ),
        Good(
            "main.py",
            """
            import os
            from fastapi import FastAPI
            app = FastAPI(debug=os.environ.get("DEBUG") == "1")
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            yield from self._command(command)
        for setting in stack.of(AppSetting):
            switches = _APP_SWITCHES.get(setting.framework, ())
            if (
                setting.name in switches
                and _true(setting)
                and not is_development_path(setting.span.path)
            ):
                yield self._setting(setting)

    def _command(self, command: ServeCommand) -> Iterator[Diagnostic]:
        if command.tool not in _COMMAND_EFFECTS:
            return  # Werkzeug's development server (`flask run`) is SA212's
        if command.carrier == "python":
            if is_development_path(command.span.path):
                return
            confidence: Confidence | None = Confidence.MEDIUM
            where = " if this file starts the deployed server"
        else:
            if not command.deployment or is_development_path(command.span.path):
                return
            confidence, where = None, f" in {command.context}"
        effect = _COMMAND_EFFECTS[command.tool]
        if command.carrier == "python" and command.is_bokeh_family:
            # A keyword reaches Tornado's Application settings, not Panel's --dev.
            effect = "Tornado " + _APP_EFFECTS["autoreload"]
        for switch in command.dev_switches():
            yield self.report(
                switch.span,
                f"{command.label}: `{switch.written}` is a development mode{where}: {effect}",
                help=f"remove `{switch.written}` from the deployed command"
                if command.tool != "fastapi-dev"
                else "use `fastapi run` to deploy",
                fix_title="Turn off development mode",
                confidence=confidence,
            )

    def _setting(self, setting: AppSetting) -> Diagnostic:
        framework = {"fastapi": "FastAPI", "starlette": "Starlette"}.get(
            setting.framework, "tornado.web.Application"
        )
        effect = _APP_EFFECTS[setting.name]
        if setting.framework == "tornado" and setting.name == "debug":
            effect = (
                "turns on autoreload and serve_traceback: every uncaught error is "
                "answered with its traceback"
            )
        return self.report(
            setting.span,
            f"`{framework}({setting.name}={setting.value.text})` in application code {effect}",
            help=f"drop `{setting.name}=` or read it from the environment, off by default",
            fix_title="Turn off development mode",
        )


def _true(setting: AppSetting) -> bool:
    """A literal ``True`` or non-zero number; anything computed is not judged."""
    text = setting.value.text.strip()
    if setting.value.symbolic:
        return False
    if text == "True":
        return True
    try:
        return float(text) != 0
    except ValueError:
        return False
