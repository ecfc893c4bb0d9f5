"""Building blocks shared by every kind of fact."""

from __future__ import annotations

import re

from msgspec import Struct

from stackaudit.diagnostics import Span

# A shell/compose/Kubernetes expansion the tool cannot see through: $VAR, ${VAR...},
# $(command), `command`. Values holding one are kept symbolic, never guessed.
_EXPANSION = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[^}]*\}|\(|[0-9@*#?$!-])|`")


def has_expansion(text: str) -> bool:
    return _EXPANSION.search(text) is not None or has_template(text)


# A variable reference only: what a program expands without a shell (Compose, systemd,
# Kubernetes' `$(NAME)`). `$(command)` there is plain text, never run.
_VARIABLE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[^}]*\}|\([A-Za-z_][A-Za-z0-9_]*\))")


def has_variable(text: str) -> bool:
    return _VARIABLE.search(text) is not None or has_template(text)


def has_template(text: str) -> bool:
    """A template placeholder (`{{ .Values.host }}` in a Helm chart, Jinja in an Ansible
    role, cookiecutter): the file is rendered before anything reads it, so the value is
    only known then."""
    return "{{" in text


class Word(Struct, frozen=True):
    """One argument as the program receives it (quotes removed), and where it is written.

    ``symbolic`` is true when the value holds an expansion resolved only at run time
    (``$VAR``, ``${VAR:-d}``, ``$(cmd)``); its ``text`` then keeps the expansion as written.
    ``default_used`` is true when ``text`` is the default of an expansion
    (compose ``${VAR:-default}``): the value holds unless the variable is set, so a
    finding on it deserves a lower confidence.
    """

    text: str
    span: Span
    symbolic: bool = False
    default_used: bool = False

    def __str__(self) -> str:
        return self.text


class EnvVar(Struct, frozen=True):
    """An environment variable given to a process.

    ``value`` is None when the value is not written here at all (a Kubernetes
    ``secretKeyRef``, a variable passed through from the host); ``reference`` tells that
    the value lives in a secret store by design."""

    name: str
    value: Word | None
    span: Span
    source: str
    reference: bool = False

    @property
    def is_literal(self) -> bool:
        """A value written out in the file, with no run-time expansion in it."""
        return self.value is not None and not self.value.symbolic and not self.reference


class ParseProblem(Struct, frozen=True):
    """A file, or a part of one, that could not be read as its kind (reported as SA001)."""

    span: Span
    message: str
