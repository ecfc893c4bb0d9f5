import posixpath
import re
from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Severity, Span
from stackaudit.facts.app import APP_SECRET_SETTINGS, AppSetting
from stackaudit.facts.common import EnvVar
from stackaudit.facts.deploy import K8sConfigMap
from stackaudit.facts.envfile import EnvFile
from stackaudit.facts.secrets import (
    BuildArg,
    PythonSecret,
    SecretLiteral,
    is_not_a_secret_value,
    is_placeholder,
    names_url,
    public_default,
    secret_kind,
    url_password,
)
from stackaudit.facts.serve import SECRET_ENV_VARS
from stackaudit.model.stack import Stack
from stackaudit.policy import is_development_path
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# Environment files that hold placeholders by convention, copied to `.env` and filled in
# by whoever deploys: `.env.example`, `.env.sample`, `app.env.template`, `.env.dist`.
_EXAMPLE_ENV_FILE = re.compile(
    r"(^|[._-])(example|examples|sample|template|tmpl|tpl|dist)([._-]|$)", re.IGNORECASE
)


class AppSecretInClear(Rule):
    """
    ## What it does
    Flags an application secret written out literally where it is committed or baked
    into an image, beyond the Panel/Bokeh settings of SA202:
    - a setting named as a secret: `SECRET_KEY`, `JWT_SECRET`, `*_SECRET`,
      `*_SECRET_KEY`, `*_PASSWORD` (`PASSWD`, `PASS`), `*_TOKEN`, `*_API_KEY`,
      `*_PRIVATE_KEY`, `*_ENCRYPTION_KEY`, `*_SIGNING_KEY`; the name's last word decides,
      so `PASSWORD_MIN_LENGTH`, `TOKEN_URL`, `OAUTH2_TOKEN_ENDPOINT`, `hashed_password`
      and `SECRET_KEY_FILE` are not secrets;
    - a URL setting (`DATABASE_URL`, `*_URI`, `*_DSN`) whose user information carries a
      password (`postgresql://app:pw@db/app`, split as `urllib.parse` does);
    - where: compose `environment:` (list and mapping forms), Dockerfile `ENV` and `ARG`
      defaults, Kubernetes `env` `value:` and ConfigMap `data`, a Kubernetes Secret's
      `stringData` written in clear, shell `export`, platform manifests, environment
      files (`.env`, `app.env`), and Python: Django/Flask settings (`SECRET_KEY =
      "..."`), `app.secret_key = "..."`, `app.config["SECRET_KEY"] = "..."`, keywords
      (Starlette `SessionMiddleware(app, secret_key="...")`,
      `app.add_middleware(SessionMiddleware, secret_key="...")`), settings dictionaries
      written in capitals (Django `DATABASES`), the key of `jwt.encode`/`jwt.decode`.

    A value known publicly is an error: the JWT key of the FastAPI tutorial, a
    `django-insecure-` key from Django's `startproject`, `changeme`, `changethis`,
    `secret`, `password`, `admin`, `your-secret-key`... Any other literal is a warning.
    The default of an environment lookup (`os.getenv("SECRET_KEY", "dev")`,
    `os.environ.get`, python-decouple `config(..., default=...)`), of a pydantic
    `BaseSettings` field and of compose `${VAR:-default}` is reported at medium
    confidence: it is deployed wherever the variable is not set.

    Not reported: empty values, run-time references (`${VAR}`, `$(cat ...)`,
    `valueFrom`, `secretKeyRef`, `os.environ[...]`), template fields (`{{ .Values.x }}`,
    Jinja), placeholders (`<your-secret>`, `your_api_key_here`, `xxxx`), SOPS-encrypted
    values (`ENC[...]`), sentences and file paths, files of tests and development setups
    (`tests/`, `docker-compose.dev.yml`, `settings/local.py`), example environment files
    (`.env.example`, `.env.sample`, `.env.template`, `.env.dist`), and the Panel/Bokeh
    settings SA202 reports. Discovery skips files that a `.gitignore` ignores, so an
    environment file reported here is not ignored by `.gitignore` (a file named on the
    command line is read even when ignored). The message never shows the value.

    ## Why is this bad?
    Whoever reads the repository or pulls the image (`docker history`) has the secret:
    with a session or JWT signing key they sign cookies and tokens as any user; with a
    database password or API key they use the service as the app does. A public
    default is known to everyone without reading anything. A secret committed once
    stays in the history: rotate it.

    ## Example
    ```python
    SECRET_KEY = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
    ```

    ## Use instead
    Read the secret from the environment, filled at deploy time from a secret store
    (compose `secrets:` or `${VAR}` from an untracked `.env`, a Kubernetes `secretKeyRef`,
    the platform's secrets), and fail at start-up when it is missing:
    ```python
    SECRET_KEY = os.environ["SECRET_KEY"]
    ```

    ## References
    - https://github.com/fastapi/fastapi/blob/071d9043883b62f423c480d26f8ae82ae7b6644f/docs_src/security/tutorial004.py#L11-L13
    - https://github.com/django/django/blob/5.1/django/core/management/commands/startproject.py
    - https://github.com/django/django/blob/5.1/django/core/checks/security/base.py
    - https://docs.djangoproject.com/en/5.1/ref/settings/#secret-key
    - https://flask.palletsprojects.com/en/stable/config/#SECRET_KEY
    - https://www.starlette.io/middleware/#sessionmiddleware
    - https://docs.docker.com/reference/dockerfile/#arg
    - https://kubernetes.io/docs/concepts/configuration/secret/
    - https://cwe.mitre.org/data/definitions/798.html
    """

    code = "SA211"
    name = "app-secret-in-clear"
    severity = Severity.WARNING
    category = Category.SECRETS
    applies_to = (
        FileKind.PYTHON,
        FileKind.ENVIRONMENT,
        FileKind.COMPOSE,
        FileKind.DOCKERFILE,
        FileKind.KUBERNETES,
        FileKind.COMMAND_LINE,
    )
    cwe = 798
    span_is_secret = True
    examples = (
        Bad(
            "settings.py",
            """
            SECRET_KEY = "django-insecure-3x@mpl3k3y0nly4d3v3l0pm3nt"  # expect: SA211
            DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                                     "PASSWORD": "Tr0ub4dor-and-3"}}  # expect: SA211
        """,
        ),
        Bad(
            "main.py",
            """
            import os
            from fastapi import FastAPI
            from starlette.middleware.sessions import SessionMiddleware

            app = FastAPI()
            app.add_middleware(SessionMiddleware, secret_key="s3ss10n-k3y-f0r-pr0d")  # expect: SA211
            JWT_SECRET = os.getenv("JWT_SECRET", "changeme")  # expect: SA211
        """,
            title="a keyword and an environment default",
        ),
        Bad(
            "docker-compose.yml",
            """
            services:
              api:
                image: example/api
                environment:
                  - DATABASE_URL=postgresql://api:K7q2vLm9@db/api  # expect: SA211
                  - STRIPE_API_KEY=sk_live_51Hx7  # expect: SA211
                  - TOKEN_URL=/token
        """,
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA211
            ARG PYPI_TOKEN=pypi-AgEIcHlwaS5vcmc
            # expect-next-line: SA211
            ENV SECRET_KEY=changethis
        """,
        ),
        Bad(
            ".env",
            """
            POSTGRES_PASSWORD=hunter2-but-longer  # expect: SA211
            PASSWORD_MIN_LENGTH=8
        """,
        ),
        Good(
            "settings.py",
            """
            import os
            SECRET_KEY = os.environ["SECRET_KEY"]
            password_field = "password"
            OAUTH2_TOKEN_ENDPOINT = "/oauth/token"
        """,
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              api:
                image: example/api
                environment:
                  SECRET_KEY: ${SECRET_KEY}
                  API_TOKEN: <your-token>
        """,
        ),
        Good(
            ".env.example",
            """
            SECRET_KEY=changeme
            OPENAI_API_KEY=your_api_key_here
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        shared = [*stack.of(EnvVar), *(v for c in stack.serve_commands for v in c.env)]
        # SA202 reports its own names wherever it reads them: not twice.
        by_sa202 = {var.span for var in shared if var.name in SECRET_ENV_VARS}
        env_files = [var for f in stack.of(EnvFile) for var in _env_file_variables(f)]
        build_args = [arg.variable for arg in stack.of(BuildArg)]
        config_maps = [v for m in stack.of(K8sConfigMap) if not m.secret for v in m.data]
        others = [*env_files, *build_args, *config_maps]
        for var in [*(v for v in shared if v.name not in SECRET_ENV_VARS), *others]:
            if var.name in SECRET_ENV_VARS and var.span in by_sa202:
                continue
            found = _env_secret(var)
            if found is not None:
                yield self._env_finding(var, *found)
        yield from self._python(stack)
        yield from self._secret_manifests(stack)

    def _secret_manifests(self, stack: Stack) -> Iterator[Diagnostic]:
        """One finding per Secret manifest, at its first value written in clear."""
        by_secret: dict[tuple[str, str], list[SecretLiteral]] = {}
        for literal in stack.of(SecretLiteral):
            if is_development_path(literal.span.path) or is_placeholder(literal.value.text):
                continue
            by_secret.setdefault((literal.span.path, literal.secret), []).append(literal)
        for (_, secret), literals in by_secret.items():
            keys = ", ".join(f"`{literal.key}`" for literal in literals)
            known = next((v for v in (public_default(x.value.text) for x in literals) if v), None)
            yield self._finding(
                literals[0].value.span,
                f"Secret `{secret}` holds {keys} in clear in `stringData`: whoever reads "
                "the repository has them",
                known,
                help="commit the Secret encrypted (Sealed Secrets, SOPS) or create it "
                "outside the repository (`kubectl create secret`, an external secret "
                "store), and rotate it",
            )

    def _python(self, stack: Stack) -> Iterator[Diagnostic]:
        by_sa202 = {
            (s.span.path, s.span.line)
            for s in stack.of(AppSetting)
            if s.name in APP_SECRET_SETTINGS.get(s.framework, ())
        }
        for secret in stack.of(PythonSecret):
            span = secret.value.span
            if is_development_path(span.path) or (span.path, span.line) in by_sa202:
                continue
            value = _secret_text(secret.kind == "a URL", secret.value.text)
            if value is None:
                continue
            kind = "a password in a URL" if secret.kind == "a URL" else secret.kind
            where = {
                "keyword": f"the keyword `{secret.name}=`",
                "dictionary key": f'the key `"{secret.name}"`',
                "signing key": f"the key of `{secret.name}`",
                "environment default": f"the default of the variable `{secret.name}`",
                "settings field default": f"the default of the settings field `{secret.name}`",
            }.get(secret.how, f"`{secret.name}`")
            unset = " (deployed wherever the variable is not set)" if secret.fallback else ""
            yield self._finding(
                span,
                f"{where} holds {kind}, written literally in the code{unset}: it is "
                "committed with it",
                public_default(value),
                help=f"read it from the environment filled from a secret store "
                f'(`os.environ["{_variable(secret.name)}"]`, no default), and rotate it',
                confidence=Confidence.MEDIUM if secret.fallback else None,
            )

    def _env_finding(self, var: EnvVar, kind: str, value: str) -> Diagnostic:
        assert var.value is not None
        where = _where(var)
        return self._finding(
            var.value.span,
            f"{var.name} ({var.source}) holds {kind}, written literally: {where}",
            public_default(value),
            help=_env_help(var),
            confidence=Confidence.MEDIUM if var.value.default_used else None,
        )

    def _finding(
        self,
        span: Span,
        message: str,
        known: str | None,
        *,
        help: str,
        confidence: Confidence | None = None,
    ) -> Diagnostic:
        if known is not None:
            message += f"; the value is {known}, so anyone can use it"
        return self.report(
            span,
            message + " (value not shown)",
            help=help,
            fix_title="Move the secret to a secret store",
            severity=Severity.ERROR if known is not None else None,
            confidence=confidence,
        )


def _env_file_variables(env_file: EnvFile) -> tuple[EnvVar, ...]:
    name = posixpath.basename(env_file.path)
    return () if _EXAMPLE_ENV_FILE.search(name) else env_file.variables


def _secret_text(is_url: bool, text: str) -> str | None:
    """The secret a value holds (a URL's password for a URL setting), or None when the
    value holds none: empty, a placeholder, a path, a sentence."""
    if is_url:
        password = url_password(text)
        if password is None or is_placeholder(password):
            return None
        return password
    if is_placeholder(text) or is_not_a_secret_value(text):
        return None
    return text


def _env_secret(var: EnvVar) -> tuple[str, str] | None:
    """What the variable holds and the secret, when it is a secret written literally."""
    if not var.is_literal or var.value is None or is_development_path(var.span.path):
        return None
    kind = secret_kind(var.name)
    if kind is None and names_url(var.name):
        value = _secret_text(True, var.value.text)
        return ("a password in a URL", value) if value is not None else None
    if kind is None:
        return None
    value = _secret_text(False, var.value.text)
    return (kind, value) if value is not None else None


def _where(var: EnvVar) -> str:
    if var.source == "env file":
        return (
            f"`{var.span.path}` is not ignored by .gitignore, so it is committed or will "
            "be with the next `git add`"
        )
    if var.source == "Dockerfile ARG":
        return "the default is committed here and kept in the image history where a RUN uses it"
    if var.source.startswith("Dockerfile"):
        return "it is committed here and baked into the image"
    return "it is committed here"


def _env_help(var: EnvVar) -> str:
    if var.source == "compose environment":
        return (
            f"write `{var.name}: ${{{var.name}}}` and let compose fill it in from a secret "
            "store or an untracked .env file (or use compose `secrets:`), and rotate it"
        )
    if var.source == "Dockerfile ARG":
        return (
            "drop the default and pass the secret at build time as a BuildKit secret "
            "(`RUN --mount=type=secret`), never as a build argument, and rotate it"
        )
    if var.source.startswith("Dockerfile"):
        return (
            f"remove it from the image and pass {var.name} at run time (a compose or "
            "Kubernetes secret), and rotate it"
        )
    if var.source.startswith("Kubernetes") or var.source.startswith("ConfigMap"):
        return (
            f"take {var.name} from a Secret (`valueFrom: secretKeyRef: ...`) instead, and rotate it"
        )
    if var.source == "env file":
        return (
            "add the file to .gitignore, remove it from the repository (`git rm --cached`), "
            "commit an example file with placeholders instead, and rotate the secret"
        )
    return f"inject {var.name} at run time from a secret store, and rotate it"


def _variable(name: str) -> str:
    if "." in name:  # jwt.encode
        return "JWT_SECRET"
    return name.upper()
