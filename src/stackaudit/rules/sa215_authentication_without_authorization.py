from collections.abc import Iterator

from msgspec import Struct

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.serve import AuthSetting, ServeCommand, SettingSource, looks_like_file_path
from stackaudit.model.apps import python_dict_literal
from stackaudit.model.stack import PublicWay, Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# Providers that are one public service, where anyone can sign up.
_PUBLIC_SERVICES = {"github": "GitHub", "bitbucket": "Bitbucket"}


class OpenSignup(Struct, frozen=True):
    """Why anyone can hold an account the provider logs in, and how sure that is."""

    who: str
    confidence: Confidence | None = None
    unless: str = ""


class AuthenticationWithoutAuthorization(Rule):
    """
    ## What it does
    Flags a Panel server that lets every holder of a public account in:

    - OAuth with a provider where anyone can open an account (`github`, `bitbucket`,
      `google`, `gitlab` on gitlab.com) given by
      `--oauth-provider`, `PANEL_OAUTH_PROVIDER` or `pn.serve(oauth_provider=...)`,
      when nothing decides which of them may use the app: no
      `pn.config.authorize_callback` (or `pn.extension(authorize_callback=...)`), and no
      condition comparing `pn.state.user` / `pn.state.user_info` with something, in a
      Python file of the app (at or below the directory of the file that starts the
      server or its build context). An error when the scanned files show a way in from
      beyond the machine (a proxy route, a port published on every interface, a
      platform router, a unit listening beyond loopback), a warning otherwise; a server
      on loopback with no route in front is left alone.
    - `--basic-auth <password>` (or `PANEL_BASIC_AUTH`, `basic_auth=`) with one
      password rather than a file of users: a note.

    `--oauth-extra-params` that point GitLab at another instance (`url`) restrict the
    accounts. Google's `hd` does not: Panel passes it on to the login page as a hint
    and never checks the `hd` claim of the token that comes back; Google findings have
    medium confidence, as an OAuth client whose consent screen is Internal only admits
    the organisation's accounts. `azure`/`azurev2` log in against the `common` tenant
    unless told otherwise, but the app registration decides which accounts it accepts
    (the portal's default is its own directory only), so they are left alone, as are
    `auth0`, `okta`, `generic`, `password`, `auth_code` and `pam`, which log in against
    the deployment's own identity provider. `pn.serve(authorize_callback=...)` is not Panel's setting: the
    keyword goes on to Tornado's application settings and nothing reads it.

    ## Why is this bad?
    OAuth proves who someone is, not that they may use the app. A GitHub, GitLab.com,
    Bitbucket or personal Google or Microsoft account takes a minute to create, and
    Panel lets every account the provider vouches for in: the dashboard that was meant
    for a team is open to anyone who signs up. Panel's documentation leaves the
    decision to an `authorize_callback`.

    With one `--basic-auth` password Panel accepts any user name with it: everyone
    shares one secret, no one can be locked out alone, and the name in `pn.state.user`
    is whatever was typed.

    ## Example
    ```
    panel serve app.py --oauth-provider github
    ```

    ## Use instead
    Decide who may use the app, in the app or in a module it imports:
    ```
    ALLOWED = {"alice", "bob"}
    pn.config.authorize_callback = lambda user_info: user_info["user"] in ALLOWED
    ```
    or log in against your organisation's own directory (Azure AD, Okta, Auth0, a
    self-hosted GitLab). For basic auth, give
    `--basic-auth` a JSON file of users and passwords.

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L633-L647
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L698-L792
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L863-L873
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L896-L908
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L1299-L1312
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L39-L49
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L199-L206
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/config.py#L113-L122
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L583-L620
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/io/server.py#L652-L667
    - https://panel.holoviz.org/how_to/authentication/authorization.html
    - https://developers.google.com/identity/openid-connect/openid-connect#hd-param
    """

    code = "SA215"
    name = "authentication-without-authorization"
    severity = Severity.WARNING
    category = Category.AUTHENTICATION
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON)
    cwe = 862
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA215
            CMD ["panel", "serve", "app.py", "--oauth-provider", "github"]
        """,
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            export PANEL_OAUTH_PROVIDER=google  # expect: SA215
            exec panel serve app.py --oauth-extra-params "{'hd': 'example.com'}"
        """,
            title="`hd` is a hint to Google's login page, not a check",
        ),
        Bad(
            "serve.py",
            """
            import panel as pn
            pn.serve(app, basic_auth="letmein")  # expect: SA215
        """,
            title="one shared password",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --oauth-provider gitlab \\
                --oauth-extra-params "{'url': 'gitlab.example.com'}"
        """,
            title="the organisation's own GitLab",
        ),
        Good(
            "serve.py",
            """
            import panel as pn
            pn.config.authorize_callback = lambda info: info["user"] in {"alice", "bob"}
            pn.serve(app, oauth_provider="github")
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["panel", "serve", "app.py", "--basic-auth", "/run/secrets/users.json"]
        """,
            title="a file of users",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for command in stack.serve_commands:
            if command.tool != "panel-serve" or command.development_branch:
                continue
            if command.opens_browser() or not (command.deployment or command.carrier == "python"):
                continue
            auth = command.auth()
            if auth is None or command.guest_access() is not None:
                continue  # no login, or guests let in: SA201's
            public = stack.public_way(command)
            if public is None and command.loopback_only():
                continue  # a server on the machine itself, nothing routes to it
            if auth.kind == "oauth":
                found = self._open_oauth(stack, command, auth, public)
            elif auth.kind == "basic":
                found = self._shared_password(command, auth)
            else:
                found = None
            if found is not None:
                yield found

    def _open_oauth(
        self, stack: Stack, command: ServeCommand, auth: AuthSetting, public: PublicWay | None
    ) -> Diagnostic | None:
        signup = open_signup(command, auth.provider)
        if signup is None or stack.apps.authorization(command) is not None:
            return None
        reach = f"; {public.description}" if public is not None else ""
        unless = f", unless {signup.unless}" if signup.unless else ""
        return self.report(
            auth.source.span,
            f"{command.label}: {auth.description} lets in {signup.who}{unless}, and "
            "nothing in the app decides which of them may use it (no "
            "`pn.config.authorize_callback`, no check of `pn.state.user`)" + reach,
            help="set `pn.config.authorize_callback` to a function that accepts only the "
            "intended users, or log in against your organisation's own directory",
            fix_title="Authorize the users, not only authenticate them",
            related=[Related(public.span, "way in")] if public is not None else [],
            confidence=signup.confidence,
            severity=Severity.ERROR if public is not None else None,
        )

    def _shared_password(self, command: ServeCommand, auth: AuthSetting) -> Diagnostic | None:
        value = auth.source.value
        if not auth.source.is_literal or value is None or looks_like_file_path(value.text):
            return None
        return self.report(
            auth.source.span,
            f"{command.label}: {auth.description} is one password shared by every user: "
            "Panel accepts any user name with it, so no one can be told apart or locked "
            "out alone",
            help="give --basic-auth a JSON file mapping each user to a password (or use "
            "an OAuth provider with an authorize_callback)",
            fix_title="Give each user their own credentials",
            severity=Severity.NOTE,
        )


def open_signup(command: ServeCommand, provider: str | None) -> OpenSignup | None:
    """Who can log in through ``provider`` as this command configures it, when anyone
    can open such an account; None otherwise or when not known here."""
    if provider in _PUBLIC_SERVICES:
        return OpenSignup(f"every {_PUBLIC_SERVICES[provider]} account")
    if provider == "google":
        return OpenSignup(
            "every Google account",
            Confidence.MEDIUM,
            unless="the OAuth client's consent screen is set to Internal",
        )
    if provider == "gitlab":
        params = extra_params(command)
        if params is None:
            return None
        url = params.get("url", "gitlab.com").lower().rstrip("/")
        return OpenSignup("every GitLab.com account") if url == "gitlab.com" else None
    return None


def extra_params(command: ServeCommand) -> dict[str, str] | None:
    """``PANEL_OAUTH_EXTRA_PARAMS`` (read first by panel/config.py), else
    ``--oauth-extra-params`` / ``oauth_extra_params=``; {} when neither is given, None
    when the value is not known here."""
    var = command.env_setting("PANEL_OAUTH_EXTRA_PARAMS")
    source: SettingSource | None = var or command.option_setting("oauth_extra_params")
    if source is None:
        return {}
    if source.value is None or source.reference:
        return None
    return python_dict_literal(source.value.text)
