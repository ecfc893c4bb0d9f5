"""Which files deploy an app, and which are a developer's own tooling.

Rules about deployment hygiene (SA104, SA207) stay quiet on development carriers: a
path with a component or a name part ``dev``, ``devel``, ``development``, ``local``,
``debug``, ``test``, ``tests`` or ``testing`` (``scripts/dev/run.sh``, ``Dockerfile.dev``,
``docker-compose.dev.yml``, ``run-local.sh``, ``tests/docker-compose.yml``,
``test_app.py``), pytest's ``conftest.py``, and compose override files
(``compose.override.yml``), which Compose applies to local ``docker compose up`` runs by
convention. In a Makefile, the same test applies to target names (``make dev``)."""

from __future__ import annotations

import re

_DEV_WORDS = frozenset(
    {"dev", "devel", "development", "local", "debug", "test", "tests", "testing"}
)
_SPLIT = re.compile(r"[-_.]+")


def is_development_name(name: str) -> bool:
    """A name made of words one of which says development (``run-dev``, ``debug``)."""
    return bool({word.lower() for word in _SPLIT.split(name)} & _DEV_WORDS)


_PRODUCTION_WORDS = frozenset({"prod", "production", "staging", "stage", "live", "release"})


def is_production_name(name: str) -> bool:
    """A value that names a production setup (``prod``, ``production``, ``live``)."""
    return name.strip().lower() in _PRODUCTION_WORDS


def is_development_path(path: str) -> bool:
    parts = path.split("/")
    if any(is_development_name(part) for part in parts):
        return True
    name = parts[-1].lower()
    return ".override." in name or name == "conftest.py"
