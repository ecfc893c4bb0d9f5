"""Cross-origin resource sharing, as one server or proxy location decides it.

Starlette's ``CORSMiddleware``, an nginx location's ``add_header
Access-Control-Allow-Origin``, a Tornado handler setting the header, a Traefik headers
middleware or ingress-nginx annotations all become one ``CorsPolicy``, so the CORS rules
read the same way for every source."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import Word


class OriginPattern(Struct, frozen=True):
    """A regular expression the request Origin is tested against.

    ``match`` tells how: Starlette ``fullmatch``es ``allow_origin_regex`` (>= 0.13.8);
    nginx ``~``/``~*`` and ``map`` regexes search anywhere in the value (unanchored)."""

    pattern: str
    span: Span
    match: Literal["fullmatch", "search"]
    case_insensitive: bool = False


class CorsPolicy(Struct, frozen=True):
    kind: Literal["starlette", "nginx", "tornado", "traefik", "ingress-nginx"]
    span: Span
    where: str
    allowed_origins: tuple[Word, ...] = ()
    origin_patterns: tuple[OriginPattern, ...] = ()
    # Where the request's Origin is copied into Access-Control-Allow-Origin, if it is,
    # and whether that copy only happens after a validating check (anchored map/if,
    # comparison with an allowlist).
    reflects_origin: Span | None = None
    reflection_guarded: bool = False
    # The value that turns credentials on (allow_credentials=True,
    # Access-Control-Allow-Credentials: true), None when credentials are off.
    allow_credentials: Word | None = None
    # Set up only on a development path of the code (``if settings.LOCAL_MODE:``, the
    # ``else`` of ``if ENV == "production":``): not what the deployed app answers.
    development_branch: bool = False


# starlette/middleware/cors.py (1.10.0) CORSMiddleware.__init__, after ``app``.
CORS_PARAMETERS = (
    "allow_origins",
    "allow_methods",
    "allow_headers",
    "allow_credentials",
    "allow_origin_regex",
    "allow_private_network",
    "expose_headers",
    "max_age",
)
