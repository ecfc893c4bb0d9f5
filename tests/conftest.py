"""Every test gets its own home and user cache directory: the suite never reads or
writes the developer's (the result cache and its key live there by default). Child
processes import the stackaudit under test, whatever their working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import stackaudit

_SOURCE = str(Path(stackaudit.__file__).resolve().parent.parent)


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not under the test's tmp_path: tests scan that, and the cache must stay out of it.
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("STACKAUDIT_CACHE_KEY", raising=False)
    # A relative PYTHONPATH (``PYTHONPATH=src``) means nothing to a child started in a
    # temporary directory, which would then import whatever stackaudit is installed.
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([_SOURCE, *inherited]))
    # The report's width follows COLUMNS: exact outputs must not follow the terminal
    # the suite happens to run in (pytest-xdist workers inherit one).
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
