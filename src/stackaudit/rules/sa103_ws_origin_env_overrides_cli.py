from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class WsOriginEnvOverridesCli(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel server given both `BOKEH_ALLOW_WS_ORIGIN` and
    `--allow-websocket-origin`: the variable silently replaces every flag. The finding
    points at the variable, lists the flags it replaces and the origins actually
    admitted.

    ## Why is this bad?
    At each WebSocket handshake Bokeh reads `BOKEH_ALLOW_WS_ORIGIN` and, when it is set
    (even empty), uses its entries instead of the command-line list. Someone who edits
    the flags sees no effect, and a variable set long ago for another host (or to `*`)
    keeps deciding who may connect. The two lists do not even mean the same thing: a
    flag without a port means port 80, a variable entry without a port means any port.

    ## Example
    ```
    ENV BOKEH_ALLOW_WS_ORIGIN=old.example.com
    CMD panel serve app.py --allow-websocket-origin=dash.example.com
    ```

    ## Use instead
    Keep one source: either the flags, or the variable.

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L107-L116
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L610-L612
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/util.py#L134-L164
    """

    code = "SA103"
    name = "ws-origin-env-overrides-cli"
    severity = Severity.WARNING
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT)
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_ALLOW_WS_ORIGIN=old.example.com  # expect: SA103
            CMD ["panel", "serve", "app.py", "--allow-websocket-origin", "dash.example.com"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            export BOKEH_ALLOW_WS_ORIGIN="$ORIGINS"  # expect: SA103
            exec bokeh serve app.py --allow-websocket-origin=dash.example.com
        """,
            title="a variable known only at run time still replaces the flags",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_ALLOW_WS_ORIGIN=dash.example.com
            CMD ["panel", "serve", "app.py"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --allow-websocket-origin=dash.example.com \\
                --args BOKEH_ALLOW_WS_ORIGIN=x
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            var = command.env_var("BOKEH_ALLOW_WS_ORIGIN")
            uses = command.uses("allow_websocket_origin")
            if not command.is_bokeh_family or var is None or not command.cli_origins():
                continue
            count = len(command.cli_origins())
            flags = f"{count} --allow-websocket-origin value" + ("s" if count != 1 else "")
            yield self.report(
                var.span,
                f"{command.label}: BOKEH_ALLOW_WS_ORIGIN ({var.source}) replaces the {flags} "
                f"given at {_where(command)}; origins admitted: {_effective(command)}",
                help="keep one source: remove the flags "
                + " ".join(f"`--allow-websocket-origin {o.text}`" for o in command.cli_origins())
                + f", or unset BOKEH_ALLOW_WS_ORIGIN ({var.source}) and keep them",
                fix_title="Keep one allowlist",
                related=[Related(use.span, "replaced by BOKEH_ALLOW_WS_ORIGIN") for use in uses],
                confidence=Confidence.MEDIUM if var.value is None else None,
            )


def _where(command: ServeCommand) -> str:
    return f"{command.program.span.path}:{command.program.span.line}"


def _effective(command: ServeCommand) -> str:
    var = command.env_var("BOKEH_ALLOW_WS_ORIGIN")
    assert var is not None
    if var.value is None:
        return "the value BOKEH_ALLOW_WS_ORIGIN has at run time, when set"
    if var.value.symbolic:
        return f"`{var.value.text}`, known only at run time"
    if var.value.text == "":
        return "none (set but empty)"
    return ", ".join(f"`{entry.text}`" for entry in command.env_origins())
