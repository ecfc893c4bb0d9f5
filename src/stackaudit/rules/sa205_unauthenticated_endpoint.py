from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# What each provider serves, and how bad that is. `param` only reads: its GET hands the
# lists `parse_qs` returns to param's JSON deserializer, which refuses them (500).
_PROVIDERS = {
    "param": (
        "serves the current values of every object the app publishes with "
        "`pn.state.publish` at /{endpoint}/<name> (read only: a query string that would "
        "set them is refused with a 500)",
        Severity.WARNING,
    ),
    "tranquilizer": (
        "runs the app's `@tranquilize` functions for anyone at /{endpoint}/",
        Severity.ERROR,
    ),
}
_EXTENSION_PROVIDER = (
    "adds the routes of a REST provider from a Panel extension, with no login check of Panel's own",
    Severity.WARNING,
)


class UnauthenticatedEndpoint(Rule):
    """
    ## What it does
    Flags Panel's REST endpoints: `panel serve --rest-provider`, `--rest-session-info`,
    and `session_history=` other than 0 in `pn.serve` / `panel.io.server.get_server`.

    ## Why is this bad?
    Panel adds these routes as plain Tornado handlers (`ParamHandler`, a WSGI
    `FallbackHandler`) beside the app's pages. Login is enforced only by the app's
    own handlers, so `--basic-auth`, `--oauth-provider` and `--auth-module` do not cover
    them:

    - `--rest-provider param` answers `/<rest-endpoint>/<name>` with the current values
      of every object published with `pn.state.publish` (a warning: it reads, it does
      not write). A query string cannot change them: `ParamHandler` passes the lists
      `parse_qs` returns to param's JSON deserializer, which raises, and Tornado answers
      500 (`?x=1` and `?x="1"` alike). `--rest-provider tranquilizer` runs the app's
      `@tranquilize` functions for anyone (an error). A provider from a Panel extension
      is reported as a warning: what it serves is not known here.
    - `--rest-session-info` publishes `pn.state.session_info` at `/rest/session_info`.
      With `--session-history N` (N ≠ 0; -1 keeps all) or `--admin` it lists the id,
      launch, start, render and end times and User-Agent of each recorded session; with
      unsigned session ids (the default), a listed id is enough to open that session's
      document (`?bokeh-session-id=<id>` attaches to the live session): an error.
      Without a history it shows only the live and total session counts: a note.
    - `pn.serve(..., session_history=N)` with N ≠ 0 adds the same `/rest/session_info`
      route by itself. On the `panel serve` command line `--session-history` alone only
      records the history; it is exposed by `--rest-session-info` or the admin page.

    With `auth-by-proxy = true` in the configuration the rule stays quiet: the proxy is
    declared to guard every path.

    ## Example
    ```
    panel serve app.py --basic-auth users.json --cookie-secret "$SECRET" --rest-session-info --session-history -1
    ```

    ## Use instead
    Drop the REST options in deployment, or serve them on a separate server (or behind
    a proxy location) that requires authentication.

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/rest.py#L49-L81
    - https://github.com/holoviz/param/blob/v2.4.2/param/serializer.py#L89-L91
    - https://github.com/holoviz/param/blob/v2.4.2/param/serializer.py#L175-L180
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/rest.py#L106-L178
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L416-L420
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L534-L538
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L261-L283
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/state.py#L847-L877
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L1346-L1351
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/session_handler.py#L84-L146
    """

    code = "SA205"
    name = "unauthenticated-endpoint"
    severity = Severity.ERROR
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.PYTHON)
    cwe = 306
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA205
            CMD ["panel", "serve", "app.py", "--rest-session-info", "--session-history", "-1"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --basic-auth "$AUTH_FILE" --cookie-secret "$SECRET" \\
                --rest-provider param  # expect: SA205
        """,
            title="the login does not cover the REST routes",
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD panel serve app.py --rest-prov=tranquilizer  # expect: SA205
        """,
            title="an abbreviated flag",
        ),
        Bad(
            "serve.py",
            """
            import panel as pn
            pn.serve(app, port=5006, session_history=50)  # expect: SA205
        """,
            title="pn.serve adds /rest/session_info itself",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["panel", "serve", "app.py", "--session-history", "100"]
        """,
            title="the history alone is not served by panel serve",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --args --rest-session-info
        """,
            title="words after --args belong to the app",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        if stack.config.auth_by_proxy:
            return
        for command in stack.serve_commands:
            if command.tool == "panel-serve":
                yield from self._rest_provider(command)
                yield from self._session_info(command)

    def _guarded(self, command: ServeCommand) -> str:
        auth = command.auth()
        return f"; {auth.description} does not cover it" if auth else ""

    def _rest_provider(self, command: ServeCommand) -> Iterator[Diagnostic]:
        use = command.last("rest_provider")
        if use is None or not use.values or use.values[-1].symbolic:
            return
        provider = use.values[-1].text
        endpoint = command.value("rest_endpoint")
        path = endpoint.text.strip("/") if endpoint is not None else "rest"
        what, severity = _PROVIDERS.get(provider, _EXTENSION_PROVIDER)
        yield self.report(
            use.span,
            f"{command.label}: `{command.written(use)}` {what.format(endpoint=path)}; no login "
            f"is checked there{self._guarded(command)}",
            help="remove --rest-provider from the deployed command, or put the REST API "
            "behind an authenticating proxy location",
            fix_title="Remove the REST provider",
            severity=severity,
        )

    def _session_info(self, command: ServeCommand) -> Iterator[Diagnostic]:
        history = command.literal_int("session_history")
        admin = command.enabled("admin") is not None
        if command.carrier == "python":
            if history is None or history[0] == 0:
                return
            span, written = history[1].span, command.written(history[1])
        else:
            use = command.enabled("rest_session_info")
            if use is None:
                return
            span, written = use.span, command.written(use)
        kept: int | None = -1 if admin else (history[0] if history else 0)
        if kept == 0 and command.value("session_history") is not None and history is None:
            kept = None  # --session-history "$N": known only at run time
        if kept == 0:
            listed = "publishes the live and total session counts"
            severity = Severity.NOTE
        else:
            scope = (
                "the sessions that --session-history keeps (if not 0)"
                if kept is None
                else "every session"
                if kept < 0
                else f"each of the last {kept} sessions"
            )
            listed = (
                f"lists the id, times and User-Agent of {scope}; an unsigned session "
                "id is enough to open that session"
            )
            severity = Severity.ERROR
        yield self.report(
            span,
            f"{command.label}: `{written}` serves /rest/session_info to anyone: it {listed}"
            f"{self._guarded(command)}",
            help="do not publish session info from a public server; use the admin page "
            "behind authentication instead",
            fix_title="Remove the session-info endpoint",
            severity=severity,
        )
