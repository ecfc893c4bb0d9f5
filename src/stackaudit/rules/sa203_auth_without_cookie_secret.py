from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Severity
from stackaudit.facts.app import AppSetting
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class AuthWithoutCookieSecret(Rule):
    """
    ## What it does
    Flags Panel basic auth or OAuth (`--basic-auth`, `--oauth-provider`,
    `PANEL_BASIC_AUTH`, `PANEL_OAUTH_PROVIDER`, `basic_auth=`/`oauth_provider=` of
    `pn.serve`) with no cookie secret: no `--cookie-secret`, `PANEL_COOKIE_SECRET` or
    `BOKEH_COOKIE_SECRET` (nor `cookie_secret=` / `pn.config.cookie_secret` in the
    same Python file).

    ## Why is this bad?
    Panel keeps the logged-in user in Tornado signed cookies, and Tornado refuses to
    read or write one without the `cookie_secret` setting. Nothing checks it at startup
    for basic auth: the login form loads, but every app page and every login attempt
    fails with HTTP 500 ("You must define the 'cookie_secret' setting in your
    application to use secure cookies"). `panel serve` with OAuth refuses to start
    ("When enabling an OAuth provider you must supply a valid cookie_secret");
    `pn.serve` does not check and fails like basic auth.

    ## Example
    ```
    panel serve app.py --basic-auth /run/secrets/users.json
    ```

    ## Use instead
    Give the secret through the environment, from a secret store (`bokeh secret`
    generates one):
    ```
    PANEL_COOKIE_SECRET="$(cat /run/secrets/cookie_secret)" panel serve app.py --basic-auth /run/secrets/users.json
    ```

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L670-L676
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L766-L767
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L626-L631
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L1016-L1031
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L1382-L1422
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L884-L921
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L1882-L1888
    """

    code = "SA203"
    name = "auth-without-cookie-secret"
    severity = Severity.ERROR
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA203
            CMD ["panel", "serve", "app.py", "--basic-auth", "/run/secrets/users.json"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            export PANEL_OAUTH_PROVIDER=github  # expect: SA203
            export PANEL_COOKIE_SECRET=
            exec panel serve app.py --oauth-encryption-key "$KEY"
        """,
            title="an empty secret is no secret",
        ),
        Bad(
            "serve.py",
            """
            import panel as pn
            pn.serve(app, basic_auth="/run/secrets/users.json")  # expect: SA203
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_COOKIE_SECRET=${COOKIE_SECRET}
            CMD ["panel", "serve", "app.py", "--basic-auth", "/run/secrets/users.json"]
        """,
            title="Panel reads BOKEH_COOKIE_SECRET when PANEL_COOKIE_SECRET is unset",
        ),
        Good(
            "serve.py",
            """
            import os
            import panel as pn
            pn.config.cookie_secret = os.environ["COOKIE_SECRET"]
            pn.serve(app, basic_auth="/run/secrets/users.json")
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            auth = command.auth()
            if auth is None or auth.kind == "auth-module" or command.cookie_secret():
                continue
            if command.carrier == "python" and _secret_in_code(stack, command):
                continue
            if auth.kind == "oauth" and command.carrier != "python":
                effect = "`panel serve` refuses to start"
            else:
                effect = (
                    "every app page and every login fails with HTTP 500 (Tornado needs "
                    "`cookie_secret` for the signed login cookie)"
                )
            unknown = command.unread_env_note()
            yield self.report(
                auth.source.span,
                f"{command.label}: {auth.description} without a cookie secret (no "
                f"--cookie-secret, PANEL_COOKIE_SECRET or BOKEH_COOKIE_SECRET{unknown}): "
                f"{effect}",
                help="set PANEL_COOKIE_SECRET from a secret store (generate one with "
                "`bokeh secret`)",
                fix_title="Provide a cookie secret",
                confidence=Confidence.LOW if unknown else None,
            )


def _secret_in_code(stack: Stack, command: ServeCommand) -> bool:
    """``pn.serve`` takes ``pn.config.cookie_secret`` (panel/io/server.py)."""
    return any(
        setting.name == "cookie_secret" and setting.span.path == command.span.path
        for setting in stack.of(AppSetting)
    )
