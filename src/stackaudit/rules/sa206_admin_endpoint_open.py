from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity, Span
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class AdminEndpointOpen(Rule):
    """
    ## What it does
    Flags Panel's admin dashboard (`panel serve --admin`, `pn.serve(..., admin=True)`)
    on a server with no authentication, or whose authentication lets guests in
    (`--oauth-optional`, `PANEL_OAUTH_OPTIONAL=true`, or the admin path listed in
    `--oauth-guest-endpoints` / `PANEL_OAUTH_GUEST_ENDPOINTS`).

    ## Why is this bad?
    The admin page is served like any app of the server (`/admin`, or
    `--admin-endpoint`): it shows every session with its timeline and log messages, the
    server's memory and CPU use, package versions and profiling output. Panel
    protects it only through the server's auth provider (basic auth, OAuth, or a Bokeh
    `--auth-module`, each also settable by `PANEL_BASIC_AUTH`, `PANEL_OAUTH_PROVIDER`,
    `BOKEH_AUTH_MODULE`). Without one, anyone who reaches the port can read it; with
    `--oauth-optional` every path, the admin page included, admits anonymous guests.

    With `auth-by-proxy = true` in the configuration the rule stays quiet: the proxy is
    declared to guard every path.

    ## Example
    ```
    panel serve app.py --admin
    ```

    ## Use instead
    Configure authentication on the server (`--basic-auth`, `--oauth-provider`,
    `--auth-module`) without guest access, or leave `--admin` out of the deployed
    command.

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L483-L523
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L596-L605
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L1008-L1031
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L668-L680
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L910-L912
    - https://panel.holoviz.org/how_to/profiling/admin.html
    """

    code = "SA206"
    name = "admin-endpoint-open"
    severity = Severity.ERROR
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 306
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA206
            CMD ["panel", "serve", "app.py", "--address", "0.0.0.0", "--admin"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            export PANEL_OAUTH_PROVIDER=github
            exec panel serve app.py --admin --oauth-optional  # expect: SA206
        """,
            title="guests are let in everywhere",
        ),
        Bad(
            "serve.py",
            """
            import panel as pn
            pn.serve(app, admin=True)  # expect: SA206
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_BASIC_AUTH=/run/secrets/users.json
            CMD panel serve app.py --admin --cookie-secret "$COOKIE_SECRET"
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --oauth-provider github --admin
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        if stack.config.auth_by_proxy:
            return
        for command in stack.serve_commands:
            if command.tool != "panel-serve":
                continue
            admin = command.enabled("admin")
            if admin is None:
                continue
            path = _admin_path(command)
            auth = command.auth()
            guest = command.guest_access()
            guest_endpoint = _guest_endpoint(command, path)
            related: list[Related] = []
            if auth is None:
                options = (
                    "basic_auth=, oauth_provider="
                    if command.carrier == "python"
                    else "--basic-auth, --oauth-provider, --auth-module"
                )
                why = f"no authentication is configured (no {options} nor their variables)"
            elif guest is not None:
                why = f"{auth.description} lets anyone in as guest ({guest.label})"
                related.append(Related(guest.span, "guest access turned on here"))
            elif guest_endpoint is not None:
                why = f"{path} is listed as a guest endpoint"
                related.append(Related(guest_endpoint, "the admin path as a guest endpoint"))
            else:
                continue
            yield self.report(
                admin.span,
                f"{command.label}: `{command.written(admin)}` serves the admin dashboard "
                f"(sessions, logs, resource use, profiles) at {path} and {why}",
                help="require a login for the server (--basic-auth, --oauth-provider or "
                "--auth-module, without guest access), or drop --admin from the deployment",
                fix_title="Protect or remove the admin dashboard",
                related=related,
            )


def _guest_endpoint(command: ServeCommand, path: str) -> Span | None:
    """Where the admin path is made a guest endpoint. ``PANEL_OAUTH_GUEST_ENDPOINTS``
    (a Python list literal) replaces the flag's list (panel/config.py)."""
    var = command.env_var("PANEL_OAUTH_GUEST_ENDPOINTS")
    if var is not None and var.is_literal and var.value is not None:
        listed = f"'{path}'" in var.value.text or f'"{path}"' in var.value.text
        return var.span if listed else None
    word = next((w for w in command.values("oauth_guest_endpoints") if w.text == path), None)
    return word.span if word is not None else None


def _admin_path(command: ServeCommand) -> str:
    """``/admin``, or ``--admin-endpoint`` with a leading slash added (as Panel does)."""
    word = command.value("admin_endpoint")
    if word is None or word.symbolic or not word.text:
        return "/admin"
    return word.text if word.text.startswith("/") else f"/{word.text}"
