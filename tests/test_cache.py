"""The result cache: warm runs agree with cold ones, edits invalidate exactly what they
touch, and nothing planted in the cache directory is ever loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackaudit.cache import Cache, default_directory
from stackaudit.cli import main

from .support import count_extractions, write_files

WILDCARD = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n"
PINNED = 'select = ["SA001", "SA002", "SA101"]\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path / "repo", {".stackaudit.toml": PINNED, "a.sh": WILDCARD, "b.sh": "echo\n"})
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


def report(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    main(["check", "--format", "json", *args])
    loaded: dict[str, Any] = json.loads(capsys.readouterr().out)
    return loaded


def test_warm_run_equals_cold_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cold = report(capsys, "--no-cache")
    first = report(capsys)
    # In the user's cache directory, not in the scanned tree.
    assert Path(default_directory(str(project)), "entries").is_dir()
    assert not (project / ".stackaudit_cache").exists()
    warm = report(capsys)
    assert cold == first == warm


def test_edit_invalidates(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report(capsys)
    write_files(project, {"b.sh": WILDCARD})
    after = report(capsys)
    assert sorted(d["location"]["path"] for d in after["diagnostics"]) == ["a.sh", "b.sh"]
    write_files(project, {"a.sh": "echo fixed\n"})
    assert [d["location"]["path"] for d in report(capsys)["diagnostics"]] == ["b.sh"]


def test_tampered_or_planted_entries_are_ignored(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report(capsys)
    entries = list(Path(default_directory(str(project)), "entries").glob("*/*"))
    assert entries
    for entry in entries:
        # A pickle that would run code if loaded, and a truncated entry.
        entry.write_bytes(b"\0" * 32 + b"cos\nsystem\n(S'touch pwned'\ntR.")
    entries[0].write_bytes(b"short")
    again = report(capsys)
    assert not (project / "pwned").exists()
    assert [d["location"]["path"] for d in again["diagnostics"]] == ["a.sh"]


def test_cache_key_changes_with_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = Cache(tmp_path / "c", "config-a")
    two = Cache(tmp_path / "c", "config-b")
    assert one.key("x") != two.key("x")
    one.put(one.key("x"), {"v": 1})
    assert one.get(one.key("x")) == {"v": 1}
    assert two.get(one.key("x")) == {"v": 1}  # same user key: entries are shared by key
    monkeypatch.setenv("STACKAUDIT_CACHE_KEY", "another user")
    assert Cache(tmp_path / "c", "config-a").get(one.key("x")) is None


def test_unwritable_cache_directory_is_not_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "blocked").write_text("a file, not a directory")
    result = report(capsys, "--cache-dir", "blocked/cache")
    assert result["summary"]["findings"] == 1


def test_identical_rerun_replays_the_report(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = report(capsys)
    # Break the engine: a replayed report must not need it.
    import stackaudit.engine

    monkeypatch.setattr(
        stackaudit.engine, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
    )
    assert report(capsys) == first


@pytest.mark.parametrize("change", ["edit", "add", "remove", "gitignore", "config", "option"])
def test_replay_is_refused_when_anything_changed(
    project: Path, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    import time

    report(capsys)
    time.sleep(0.01)
    args: list[str] = []
    if change == "edit":
        write_files(project, {"b.sh": WILDCARD})
    elif change == "add":
        write_files(project, {"new/c.sh": WILDCARD})
    elif change == "remove":
        (project / "a.sh").unlink()
    elif change == "gitignore":
        write_files(project, {".gitignore": "a.sh\n"})
    elif change == "config":
        write_files(project, {".stackaudit.toml": PINNED + 'fail-on = "error"\n'})
    else:
        args = ["--select", "SA0"]
    expected = {
        "edit": ["a.sh", "b.sh"],
        "add": ["a.sh", "new/c.sh"],
        "remove": [],
        "gitignore": [],
        "config": ["a.sh"],
        "option": [],
    }[change]
    assert sorted(d["location"]["path"] for d in report(capsys, *args)["diagnostics"]) == expected


def test_replay_writes_the_output_file_again(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside the scanned tree: a new file in it changes its directory, and so the state.
    report_file = project.parent / "report.json"
    main(["check", "--format", "json", "--output", str(report_file)])
    first = report_file.read_text()
    report_file.unlink()
    import stackaudit.engine

    monkeypatch.setattr(
        stackaudit.engine, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
    )
    main(["check", "--format", "json", "--output", str(report_file)])
    assert report_file.read_text() == first
    assert capsys.readouterr().out == ""


def test_no_replay_outside_the_working_directory(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scanning a directory above this one: the replay reads the command line without
    # parsing it, so it is not offered where its reading could differ (the cache is keyed
    # by the scanned root, not by this directory).
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    calls: list[int] = []
    import stackaudit.engine

    real_run = stackaudit.engine.run

    def counted(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return real_run(*a, **k)

    monkeypatch.setattr(stackaudit.engine, "run", counted)
    for _ in range(2):
        main(["check", "--format", "json", ".."])
    assert len(calls) == 2
    assert not Path(default_directory(str(project / "sub"))).exists()
    assert Path(default_directory(str(project))).is_dir()


def test_replay_imports_neither_argparse_nor_pathlib(project: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from stackaudit.cli import main; code = main(['check', '-q']); "
        "print(code, sorted(m for m in ('argparse', 'pathlib', 'pickle', 'yaml') if m in sys.modules))"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.splitlines()[-1] == "1 ['argparse', 'pathlib', 'pickle']"
    assert runs[1].stdout.splitlines()[-1] == "1 []"
    assert runs[0].stdout.splitlines()[:-1] == runs[1].stdout.splitlines()[:-1]


def test_entries_of_every_fixture_load_back(tmp_path: Path) -> None:
    # The unpickler resolves only stackaudit's records: every fact, problem, suppression
    # and finding the extractors and rules make must be one of them, or warm runs miss.
    from stackaudit.config import Config
    from stackaudit.config_tree import Selection
    from stackaudit.discovery import discover
    from stackaudit.engine import process_file, run

    from .support import FIXTURES

    cache = Cache(tmp_path / "c", "salt")
    candidates, _ = discover([FIXTURES], FIXTURES, [], 2 * 1024 * 1024)
    results = [process_file(c) for c in candidates]
    assert sum(len(r.facts) for r in results) > 100
    cache.put(cache.key("results"), results)
    assert cache.get(cache.key("results")) == results
    found = run([FIXTURES], Config(), Selection(["SA"], [])).diagnostics
    assert found
    cache.put(cache.key("found"), (found, 1, []))
    assert cache.get(cache.key("found")) == (found, 1, [])


def test_signed_entry_naming_a_callable_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even an entry signed with the right key (a leaked STACKAUDIT_CACHE_KEY) names only
    # records: the unpickler refuses anything else.
    import pickle

    monkeypatch.setenv("STACKAUDIT_CACHE_KEY", "known to the attacker")
    cache = Cache(tmp_path / "c", "salt")

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    key = cache.key("x")
    cache.put_bytes(key, pickle.dumps(Exploit()))
    assert cache.get_bytes(key) is not None  # the signature verifies
    assert cache.get(key) is None
    assert not (tmp_path / "pwned").exists()


def test_editor_texts_use_the_cache_for_the_other_files_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an editor's text overlaid, the cache serves every other file, the open one
    is extracted from its text, and nothing of that text reaches the cache: the next
    run on the disk reports the disk."""
    import stackaudit.engine as engine
    from stackaudit.config import Config
    from stackaudit.config_tree import Selection

    wildcard = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n"
    pinned = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin=dash.example.com\n"
    write_files(tmp_path / "repo", {f"s{i}.sh": wildcard for i in range(5)})
    root = tmp_path / "repo"
    cache = Cache(str(tmp_path / "cache"), "", root=root)

    def check(overlay: dict[str, str] | None = None) -> list[str]:
        found = engine.run(
            [root], Config(), Selection(["SA101"], []), root=root, cache=cache, overlay=overlay
        )
        return [d.span.path for d in found.diagnostics]

    assert check() == [f"s{i}.sh" for i in range(5)]
    extracted = count_extractions(monkeypatch)
    assert check({"s2.sh": pinned}) == ["s0.sh", "s1.sh", "s3.sh", "s4.sh"]
    assert extracted == ["s2.sh"]
    extracted.clear()
    assert check() == [f"s{i}.sh" for i in range(5)]
    assert extracted == []  # the disk's entries were kept, the editor's text never stored
