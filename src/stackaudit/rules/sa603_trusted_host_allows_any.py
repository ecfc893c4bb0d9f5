from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.python import (
    TRUSTED_HOST_MIDDLEWARE,
    TRUSTED_HOST_PARAMETERS,
    LibraryCall,
    PyValue,
)
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class TrustedHostAllowsAny(Rule):
    """
    ## What it does
    Flags a Starlette/FastAPI `TrustedHostMiddleware` that checks nothing: its
    `allowed_hosts` holds `"*"` (anywhere in the list, or in a string given instead of
    a list), or is not given at all. Values are followed through module constants,
    settings classes and `os.environ.get(NAME, default)` defaults (medium confidence:
    the deployment may set the variable). A value known only at run time is not
    judged.

    ## Why is this bad?
    Starlette sets `allow_any = "*" in allowed_hosts` and then passes every request
    through without looking at the `Host` header; `allowed_hosts=None` (the default)
    becomes `["*"]`. The middleware is there to refuse requests for other host names
    (DNS rebinding, `Host` header injection into absolute URLs and password-reset
    links), and it does not: the code reads as protected while it is not.

    ## Example
    ```python
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.example.com", "*"])
    ```

    ## Use instead
    List the host names the app is served under (`*.example.com` for subdomains):
    ```python
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.example.com"])
    ```

    ## References
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/trustedhost.py#L13-L38
    - https://www.starlette.io/middleware/#trustedhostmiddleware
    - https://fastapi.tiangolo.com/advanced/middleware/#trustedhostmiddleware
    """

    code = "SA603"
    name = "trusted-host-allows-any"
    severity = Severity.NOTE
    category = Category.HARDENING
    applies_to = (FileKind.PYTHON,)
    cwe = 20
    examples = (
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.trustedhost import TrustedHostMiddleware

            app = FastAPI()
            app.add_middleware(TrustedHostMiddleware, allowed_hosts=["*"])  # expect: SA603
        """,
        ),
        Bad(
            "main.py",
            """
            from starlette.applications import Starlette
            from starlette.middleware import Middleware
            from starlette.middleware.trustedhost import TrustedHostMiddleware

            app = Starlette(middleware=[Middleware(TrustedHostMiddleware)])  # expect: SA603
        """,
            title="allowed_hosts not given",
        ),
        Good(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.trustedhost import TrustedHostMiddleware

            app = FastAPI()
            app.add_middleware(
                TrustedHostMiddleware, allowed_hosts=["api.example.com", "*.example.com"]
            )
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for call in stack.of(LibraryCall):
            if call.api != TRUSTED_HOST_MIDDLEWARE or call.development_branch:
                continue
            if is_development_path(call.span.path):
                continue
            hosts = call.argument("allowed_hosts", TRUSTED_HOST_PARAMETERS)
            if hosts is None:
                if not call.open_keywords:
                    yield self.report(
                        call.span,
                        f"{call.label} without allowed_hosts: Starlette defaults it to "
                        '["*"] and lets every Host header through, so the middleware '
                        "checks nothing",
                        help='list the served host names: allowed_hosts=["app.example.com"]',
                        fix_title="List the allowed hosts",
                    )
                continue
            wildcard = _wildcard(hosts)
            if wildcard is None:
                continue
            related = []
            if wildcard.defined_at is not None and wildcard.defined_at != wildcard.span:
                related.append(Related(wildcard.defined_at, "set here"))
            env = wildcard.env_name or hosts.env_name
            yield self.report(
                wildcard.span if wildcard.span.path == call.span.path else call.span,
                f'{call.label}: allowed_hosts holds "*", so Starlette lets every Host '
                "header through and the middleware checks nothing"
                + (f" (default of ${env}, which the deployment may set)" if env else ""),
                help='list the served host names instead of "*": '
                'allowed_hosts=["app.example.com"], or remove the middleware',
                fix_title="List the allowed hosts",
                related=related,
                confidence=Confidence.MEDIUM if env else None,
            )


def _wildcard(hosts: PyValue) -> PyValue | None:
    """The entry that makes ``"*" in allowed_hosts`` true: an item ``"*"`` of a list,
    or a string holding ``*`` (``in`` on a string tests for a substring)."""
    if hosts.kind == "str":
        return hosts if "*" in str(hosts.value) else None
    if hosts.kind == "list":
        for item in hosts.items:
            if item.kind == "str" and item.value == "*":
                return item
    return None
