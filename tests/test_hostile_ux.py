"""What the user-facing paths print when the scanned repository is hostile or holds
secrets: the context lines of the text report never show a secret, whatever the
selection; file names and messages cannot inject markup, links or escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackaudit.commands import main

from .support import write_files

COOKIE = "8f2c6d0e2b8a4f1c9e7d5b3a1f0e2d4c"
PASSWORD = "Tr0ub4dor-and-3x"
FLAG_SECRET = "hunter2hunter2"
DOCKERFILE = (
    "FROM python:3.12-slim\n"
    "RUN pip install panel\n"
    f"ENV PANEL_COOKIE_SECRET={COOKIE}\n"
    f"ENV DB_PASSWORD={PASSWORD}\n"
    'CMD ["panel", "serve", "app.py", "--allow-websocket-origin=*", '
    f'"--cookie-secret", "{FLAG_SECRET}"]\n'
)


def _report(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *options: str,
) -> str:
    monkeypatch.chdir(root)
    main(["check", "--no-cache", *options])
    return capsys.readouterr().out


def _assert_no_secret(report: str) -> None:
    for secret in (COOKIE, PASSWORD, FLAG_SECRET):
        assert secret not in report


def test_secrets_in_context_lines_are_masked_when_their_rules_are_not_selected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path, {"Dockerfile": DOCKERFILE})
    report = _report(tmp_path, monkeypatch, capsys, "--select", "SA101")
    assert (
        "  |\n"
        "3 | ENV PANEL_COOKIE_SECRET=" + "*" * len(COOKIE) + "\n"
        "4 | ENV DB_PASSWORD=" + "*" * len(PASSWORD) + "\n"
        '5 | CMD ["panel", "serve", "app.py", "--allow-websocket-origin=*", '
        '"--cookie-secret", "' + "*" * len(FLAG_SECRET) + '"]\n'
        "  |                                                            ^ ws-origin-wildcard\n"
        "  |\n"
    ) in report
    _assert_no_secret(report)


@pytest.mark.parametrize(
    "options",
    [
        ("--ignore", "SA202,SA211"),
        ("--config", "pyproject.toml"),
        ("--persona", "regular", "--min-confidence", "high", "--ignore", "SA2"),
    ],
    ids=["ignored", "per-file-ignores", "prefix-ignored"],
)
def test_secrets_stay_masked_whatever_leaves_their_findings_out(
    options: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_files(
        tmp_path,
        {
            "Dockerfile": DOCKERFILE,
            "pyproject.toml": '[tool.stackaudit]\nper-file-ignores = { "Dockerfile" = '
            '["SA202", "SA211"] }\n',
        },
    )
    report = _report(tmp_path, monkeypatch, capsys, *options)
    assert "ws-origin-wildcard" in report
    _assert_no_secret(report)


def test_a_suppressed_secret_is_still_masked_in_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = DOCKERFILE.replace(
        f"={COOKIE}\n", f"={COOKIE}  # stackaudit: ignore[SA202]\n"
    ).replace(f"={PASSWORD}\n", f"={PASSWORD}  # stackaudit: ignore[SA211]\n")
    write_files(tmp_path, {"Dockerfile": dockerfile})
    report = _report(tmp_path, monkeypatch, capsys, "--select", "SA101,SA202,SA211")
    assert " suppressed." in report
    _assert_no_secret(report)


def test_a_baselined_secret_is_still_masked_in_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path, {"Dockerfile": DOCKERFILE.replace("=*", "=example.com")})
    monkeypatch.chdir(tmp_path)
    main(["check", "--no-cache", "--write-baseline", "baseline.json"])
    write_files(tmp_path, {"Dockerfile": DOCKERFILE})
    capsys.readouterr()
    report = _report(tmp_path, monkeypatch, capsys, "--baseline", "baseline.json")
    assert "in the baseline" in report
    assert "ws-origin-wildcard" in report
    _assert_no_secret(report)


def test_an_inline_private_key_near_a_finding_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    write_files(
        tmp_path,
        {
            "start.sh": "#!/bin/sh\n"
            "# -----BEGIN PRIVATE KEY-----\n"
            f"# {body}\n"
            "# -----END PRIVATE KEY-----\n"
            "exec panel serve app.py --allow-websocket-origin '*'\n"
        },
    )
    report = _report(tmp_path, monkeypatch, capsys, "--select", "SA101")
    assert "ws-origin-wildcard" in report
    assert body not in report
    assert "4 | # -----END PRIVATE KEY-----" in report


def test_secrets_stay_masked_when_the_run_comes_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    write_files(project, {"Dockerfile": DOCKERFILE})
    monkeypatch.chdir(project)
    cache = ["--cache-dir", str(tmp_path / "cache"), "--select", "SA101"]
    reports = []
    for _ in range(2):
        main(["check", *cache])
        reports.append(capsys.readouterr().out)
    assert reports[0] == reports[1]
    assert "ws-origin-wildcard" in reports[1]
    _assert_no_secret(reports[1])


def _check_stdin(monkeypatch: pytest.MonkeyPatch, cwd: Path, text: str, *options: str) -> int:
    import io
    import sys

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    return main(["check", "--no-cache", "-q", "-", *options])


@pytest.mark.parametrize("name", ["sub", "sub/", "sub/..", ".", "", "link"])
def test_a_stdin_filename_naming_a_directory_is_a_usage_error(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The buffer would otherwise be dropped without a word: a report of no findings
    for text that was never analysed."""
    write_files(tmp_path, {"sub/a.sh": "echo\n"})
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    wildcard = "exec panel serve app.py --allow-websocket-origin '*'\n"
    assert _check_stdin(monkeypatch, tmp_path, wildcard, "--stdin-filename", name) == 2
    assert "--stdin-filename names a directory" in capsys.readouterr().err


