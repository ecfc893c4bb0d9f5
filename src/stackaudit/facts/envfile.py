"""An environment file (``.env``, ``app.env``...) as its lines define variables.

Compose reads the files a service names in ``env_file:`` into the container's
environment, below ``environment:`` in precedence; systemd's ``EnvironmentFile=`` does
the same for a unit. The file alone sets nothing: the model applies it to the processes
whose service or unit names it."""

from __future__ import annotations

from msgspec import Struct

from stackaudit.facts.common import EnvVar


class EnvFile(Struct, frozen=True):
    path: str  # relative to the scanned root
    variables: tuple[EnvVar, ...]
