from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.common import EnvVar
from stackaudit.facts.serve import OptionUse, ServeCommand
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.stack import Stack

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
    set". When the key is not written in the scanned files it may still come from the
    runtime environment, so that case is reported with medium confidence.

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
    category = "auth"
    applies_to = ("cli", "env")
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
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --session-ids signed  # expect: SA208
        """,
            title="signing without a secret key stops the server at startup",
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
        seen: set[Span] = set()
        for command in stack.serve_commands:
            if not command.is_bokeh_family:
                continue
            diagnostic = self._check(command)
            if diagnostic is not None and diagnostic.span not in seen:
                seen.add(diagnostic.span)
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
                "; with no BOKEH_SECRET_KEY set here, the server stops at startup"
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
        else:
            message = "no BOKEH_SECRET_KEY is set for this process in the scanned files"
            confidence = Confidence.MEDIUM
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
