import re
from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.facts.python import StarletteCorsCall
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class CorsLiteralWildcardOrigin(Rule):
    """
    ## What it does
    Flags an `allow_origins` entry of Starlette/FastAPI `CORSMiddleware` that holds a `*`
    as part of a pattern (`"https://*.example.com"`, `"http://localhost:*"`).

    ## Why is this bad?
    Starlette compares each entry of `allow_origins` with the request's `Origin` as a
    whole string (`origin in self.allow_origins`); only an entry that is exactly `"*"`
    means "any origin". A pattern entry therefore matches no origin at all: the
    front-end it was meant for is refused, and the usual next step is `["*"]`.

    ## Example
    ```python
    app.add_middleware(CORSMiddleware, allow_origins=["https://*.example.com"])
    ```

    ## Use instead
    Use `allow_origin_regex`, which Starlette matches against the whole origin:
    `allow_origin_regex=r"https://[a-z0-9-]+\\.example\\.com"`.

    ## References
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L35
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L94-L100
    - https://www.starlette.io/middleware/#corsmiddleware
    """

    code = "SA306"
    name = "cors-literal-wildcard-origin"
    severity = Severity.WARNING
    category = Category.CORS
    applies_to = (FileKind.PYTHON,)
    examples = (
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(CORSMiddleware, allow_origins=[
                "https://app.example.com",
                "https://*.preview.example.com",  # expect: SA306
            ])
        """,
        ),
        Good(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=["https://app.example.com"],
                allow_origin_regex=r"https://[a-z0-9-]+\\.preview\\.example\\.com",
            )
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        strings = {c.span for c in stack.of(StarletteCorsCall) if c.origins_string is not None}
        for policy in stack.cors_policies:
            if policy.kind != "starlette" or policy.span in strings:
                continue
            if any(w.text == "*" and not w.symbolic for w in policy.allowed_origins):
                continue  # "*" admits everything anyway (SA301 when credentials are on)
            for word in policy.allowed_origins:
                if word.symbolic or "*" not in word.text:
                    continue
                yield self.report(
                    word.span,
                    f"{policy.where}: allow_origins entry `{word.text}` is compared literally "
                    "with the request Origin, so it matches no origin",
                    help=f'use allow_origin_regex=r"{_regex(word.text)}" for this pattern',
                    fix_title="Move the pattern to allow_origin_regex",
                )


def _regex(pattern: str) -> str:
    """``https://*.example.com`` → ``https://[a-z0-9-]+\\.example\\.com``."""
    parts = [re.escape(part) for part in pattern.split("*")]
    out = parts[0]
    for before, part in zip(pattern.split("*")[:-1], parts[1:], strict=False):
        out += ("[0-9]+" if before.endswith(":") else "[a-z0-9-]+") + part
    return out
