from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.common import EnvVar
from stackaudit.facts.serve import OptionUse, ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# Carriers that declare the whole environment of the process they start.
_DECLARED_ENVIRONMENT = frozenset({"compose", "kubernetes", "systemd", "supervisord"})
_FALSE_LOOKING = frozenset({"false", "no", "0", "off", "n", "f", "disable", "disabled", "none"})


class SessionSigningMisconfigured(Rule):
    """
    ## What it does
    Flags two ways Bokeh's session signing goes wrong for `bokeh serve` and
    `panel serve`:

    - `BOKEH_SIGN_SESSIONS` set to a value meant as "off" (`false`, `no`, `0`, `off`...);
    - signing turned on (`--session-ids signed` or `external-signed`, or a non-empty
      `BOKEH_SIGN_SESSIONS`) with no `BOKEH_SECRET_KEY` for the process.

    ## Why is this bad?
    Bokeh reads `BOKEH_SIGN_SESSIONS` without any conversion: the setting has no
    `convert=` argument, so it defaults to `convert_str` and returns the string itself.
    Every non-empty string is true, so `BOKEH_SIGN_SESSIONS=false` turns signing
    **on** (only an empty value leaves it off). `--session-ids` overrides the variable.

    With signing on and no `BOKEH_SECRET_KEY` (or an empty one), `bokeh serve` stops at
    startup with "To sign sessions, the BOKEH_SECRET_KEY environment variable must be
    set". An empty key is always reported. A missing one is reported only where the
    process's environment is declared (Compose, Kubernetes, systemd, supervisord), with
    medium confidence since an env file may still provide it; a Dockerfile or a script
    normally receives its secrets at run time.

    ## Example
    ```
    ENV BOKEH_SIGN_SESSIONS=false
    ```

    ## Use instead
    Leave `BOKEH_SIGN_SESSIONS` unset (or use `--session-ids unsigned`) to keep signing
    off; to sign, set `BOKEH_SECRET_KEY` from a secret (`bokeh secret` makes one) in the
    same environment.

    ## References
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L806
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L162-L165
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/settings.py#L396
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L878-L900
    - https://docs.bokeh.org/en/latest/docs/reference/settings.html
    """

    code = "SA208"
    name = "session-signing-misconfigured"
    severity = Severity.ERROR
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT)
    cwe = 1188
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_SIGN_SESSIONS=false  # expect: SA208
            CMD ["bokeh", "serve", "app.py"]
        """,
            title="a false-looking value turns signing on",
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              app:
                image: dashboard
                command: panel serve app.py --session-ids signed  # expect: SA208
                environment:
                  PANEL_COOKIE_SECRET: ${COOKIE_SECRET}
        """,
            title="signing without a secret key stops the server at startup",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --session-ids signed
        """,
            title="a script receives BOKEH_SECRET_KEY at run time",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV BOKEH_SIGN_SESSIONS=false
            CMD ["bokeh", "serve", "app.py", "--session-ids", "unsigned"]
        """,
            title="--session-ids overrides the variable",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            export BOKEH_SECRET_KEY="$(cat /run/secrets/bokeh_key)"
            exec bokeh serve app.py --session-ids signed
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            diagnostic = self._check(command) if command.is_bokeh_family else None
            if diagnostic is not None:
                yield diagnostic

    def _check(self, command: ServeCommand) -> Diagnostic | None:
        flag = command.last("session_ids")
        if flag is not None and flag.values and not flag.values[-1].symbolic:
            if flag.values[-1].text == "unsigned":
                return None
            return self._missing_key(command, flag, f"`{command.written(flag)}`")
        if flag is not None:
            return None
        var = command.env_var("BOKEH_SIGN_SESSIONS")
        if var is None or not var.is_literal or var.value is None or var.value.text == "":
            return None
        if var.value.text.strip().lower() in _FALSE_LOOKING:
            key = _secret_key(command)
            crash = (
                "; unless BOKEH_SECRET_KEY is provided at run time, the server stops at startup"
                if key is None
                else "; every session id must now be signed"
            )
            return self.report(
                var.span,
                f"{command.label}: BOKEH_SIGN_SESSIONS={var.value.text} turns session signing "
                f"ON: Bokeh reads the variable as a plain string, and any non-empty value is "
                f"true{crash}",
                help="remove BOKEH_SIGN_SESSIONS (or set it empty) to leave signing off",
                fix_title="Remove BOKEH_SIGN_SESSIONS",
            )
        return self._missing_key(command, var, f"BOKEH_SIGN_SESSIONS={var.value.text}")

    def _missing_key(
        self, command: ServeCommand, where: OptionUse | EnvVar, written: str
    ) -> Diagnostic | None:
        key = _secret_key(command)
        if key is not None and (key.value is None or key.value.text or key.value.symbolic):
            return None
        if key is not None:
            message = "BOKEH_SECRET_KEY is empty"
            confidence = None
        elif command.carrier in _DECLARED_ENVIRONMENT:
            message = (
                f"{command.context} has no BOKEH_SECRET_KEY in its environment (an env file "
                "it reads is not seen)"
            )
            confidence = Confidence.MEDIUM
        else:
            return None  # an image or a script gets its secrets at run time
        return self.report(
            where.span,
            f"{command.label}: {written} turns session signing on but {message}: the server "
            'stops at startup ("To sign sessions, the BOKEH_SECRET_KEY environment variable '
            'must be set")',
            help="set BOKEH_SECRET_KEY from a secret (`bokeh secret` generates one) in the "
            "same environment",
            fix_title="Provide BOKEH_SECRET_KEY",
            related=[Related(key.span, "empty secret key")] if key is not None else [],
            confidence=confidence,
        )


def _secret_key(command: ServeCommand) -> EnvVar | None:
    return command.env_var("BOKEH_SECRET_KEY")
