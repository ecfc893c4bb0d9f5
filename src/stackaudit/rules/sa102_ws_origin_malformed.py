from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.origins import origin_problem
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class WsOriginMalformed(Rule):
    """
    ## What it does
    Flags a WebSocket origin allowlist entry that stops Bokeh from starting or can never
    match a browser's `Origin`: a scheme (`https://dash.example.com`), a comma inside
    one `--allow-websocket-origin` value, a space after a comma in
    `BOKEH_ALLOW_WS_ORIGIN`, a path, more than one `:`, a port that is not an integer
    (`*` included, on the command line), an empty value, upper-case letters, or
    `0.0.0.0`.

    ## Why is this bad?
    Command-line and keyword entries go through `create_hosts_allowlist`, which raises
    `ValueError` for an empty host, more than one `:` or a port `int()` refuses: the
    server does not start. Only a bare `*` skips that check, so `*:*` works in the
    environment variable but not on the command line. Entries that pass are compared
    with the `Origin` host label by label, after Bokeh lower-cased the `Origin` (not the
    allowlist): a comma, a path, a space or an upper-case letter makes an entry that
    matches nothing, and every browser is refused (403).

    `BOKEH_ALLOW_WS_ORIGIN` is split on `,` with no trimming and used as is at each
    handshake: nothing is validated, so a bad entry silently admits nothing. Set but
    empty, it still replaces the command-line list, with one empty entry.

    ## Example
    ```
    panel serve app.py --allow-websocket-origin=https://dash.example.com
    ```

    ## Use instead
    `host[:port]` as the browser shows it in the address bar, lower-case, one flag per
    host (or one comma-separated list with no spaces in the environment variable):
    ```
    panel serve app.py --allow-websocket-origin=dash.example.com
    ```

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/util.py#L103-L164
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/util.py#L166-L255
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L93-L122
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L213-L232
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L424-L426
    """

    code = "SA102"
    name = "ws-origin-malformed"
    severity = Severity.ERROR
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA102
            CMD ["panel", "serve", "app.py", "--allow-websocket-origin=https://dash.example.com"]
        """,
            title="a URL is not an origin: Bokeh refuses to start",
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec bokeh serve app.py \\
                --allow-websocket-origin dash.example.com,admin.example.com  # expect: SA102
        """,
            title="one value, one host",
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_ALLOW_WS_ORIGIN="dash.example.com, admin.example.com"  # expect: SA102
            CMD panel serve app.py
        """,
            title="the variable is split on commas without trimming",
        ),
        Bad(
            "run.sh",
            """
            #!/bin/sh
            panel serve app.py --allow-websocket-origin '*:*'  # expect: SA102
        """,
            title="a `*` port is refused on the command line",
        ),
        Bad(
            "app.py",
            """
            import panel as pn
            pn.serve(app, websocket_origin="Dash.Example.com")  # expect: SA102
        """,
            title="Bokeh lower-cases the Origin, not the allowlist",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_ALLOW_WS_ORIGIN=dash.example.com,admin.example.com:8443
            CMD ["panel", "serve", "app.py"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --allow-websocket-origin "$PUBLIC_HOST" \\
                --allow-websocket-origin=dash.example.com --args --origin=https://x.org
        """,
            title="a variable is not guessed; --args belongs to the app",
        ),
        Good(
            "app.py",
            """
            import panel as pn
            pn.serve(app, websocket_origin=["dash.example.com", "dash.example.com:8443"])
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            if command.is_bokeh_family:
                yield from self._flags(command)
                yield from self._env(command)

    def _flags(self, command: ServeCommand) -> Iterator[Diagnostic]:
        overridden = command.origin_source() == "env"
        for use in command.uses("allow_websocket_origin"):
            for word in use.values:
                problem = None if word.symbolic else origin_problem(word.text, from_env=False)
                # Bokeh validates the flags even when the variable replaces them.
                if problem is None or (overridden and not problem.crashes):
                    continue
                yield self.report(
                    word.span,
                    f"{command.label}: `{use.flag.text} {word.text or _EMPTY}`: {problem.reason}",
                    help=_help(word.text, from_env=False),
                    fix_title="Write the entry as `host[:port]`",
                )

    def _env(self, command: ServeCommand) -> Iterator[Diagnostic]:
        if command.origin_source() != "env":
            return
        entries = command.env_origins()
        flags = len(command.cli_origins())
        replaced = f"; it replaces the {flags} --allow-websocket-origin value(s)" if flags else ""
        if len(entries) == 1 and entries[0].text == "":
            yield self.report(
                entries[0].span,
                f"{command.label}: BOKEH_ALLOW_WS_ORIGIN is set but empty: Bokeh reads it "
                f"as one empty entry that admits no origin{replaced}",
                help="remove the variable, or set it to the public host(s)",
                fix_title="Set or remove BOKEH_ALLOW_WS_ORIGIN",
            )
            return
        for entry in entries:
            problem = origin_problem(entry.text, from_env=True)
            # An empty entry beside others (a trailing comma) admits nothing and harms
            # nothing.
            if problem is None or entry.text == "":
                continue
            yield self.report(
                entry.span,
                f"{command.label}: BOKEH_ALLOW_WS_ORIGIN entry `{entry.text}`: "
                f"{problem.reason}{replaced}",
                help=_help(entry.text, from_env=True),
                fix_title="Write the entry as `host[:port]`",
            )


_EMPTY = "''"


def _help(entry: str, *, from_env: bool) -> str:
    if "," in entry:
        hosts = [part.strip().lower() for part in entry.split(",") if part.strip()]
        return "repeat the flag: " + " ".join(f"--allow-websocket-origin={h}" for h in hosts)
    host = entry.split("://", 1)[-1].split("/", 1)[0].strip().lower()
    if host in ("", "*:*", "0.0.0.0") or host.startswith(":") or host.startswith("0.0.0.0:"):
        host = "<public host[:port]>"
    elif host.endswith(":*") and not from_env:
        host = host[:-2]
    if from_env:
        return f"write `host[:port]` entries separated by `,` with no spaces, e.g. `{host}`"
    return f"write the host as the browser sends it: `--allow-websocket-origin={host}`"
