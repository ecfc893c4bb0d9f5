from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.facts.common import EnvVar
from stackaudit.facts.serve import looks_like_file_path
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class PanelBasicAuthEnvLowercased(Rule):
    """
    ## What it does
    Flags a `PANEL_BASIC_AUTH` variable whose literal value holds upper-case letters.

    ## Why is this bad?
    Panel's `config.basic_auth` property returns `os.environ['PANEL_BASIC_AUTH'].lower()`:
    the whole value is lower-cased (only the variable; `--basic-auth` and
    `basic_auth=` keep their case). Panel decides at each login what the value is:

    - a password: the one that works is the lower-cased one, so the password people
      were given fails, and the password has fewer possible characters;
    - a credentials file path: the lower-cased path usually does not exist, and then
      Panel treats the path string itself as the password, accepted with any user
      name.

    ## Example
    ```
    ENV PANEL_BASIC_AUTH=/run/secrets/Users.json
    ```

    ## Use instead
    Use a lower-case path for the credentials file, or pass it with `--basic-auth`,
    which keeps its case.

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L607-L610
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L896-L910
    - https://panel.holoviz.org/how_to/authentication/basic.html
    """

    code = "SA210"
    name = "panel-basic-auth-env-lowercased"
    severity = Severity.WARNING
    category = Category.AUTHENTICATION
    applies_to = (FileKind.ENVIRONMENT,)
    cwe = 287
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_BASIC_AUTH=/run/secrets/Users.json  # expect: SA210
            CMD ["panel", "serve", "app.py"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            PANEL_BASIC_AUTH=S3cretPass panel serve app.py  # expect: SA210
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_BASIC_AUTH=/run/secrets/users.json
            CMD ["panel", "serve", "app.py"]
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --basic-auth /run/secrets/Users.json
        """,
            title="the flag keeps its case",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        variables = [
            var
            for command in stack.serve_commands
            if command.tool == "panel-serve"
            for var in command.env
        ]
        for var in [*variables, *stack.of(EnvVar)]:
            if var.name != "PANEL_BASIC_AUTH":
                continue
            if not var.is_literal or var.value is None or var.value.text == var.value.text.lower():
                continue
            yield self._report(var)

    def _report(self, var: EnvVar) -> Diagnostic:
        assert var.value is not None
        text = var.value.text
        if looks_like_file_path(text):
            message = (
                f"PANEL_BASIC_AUTH names `{text}`, but Panel lower-cases the variable and "
                f"looks for `{text.lower()}`; when that file does not exist, the lower-cased "
                "path itself becomes the password, for any user name"
            )
            help_text = "rename the credentials file to lower case, or pass it with --basic-auth"
        else:
            message = (
                "PANEL_BASIC_AUTH holds upper-case letters, but Panel lower-cases the "
                "variable: the password that works is the lower-cased one, not the one written"
            )
            help_text = (
                "use a credentials file with a lower-case path (a JSON map of users to "
                "passwords), or pass the value with --basic-auth"
            )
        return self.report(
            var.span, message, help=help_text, fix_title="Avoid upper case in PANEL_BASIC_AUTH"
        )
