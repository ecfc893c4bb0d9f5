from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Severity
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class OauthWithoutEncryptionKey(Rule):
    """
    ## What it does
    Flags Panel OAuth (`--oauth-provider`, `PANEL_OAUTH_PROVIDER`, `oauth_provider=` of
    `pn.serve`) without an encryption key (`--oauth-encryption-key`,
    `PANEL_OAUTH_ENCRYPTION`). The `pam` provider, which holds no provider tokens, is
    left alone. A variable set at deploy time counts as set even when its value is not
    written here (a Kubernetes `secretKeyRef`, Cloud Run `--set-secrets`, a compose
    pass-through); a source whose names are unknown (an `envFrom` Secret not in the
    tree) lowers the finding to low confidence. `pn.serve` accepts `oauth_encryption_key=` but never uses it, so a
    server started from Python is flagged whatever it passes.

    ## Why is this bad?
    Panel stores the provider's access, id and refresh tokens in cookies that are
    signed, not encrypted, unless a key is configured; Bokeh then copies those cookies
    into the session token embedded in every page (see SA209). Whoever gets hold of a
    cookie or a page can read and reuse the tokens against the provider. Panel 1.9.4
    means to print a warning in this case, but its `is_pam` test is always true for an
    OAuth provider, so it stays silent.

    ## Example
    ```
    panel serve app.py --oauth-provider azure
    ```

    ## Use instead
    Generate a key with `panel oauth-secret` and pass it from a secret store:
    ```
    PANEL_OAUTH_ENCRYPTION="$(cat /run/secrets/oauth_key)" panel serve app.py --oauth-provider azure
    ```

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L651-L652
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L696-L736
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L454-L471
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L657-L659
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L1175
    - https://panel.holoviz.org/how_to/authentication/configuration.html
    """

    code = "SA204"
    name = "oauth-without-encryption-key"
    severity = Severity.WARNING
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_COOKIE_SECRET=${COOKIE_SECRET}
            # expect-next-line: SA204
            CMD ["panel", "serve", "app.py", "--oauth-provider", "azure"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            export PANEL_OAUTH_PROVIDER=github  # expect: SA204
            exec panel serve app.py --cookie-secret "$COOKIE_SECRET"
        """,
        ),
        Bad(
            "serve.py",
            """
            import os
            import panel as pn
            pn.serve(
                app,
                oauth_provider="github",  # expect: SA204
                cookie_secret=os.environ["COOKIE_SECRET"],
                oauth_encryption_key=os.environ["OAUTH_KEY"],
            )
            """,
            title="pn.serve accepts the key and ignores it",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_COOKIE_SECRET=${COOKIE_SECRET} PANEL_OAUTH_ENCRYPTION=${OAUTH_KEY}
            CMD ["panel", "serve", "app.py", "--oauth-provider", "azure"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --oauth-provider pam --cookie-secret "$COOKIE_SECRET"
        """,
            title="PAM keeps no provider tokens",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            auth = command.auth()
            if auth is None or auth.kind != "oauth" or auth.provider == "pam":
                continue
            python = command.carrier == "python"
            if command.oauth_encryption_key() and not python:
                continue
            if python:
                detail = "`pn.serve` never applies an encryption key"
                help_text = (
                    "serve the app with `panel serve` and PANEL_OAUTH_ENCRYPTION, or set "
                    "`pn.state.encryption = cryptography.fernet.Fernet(key)` before serving"
                )
            else:
                detail = "no --oauth-encryption-key or PANEL_OAUTH_ENCRYPTION"
                help_text = (
                    "generate a key with `panel oauth-secret` and set PANEL_OAUTH_ENCRYPTION "
                    "from a secret store"
                )
            unknown = "" if python else command.unread_env_note()
            yield self.report(
                auth.source.span,
                f"{command.label}: {auth.description} without an encryption key "
                f"({detail}{unknown}): "
                "the access, id and refresh tokens are kept in cookies and in the page "
                "unencrypted, and Panel prints no warning",
                help=help_text,
                fix_title="Add an OAuth encryption key",
                confidence=Confidence.LOW if unknown else None,
            )
