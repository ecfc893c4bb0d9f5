from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.deps import DependencyPin
from stackaudit.facts.python import (
    JOSE_DECODERS,
    PYJWT_DECODERS,
    LibraryCall,
    PyValue,
)
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class JwtDecodedWithoutVerification(Rule):
    """
    ## What it does
    Flags a JWT decoded with its signature check turned off:
    - PyJWT (`import jwt`) and python-jose (`from jose import jwt`) `jwt.decode()`
      (PyJWT's `decode_complete()` too) with `options={"verify_signature": False}`,
      written in the call or in a constant it names;
    - PyJWT 1.x `jwt.decode(token, verify=False)`, when the project pins PyJWT below
      2.0 (PyJWT 2 ignores `verify=` and still verifies).

    Names are resolved through imports (`from jwt import decode`, `import jwt as
    pyjwt`), so a `decode` of another library is not taken for PyJWT's. A decode with
    verification off is not reported when the same function also decodes with
    verification on (reading the claims first to pick the key, then verifying), nor in
    test and development files, nor on a development path of the code.

    Confidence is medium: whether the claims decide anything is not followed. Reading
    a token the application minted itself, or an OpenID Connect `id_token` taken
    straight from the provider's token endpoint over TLS, is sound; suppress such a
    line with its reason (`# stackaudit: ignore[SA213] -- own token, display only`).

    Not reported, as they fail closed: PyJWT 2 `jwt.decode(token, key)` without
    `algorithms=`, or with `algorithm=` by mistake, raises `DecodeError` on every token;
    python-jose raises `TypeError` for `algorithm=`. `"none"` in `algorithms` accepts
    no token in either library (PyJWT's `none` algorithm never verifies; python-jose
    has no key for it). Authlib's `jwt.decode()` always checks the signature (it
    checks `exp` and the other claims only in `claims.validate()`).

    ## Why is this bad?
    Without the signature check the token is only base64: anyone can write a token
    with any subject, roles or expiry and the application takes its claims as proven
    (CWE-347). An authorization decision based on such claims lets any client act as
    any user.

    ## Example
    ```python
    payload = jwt.decode(token, options={"verify_signature": False})
    user_id = payload["sub"]
    ```

    ## Use instead
    Decode with the key and a fixed list of algorithms:
    ```python
    payload = jwt.decode(token, settings.JWT_KEY, algorithms=["HS256"])
    ```
    To choose the key from the token (`kid`), read `jwt.get_unverified_header(token)`
    first, then decode with verification on.

    ## References
    - https://github.com/jpadilla/pyjwt/blob/2.15.1/jwt/api_jwt.py#L233-L262
    - https://github.com/jpadilla/pyjwt/blob/2.15.1/jwt/api_jws.py#L245-L285
    - https://github.com/jpadilla/pyjwt/blob/2.15.1/jwt/algorithms.py#L284-L303
    - https://github.com/jpadilla/pyjwt/blob/1.7.1/jwt/api_jwt.py#L68-L110
    - https://pyjwt.readthedocs.io/en/stable/changelog.html#v2-0-0
    - https://github.com/mpdavis/python-jose/blob/3.5.0/jose/jwt.py#L66-L160
    - https://docs.authlib.org/en/latest/jose/jwt.html
    - https://cwe.mitre.org/data/definitions/347.html
    """

    code = "SA213"
    name = "jwt-decoded-without-verification"
    severity = Severity.ERROR
    confidence = Confidence.MEDIUM
    category = Category.AUTHENTICATION
    applies_to = (FileKind.PYTHON,)
    cwe = 347
    examples = (
        Bad(
            "auth.py",
            """
            import jwt

            def current_user(token: str) -> str:
                claims = jwt.decode(token, options={"verify_signature": False})  # expect: SA213
                return claims["sub"]
        """,
        ),
        Bad(
            "auth.py",
            """
            from jose import jwt

            UNVERIFIED = {"verify_signature": False, "verify_aud": False}

            def current_user(token: str, key: str) -> str:
                return jwt.decode(token, key, options=UNVERIFIED)["sub"]  # expect: SA213
        """,
            title="python-jose, options from a constant",
        ),
        Good(
            "auth.py",
            """
            import jwt

            def current_user(token: str, key: str) -> str:
                return jwt.decode(token, key, algorithms=["HS256"])["sub"]
        """,
        ),
        Good(
            "auth.py",
            """
            import jwt

            def current_user(token: str, keys: dict[str, str]) -> str:
                issuer = jwt.decode(token, options={"verify_signature": False})["iss"]
                return jwt.decode(token, keys[issuer], algorithms=["RS256"])["sub"]
        """,
            title="claims read to pick the key, then verified",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        calls = [
            call
            for call in stack.of(LibraryCall)
            if call.api in PYJWT_DECODERS or call.api in JOSE_DECODERS
        ]
        installed = stack.installed_relative_to("pyjwt", "2.0.0")
        old_pin = installed[1] if installed is not None and installed[0] == "old" else None
        off = {id(call): _verification_off(call, old_pin) for call in calls}
        # Functions that also decode with verification on: a decode with it off beside
        # one reads the claims before choosing the key.
        verifying = {c.function for c in calls if c.function is not None and not off[id(c)]}
        for call in calls:
            found = off[id(call)]
            if found is None or call.development_branch or is_development_path(call.span.path):
                continue
            if call.function is not None and call.function in verifying:
                continue
            value, what = found
            related = []
            if old_pin is not None and what.startswith("verify="):
                related.append(Related(old_pin.span, "PyJWT pinned below 2.0 here"))
            yield self._report(call, value, what, related)

    def _report(
        self,
        call: LibraryCall,
        value: PyValue,
        what: str,
        related: list[Related] | None = None,
    ) -> Diagnostic:
        notes = list(related or [])
        if value.defined_at is not None and value.defined_at != value.span:
            notes.append(Related(value.defined_at, "set here"))
        env = f" (default of ${value.env_name}, which the deployment may set)"
        return self.report(
            _span(value, call),
            f"{call.label} with {what}: the token's signature is not checked, so anyone "
            "can write a token with any subject, roles or expiry and it is accepted"
            + (env if value.env_name else ""),
            help="decode with the key and a fixed list of algorithms: "
            'jwt.decode(token, key, algorithms=["HS256"]); to choose the key from the '
            "token, read jwt.get_unverified_header(token) first",
            fix_title="Verify the signature",
            related=notes,
            confidence=Confidence.LOW if value.env_name else None,
        )


def _verification_off(
    call: LibraryCall, old_pyjwt: DependencyPin | None
) -> tuple[PyValue, str] | None:
    """The argument that turns the signature check off, and how it reads."""
    off = _turned_off(call)
    if off is not None:
        return off, 'options "verify_signature" false'
    verify = call.argument("verify")
    pyjwt_1 = call.api in PYJWT_DECODERS and old_pyjwt is not None
    if pyjwt_1 and old_pyjwt is not None and verify is not None and _falsy(verify):
        return verify, f"verify=False under PyJWT 1.x (`{old_pyjwt.requirement}`)"
    return None


def _turned_off(call: LibraryCall) -> PyValue | None:
    """The ``verify_signature`` entry of ``options`` when it is false."""
    options = call.argument("options")
    if options is None or options.kind != "dict":
        return None
    found = None
    for key, value in zip(options.keys, options.items, strict=False):
        if key == "verify_signature":
            found = value  # the last entry of a dict literal wins
    if found is not None and _falsy(found):
        return found
    return None


def _falsy(value: PyValue) -> bool:
    """A value known to be false, as ``if verify_signature:`` tests it."""
    if value.kind == "none":
        return True
    return value.kind in ("bool", "int", "float", "str") and not value.value


def _span(value: PyValue, call: LibraryCall) -> Span:
    return value.span if value.span.path == call.span.path else call.span
