import difflib
from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.facts.cors import CORS_PARAMETERS
from stackaudit.facts.python import StarletteCorsCall
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

_WHEN = (
    "TypeError when Starlette builds the middleware stack at the app's first ASGI event: "
    "startup fails, or with uvicorn's default `--lifespan auto` every request fails"
)


class CorsUnknownArgument(Rule):
    """
    ## What it does
    Flags arguments Starlette/FastAPI `CORSMiddleware` cannot take: a keyword its
    `__init__` does not have (`allow_credantials`, `allowed_origins`), more than its
    eight optional positional arguments, a list given as `allow_origin_regex`, and a
    single string given as `allow_origins`.

    ## Why is this bad?
    `add_middleware` and `Middleware(...)` only store the arguments; Starlette calls
    `CORSMiddleware(app, **kwargs)` when it builds the middleware stack at the first
    ASGI event. An unknown keyword, or `re.compile()` of a list, raises `TypeError`
    there: under uvicorn's default `--lifespan auto` the error is logged as "ASGI
    'lifespan' protocol appears unsupported" and then every request fails with a 500.
    A string in `allow_origins` does not fail: `"*" in allow_origins` and
    `origin in allow_origins` become substring tests, so a string holding `*` allows
    every origin, and any other string allows each origin that is part of it.

    ## Example
    ```python
    app.add_middleware(CORSMiddleware, allow_origins=ORIGINS, allow_credantials=True)
    ```

    ## Use instead
    Spell the keywords as `CORSMiddleware.__init__` does, give `allow_origins` a list and
    `allow_origin_regex` one pattern (join alternatives with `|`).

    ## References
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L16-L35
    - https://github.com/encode/starlette/blob/1.10.0/starlette/applications.py#L63-L96
    - https://github.com/encode/uvicorn/blob/0.54.0/uvicorn/lifespan/on.py#L80-L94
    """

    code = "SA307"
    name = "cors-unknown-argument"
    severity = Severity.ERROR
    category = Category.CORS
    applies_to = (FileKind.PYTHON,)
    examples = (
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=["https://app.example.com"],
                allow_credantials=True,  # expect: SA307
            )
        """,
        ),
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(CORSMiddleware, allow_origin_regex=[  # expect: SA307
                r"https://a\\.example\\.com",
                r"https://b\\.example\\.com",
            ])
            app.add_middleware(CORSMiddleware, allow_origins="https://app.example.com")  # expect: SA307
        """,
            title="a list of patterns, and one string of origins",
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
                allow_origin_regex=r"https://(a|b)\\.example\\.com",
                allow_credentials=True,
            )
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for call in stack.of(StarletteCorsCall):
            for word in call.unknown_keywords:
                close = difflib.get_close_matches(word.text, CORS_PARAMETERS, n=1)
                hint = f" (did you mean `{close[0]}`?)" if close else ""
                yield self.report(
                    word.span,
                    f"CORSMiddleware has no parameter `{word.text}`{hint}: {_WHEN}",
                    help=f"use `{close[0]}`"
                    if close
                    else f"use one of {', '.join(CORS_PARAMETERS)}",
                    fix_title="Fix the keyword",
                )
            if call.extra_positionals:
                word = call.extra_positionals[0]
                yield self.report(
                    word.span,
                    f"CORSMiddleware takes at most {len(CORS_PARAMETERS)} arguments after the "
                    f"app; this one is extra: {_WHEN}",
                    help="pass the settings as keywords",
                    fix_title="Use keyword arguments",
                )
            if call.regex_not_string is not None:
                yield self.report(
                    call.regex_not_string.span,
                    f"allow_origin_regex is given a list; Starlette calls re.compile() on it: "
                    f"{_WHEN}",
                    help="give one pattern, joining alternatives with `|`",
                    fix_title="Join the patterns into one",
                )
            if call.origins_string is not None and not call.origins_string.symbolic:
                text = call.origins_string.text
                effect = (
                    'it holds `*`, so Starlette\'s `"*" in allow_origins` is true and '
                    "every origin is allowed"
                    if "*" in text
                    else "`origin in allow_origins` becomes a substring test that allows "
                    "every origin that is part of it"
                )
                yield self.report(
                    call.origins_string.span,
                    f"allow_origins is one string, not a list: {effect}",
                    help=f'use a list: allow_origins=["{text}"]',
                    fix_title="Make allow_origins a list",
                )
