from stackaudit.diagnostics import Severity
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class FileNotAnalysed(Rule):
    """
    ## What it does
    Reports a file of a kind stackaudit reads (a Python module, a Dockerfile, a compose
    file, an nginx configuration, a start script...) that it did not analyse: larger
    than `max-file-size`, holding a NUL byte, or unreadable (permissions, a link that
    loops). An unreadable directory is reported the same way, since the files below it
    were not seen either.

    ## Why is this bad?
    Whatever such a file holds is missing from the report, and a report that stays
    silent about it reads as a clean bill of health. A repository can be made to hide
    a wildcard origin or a secret simply by padding the file past the size limit. The
    finding makes the gap visible so that CI fails until someone decides.

    ## Example
    A start script padded past `max-file-size = "200B"`: its `panel serve` command is
    never seen.

    ## Use instead
    Raise `max-file-size` so the file is analysed, fix its permissions, or, when the
    file truly does not matter, accept the gap in the configuration: `ignore = ["SA003"]`,
    or `per-file-ignores = { "vendor/**" = ["SA003"] }` for one part of the tree. Files
    that no rule reads (images, archives, documentation) are never reported.

    ## References
    - https://docs.python.org/3/reference/lexical_analysis.html#encoding-declarations
    - https://git-scm.com/docs/gitignore
    """

    code = "SA003"
    name = "file-not-analysed"
    severity = Severity.WARNING
    category = Category.RUN
    applies_to = (FileKind.ANY,)
    examples = (
        Bad(
            "start.sh",
            """
            #!/bin/sh  # expect: SA003
            # padding that takes this file past the configured size limit .......
            # padding that takes this file past the configured size limit .......
            exec panel serve app.py --allow-websocket-origin='*'
        """,
            context={"stackaudit.toml": 'max-file-size = "200B"'},
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --allow-websocket-origin=dash.example.com
        """,
        ),
    )
