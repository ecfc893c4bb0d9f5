from stackaudit.diagnostics import Severity
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class ParseError(Rule):
    """
    ## What it does
    Reports a file of a kind stackaudit reads (Python, Dockerfile, compose, Kubernetes,
    nginx, ...) that could not be parsed, with where and why.

    ## Why is this bad?
    The file's findings are incomplete: a broken file can hide a wildcard origin or a
    secret. The run goes on with every other file. Python files are parsed only when a
    cheap scan finds a name some rule looks at, so a syntax error in a file no rule
    concerns is not reported.

    Valid code is not reported. In a notebook, IPython syntax is set aside: `%` and
    `!` lines, and a cell of one line that IPython runs as a magic written without its
    `%` (automagic: `cd dir`, `pip install x`, `ls`); in a cell of several lines that
    is a SyntaxError in IPython too, and is reported. A module written for a newer
    Python than the one running stackaudit (a `type` statement or `def f[T]()` of
    3.12, an f-string reusing its own quotes) is reported as not analysed (SA003), not
    as broken.

    ## Example
    An nginx block that is never closed.

    ## Use instead
    Fix the syntax, or exclude the file (`extend-exclude`) when it is not meant to be
    parsed as its name suggests.

    ## References
    - https://nginx.org/en/docs/beginners_guide.html#conf_structure
    - https://yaml.org/spec/1.2.2/
    - https://github.com/ipython/ipython/blob/9.18.1/IPython/core/interactiveshell.py#L3611-L3619
    - https://github.com/ipython/ipython/blob/9.18.1/IPython/core/prefilter.py#L427-L466
    - https://peps.python.org/pep-0695/
    - https://peps.python.org/pep-0701/
    """

    code = "SA001"
    name = "parse-error"
    severity = Severity.ERROR
    category = Category.RUN
    applies_to = (FileKind.ANY,)
    examples = (
        Bad(
            "nginx.conf",
            """
            server {
                listen 80;
                location / {
                    proxy_pass http://app:5006;
            }  # expect: SA001
        """,
        ),
        Good(
            "nginx.conf",
            """
            server {
                listen 80;
                location / {
                    proxy_pass http://app:5006;
                }
            }
        """,
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              app:
                image: app
               ports: ["5006:5006"]  # expect: SA001
        """,
        ),
    )
