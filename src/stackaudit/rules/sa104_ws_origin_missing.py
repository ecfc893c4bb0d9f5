from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class WsOriginMissing(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel server started by a deployment artifact (Dockerfile, compose,
    Kubernetes, systemd unit, Procfile, entrypoint or start script) with no WebSocket
    origin allowlist at all: no `--allow-websocket-origin`, no `BOKEH_ALLOW_WS_ORIGIN`.

    Development carriers are left alone: a path with a `dev`, `devel`, `development`,
    `local`, `debug`, `test`, `tests` or `testing` component or name part
    (`scripts/dev/run.sh`, `Dockerfile.dev`, `run-local.sh`, `tests/compose.yml`),
    compose override files, a script's development branch (`if [ "$ENV" = dev ]`,
    `[ -n "$DEBUG" ] &&`), commands with `--show` (a browser opened on the server's own
    machine) and servers started from Python code.

    ## Why is this bad?
    Without an allowlist Bokeh admits only `localhost:<port>` (nothing at all on a
    unix socket). With Tornado before 6.6 every browser that reaches the app under
    its real name gets its WebSocket refused (403) and the page stays blank. Tornado 6.6
    no longer asks Bokeh about requests it sees as same-origin (the browser's
    `Sec-Fetch-Site: same-origin`, sent over HTTPS, or an `Origin` equal to the `Host`
    header the server receives, i.e. a proxy that forwards `Host`), so the same
    deployment may work or fail depending on the Tornado version, the scheme and the
    proxy, and pages embedding the app from another site fail. The usual quick fix
    found online is `--allow-websocket-origin='*'` (SA101).

    ## Example
    ```
    CMD ["panel", "serve", "app.py", "--address", "0.0.0.0"]
    ```

    ## Use instead
    Name the host(s) browsers use (set `public-hosts` in the configuration to have them
    suggested):
    ```
    CMD ["panel", "serve", "app.py", "--address", "0.0.0.0", "--allow-websocket-origin", "dash.example.com"]
    ```

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/util.py#L134-L135
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/server.py#L422-L434
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L93-L122
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L264-L277
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L1727-L1761
    - https://docs.bokeh.org/en/latest/docs/user_guide/server/deploy.html#websocket-origin
    """

    code = "SA104"
    name = "ws-origin-missing"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT)
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA104
            CMD ["panel", "serve", "app.py", "--address", "0.0.0.0", "--port", "8080"]
        """,
        ),
        Bad(
            "entrypoint.sh",
            """
            #!/bin/sh
            exec python -m bokeh serve app.py --unix-socket /run/app.sock  # expect: SA104
        """,
            title="a unix socket has no localhost default: nothing is admitted",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_ALLOW_WS_ORIGIN=dash.example.com
            CMD ["panel", "serve", "app.py", "--address", "0.0.0.0"]
        """,
        ),
        Good(
            "scripts/dev/serve.sh",
            """
            #!/bin/sh
            panel serve app.py --dev
        """,
            title="a development script",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD panel serve app.py --allow-websocket-origin "$PUBLIC_HOST"
        """,
            title="a value known at run time is an allowlist",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            if not command.is_bokeh_family or not command.deployment or command.opens_browser():
                continue
            if command.origin_source() != "default":
                continue
            if command.unix_socket() is not None:
                admitted = (
                    "admits no origin at all (on a unix socket there is no localhost default)"
                )
            else:
                admitted = f"admits only `localhost:{command.listen_port()}`"
            # The hosts the proxies in front serve it under, else `public-hosts`.
            hosts = stack.links.public_hosts_of(command)
            platform = stack.platform_for(command)
            if not hosts and platform is not None and platform.public_origin:
                # The platform's own host for the app (`<app>.fly.dev`).
                hosts = [platform.public_origin.split("://", 1)[1]]
            related = [
                Related(f.span, f"{f.kind} serves {', '.join(f.public_hosts)}")
                for f in stack.links.frontends_of(command)
                if f.public_hosts
            ]
            suggestion = " ".join(f"--allow-websocket-origin={h}" for h in hosts) or (
                "--allow-websocket-origin=<public host[:port]>"
            )
            yield self.report(
                command.program.span,
                f"{command.label} has no WebSocket origin allowlist (no "
                f"--allow-websocket-origin, no BOKEH_ALLOW_WS_ORIGIN"
                f"{command.unread_env_note()}): Bokeh {admitted}; "
                "browsers reaching it under its public name are refused (403) on Tornado "
                "< 6.6, and on 6.6 unless Tornado sees the request as same-origin",
                help=f"name the host(s) browsers use: {suggestion} (not `*`)"
                + (
                    ""
                    if hosts
                    else "; set `public-hosts` in the configuration to have them suggested"
                ),
                fix_title="Add --allow-websocket-origin for the public host",
                related=related,
                confidence=Confidence.LOW if command.env_files else None,
            )
