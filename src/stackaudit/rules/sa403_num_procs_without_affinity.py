from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class NumProcsWithoutAffinity(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel server started with several processes: `--num-procs N` with
    N ≠ 1 (`0` or less means one per CPU core) on `bokeh serve` / `panel serve`, or
    `num_procs=` given to `pn.serve` / Bokeh's `Server`.

    ## Why is this bad?
    Bokeh binds the listening socket once and then lets Tornado fork the processes,
    which all accept connections on that one socket: the kernel hands every new
    connection to whichever process takes it. A Bokeh session lives in the memory of one
    process, but the page request and the WebSocket that follows it are separate
    connections. When the WebSocket lands in another process, that process does not know
    the session and creates a new one from the token, running the app again, while the
    first session waits unused; a reconnect lands anywhere too, and per-process caches
    are not shared. No load balancer can pin a client to one of these processes, since
    they share one address and port.

    `bokeh serve --dev` forces a single process, so it is not reported.

    ## Example
    ```
    panel serve app.py --num-procs 4
    ```

    ## Use instead
    Run one process per instance (`--num-procs 1`, the default) and start several
    instances on separate ports behind a proxy with session affinity (nginx `ip_hash`
    or `hash $remote_addr consistent`, Traefik sticky cookies).

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L730-L736
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L949-L951
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/server.py#L431-L455
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/tcpserver.py#L259-L299
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/process.py#L114-L115
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L202-L205
    - https://docs.bokeh.org/en/latest/docs/user_guide/server/deploy.html
    - https://panel.holoviz.org/how_to/concurrency/load_balancing.html
    """

    code = "SA403"
    name = "num-procs-without-affinity"
    severity = Severity.WARNING
    category = Category.SCALING
    applies_to = (FileKind.COMMAND_LINE, FileKind.PYTHON)
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA403
            CMD ["panel", "serve", "app.py", "--num-procs", "4"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec bokeh serve app.py --num-pro=0  # expect: SA403
        """,
            title="0 forks one process per core; an abbreviated flag",
        ),
        Bad(
            "serve.py",
            """
            import panel as pn
            pn.serve(app, num_procs=2)  # expect: SA403
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["panel", "serve", "app.py", "--num-procs", "1"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --num-procs "$PROCS"
        """,
            title="a value known only at run time is not judged",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            bokeh serve app.py --num-procs 4 --dev
        """,
            title="bokeh --dev forces one process",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            if not command.is_bokeh_family:
                continue
            found = command.literal_int("num_procs")
            if found is None or found[0] == 1:
                continue
            if command.tool == "bokeh-serve" and command.dev_switches():
                continue
            count, use = found
            processes = "one process per CPU core" if count <= 0 else f"{count} processes"
            yield self.report(
                use.span,
                f"{command.label}: `{command.written(use)}` forks {processes} that accept "
                "connections on one shared socket: a session's WebSocket can reach a process "
                "that does not hold the session, and nothing in front can keep a client on "
                "one process",
                help=f"remove `{command.written(use)}` and run "
                + (f"{count} instances" if count > 1 else "one instance per core")
                + " of one process each, on separate ports, behind a proxy with session "
                "affinity (an nginx `upstream` with `ip_hash;`)",
                fix_title="Use separate instances behind an affine load balancer",
            )
