from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Severity, Span
from stackaudit.facts.app import AppSetting
from stackaudit.facts.common import Word
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# Bokeh's default: a page's session token opens a session for 300 s
# (bokeh/server/tornado.py DEFAULT_SESSION_TOKEN_EXPIRATION). A day is 288 times that:
# far beyond reloading a page, into a token that outlives the visit.
TOKEN_EXPIRATION_LIMIT = 86_400
# Panel's default login lasts 1 day (panel/config.py `_oauth_expiry`). Tornado itself
# refuses a signed cookie older than 31 days unless told otherwise
# (tornado/web.py `get_signed_cookie(max_age_days=31)`): a login kept longer is
# longer than Tornado would keep one.
LOGIN_DAYS_LIMIT = 31.0


class LongLivedSessions(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel server that requires a login and keeps what stands for it far
    longer than the defaults:

    - `--session-token-expiration` (`session_token_expiration=`) above one day
      (86,400 s; Bokeh's default is 300 s);
    - a Panel login kept more than 31 days: `PANEL_OAUTH_EXPIRY` (any Panel login,
      basic auth included), `--oauth-expiry-days` with an OAuth provider, or
      `pn.config.oauth_expiry` beside `pn.serve` (Panel's default is 1 day).

    Servers on loopback with no route in front, development branches and
    commands with `--show` are left alone. `--oauth-expiry-days` without an OAuth
    provider changes nothing (Panel applies it only to OAuth), and
    `PANEL_OAUTH_EXPIRY` wins over the flag: the rule reads the one that takes effect.

    ## Why is this bad?
    Panel's login is a signed `user` cookie that the browser keeps, and Panel accepts,
    for `oauth_expiry` days; in that time Panel asks no one again (the provider only
    with `--oauth-refresh-tokens`). A cookie copied from a browser or a shared computer
    left logged in stays good for months, and a user removed from the team or the
    identity provider keeps their access until it runs out.

    The session token embedded in every page opens new sessions for
    `--session-token-expiration` seconds, and it carries the request's cookies, from
    which Panel reads `pn.state.user`: a page saved, cached or pasted stays usable, as
    that user, for as long.

    These thresholds are judgement, not limits of Bokeh or Panel: one day for a token
    meant to open the session of the page it came with, the 31 days Tornado allows a
    signed cookie for a login.

    ## Example
    ```
    panel serve app.py --oauth-provider azure --oauth-expiry-days 180
    ```

    ## Use instead
    Keep Panel's defaults (a day), or a working week at most, and let users log in
    again:
    ```
    panel serve app.py --oauth-provider azure --oauth-expiry-days 7 --oauth-refresh-tokens
    ```

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L333-L334
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L617-L620
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L178-L183
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L649-L654
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L454-L471
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L1017-L1031
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/state.py#L1316-L1331
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/tornado.py#L78
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L739-L747
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L151-L157
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L884-L890
    """

    code = "SA218"
    name = "long-lived-sessions"
    severity = Severity.NOTE
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 613
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PANEL_OAUTH_PROVIDER=github
            # expect-next-line: SA218
            CMD ["panel", "serve", "app.py", "--oauth-expiry-days", "180"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            export PANEL_OAUTH_EXPIRY=365  # expect: SA218
            exec panel serve app.py --basic-auth /run/secrets/users.json
        """,
            title="PANEL_OAUTH_EXPIRY also keeps a basic-auth login",
        ),
        Bad(
            "serve.py",
            """
            import panel as pn
            pn.serve(app, oauth_provider="azure", session_token_expiration=604800)  # expect: SA218
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --basic-auth /run/secrets/users.json --oauth-expiry-days 90
        """,
            title="Panel applies --oauth-expiry-days to OAuth only",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["bokeh", "serve", "app.py", "--session-token-expiration", "604800"]
        """,
            title="no login: nothing to keep",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        in_code = {
            s.span.path: s
            for s in stack.of(AppSetting)
            if s.framework == "panel-config" and s.name == "oauth_expiry"
        }
        for command in stack.serve_commands:
            if not command.is_bokeh_family or command.development_branch:
                continue
            if command.opens_browser() or not (command.deployment or command.carrier == "python"):
                continue
            auth = command.auth()
            if auth is None or not command.requires_login():
                continue
            if stack.public_way(command) is None and command.loopback_only():
                continue
            token = command.literal_int("session_token_expiration")
            if token is not None and token[0] > TOKEN_EXPIRATION_LIMIT:
                seconds, use = token
                yield self.report(
                    use.span,
                    f"{command.label}: `{command.written(use)}` lets the session token "
                    f"in every page open sessions for {_duration(seconds)} (Bokeh's "
                    "default is 300 s); the token carries the cookies Panel reads the "
                    "logged-in user from",
                    help="keep the default (300 s) or a few minutes more",
                    fix_title="Shorten the session token's life",
                )
            if command.tool == "panel-serve":
                login = _login_days(command, auth.kind, in_code)
                if login is not None and login[0] > LOGIN_DAYS_LIMIT:
                    days, written, span = login
                    yield self.report(
                        span,
                        f"{command.label}: `{written}` keeps the {auth.description} login "
                        f"for {_days(days)} (Panel's default is 1 day): a copied cookie or "
                        "a user removed from the team keeps access that long",
                        help="keep Panel's default (1 day), or a week at most; with OAuth "
                        "add --oauth-refresh-tokens",
                        fix_title="Shorten the login's life",
                    )


def _login_days(
    command: ServeCommand, kind: str, in_code: dict[str, AppSetting]
) -> tuple[float, str, Span] | None:
    """How long Panel keeps a login, and where that is written: ``PANEL_OAUTH_EXPIRY``
    (panel/config.py reads it before any value set in code), else
    ``--oauth-expiry-days``, which ``panel serve`` applies with an OAuth provider only,
    else ``pn.config.oauth_expiry`` in the file that calls ``pn.serve``."""
    var = command.env_setting("PANEL_OAUTH_EXPIRY")
    if var is not None:
        days = _number(var.value) if var.is_literal else None
        if days is None or var.value is None:
            return None
        return days, f"{var.name}={var.value.text}", var.span
    if kind == "oauth" and command.carrier != "python":
        use = command.last("oauth_expiry_days")
        if use is not None and use.values:
            days = _number(use.values[-1])
            return (days, command.written(use), use.span) if days is not None else None
    setting = in_code.get(command.span.path) if command.carrier == "python" else None
    if setting is not None:
        days = _number(setting.value)
        if days is not None:
            return days, f"pn.config.oauth_expiry = {setting.value.text}", setting.span
    return None


def _number(word: Word | None) -> float | None:
    if word is None or word.symbolic:
        return None
    try:
        return float(word.text.strip())
    except ValueError:
        return None


def _duration(seconds: int) -> str:
    return _days(seconds / 86_400) if seconds >= 86_400 else f"{seconds} s"


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")
