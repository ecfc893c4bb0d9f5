"""What a setting's name says it holds, and whether a value written for it is a secret.

A name is read as words (``JWT_SECRET_KEY`` → JWT, SECRET, KEY; ``secretKey`` the same):
the last word says what the setting is (a ``*_PASSWORD`` is a password, a
``*_TOKEN_URL`` is a URL), so ``PASSWORD_MIN_LENGTH``, ``TOKEN_URL`` and
``OAUTH2_TOKEN_ENDPOINT`` name no secret. A value is a secret when it is written out,
not empty and not a placeholder a template or an example leaves to be filled in
(``<your-secret>``, ``your_api_key_here``, ``xxxx``, ``${VAR}``, ``{{ .Values.x }}``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word, has_expansion

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# The last word of a name, and what such a setting holds.
_BY_LAST_WORD = {
    "PASSWORD": "a password",
    "PASSWD": "a password",
    "PASS": "a password",
    "TOKEN": "a token",
    "APIKEY": "an API key",
    "SECRET": "a secret",
}
# Two last words that name a key: `*_API_KEY`, `*_PRIVATE_KEY`...
_KEY_KINDS = {
    "API": "an API key",
    "PRIVATE": "a private key",
    "ENCRYPTION": "an encryption key",
    "SIGNING": "a signing key",
}
# Words that make the setting something about a secret rather than the secret itself:
# a hash of it (`hashed_password`), where to find it (`PASSWORD_FILE`), its type.
_NOT_THE_SECRET = frozenset({"HASH", "HASHED", "FILE", "PATH", "DIR", "NAME", "TYPE"})
_URL_WORDS = frozenset({"URL", "URI", "DSN"})


def _words(name: str) -> list[str]:
    return [
        word.upper() for part in re.split(r"[^A-Za-z0-9]+", name) for word in _WORD.findall(part)
    ]


def secret_kind(name: str) -> str | None:
    """What a setting of this name holds when it is a secret (``a password``, ``the
    secret key``), else None. ``*_URL``/``*_URI``/``*_DSN`` are not secrets by name:
    only the password in such a URL is (``url_password``)."""
    words = _words(name)
    if not words or _NOT_THE_SECRET & set(words):
        return None
    last = words[-1]
    if last == "KEY" and len(words) >= 2:
        before = words[-2]
        if "SECRET" in words:
            return "a secret key"
        return _KEY_KINDS.get(before)
    return _BY_LAST_WORD.get(last)


def names_url(name: str) -> bool:
    """A setting that holds a URL (``DATABASE_URL``, ``SQLALCHEMY_DATABASE_URI``,
    ``SENTRY_DSN``), whose user information may carry a password."""
    words = _words(name)
    return bool(words) and words[-1] in _URL_WORDS


def url_password(text: str) -> str | None:
    """The password of a URL's user information (``scheme://user:password@host``), as
    ``urllib.parse`` splits it; None when there is none."""
    if "://" not in text or "@" not in text:
        return None
    try:
        password = urlsplit(text.strip()).password
    except ValueError:
        return None
    return password or None


# Placeholders written in templates and examples for the reader to replace: a name in
# angle brackets, `your_..._here`, runs of one filler character, `...`.
_PLACEHOLDER = re.compile(
    r"^<[^<>]+>$|<(your|insert|replace|change|enter|put|add|my)[A-Za-z0-9_ -]*>"
    r"|^\[[^\[\]]+\]$|^your[-_ ].*here$|^(.)\2{3,}$|^\.\.\.$",
    re.IGNORECASE,
)


def is_placeholder(text: str) -> bool:
    """A value left for the reader to fill in, or expanded only when the file is used
    (an environment variable, a template field): not a secret written here."""
    value = text.strip()
    return (
        value == ""
        or has_expansion(value)
        or _PLACEHOLDER.search(value) is not None
        # A SOPS-encrypted value: the file is committed encrypted by design.
        or value.startswith("ENC[")
    )


# Values anyone can guess or find published: what a generated key is made to replace.
# The FastAPI tutorial's JWT key (docs_src/security/tutorial004.py), copied into many
# applications as it stands.
_FASTAPI_TUTORIAL_KEY = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
# Django's `startproject` writes `SECRET_KEY_INSECURE_PREFIX` + a random key into the
# new project's settings (django/core/management/commands/startproject.py), a key meant
# for development only: `check --deploy` warns about it (security.W009).
_DJANGO_INSECURE_PREFIX = "django-insecure-"
_GUESSABLE = frozenset(
    {
        "changeme",
        "changethis",
        "changeit",
        "secret",
        "secretkey",
        "mysecret",
        "mysecretkey",
        "supersecret",
        "supersecretkey",
        "topsecret",
        "yoursecret",
        "yoursecretkey",
        "yoursecrethere",
        "secretpassword",
        "password",
        "passw0rd",
        "mypassword",
        "yourpassword",
        "pass",
        "admin",
        "root",
        "postgres",
        "guest",
        "test",
        "example",
        "default",
        "123456",
        "12345678",
        "qwerty",
        "letmein",
        "token",
        "apikey",
        "yourapikey",
        "jwtsecret",
        "jwtsecretkey",
    }
)


def public_default(text: str) -> str | None:
    """Why a secret's value is publicly known (a tutorial's key, a template's key, a
    guessable word), or None."""
    value = text.strip()
    if value == _FASTAPI_TUTORIAL_KEY:
        return "the JWT key of the FastAPI tutorial"
    if value.startswith(_DJANGO_INSECURE_PREFIX):
        return "a development key of Django's `startproject` template (`django-insecure-`)"
    if re.sub(r"[^a-z0-9]", "", value.lower()) in _GUESSABLE:
        return "a well-known default"
    return None


def is_not_a_secret_value(text: str) -> bool:
    """Text that a secret-named setting may hold without being the secret: a sentence
    (a label, a help text), a file path (`PRIVATE_KEY=/run/secrets/key.pem`), a URL
    without a password (`GITHUB_TOKEN_URL`-like misnaming), a boolean or number-free
    switch word."""
    value = text.strip()
    if "-----BEGIN" in value:
        return False  # a PEM key written inline
    if re.search(r"\s", value):
        return True
    if value.startswith(("/", "./", "~/")) or re.match(r"^[A-Za-z]:\\", value):
        return True
    if "://" in value:
        return url_password(value) is None
    return value.lower() in {"true", "false", "none", "null", "yes", "no", "on", "off"}


class PythonSecret(Struct, frozen=True):
    """A literal string given to a secret-named slot in Python code: a variable
    (``SECRET_KEY = "..."``), an attribute (``app.secret_key = "..."``), an item
    (``app.config["SECRET_KEY"] = "..."``), a keyword (``SessionMiddleware(app,
    secret_key="...")``), a dictionary key, the key of ``jwt.encode``/``jwt.decode``, or
    the default of an environment lookup (``os.getenv("SECRET_KEY", "dev")``) or of a
    pydantic ``BaseSettings`` field, which apply when the variable is unset
    (``fallback``)."""

    name: str  # the slot's name as written: `SECRET_KEY`, `secret_key`, `jwt.encode`
    kind: str  # what it holds: `a secret key`, `a password`...
    value: Word
    how: str  # `assigned`, `keyword`, `dictionary key`, `environment default`...
    fallback: bool = False


class BuildArg(Struct, frozen=True):
    """A Dockerfile ``ARG`` with its default: not an environment variable of the
    running container, but recorded in the image's history where a ``RUN`` uses it."""

    variable: EnvVar


class SecretLiteral(Struct, frozen=True):
    """A value of a Kubernetes Secret's ``stringData`` written in clear in the
    manifest (``data`` is base64, which hides nothing either, but is kept apart)."""

    secret: str  # the Secret's name
    key: str
    value: Word
    span: Span
