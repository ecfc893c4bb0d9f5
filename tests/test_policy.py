"""Which paths are development carriers (SA104 and SA207 stay quiet on them)."""

from __future__ import annotations

import pytest

from stackaudit.policy import is_development_path


@pytest.mark.parametrize(
    ("path", "development"),
    [
        ("scripts/dev/run.sh", True),
        ("Dockerfile.dev", True),
        ("docker-compose.dev.yml", True),
        ("compose.override.yml", True),
        ("run-local.sh", True),
        ("tests/docker-compose.yml", True),
        ("test/Dockerfile", True),
        ("docker-compose.test.yml", True),
        ("app/test_server.py", True),
        ("app/server_test.py", True),
        ("conftest.py", True),
        ("Dockerfile", False),
        ("deploy/docker-compose.yml", False),
        ("app/latest.py", False),
        ("contest/app.py", False),
        ("pytest.ini", False),
        ("attestation/start.sh", False),
    ],
)
def test_development_paths(path: str, development: bool) -> None:
    assert is_development_path(path) is development
