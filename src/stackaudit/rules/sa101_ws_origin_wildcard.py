from collections.abc import Iterator

from stackaudit.diagnostics import (
    Codemod,
    Diagnostic,
    Edit,
    FixSafety,
    ReplaceString,
    Severity,
    python_source,
)
from stackaudit.facts.serve import OriginEntry, ServeCommand
from stackaudit.model.origins import admits_every_host, cli_origin_error
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class WsOriginWildcard(Rule):
    """
    ## What it does
    Flags a WebSocket origin allowlist entry that admits every host: `*`, `*:*` or
    `*:<port>` in `--allow-websocket-origin`, in `BOKEH_ALLOW_WS_ORIGIN`, or in the
    `allow_websocket_origin=` / `websocket_origin=` arguments of Bokeh and Panel.

    A command a script runs only on its development branch (`if [ "$ENV" = dev ]`,
    `[ -n "$DEBUG" ] &&`) is left alone.

    ## Why is this bad?
    The browser sends cookies and the page's session with every WebSocket handshake,
    whatever site opened it. With `*`, a page on any site a visitor opens can connect to
    the app as that visitor and drive it (cross-site WebSocket hijacking, CWE-1385).
    Bokeh matches the host part label by label and `*` matches any host; a `*:<port>`
    pattern restricts only the port.

    `BOKEH_ALLOW_WS_ORIGIN`, when set, replaces the command-line list at every
    handshake, so an entry there is the one that counts.

    ## Example
    ```
    panel serve app.py --allow-websocket-origin='*'
    ```

    ## Use instead
    Name the host(s) the app is served under, as the browser sees them. The suggestion
    uses the host names of the proxies in front of the server (nginx `server_name`,
    Traefik `Host()`, Ingress hosts), else `public-hosts` from the configuration; the
    (unsafe) fix writes it in place of the wildcard when there is one.

    ## References
    - https://docs.bokeh.org/en/latest/docs/user_guide/server/deploy.html#websocket-origin
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/util.py
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py
    - https://cwe.mitre.org/data/definitions/1385.html
    """

    code = "SA101"
    name = "ws-origin-wildcard"
    severity = Severity.ERROR
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 1385
    fix = FixSafety.UNSAFE
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            RUN pip install panel
            # expect-next-line: SA101
            CMD ["panel", "serve", "app.py", "--address", "0.0.0.0", "--allow-websocket-origin=*"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec bokeh serve app.py --port 5006 \\
                --allow-websocket-origin '*:5006'  # expect: SA101
        """,
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_ALLOW_WS_ORIGIN=*  # expect: SA101
            CMD panel serve app.py --allow-websocket-origin dash.example.com
        """,
            title="the environment variable replaces the flags",
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              dash:
                image: example/dash
                command: panel serve app.py --allow-websocket-origin='*'  # expect: SA101
                labels:
                  - traefik.http.routers.dash.rule=Host(`dash.example.com`)
        """,
            fixed="""
            services:
              dash:
                image: example/dash
                command: panel serve app.py --allow-websocket-origin='dash.example.com'
                labels:
                  - traefik.http.routers.dash.rule=Host(`dash.example.com`)
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["panel", "serve", "app.py", "--allow-websocket-origin=dash.example.com"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --allow-websocket-origin "$PUBLIC_HOST" --args --origin '*'
        """,
            title="values after --args belong to the app; a variable is not guessed",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            if command.is_bokeh_family:
                # The hosts the proxies in front serve it under, else `public-hosts`.
                yield from self._check_command(command, stack.links.browser_hosts_of(command))

    def _check_command(self, command: ServeCommand, public: list[str]) -> Iterator[Diagnostic]:
        suggestion = " ".join(f"--allow-websocket-origin={host}" for host in public) or (
            "--allow-websocket-origin=<public host[:port]>"
        )
        source = command.origin_source()
        for entry in command.effective_origins():
            if not admits_every_host(entry.text):
                continue
            if not entry.from_env and cli_origin_error(entry.text) is not None:
                # `*:*` on the command line stops Bokeh at startup: SA102 says so.
                continue
            if entry.from_env:
                flags = len(command.cli_origins())
                replaced = (
                    f", which replaces the {flags} --allow-websocket-origin flag"
                    + ("s" if flags != 1 else "")
                    if flags
                    else ""
                )
                message = (
                    f"{command.label}: origins admitted: `{entry.text}` from "
                    f"BOKEH_ALLOW_WS_ORIGIN{replaced}; every site can open this app's "
                    "WebSocket as its visitors"
                )
                help_text = "set BOKEH_ALLOW_WS_ORIGIN to the public host(s), comma-separated"
                if public:
                    help_text += f": {','.join(public)}"
            else:
                message = (
                    f"{command.label}: `--allow-websocket-origin {entry.text}` admits "
                    "WebSocket connections from every site, with the visitor's cookies"
                )
                help_text = f"name the public host(s) instead: {suggestion}"
            assert source in ("env", "cli")
            yield self.report(
                entry.span,
                message,
                help=help_text,
                fix_title="Replace the wildcard with the public host",
                edits=_replace(entry, public),
                codemods=_rewrite(entry, public),
            )


def _exact(entry: OriginEntry) -> bool:
    """Whether the entry's text is written as it is at its span (not through a name,
    an escape or a variable)."""
    span = entry.span
    return span.line == span.end_line and span.end_column - span.column == len(entry.text)


def _replace(entry: OriginEntry, hosts: list[str]) -> list[Edit]:
    """The wildcard's own text replaced by the host(s): quotes and the rest of the
    carrier stay as written. A flag takes one host; the variable takes a list."""
    if python_source(entry.span.path) or not hosts or not _exact(entry):
        return []
    if len(hosts) > 1 and not entry.from_env:
        return []
    return [Edit(entry.span, ",".join(hosts))]


def _rewrite(entry: OriginEntry, hosts: list[str]) -> list[Codemod]:
    """In Python, the string literal rewritten (libcst, when fixing) in its own quotes;
    several hosts become several elements of the list that held the wildcard."""
    if not python_source(entry.span.path) or not hosts or not _exact(entry):
        return []
    values = (",".join(hosts),) if entry.from_env else tuple(hosts)
    return [ReplaceString(entry.span, entry.text, values)]
