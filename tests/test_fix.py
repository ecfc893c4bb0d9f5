"""Fixes: every rule with edits, applied to its bad examples and to the fixtures, gives
the expected text exactly, silences the rule, is idempotent and makes no other rule
fire; ``--diff`` writes nothing; files keep their line endings, mode and encoding; links
out of the scanned root are never written."""

from __future__ import annotations

import os
import shutil
import stat
from collections import Counter
from pathlib import Path

import pytest

from stackaudit.cli import main
from stackaudit.diagnostics import Confidence, Diagnostic, Edit, FixSafety, Severity, Span
from stackaudit.fix import FixOutcome, apply_fixes, fix_tree, unified_diff
from stackaudit.rules import all_rules
from stackaudit.rules.base import Example, Rule, strip_expectations

from .support import FIXTURES, REPO, scan, write_files

FIXING = [rule for rule in all_rules() if rule.fix is not FixSafety.DISPLAY_ONLY]
EXAMPLES = [
    pytest.param(rule, example, id=f"{rule.code}-{index}")
    for rule in FIXING
    for index, example in enumerate(rule.examples)
    if example.fixed is not None
]
# Every fixture case (as tests/test_fixtures.py scans them) is fixed, and the change is
# compared with the reviewed diff in tests/fixes/<group>__<case>.diff (no file: no change).
# STACKAUDIT_UPDATE_FIXES=1 rewrites those files; review them before committing.
EXPECTED = Path(__file__).parent / "fixes"
UPDATE = os.environ.get("STACKAUDIT_UPDATE_FIXES") == "1"
FIXTURE_CASES = sorted(
    f"{group.name}/{case.name}"
    for group in FIXTURES.iterdir()
    if group.is_dir() and group.name != "adversarial"
    for case in group.iterdir()
    if case.is_dir()
)


def _fix(root: Path, select: list[str] | None = None, *, write: bool = True) -> FixOutcome:
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]

    def check(copy: Path, paths: list[Path]) -> list[Diagnostic]:
        return scan(copy, select=select).diagnostics

    return fix_tree(root, [root], files, check, unsafe=True, write=write)


def _expect_diff(name: str, diff: str) -> None:
    path = EXPECTED / f"{name.replace('/', '__')}.diff"
    if UPDATE:
        if diff:
            EXPECTED.mkdir(exist_ok=True)
            path.write_bytes(diff.encode("utf-8"))
        else:
            path.unlink(missing_ok=True)
    expected = path.read_bytes().decode("utf-8") if path.exists() else ""
    assert diff == expected, f"{path.name}: the fix changed (STACKAUDIT_UPDATE_FIXES=1, review)"


def _codes(diagnostics: list[Diagnostic]) -> Counter[str]:
    return Counter(d.code for d in diagnostics)


def _no_new_findings(before: list[Diagnostic], after: list[Diagnostic], fixed: str) -> None:
    grown = {
        code: count
        for code, count in _codes(after).items()
        if code not in fixed and count > _codes(before)[code]
    }
    assert not grown, f"the fix made other rules fire: {grown}"


# -- the examples ----------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "example"), EXAMPLES)
def test_example_fix(rule: type[Rule], example: Example, tmp_path: Path) -> None:
    write_files(tmp_path, example.files)
    before = scan(tmp_path, select=["SA"]).diagnostics
    outcome = _fix(tmp_path, [rule.code, "SA001"])
    text = (tmp_path / example.path).read_text("utf-8")
    assert example.fixed is not None
    assert strip_expectations(text) == strip_expectations(example.fixed)
    assert [d for d in outcome.remaining if d.code == rule.code] == []
    after = scan(tmp_path, select=["SA"]).diagnostics
    assert [d for d in after if d.code == rule.code] == []
    _no_new_findings(before, after, rule.code)
    again = _fix(tmp_path, [rule.code, "SA001"])
    assert again.changes == {}


@pytest.mark.parametrize("rule", FIXING, ids=[r.code for r in FIXING])
def test_every_bad_example_of_a_fixing_rule_is_fixed(rule: type[Rule]) -> None:
    """A rule that declares a fix shows it on every bad example it can fix; the others
    are the cases it leaves to the reader (documented by having no ``fixed``)."""
    assert any(e.fixed is not None for e in rule.examples if e.bad)


