from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class ServerNeverStarts(Rule):
    """
    ## What it does
    Flags a `panel serve`, `bokeh serve`, `uvicorn`, `gunicorn`, `hypercorn` or
    `fastapi run|dev` command line that its own parser refuses, wherever it is written
    (Dockerfile, compose, Kubernetes, Procfile, systemd, scripts, `subprocess` argv):

    - an option the tool does not have: a misspelling (`--oauth-jtw-user`), one removed
      long ago (`bokeh serve --host`, removed in Bokeh 0.12.16), a long option written
      with one dash (`-use-xheaders`), a gunicorn setting that exists only in the
      configuration file (`--on-starting`);
    - an abbreviation that is the beginning of several options (`--work` for gunicorn);
    - an option that takes a value followed by nothing, or, for the argparse tools, by
      a word starting with `-` (`--allow-websocket-origin -foo`);
    - for the click tools (uvicorn, `fastapi`), an argument beyond the one they take;
    - an exec-form array whose single element is the whole command line
      (`CMD ["panel serve app.py --port 5006"]`).

    The option tables are generated from the newest release of each tool; unique
    prefixes are accepted where argparse accepts them (`--allow-websocket` for
    `--allow-websocket-origin`), never for click. Words that expand at run time
    (`$EXTRA_ARGS`) are not judged, nor are words after `--`, after `--args`, or of a
    stack that pins the tool (or Bokeh, under `panel serve`) below the release the
    tables describe.

    ## Why is this bad?
    argparse and click exit with status 2 and a usage message (`error: unrecognized
    arguments: --host`, `No such option`, `expected one argument`, `Got unexpected
    extra argument`) before the server binds its port; `execve` finds no program named
    `panel serve app.py`. The container restarts in a loop or the unit fails, and
    every setting on the line — origins, authentication, TLS — was never in force.
    Other rules do not judge a command that never starts.

    ## Example
    ```
    CMD ["panel", "serve", "app.py", "--oauth-jtw-user", "email"]
    ```

    ## Use instead
    ```
    CMD ["panel", "serve", "app.py", "--oauth-jwt-user", "email"]
    ```

    ## References
    - https://docs.python.org/3/library/argparse.html#allow-abbrev
    - https://docs.python.org/3/library/argparse.html#prefix-matching
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/bootstrap.py#L98-L111
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/__init__.py#L86-L100
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/app/base.py#L156-L171
    - https://click.palletsprojects.com/en/stable/options/
    - https://docs.docker.com/reference/dockerfile/#exec-form
    - docs/upstream-facts.md, "SA701 — Command lines the server's parser refuses"
    """

    code = "SA701"
    name = "server-never-starts"
    severity = Severity.ERROR
    category = Category.RUN
    applies_to = (FileKind.COMMAND_LINE, FileKind.COMPOSE, FileKind.KUBERNETES)
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA701
            CMD ["panel", "serve", "app.py", "--oauth-jtw-user", "email"]
        """,
            title="a misspelt option",
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA701
            CMD ["panel serve app.py --address 0.0.0.0 --port 5006"]
        """,
            title="the whole command line as one exec-form element",
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec bokeh serve app.py --host dash.example.com  # expect: SA701
        """,
            title="an option removed from Bokeh",
        ),
        Bad(
            "Procfile",
            """
            web: uvicorn main:app --host 0.0.0.0 --port $PORT --forwarded-allow-ip '*'  # expect: SA701
        """,
            title="click matches option names exactly",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --allow-websocket dash.example.com --address 0.0.0.0
        """,
            title="argparse accepts an unambiguous prefix",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec uvicorn main:app --host 0.0.0.0 $EXTRA_ARGS
        """,
            title="words known only at run time",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command, failures in stack.commands_that_never_start:
            where = f" in {command.context}" if command.context else ""
            for failure in failures:
                yield self.report(
                    failure.span,
                    f"{command.label}{where} never starts: {failure.reason}",
                    help=failure.hint,
                    fix_title="Correct the command line",
                    related=(Related(command.program.span, f"the {command.label} command"),)
                    if command.program.span.path != failure.span.path
                    or command.program.span.line != failure.span.line
                    else (),
                )
