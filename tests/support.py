"""Helpers shared by the tests: run stackaudit on a folder or on files in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackaudit import engine
from stackaudit.config import Config, load_config
from stackaudit.config_tree import Selection
from stackaudit.diagnostics import Diagnostic
from stackaudit.discovery import Candidate
from stackaudit.engine import RunResult, run
from stackaudit.rules.base import expectations

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
# The shared data sits beside the main checkout (/work/shared); a worktree is one level
# deeper (/work/wt/NAME), and without this the tests that need it were skipped there.
SHARED = next(
    (parent / "shared" for parent in REPO.parents[:2] if (parent / "shared").is_dir()),
    REPO.parent / "shared",
)
CORPUS = SHARED / "corpus" / "real"


def scan(
    root: Path, select: list[str] | None = None, config: Config | None = None, jobs: int = 1
) -> RunResult:
    """Scan ``root`` with its own stackaudit.toml (if any) and nothing above it."""
    if config is None:
        own = root / "stackaudit.toml"
        config = load_config(own) if own.is_file() else Config()
    chosen = select or [*config.select, *config.extend_select]
    selection = Selection(chosen, list(config.ignore))
    return run([root], config, selection, jobs=jobs, root=root)


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def found(diagnostics: list[Diagnostic]) -> set[tuple[str, int, str]]:
    return {(d.span.path, d.span.line, d.code) for d in diagnostics}


def expected_in(root: Path) -> set[tuple[str, int, str]]:
    """Every ``# expect: CODE`` marker under ``root``."""
    wanted = set()
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(root).as_posix()
        for line, codes in expectations(text):
            wanted |= {(rel, line, code) for code in codes}
    return wanted


def count_extractions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files extracted from now on (in this process: run with one job), in order:
    to tell a file read again from one served by the cache or the run."""
    extracted: list[str] = []
    extract = engine.process_file

    def counted(candidate: Candidate) -> engine.FileResult:
        extracted.append(candidate.rel)
        return extract(candidate)

    monkeypatch.setattr(engine, "process_file", counted)
    return extracted
