"""Settings given to a web framework in application code."""

from __future__ import annotations

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import Word


class AppSetting(Struct, frozen=True):
    """A keyword or attribute set on a framework object in Python code:
    ``tornado.web.Application(debug=True)``, ``FastAPI(debug=True)``,
    ``Starlette(debug=True)``, ``pn.config.cookie_secret = "..."``,
    ``pn.extension(cookie_secret=...)``.

    ``value`` holds the literal source text of the value (``True``, ``'abc'`` with its
    quotes removed for strings) and is symbolic when it is not a literal."""

    framework: str  # "tornado" | "fastapi" | "starlette" | "panel-config"
    name: str  # "debug", "autoreload", "serve_traceback", "cookie_secret", ...
    value: Word
    span: Span  # the keyword argument or assignment
    call: Span  # the whole call or statement


class PanelUserCheck(Struct, frozen=True):
    """A condition in app code that compares Panel's logged-in user (``pn.state.user``,
    ``pn.state.user_info`` or a part of them) with something or hands it to a check:
    the app deciding for itself who may use it. ``text`` is the condition as written."""

    span: Span
    text: str


# Settings in Python code whose value is a credential (framework -> names), reported by
# SA202 (tornado/web.py `cookie_secret`; panel/config.py).
APP_SECRET_SETTINGS = {
    "tornado": frozenset({"cookie_secret"}),
    "panel-config": frozenset(
        {"cookie_secret", "oauth_secret", "oauth_encryption_key", "basic_auth"}
    ),
}