# -- the fixtures ----------------------------------------------------------------------


@pytest.mark.parametrize("case", FIXTURE_CASES)
def test_fixture_fix(case: str, tmp_path: Path) -> None:
    root = tmp_path / "case"
    shutil.copytree(FIXTURES / case, root)
    before = scan(root).diagnostics
    outcome = _fix(root)
    _expect_diff(case, unified_diff(outcome.changes))
    if not outcome.changes:
        return
    after = scan(root).diagnostics
    fixed = {d.code for d in before if d.has_fix}
    for code in fixed:
        still = [d for d in after if d.code == code and d.has_fix]
        assert still == [], f"{code} still fires with a fix after fixing"
    _no_new_findings(before, after, "".join(fixed))
    assert _fix(root).changes == {}, "fixing twice changed the files again"


# -- applying edits --------------------------------------------------------------------


def _diagnostic(
    *edits: Edit, safety: FixSafety = FixSafety.SAFE, code: str = "SA999"
) -> Diagnostic:
    return Diagnostic(
        code=code,
        name="test",
        severity=Severity.ERROR,
        confidence=Confidence.HIGH,
        message="m",
        span=edits[0].span if edits else Span("x", 1),
        edits=tuple(edits),
        fix_safety=safety,
    )


def test_crlf_and_mode_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.conf"
    path.write_bytes(b"one\r\ntwo\r\n")
    path.chmod(0o751)
    result = apply_fixes(tmp_path, [_diagnostic(Edit(Span("a.conf", 2, 1, 2, 1), "new;\n"))])
    assert result.changed == {"a.conf"}
    assert path.read_bytes() == b"one\r\nnew;\r\ntwo\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o751


