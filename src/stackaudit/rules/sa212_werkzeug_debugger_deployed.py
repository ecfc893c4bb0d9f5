from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.app import AppSetting
from stackaudit.facts.serve import ServeCommand, Switch, is_loopback_address, literal_truth
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class WerkzeugDebuggerDeployed(Rule):
    """
    ## What it does
    Flags Werkzeug's interactive debugger served beyond loopback: `flask run` with
    `--debug`, `--debugger`, `FLASK_DEBUG=1` (any value but empty, `0`, `false`, `no`)
    or `FLASK_RUN_DEBUG`/`FLASK_RUN_DEBUGGER` in the process's environment (Dockerfile
    `ENV`, compose `environment:` and `env_file:`, Kubernetes `env`), and in code
    `app.run(debug=True)`, `app.run(use_debugger=True)`, `app.debug = True` or
    `app.config["DEBUG"] = True` before `app.run()`, and
    `werkzeug.serving.run_simple(..., use_debugger=True)` — when the server listens on a
    non-loopback address (`--host 0.0.0.0`, `FLASK_RUN_HOST`, `host="0.0.0.0"`).

    The default host, 127.0.0.1, is quiet: inside a container nothing outside reaches
    it. So is a `python app.py` launcher under `if __name__ == "__main__":` bound to
    loopback, a development script or branch, `--no-debugger`, and `FLASK_DEBUG=0`.
    Code is reported with medium confidence (the file may be a local launcher only), as
    is a host known only at run time.

    ## Why is this bad?
    The debugger answers every unhandled exception with the traceback and the source of
    each frame, and serves a console (`/console`, and one per frame) that runs any Python
    in the server process. The console is locked by a PIN, but the PIN is derived from
    the user name, the module path, the MAC address and the machine id of the host
    (werkzeug/debug/\\_\\_init\\_\\_.py `get_pin_and_cookie_name`), values a file-read bug
    or a shared image reveals; `WERKZEUG_DEBUG_PIN=off` removes it. The Host check of
    Werkzeug 3.0.3+ trusts `127.0.0.1` and `localhost`, which a client reaching the port
    writes itself. Flask: "Do not run the development server or debugger in a
    production environment."

    ## Example
    ```
    ENV FLASK_DEBUG=1
    CMD ["flask", "--app", "app", "run", "--host", "0.0.0.0"]
    ```

    ## Use instead
    Serve the app with a production WSGI server, and leave debug mode to development:
    ```
    CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
    ```

    ## References
    - https://flask.palletsprojects.com/en/stable/debugging/
    - https://flask.palletsprojects.com/en/stable/deploying/
    - https://flask.palletsprojects.com/en/stable/config/#DEBUG
    - https://github.com/pallets/flask/blob/3.1.3/src/flask/cli.py#L885-L1004
    - https://github.com/pallets/flask/blob/3.1.3/src/flask/app.py#L546-L660
    - https://github.com/pallets/flask/blob/3.1.3/src/flask/helpers.py#L28-L33
    - https://github.com/pallets/werkzeug/blob/3.1.9/src/werkzeug/debug/__init__.py#L142-L220
    - https://github.com/pallets/werkzeug/blob/3.1.9/src/werkzeug/serving.py#L1084-L1090
    - https://werkzeug.palletsprojects.com/en/stable/debug/#debugger-pin
    - docs/upstream-facts.md, "SA212 — Werkzeug's debugger"
    """

    code = "SA212"
    name = "werkzeug-debugger-deployed"
    severity = Severity.ERROR
    category = Category.EXPOSURE
    security_severity = 9.8  # the debugger runs arbitrary code: critical
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 94
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV FLASK_DEBUG=1  # expect: SA212
            CMD ["flask", "--app", "app", "run", "--host", "0.0.0.0"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec flask run --debug --host 0.0.0.0 --port 8000  # expect: SA212
        """,
        ),
        Bad(
            "app.py",
            """
            from flask import Flask

            app = Flask(__name__)
            app.run(host="0.0.0.0", port=5000, debug=True)  # expect: SA212
        """,
        ),
        Good(
            "app.py",
            """
            from flask import Flask

            app = Flask(__name__)

            if __name__ == "__main__":
                app.run(debug=True)
        """,
            title="a developer's launcher, on loopback",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV FLASK_DEBUG=0
            CMD ["flask", "--app", "app", "run", "--host", "0.0.0.0"]
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        debug_settings = _flask_debug_settings(stack)
        for command in stack.serve_commands:
            if command.tool != "flask-run" or is_development_path(command.span.path):
                continue
            if command.carrier != "python" and not command.deployment:
                continue
            switch = command.werkzeug_debugger() or _app_debug(command, debug_settings)
            if switch is None:
                continue
            yield from self._report(command, switch)

    def _report(self, command: ServeCommand, switch: Switch) -> Iterator[Diagnostic]:
        listeners = command.listeners()
        if listeners and all(
            listener.host is not None and is_loopback_address(listener.host)
            for listener in listeners
        ):
            return
        known = [listener for listener in listeners if listener.host is not None]
        where = f"on {known[0].host}" if known else "on an address known only at run time"
        sure = (
            known
            and command.carrier != "python"
            and not command.conditional
            and not any(listener.host is None for listener in listeners)
        )
        what = (
            command.label if command.carrier != "python" else command.context.removesuffix(" call")
        )
        related = [
            Related(listener.span, f"listens: {listener.written}")
            for listener in listeners
            if listener.span is not None and listener.span != switch.span
        ]
        yield self.report(
            switch.span,
            f"{what} with `{switch.written}` serves Werkzeug's interactive debugger {where}"
            f"{'' if command.carrier != 'python' else ' if this file starts the deployed server'}: "
            "its console runs any Python in the server process, behind a PIN derived from "
            "host values",
            help="serve the app with a production WSGI server (gunicorn, waitress) and turn "
            "debug mode off where it is deployed",
            fix_title="Turn off the debugger",
            related=related,
            confidence=None if sure else Confidence.MEDIUM,
        )


def _flask_debug_settings(stack: Stack) -> dict[str, list[AppSetting]]:
    """``app.debug = ...`` / ``app.config["DEBUG"] = ...`` by file, in order."""
    found: dict[str, list[AppSetting]] = {}
    for setting in stack.of(AppSetting):
        if setting.framework == "flask" and setting.name == "debug":
            found.setdefault(setting.span.path, []).append(setting)
    return found


def _app_debug(command: ServeCommand, settings: dict[str, list[AppSetting]]) -> Switch | None:
    """``app.run()`` with neither ``debug=`` nor ``use_debugger=``: the app's own debug
    setting decides (flask/app.py ``Flask.run``), the last one written before the
    call in the same file."""
    if command.carrier != "python" or not command.context.startswith("app.run()"):
        return None
    if command.has("debug") or command.has("debugger"):
        return None
    before = [
        setting
        for setting in settings.get(command.span.path, ())
        if setting.span.line < command.span.line
    ]
    if not before or before[-1].value.symbolic or not literal_truth(before[-1].value.text):
        return None
    last = before[-1]
    return Switch(f"debug = {last.value.text}", last.span)
