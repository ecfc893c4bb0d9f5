"""The closed vocabularies rules are filed under: what a finding is about (its category,
also a SARIF tag) and where a rule looks (the kinds of configuration it reads). Enums,
so a typo is a type error rather than a new category in the docs."""

from __future__ import annotations

import enum


class _Word(str, enum.Enum):
    """An enum whose members print as their value (``enum.StrEnum`` needs Python 3.11)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Category(_Word):
    WEBSOCKET_ORIGIN = "websocket-origin"
    AUTHENTICATION = "authentication"
    SECRETS = "secrets"
    CORS = "cors"
    SCALING = "scaling"
    REVERSE_PROXY = "reverse-proxy"
    TLS = "tls"
    EXPOSURE = "exposure"
    HARDENING = "hardening"
    # User input reaching HTML, a script or a command unescaped (XSS).
    INJECTION = "injection"
    # stackaudit's own diagnostics: files it cannot read, suppressions that do nothing.
    RUN = "run"


class FileKind(_Word):
    """Where a rule finds what it reports. ``COMMAND_LINE`` is a server's command line
    wherever it is written (start scripts, Dockerfiles, compose, Kubernetes, Procfiles,
    units); ``STACK`` means the finding needs several files linked together."""

    ANY = "any"
    PYTHON = "py"
    COMMAND_LINE = "cli"
    ENVIRONMENT = "env"
    COMPOSE = "compose"
    KUBERNETES = "k8s"
    DOCKERFILE = "dockerfile"
    NGINX = "nginx"
    TRAEFIK = "traefik"
    DEPENDENCIES = "dependencies"
    STACK = "stack"


# Categories whose findings are security problems (a SARIF `security` tag and a
# `security-severity` for GitHub). Scaling and most reverse-proxy findings break the app
# rather than expose it, and `run` is stackaudit's own; a rule can say otherwise
# (`Rule.security`).
SECURITY_CATEGORIES = frozenset(
    {
        Category.WEBSOCKET_ORIGIN,
        Category.AUTHENTICATION,
        Category.SECRETS,
        Category.CORS,
        Category.TLS,
        Category.EXPOSURE,
        Category.HARDENING,
        Category.INJECTION,
    }
)
