from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.python import (
    SESSION_MIDDLEWARE,
    SESSION_PARAMETERS,
    LibraryCall,
    PyValue,
)
from stackaudit.model.stack import Stack, TlsEvidence
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class SessionCookieNotSecure(Rule):
    """
    ## What it does
    Flags a Starlette/FastAPI `SessionMiddleware` (`app.add_middleware(...)`,
    `Middleware(...)` or `SessionMiddleware(app, ...)`) without `https_only=True`:
    - when the app is served over HTTPS: a proxy route with TLS reaches the server that
      runs the module (nginx `listen ... ssl`, a Traefik router with TLS, an Ingress
      host under `spec.tls`), a platform's router terminates TLS (Heroku, Cloud Run,
      Fly.io...), or the server has its own certificate (`--ssl-certfile`). When no
      server command imports the module itself, the servers of the same package count,
      at medium confidence;
    - whatever the deployment, when `same_site="none"` is set.

    `https_only` given by a name whose value is unknown, or hidden in `**kwargs`, is
    not judged. The literal `secret_key` is another rule's concern.

    ## Why is this bad?
    Starlette adds the cookie's `Secure` attribute only with `https_only=True`
    (default `False`). Without it the browser also sends the session cookie over plain
    HTTP to the same host: the first `http://` request of a visitor (a typed address,
    an old link, a redirect on port 80), or one an attacker on the network provokes,
    carries the session in clear, and whoever reads it is logged in as the user
    (CWE-614). A cookie with `SameSite=None` and no `Secure` is refused by browsers
    (RFC 6265bis; Chromium since version 80): the session never sticks.

    ## Example
    ```python
    app.add_middleware(SessionMiddleware, secret_key=settings.SESSION_KEY)
    ```
    with the app served through `listen 443 ssl` in nginx.

    ## Use instead
    ```python
    app.add_middleware(SessionMiddleware, secret_key=settings.SESSION_KEY, https_only=True)
    ```

    ## References
    - https://github.com/encode/starlette/blob/1.10.0/starlette/middleware/sessions.py#L16-L40
    - https://www.starlette.io/middleware/#sessionmiddleware
    - https://httpwg.org/http-extensions/draft-ietf-httpbis-rfc6265bis.html#name-the-secure-attribute
    - https://chromestatus.com/feature/5633521622188032
    - https://cwe.mitre.org/data/definitions/614.html
    """

    code = "SA214"
    name = "session-cookie-not-secure"
    severity = Severity.WARNING
    category = Category.AUTHENTICATION
    applies_to = (FileKind.PYTHON, FileKind.STACK)
    cwe = 614
    examples = (
        Bad(
            "main.py",
            """
            import os

            from fastapi import FastAPI
            from starlette.middleware.sessions import SessionMiddleware

            app = FastAPI()
            app.add_middleware(SessionMiddleware, secret_key=os.environ["SESSION_KEY"])  # expect: SA214
        """,
            context={
                "docker-compose.yml": """
                services:
                  api:
                    image: registry.example.com/api:3
                    command: uvicorn main:app --host 0.0.0.0 --forwarded-allow-ips 172.16.0.0/12
                    labels:
                      - traefik.http.routers.api.rule=Host(`api.example.com`)
                      - traefik.http.routers.api.tls=true
                """
            },
        ),
        Bad(
            "main.py",
            """
            import os

            from starlette.applications import Starlette
            from starlette.middleware import Middleware
            from starlette.middleware.sessions import SessionMiddleware

            app = Starlette(middleware=[
                Middleware(SessionMiddleware, secret_key=os.environ["KEY"], same_site="none"),  # expect: SA214
            ])
        """,
            title="SameSite=None without Secure, on any deployment",
        ),
        Good(
            "main.py",
            """
            import os

            from fastapi import FastAPI
            from starlette.middleware.sessions import SessionMiddleware

            app = FastAPI()
            app.add_middleware(
                SessionMiddleware, secret_key=os.environ["SESSION_KEY"], https_only=True
            )
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for call in stack.of(LibraryCall):
            if call.api != SESSION_MIDDLEWARE or call.development_branch:
                continue
            if is_development_path(call.span.path):
                continue
            https = call.argument("https_only", SESSION_PARAMETERS)
            if https is None and call.open_keywords:
                continue
            if https is not None and not _known_false(https):
                continue
            same_site = call.argument("same_site", SESSION_PARAMETERS)
            if same_site is not None and _is_none_same_site(same_site):
                yield self._same_site_none(call, same_site, https)
                continue
            evidence = stack.tls_in_front_of_module(call.span.path)
            if evidence:
                yield self._behind_tls(call, https, evidence)

    def _behind_tls(
        self, call: LibraryCall, https: PyValue | None, evidence: list[TlsEvidence]
    ) -> Diagnostic:
        how = "with https_only=False" if https is not None else "without https_only=True"
        direct = any(e.direct for e in evidence)
        lower = not direct or (https is not None and https.env_name is not None)
        return self.report(
            _where(call, https),
            f"{call.label} {how} while the app is served over HTTPS ({evidence[0].what}): "
            "the session cookie has no Secure attribute, so the browser also sends it "
            "over plain HTTP, where anyone on the network can read it and take over the "
            "session",
            help="pass https_only=True",
            fix_title="Mark the session cookie Secure",
            related=[Related(e.span, f"TLS here: {e.what}") for e in evidence],
            confidence=Confidence.MEDIUM if lower else None,
        )

    def _same_site_none(
        self, call: LibraryCall, same_site: PyValue, https: PyValue | None
    ) -> Diagnostic:
        how = "with https_only=False" if https is not None else "without https_only=True"
        return self.report(
            same_site.span if same_site.span.path == call.span.path else call.span,
            f'{call.label} with same_site="none" {how}: browsers refuse a SameSite=None '
            "cookie without the Secure attribute, so the session is never kept",
            help='pass https_only=True (and serve the app over HTTPS), or use same_site="lax"',
            fix_title="Mark the session cookie Secure",
            related=[Related(call.span, "the middleware")],
            confidence=Confidence.MEDIUM if same_site.env_name else None,
        )


def _known_false(value: PyValue) -> bool:
    """A value Starlette's ``if https_only:`` takes as false; unknown values are not."""
    if value.kind == "none":
        return True
    return value.kind in ("bool", "int", "float", "str") and not value.value


def _is_none_same_site(value: PyValue) -> bool:
    return value.kind == "str" and str(value.value).lower() == "none"


def _where(call: LibraryCall, https: PyValue | None) -> Span:
    if https is not None and https.span.path == call.span.path:
        return https.span
    return call.span
