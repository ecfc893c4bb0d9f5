from collections.abc import Iterator

from stackaudit.diagnostics import (
    Codemod,
    Confidence,
    Diagnostic,
    FixSafety,
    Related,
    ReplaceString,
    Severity,
)
from stackaudit.facts.common import Word
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.python import StarletteCorsCall, is_env_default
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class CorsWildcardCredentials(Rule):
    """
    ## What it does
    Flags a Starlette/FastAPI `CORSMiddleware` (`app.add_middleware(CORSMiddleware, ...)`,
    `Middleware(CORSMiddleware, ...)`, from `starlette.middleware.cors` or
    `fastapi.middleware.cors`) whose `allow_origins` contains `"*"` while
    `allow_credentials` is true. Values are followed through module constants, simple
    settings classes and `os.environ.get(NAME, default)` defaults (reported with a lower
    confidence: the deployment may set the variable). A middleware added only on a
    development path of the code (`if settings.LOCAL_MODE:`, the `else` of
    `if ENV == "production":`, or a helper called only there) is not the deployed app's.

    ## Why is this bad?
    Browsers refuse `Access-Control-Allow-Origin: *` on credentialed requests, so
    Starlette does not send `*` in that case: it copies the request's `Origin` into the
    header and adds `Access-Control-Allow-Credentials: true`, for every origin. Any web
    site can then call the API with the visitor's cookies and read the answers
    (CWE-942).

    ## Example
    ```python
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
    ```

    ## Use instead
    List the front-end origins (`allow_origins=["https://app.example.com"]`), or keep
    `"*"` and drop `allow_credentials` for a public, cookie-less API.

    The fix (unsafe: the origin is inferred) writes the origin the stack serves the app
    under in place of `"*"`: the hosts of the proxies in front of the server that runs
    this module, else `public-hosts` from the configuration, else the one public host of
    the stack's proxies. With several origins it only suggests them.

    ## References
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L35-L43
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L111-L115
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/cors.py#L162-L164
    - https://fastapi.tiangolo.com/tutorial/cors/
    - https://cwe.mitre.org/data/definitions/942.html
    """

    code = "SA301"
    name = "cors-wildcard-credentials"
    severity = Severity.ERROR
    category = Category.CORS
    applies_to = (FileKind.PYTHON,)
    cwe = 942
    fix = FixSafety.UNSAFE
    examples = (
        Bad(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=["*"],  # expect: SA301
                allow_credentials=True,
            )
        """,
            fixed="""
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=["https://app.example.com"],
                allow_credentials=True,
            )
        """,
            context={"stackaudit.toml": 'public-hosts = ["app.example.com"]'},
        ),
        Bad(
            "main.py",
            """
            from starlette.applications import Starlette
            from starlette.middleware import Middleware
            from starlette.middleware.cors import CORSMiddleware as Cors

            ORIGINS = ["https://app.example.com", "*"]
            OPTIONS = {"allow_origins": ORIGINS, "allow_credentials": True}

            app = Starlette(middleware=[Middleware(Cors, **OPTIONS)])  # expect: SA301
        """,
            title="through a constant and a **kwargs dict",
        ),
        Good(
            "main.py",
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"],
                               allow_credentials=True)
            app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=False)
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        strings = {c.span: c.origins_string for c in stack.of(StarletteCorsCall)}
        for policy in stack.cors_policies:
            if policy.kind != "starlette" or policy.allow_credentials is None:
                continue
            wildcard = _wildcard(policy, strings.get(policy.span))
            if wildcard is None:
                continue
            credentials = policy.allow_credentials
            lower = is_env_default(wildcard) or is_env_default(credentials)
            origins = _origins(stack, policy)
            listed = ", ".join(f'"{o}"' for o in origins) if origins else '"https://<front end>"'
            yield self.report(
                wildcard.span,
                f"{policy.where}: allow_origins holds `*` and allow_credentials is "
                f"`{credentials.text}`: Starlette answers every Origin with itself and "
                "`Access-Control-Allow-Credentials: true`, so any site can read responses "
                "sent with the visitor's cookies" + _env_note(wildcard, credentials),
                help=f"list the front-end origins: allow_origins=[{listed}], or drop "
                "allow_credentials for a public API without cookies",
                fix_title="Replace `*` with the allowed origins",
                related=[Related(credentials.span, "credentials allowed here")],
                confidence=Confidence.MEDIUM if lower else None,
                codemods=_replace(wildcard, strings.get(policy.span), origins),
            )


def _origins(stack: Stack, policy: CorsPolicy) -> list[str]:
    """The origins browsers load the front end from, as far as the stack tells: the
    proxies in front of the servers that run this module, else `public-hosts`, else the
    public hosts of every proxy of the stack."""
    return stack.origins_serving(stack.asgi_servers_of(policy.span.path))


def _replace(wildcard: Word, string: Word | None, origins: list[str]) -> list[Codemod]:
    """The literal `"*"` rewritten (libcst, when fixing) as the one inferred origin, in
    its own quotes. A string given for allow_origins (searched with `in`) or a default
    of an environment variable is left to the reader."""
    span = wildcard.span
    exact = span.line == span.end_line and span.end_column - span.column == len(wildcard.text)
    if len(origins) != 1 or not exact or wildcard.text != "*" or wildcard == string:
        return []
    if is_env_default(wildcard):
        return []
    return [ReplaceString(span, "*", (origins[0],))]


def _wildcard(policy: CorsPolicy, string: Word | None) -> Word | None:
    """The entry that makes Starlette allow all origins (`"*" in allow_origins`)."""
    for word in policy.allowed_origins:
        if word.symbolic:
            continue
        if word.text == "*" or (string is not None and word == string and "*" in word.text):
            return word
    return None


def _env_note(*words: Word) -> str:
    names = [getattr(w, "env_name", None) for w in words if is_env_default(w)]
    if not names:
        return ""
    return f" (default of ${names[0]}, which the deployment may set)"
