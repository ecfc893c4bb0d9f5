from stackaudit.diagnostics import Severity
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class UnusedSuppression(Rule):
    """
    ## What it does
    Reports an inline `stackaudit: ignore[...]` comment that suppressed nothing, that
    names a code no rule has, or that names no code at all (a bare `stackaudit: ignore`
    suppresses nothing: it would otherwise hide findings nobody has read).

    ## Why is this bad?
    A stale suppression hides the next real finding on that line, and an unknown code
    (a typo such as `SA1O1`) suppresses nothing while looking as if it did.

    ## Example
    A suppression left behind after the flag it silenced was removed.

    ## Use instead
    Remove the comment, or the codes in it that no longer match a finding.

    ## References
    - https://docs.astral.sh/ruff/rules/unused-noqa/
    """

    code = "SA002"
    name = "unused-suppression"
    severity = Severity.WARNING
    category = Category.RUN
    applies_to = (FileKind.ANY,)
    examples = (
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --allow-websocket-origin=dash.example.com  # stackaudit: ignore[SA101]  # expect: SA002
        """,
        ),
        Bad(
            "run.sh",
            """
            #!/bin/sh
            # stackaudit: ignore[SA999] -- typo  # expect: SA002
            exec panel serve app.py --allow-websocket-origin=dash.example.com
        """,
        ),
        Bad(
            "serve.sh",
            """
            #!/bin/sh
            # stackaudit: ignore  # expect: SA002
            exec panel serve app.py --allow-websocket-origin='*'  # expect: SA101
        """,
            title="a bare ignore names nothing and suppresses nothing",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            # stackaudit: ignore[SA101] -- kiosk on an isolated network
            exec panel serve app.py --allow-websocket-origin='*'
        """,
        ),
    )