def test_a_link_that_cannot_be_resolved_is_skipped_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``realpath`` raises when it cannot read a link on the way (``/proc/1/cwd`` of
    another user's process): the walk skips that link and goes on."""
    from stackaudit.discovery import discover
    from stackaudit.reading import real_path

    write_files(tmp_path, {"start.sh": "echo\n", "sub/run.sh": "echo\n"})
    (tmp_path / "sub" / "stuck").symlink_to(tmp_path / "start.sh")

    def unreadable(path: str | os.PathLike[str]) -> str:
        if str(path).endswith("stuck"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_path(path)

    monkeypatch.setattr("stackaudit.discovery.real_path", unreadable)
    candidates, skipped = discover([tmp_path], tmp_path, [], 2**20)
    assert [c.rel for c in candidates] == ["start.sh", "sub/run.sh"]
    assert [(s.rel, s.reason) for s in skipped] == [
        ("sub/stuck", "symbolic link that cannot be resolved")
    ]


@pytest.mark.parametrize(
    ("name", "rel"),
    [
        ("app.py", "app.py"),
        ("sub/../app.py", "app.py"),
        ("sub/%2E%2E/app.py", "app.py"),
        ("../outside.py", None),
        ("sub/../../outside.py", None),
    ],
)
def test_the_language_server_places_documents_by_their_normalised_path(
    name: str, rel: str | None, tmp_path: Path
) -> None:
    """A URI with ``..`` is inside the root only when it lands there: lexically
    ``root/../x`` is "relative to" the root, and ``../x`` would be a path of the
    analysis (and ``sub/../app.py`` would never match the walked ``app.py``, so the
    editor's unsaved text was ignored)."""
    from pygls.uris import from_fs_path

    from stackaudit.lsp.server import StackauditServer

    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    server = StackauditServer()
    server.root = root.resolve()
    uri = (from_fs_path(str(server.root)) or "") + "/" + name
    assert server.relative(uri) == rel


def test_language_server_messages_show_control_and_bidi_characters_escaped(
    tmp_path: Path,
) -> None:
    """A message quotes the scanned files (a host, an origin): an escape sequence or a
    bidi override there must not recolour a terminal editor's line or reorder what the
    Problems list says (Trojan Source), as in every other output."""
    from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
    from stackaudit.lsp.convert import to_lsp
    from stackaudit.lsp.positions import Lines

    hostile = "origin `evil\x1b[2K\u202ecom.`"
    finding = Diagnostic(
        code="SA101",
        name="ws-origin-wildcard",
        severity=Severity.ERROR,
        confidence=Confidence.HIGH,
        message=f"admits {hostile}",
        span=Span("a.sh", 1, 1, 1, 2),
        help=f"remove {hostile}",
        related=(Related(Span("a.sh", 1, 1, 1, 2), f"set by {hostile}"),),
    )
    shown = to_lsp(finding, tmp_path, lambda rel: Lines("x\n", "utf-16"))
    escaped = "origin `evil\\x1b[2K\\u202ecom.`"
    assert shown.message == f"admits {escaped}\nhelp: remove {escaped}"
    assert shown.related_information is not None
    assert shown.related_information[0].message == f"set by {escaped}"