def test_bom_and_utf16_are_kept(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("\ufeffé=1\n".encode("utf-8"))
    (tmp_path / "b.txt").write_bytes("é=1\n".encode("utf-16"))
    apply_fixes(
        tmp_path,
        [
            _diagnostic(Edit(Span("a.txt", 1, 3, 1, 4), "2")),
            _diagnostic(Edit(Span("b.txt", 1, 3, 1, 4), "2")),
        ],
    )
    assert (tmp_path / "a.txt").read_bytes() == "\ufeffé=2\n".encode("utf-8")
    assert (tmp_path / "b.txt").read_bytes() == "é=2\n".encode("utf-16")


def test_invalid_utf8_is_not_rewritten(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x=\xff\n")
    result = apply_fixes(tmp_path, [_diagnostic(Edit(Span("a.txt", 1, 1, 1, 2), "y"))])
    assert result.changed == set()
    assert "UTF-8" in result.refused[0].reason
    assert (tmp_path / "a.txt").read_bytes() == b"x=\xff\n"


def test_overlapping_fixes_keep_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abcdef\n")
    first = _diagnostic(Edit(Span("a.txt", 1, 2, 1, 4), "XY"))
    second = _diagnostic(Edit(Span("a.txt", 1, 3, 1, 5), "ZZ"))
    same_point = _diagnostic(Edit(Span("a.txt", 1, 2, 1, 2), "<"))
    shared = _diagnostic(Edit(Span("a.txt", 1, 2, 1, 4), "XY"), Edit(Span("a.txt", 1, 6), "!"))
    result = apply_fixes(tmp_path, [first, second, same_point, shared])
    assert (tmp_path / "a.txt").read_text() == "aXY<de!f\n" or (
        tmp_path / "a.txt"
    ).read_text() == "a<XYde!f\n"
    assert [r.diagnostic for r in result.refused] == [second]
    assert "overlaps" in result.refused[0].reason


def test_unsafe_fixes_need_the_flag(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc\n")
    unsafe = _diagnostic(Edit(Span("a.txt", 1, 1, 1, 2), "X"), safety=FixSafety.UNSAFE)
    display = _diagnostic(Edit(Span("a.txt", 1, 2, 1, 3), "Y"), safety=FixSafety.DISPLAY_ONLY)
    assert apply_fixes(tmp_path, [unsafe, display]).changed == set()
    assert apply_fixes(tmp_path, [unsafe, display], unsafe=True).changed == {"a.txt"}
    assert (tmp_path / "a.txt").read_text() == "Xbc\n"


def test_edit_outside_the_text_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc\n")
    result = apply_fixes(tmp_path, [_diagnostic(Edit(Span("a.txt", 1, 9, 1, 9), "X"))])
    assert result.changed == set() and result.refused


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_link_out_of_the_root_is_never_written(tmp_path: Path) -> None:
    outside = tmp_path / "outside.conf"
    outside.write_text("abc\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.conf").symlink_to(outside)
    (root / "../escape.conf").write_text("abc\n")
    result = apply_fixes(
        root,
        [
            _diagnostic(Edit(Span("link.conf", 1, 1, 1, 2), "X")),
            _diagnostic(Edit(Span("../escape.conf", 1, 1, 1, 2), "X")),
        ],
    )
    assert result.changed == set()
    assert [r.reason.split(": ", 1)[1] for r in result.refused] == [
        "a symbolic link out of the scanned root",
        "outside the scanned root",
    ]
    assert outside.read_text() == "abc\n"
    assert (tmp_path / "escape.conf").read_text() == "abc\n"


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_link_inside_the_root_writes_its_target(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("abc\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    apply_fixes(tmp_path, [_diagnostic(Edit(Span("link.txt", 1, 1, 1, 2), "X"))])
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "Xbc\n"


# -- the command line ------------------------------------------------------------------

NGINX = """\
server {
    listen 80;
    location /ws {
        proxy_pass http://127.0.0.1:5006;
    }
}
"""


def test_diff_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"nginx.conf": NGINX})
    assert main(["check", "--diff", "--no-cache"]) == 1
    captured = capsys.readouterr()
    assert (tmp_path / "nginx.conf").read_text() == NGINX
    assert "+        proxy_http_version 1.1;\n" in captured.out
    assert captured.out.startswith("--- a/nginx.conf\n+++ b/nginx.conf\n")
    assert "would fix 2 findings in 1 file: SA501 (1), SA502 (1)" in captured.err
    assert not list(tmp_path.glob(".*.tmp"))


def test_fix_writes_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"nginx.conf": NGINX.replace("\n", "\r\n")})
    assert main(["check", "--fix", "--no-cache"]) == 0
    captured = capsys.readouterr()
    assert (tmp_path / "nginx.conf").read_bytes() == (
        b"map $http_upgrade $connection_upgrade {\r\n"
        b"    default upgrade;\r\n"
        b"    ''      close;\r\n"
        b"}\r\n"
        b"\r\n"
        b"server {\r\n"
        b"    listen 80;\r\n"
        b"    location /ws {\r\n"
        b"        proxy_pass http://127.0.0.1:5006;\r\n"
        b"        proxy_set_header Upgrade $http_upgrade;\r\n"
        b"        proxy_set_header Connection $connection_upgrade;\r\n"
        b"        proxy_http_version 1.1;\r\n"
        b"    }\r\n"
        b"}\r\n"
    )
    assert "No findings" in captured.out
    assert "fixed 2 findings in 1 file: SA501 (1), SA502 (1)" in captured.err


def test_example_stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``check --fix --unsafe-fixes`` on the bundled example leaves only findings that
    have no edit, and the change is the one snapshotted (reviewed by hand)."""
    root = tmp_path / "insecure-stack"
    shutil.copytree(REPO / "examples" / "insecure-stack", root)
    original = {
        p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }
    monkeypatch.chdir(root)
    main(["check", "--fix", "--unsafe-fixes", "--no-cache", "--format", "json"])
    capsys.readouterr()
    after = scan(root).diagnostics
    assert [d for d in after if d.edits] == []
    changes = {
        rel: (data, (root / rel).read_bytes())
        for rel, data in original.items()
        if (root / rel).read_bytes() != data
    }
    _expect_diff("examples/insecure-stack", unified_diff(changes))
    assert sorted(_codes(after)) == [
        "SA102",  # a space after a comma in BOKEH_ALLOW_WS_ORIGIN
        "SA103",  # the variable and the flags: which to keep is a choice
        "SA201",  # authentication
        "SA202",  # a secret baked into the Dockerfile: to be removed, not rewritten
        "SA207",  # debug=True, --reload
        "SA302",  # an nginx CORS allowlist to design
        "SA403",  # --num-procs
        "SA505",  # a timeout to choose
        "SA507",  # the proxy's address
        "SA601",  # which interface to publish on
    ]


def test_fix_twice_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"nginx.conf": NGINX})
    main(["check", "--fix", "--no-cache"])
    fixed = (tmp_path / "nginx.conf").read_bytes()
    capsys.readouterr()
    assert main(["check", "--fix", "--no-cache"]) == 0
    assert (tmp_path / "nginx.conf").read_bytes() == fixed
    assert "fixed nothing" in capsys.readouterr().err


COMPOSE = """\
services:
  dash:
    image: example/dash
    command: panel serve app.py --allow-websocket-origin '*'
    labels:
      - traefik.http.routers.dash.rule=Host(`dash.example.com`)
"""


def test_unsafe_fixes_only_with_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(
        tmp_path, {"docker-compose.yml": COMPOSE, ".stackaudit.toml": 'select = ["SA101"]\n'}
    )
    assert main(["check", "--fix", "--no-cache"]) == 1
    assert (tmp_path / "docker-compose.yml").read_text() == COMPOSE
    assert "1 more fix available with --unsafe-fixes" in capsys.readouterr().err
    assert main(["check", "--fix", "--unsafe-fixes", "--no-cache"]) == 0
    assert (tmp_path / "docker-compose.yml").read_text() == COMPOSE.replace(
        "'*'", "'dash.example.com'"
    )


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_fix_never_writes_through_a_link_out_of_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "nginx.conf").write_text(NGINX)
    root = tmp_path / "root"
    root.mkdir()
    (root / "nginx.conf").symlink_to(outside / "nginx.conf")
    (root / "conf.d").symlink_to(outside, target_is_directory=True)
    write_files(root, {"site.conf": NGINX})
    monkeypatch.chdir(root)
    main(["check", "--fix", "--no-cache"])
    assert (outside / "nginx.conf").read_text() == NGINX
    assert (root / "nginx.conf").is_symlink() and (root / "conf.d").is_symlink()
    assert "proxy_http_version 1.1;" in (root / "site.conf").read_text()


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_two_names_of_one_file_are_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path, {"real.conf": NGINX})
    (tmp_path / "link.conf").symlink_to(tmp_path / "real.conf")
    monkeypatch.chdir(tmp_path)
    main(["check", "--fix", "--no-cache"])
    err = capsys.readouterr().err
    assert (tmp_path / "link.conf").is_symlink()
    assert (tmp_path / "real.conf").read_text().count("proxy_http_version 1.1;") == 1
    assert "not written" not in err


TABS = (
    "http {\n"
    "\tserver {\n"
    "\t\tlisten 80;\n"
    "\t\tlocation /ws { proxy_pass http://127.0.0.1:5006; }  # one line\n"
    "\t\tlocation /app/ws {\n"
    "\t\t\tproxy_pass http://127.0.0.1:5007;  # the app\n"
    "\t\t\t# keep me\n"
    "\t\t\tproxy_http_version 1.0;\n"
    '\t\t\tproxy_set_header Connection "";\n'
    "\t\t}\n"
    "\t}\n"
    "}\n"
    "events {}\n"
)


def test_nginx_edits_keep_tabs_comments_and_one_line_blocks(tmp_path: Path) -> None:
    write_files(tmp_path, {"nginx.conf": TABS})
    _fix(tmp_path, ["SA501", "SA502"])
    assert (tmp_path / "nginx.conf").read_text() == (
        "http {\n"
        "\tmap $http_upgrade $connection_upgrade {\n"
        "\t\tdefault upgrade;\n"
        "\t\t''      close;\n"
        "\t}\n"
        "\n"
        "\tserver {\n"
        "\t\tlisten 80;\n"
        "\t\tlocation /ws { proxy_pass http://127.0.0.1:5006; proxy_set_header Upgrade "
        "$http_upgrade; proxy_set_header Connection $connection_upgrade; "
        "proxy_http_version 1.1; }  # one line\n"
        "\t\tlocation /app/ws {\n"
        "\t\t\tproxy_pass http://127.0.0.1:5007;  # the app\n"
        "\t\t\t# keep me\n"
        "\t\t\tproxy_http_version 1.1;\n"
        "\t\t\tproxy_set_header Connection $connection_upgrade;\n"
        "\t\t\tproxy_set_header Upgrade $http_upgrade;\n"
        "\t\t}\n"
        "\t}\n"
        "}\n"
        "events {}\n"
    )


def test_location_without_http_level_gets_the_hard_coded_connection(tmp_path: Path) -> None:
    snippet = (
        "location /ws {\n    proxy_pass http://127.0.0.1:5006;\n    proxy_http_version 1.1;\n}\n"
    )
    write_files(tmp_path, {"snippets/ws.conf": snippet})
    _fix(tmp_path, ["SA501"])
    assert (tmp_path / "snippets/ws.conf").read_text() == snippet.replace(
        "1.1;\n",
        "1.1;\n    proxy_set_header Upgrade $http_upgrade;\n"
        '    proxy_set_header Connection "upgrade";\n',
    )


def test_upstream_with_a_backup_server_is_left_to_the_reader(tmp_path: Path) -> None:
    conf = (
        "upstream app {\n    server 10.0.0.1:5006;\n    server 10.0.0.2:5006;\n"
        "    server 10.0.0.3:5006 backup;\n}\n"
        "server {\n    listen 80;\n    location /ws {\n        proxy_pass http://app;\n"
        "        proxy_http_version 1.1;\n        proxy_set_header Upgrade $http_upgrade;\n"
        '        proxy_set_header Connection "upgrade";\n    }\n}\n'
    )
    write_files(tmp_path, {"nginx.conf": conf})
    outcome = _fix(tmp_path, ["SA401"])
    assert outcome.changes == {}
    assert [d.code for d in outcome.remaining] == ["SA401"]


def test_diff_counts_lines_as_git_does() -> None:
    diff = unified_diff({"a.py": (b"x = 1\x0c\ny = 2", b"x = 1\x0c\ny = 3")})
    assert diff == (
        "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\x0c\n-y = 2\n"
        "\\ No newline at end of file\n+y = 3\n\\ No newline at end of file\n"
    )


def test_fix_safety_is_decided_per_fix(tmp_path: Path) -> None:
    """SA501's fix is safe where it edits only the flagged file, unsafe where the `map`
    it needs goes into an http block of another file that every site shares; a finding
    without edits has no fix to apply at all."""
    location = """
        server {
            listen 80;
            location /app/ws {
                proxy_pass http://127.0.0.1:5006;
                proxy_http_version 1.1;
            }
        }
    """
    write_files(tmp_path / "own", {"nginx.conf": location})
    write_files(
        tmp_path / "shared",
        {
            "nginx.conf": "events {}\nhttp {\n    include sites/*.conf;\n}\n",
            "sites/app.conf": location,
        },
    )
    own = scan(tmp_path / "own", select=["SA501"]).diagnostics
    shared = scan(tmp_path / "shared", select=["SA501"]).diagnostics
    assert [(d.code, d.fix_safety) for d in own] == [("SA501", FixSafety.SAFE)]
    assert [(d.code, d.fix_safety) for d in shared] == [("SA501", FixSafety.UNSAFE)]
    assert {e.span.path for e in shared[0].edits} == {"nginx.conf", "sites/app.conf"}


@pytest.mark.parametrize("rule", all_rules(), ids=[r.code for r in all_rules()])
def test_a_finding_without_edits_offers_no_fix(rule: type[Rule], tmp_path: Path) -> None:
    for index, example in enumerate(rule.examples):
        write_files(tmp_path / str(index), example.files)
    for diagnostic in scan(tmp_path, select=[rule.code]).diagnostics:
        assert (diagnostic.fix_safety is FixSafety.DISPLAY_ONLY) == (not diagnostic.has_fix)


def test_fix_leaves_what_the_persona_hides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SA501/SA502 here rest on a medium-confidence link (a route to a port where a
    server listens): `--min-confidence high` hides them, so `--fix` leaves them too."""
    site = "server {\n    listen 80;\n    location / {\n        proxy_pass http://127.0.0.1:5006;\n    }\n}\n"
    write_files(
        tmp_path,
        {
            "site.conf": site,
            "run.sh": "#!/bin/sh\nexec panel serve app.py --port 5006"
            " --allow-websocket-origin=dash.example.com\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache", "--fix", "--min-confidence", "high"]) == 0
    assert (tmp_path / "site.conf").read_text() == site
    assert "fixed nothing" in capsys.readouterr().err
    assert main(["check", "--no-cache", "--fix", "--select", "SA501,SA502"]) == 0
    assert "proxy_http_version 1.1;" in (tmp_path / "site.conf").read_text()
