from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Edit, FixSafety, Severity
from stackaudit.facts.app import APP_SECRET_SETTINGS, AppSetting
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.serve import (
    SECRET_ENV_VARS,
    SECRET_OPTIONS,
    ServeCommand,
    SettingSource,
    looks_like_file_path,
)
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class SecretInClear(Rule):
    """
    ## What it does
    Flags a credential written out literally where it is committed, baked into an image
    or visible to every local user in the process list:
    - options: `--cookie-secret`, `--oauth-secret`, `--oauth-encryption-key`,
      `--basic-auth <password>` (Panel reads a value naming an existing file as a JSON
      file of users; a value with a `/` or a file suffix such as `.json` is taken for
      one and not flagged), uvicorn `--ssl-keyfile-password`, hypercorn
      `--keyfile-password`;
    - environment variables: `BOKEH_SECRET_KEY`, `BOKEH_COOKIE_SECRET`,
      `BOKEH_SSL_PASSWORD`, `PANEL_COOKIE_SECRET`, `PANEL_OAUTH_SECRET`,
      `PANEL_OAUTH_ENCRYPTION`, `PANEL_BASIC_AUTH` (Dockerfile `ENV`, shell `export`,
      compose `environment:`, Kubernetes `env`);
    - Python: `cookie_secret=` of a Tornado `Application`, `pn.config.cookie_secret`,
      `oauth_secret`, `oauth_encryption_key`, `basic_auth`, and the same keywords of
      `pn.serve`.

    A value expanded at run time (`${SECRET}`, `$SECRET`, `$(cat /run/secrets/x)`,
    `os.environ[...]`), an empty value and a secret reference (Kubernetes
    `secretKeyRef`) are not flagged. The message never shows the value.

    ## Why is this bad?
    Whoever can read the repository, pull the image (`docker history`,
    `docker inspect`) or list processes on the host can sign session cookies as any
    user, forge Bokeh session ids, impersonate the OAuth client or log in. A secret
    that was committed once stays in the history: rotate it.

    ## Example
    ```
    ENV PANEL_COOKIE_SECRET=8f2c6d0e2b8a4f1c9e7d5b3a1f0e2d4c
    ```

    ## Use instead
    Inject the secret at run time from a secret store (Docker/compose secrets, a
    Kubernetes `secretKeyRef`, the CI's secrets), preferably as the environment
    variable rather than as a flag, which every local user can read in `ps`.

    In a compose file the fix (unsafe: the deployment must then supply the variable)
    replaces the literal by a `${VAR}` reference, which compose fills in from its
    environment or an untracked `.env` file: the environment variable's own name, or the
    option's name in capitals (`--cookie-secret` → `COOKIE_SECRET`). The secret itself
    is never written anywhere; it must still be rotated.

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L626-L659
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L896-L909
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L596-L613
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L659-L664
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L795-L798
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L827-L830
    - https://cwe.mitre.org/data/definitions/798.html
    """

    code = "SA202"
    name = "secret-in-clear"
    severity = Severity.ERROR
    category = Category.SECRETS
    applies_to = (
        FileKind.COMMAND_LINE,
        FileKind.ENVIRONMENT,
        FileKind.PYTHON,
        FileKind.COMPOSE,
        FileKind.KUBERNETES,
    )
    cwe = 798
    span_is_secret = True
    fix = FixSafety.UNSAFE
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA202
            ENV PANEL_COOKIE_SECRET=8f2c6d0e2b8a4f1c9e7d5b3a1f0e2d4c
            # expect-next-line: SA202
            CMD ["panel", "serve", "app.py", "--basic-auth", "hunter2"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            export BOKEH_SECRET_KEY=kitten-on-keyboard  # expect: SA202
            exec panel serve app.py --oauth-provider github \\
                --oauth-secr=0123456789abcdef  # expect: SA202
        """,
            title="an abbreviated flag is still the flag",
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              dash:
                image: example/dash
                command: panel serve app.py --oauth-provider github --oauth-secret f00dbabe  # expect: SA202
                environment:
                  PANEL_COOKIE_SECRET: 3f9c1b0e7a5d4c2b  # expect: SA202
                  PANEL_OAUTH_KEY: dash-client
        """,
            fixed="""
            services:
              dash:
                image: example/dash
                command: panel serve app.py --oauth-provider github --oauth-secret ${OAUTH_SECRET}
                environment:
                  PANEL_COOKIE_SECRET: ${PANEL_COOKIE_SECRET}
                  PANEL_OAUTH_KEY: dash-client
        """,
            title="in compose, the literal becomes a variable compose fills in",
        ),
        Bad(
            "app.py",
            """
            import panel as pn
            pn.config.cookie_secret = "my-super-secret"  # expect: SA202
        """,
        ),
        Bad(
            "server.py",
            """
            import tornado.web
            app = tornado.web.Application(handlers, cookie_secret="abc123")  # expect: SA202
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ARG COOKIE_SECRET
            ENV PANEL_COOKIE_SECRET=${COOKIE_SECRET}
            CMD ["panel", "serve", "app.py", "--basic-auth", "/run/secrets/users.json"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            export PANEL_OAUTH_SECRET="$(cat /run/secrets/oauth_secret)"
            exec panel serve app.py --oauth-provider github --cookie-secret "$COOKIE_SECRET"
        """,
        ),
        Good(
            "app.py",
            """
            import os
            import panel as pn
            pn.config.cookie_secret = os.environ["PANEL_COOKIE_SECRET"]
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            for secret in command.written_secrets():
                yield self.report(
                    secret.span,
                    f"{command.label}: `{secret.name}` is given a secret written "
                    "literally: it is committed here and readable by every local "
                    "user in the process list (value not shown)",
                    help=_option_help(command, secret),
                    fix_title="Move the secret to a secret store",
                    edits=_reference(secret.value, _option_variable(command, secret))
                    if command.carrier == "compose"
                    else [],
                )
        env = [*stack.of(EnvVar), *(v for c in stack.serve_commands for v in c.env)]
        for var in env:
            if not _is_written_secret(var):
                continue
            baked = " and baked into the image" if var.source.startswith("Dockerfile") else ""
            yield self.report(
                var.value.span if var.value is not None else var.span,
                f"{var.name} ({var.source}) holds {SECRET_ENV_VARS[var.name]}, written "
                f"literally: it is committed here{baked} (value not shown)",
                help=_env_help(var),
                fix_title="Move the secret to a secret store",
                edits=_reference(var.value, var.name)
                if var.source == "compose environment"
                else [],
                # compose `${VAR:-default}`: the committed default applies when VAR is unset.
                confidence=Confidence.MEDIUM
                if var.value is not None and var.value.default_used
                else None,
            )
        for setting in stack.of(AppSetting):
            if setting.name not in APP_SECRET_SETTINGS.get(setting.framework, ()):
                continue
            value = setting.value
            if value.symbolic or value.text == "":
                continue
            if setting.name == "basic_auth" and looks_like_file_path(value.text):
                continue
            yield self.report(
                setting.span,
                f"`{setting.name}` is set to a literal in the code: the secret is committed "
                "with it (value not shown)",
                help=f"read it from the environment filled from a secret store (`{setting.name} "
                f'= os.environ["{_app_variable(setting)}"]`), and rotate it',
                fix_title="Move the secret to a secret store",
            )


def _option_variable(command: ServeCommand, secret: SettingSource) -> str:
    """The variable named after the option that takes ``secret`` (its ``dest`` in
    capitals: `--oauth-secr` is `OAUTH_SECRET`)."""
    for dest in SECRET_OPTIONS.get(command.tool, ()):
        if any(word.span == secret.span for word in command.values(dest)):
            return dest.upper()
    return secret.name.lstrip("-").replace("-", "_").upper()


def _option_help(command: ServeCommand, secret: SettingSource) -> str:
    variable = _option_variable(command, secret)
    if command.carrier == "compose":
        return (
            f"write `{secret.name} ${{{variable}}}` and let compose fill it in from a secret "
            "store or an untracked .env file, or better pass the environment variable "
            "instead of the flag; rotate the secret"
        )
    return (
        f"pass it through the environment from a secret store instead (`{secret.name} "
        f'"${variable}"`, or the server\'s own variable), and rotate it'
    )


def _env_help(var: EnvVar) -> str:
    if var.source == "compose environment":
        return (
            f"write `{var.name}: ${{{var.name}}}` and let compose fill it in from a secret "
            "store or an untracked .env file (or use compose `secrets:`), and rotate it"
        )
    if var.source.startswith("Dockerfile"):
        return (
            f"remove it from the image and pass {var.name} at run time (compose "
            f"`environment: {var.name}: ${{{var.name}}}`, a Docker or Kubernetes secret), "
            "and rotate it"
        )
    if var.source.startswith("Kubernetes"):
        return (
            f"take {var.name} from a Secret (`valueFrom: secretKeyRef: ...`) instead of "
            "`value:`, and rotate it"
        )
    return f"inject {var.name} at run time from a secret store, and rotate it"


def _app_variable(setting: AppSetting) -> str:
    if setting.framework == "panel-config":
        return {"oauth_encryption_key": "PANEL_OAUTH_ENCRYPTION"}.get(
            setting.name, f"PANEL_{setting.name.upper()}"
        )
    return setting.name.upper()


def _reference(value: Word | None, variable: str) -> list[Edit]:
    """The literal replaced by `${VAR}`, in place, when its text is written as is."""
    if value is None or value.default_used or value.symbolic:
        return []
    span = value.span
    if span.line != span.end_line or span.end_column - span.column != len(value.text):
        return []
    return [Edit(span, f"${{{variable}}}")]


def _is_written_secret(var: EnvVar) -> bool:
    if var.name not in SECRET_ENV_VARS or not var.is_literal or var.value is None:
        return False
    if var.value.text.strip() == "":
        return False
    return not (var.name == "PANEL_BASIC_AUTH" and looks_like_file_path(var.value.text))
