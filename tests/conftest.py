"""Every test gets its own home and user cache directory: the suite never reads or
writes the developer's (the result cache and its key live there by default)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not under the test's tmp_path: tests scan that, and the cache must stay out of it.
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("STACKAUDIT_CACHE_KEY", raising=False)
