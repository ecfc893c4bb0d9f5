"""Hostile repositories: each test builds a tree an attacker could commit, runs the
command line on it as CI or pre-commit would, and asserts the safe outcome — nothing
outside the scanned root changed, the exit code tells the truth, and the findings of the
vulnerable stack are still reported.

The sections follow the items of the security model in the README."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# A stack with one certain finding: Panel accepting WebSocket connections from any site.
VULNERABLE = {
    "start.sh": "#!/bin/sh\npanel serve app.py --allow-websocket-origin='*'\n",
}
VULNERABLE_FINDING = ("start.sh", 2, "SA101")


class Run:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __repr__(self) -> str:
        return (
            f"Run(code={self.code}, stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"
        )


def stackaudit(
    *arguments: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Run:
    """The installed command line in a child process, as CI runs it, with its own home
    so nothing of the developer's is read or written."""
    home = cwd.parent / f".home-{cwd.name}"
    home.mkdir(exist_ok=True)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STACKAUDIT", "XDG_", "GITHUB_", "GIT_"))
    }
    environment.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), NO_COLOR="1")
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "stackaudit", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def build(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def state(top: Path, skip: Path | None = None) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``top`` (links not followed) with its size, mtime and link
    target: what must not change outside the scanned root."""
    seen: dict[str, tuple[int, int, str]] = {}
    for directory, subdirs, files in os.walk(top, followlinks=False):
        if skip is not None and Path(directory) == skip:
            subdirs[:] = []
            continue
        for name in subdirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            target = os.readlink(path) if os.path.islink(path) else ""
            seen[os.path.relpath(path, top)] = (info.st_size, info.st_mtime_ns, target)
    return seen


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """(outside, root): a folder of the user's beside the scanned repository, holding
    files that must survive the scan."""
    outside = tmp_path / "outside"
    build(outside, {"precious.txt": "keep me\n", "nested/also.txt": "keep me too\n"})
    root = tmp_path / "repo"
    build(root, dict(VULNERABLE))
    return outside, root


# -- 5: bounded work --


def test_include_bomb_is_cut_off_with_sa001(hostile: tuple[Path, Path]) -> None:
    # Each level includes the next twice, and the last one holds a server: followed as
    # written, 2**20 copies. Once per level, it is twenty files.
    _, root = hostile
    files = {"nginx/nginx.conf": "events {}\nhttp {\n include l0.conf;\n}\n"}
    for level in range(20):
        files[f"nginx/l{level}.conf"] = f"include l{level + 1}.conf;\ninclude l{level + 1}.conf;\n"
    files["nginx/l20.conf"] = "server { listen 80; location / { proxy_pass http://app:5006; } }\n"
    # Files that each include the whole directory again: a tree as wide as the directory
    # and as deep as the include limit, cut off by the budget.
    files["wide/nginx.conf"] = "events {}\nhttp {\n include conf.d/*.conf;\n}\n"
    for index in range(60):
        files[f"wide/conf.d/f{index:02}.conf"] = (
            f"server {{ listen {8000 + index}; location / {{ include conf.d/*.conf; }} }}\n"
        )
    build(root, files)
    run = stackaudit("check", ".", "--no-cache", "--format", "json", cwd=root)
    assert run.code == 1, run
    found = {(d["location"]["path"], d["code"]) for d in _json(run)["diagnostics"]}
    assert VULNERABLE_FINDING[::2] in found
    assert any(path.startswith("wide/") and code == "SA001" for path, code in found), run


def test_catastrophic_origin_regexes_are_not_run(hostile: tuple[Path, Path]) -> None:
    from stackaudit.facts.origin_regex import analyse_origin_regex, may_match_null

    # Python's re takes over a minute to search "null" with the third one.
    patterns = [r"^(a+)+$", r"(x+x+)+y", r"^(.?){200}x$", r"^(?:(?:(?:.?){12}){12}){12}x$"]
    for pattern in patterns:
        assert may_match_null(pattern, "search") is False
        assert may_match_null(pattern, "fullmatch", case_insensitive=True) is False
        analyse_origin_regex(pattern, "search")
    assert may_match_null(r"^(?:(?:.?){12}){12}null$", "fullmatch") is True
    assert may_match_null(r"^(?i:N)(?:u|l){3}$", "fullmatch") is True
    assert may_match_null(r"^(?:nu|l){2}$", "fullmatch") is False

    _, root = hostile
    catastrophic = r"^(.?){200}x$"
    build(
        root,
        {
            "app.py": "from fastapi import FastAPI\n"
            "from fastapi.middleware.cors import CORSMiddleware\n"
            "app = FastAPI()\n"
            f"app.add_middleware(CORSMiddleware, allow_origin_regex={catastrophic!r},"
            " allow_credentials=True)\n"
            # Admits `null`, behind a pattern that would backtrack for minutes first.
            "app.add_middleware(CORSMiddleware, allow_origin_regex=r'^(?:(?:.?){12}){12}$',"
            " allow_credentials=True)\n",
            "nginx/nginx.conf": "events {}\nhttp {\n server {\n  listen 80;\n  location / {\n"
            f'   if ($http_origin ~* "{catastrophic}") {{\n'
            "    add_header Access-Control-Allow-Origin $http_origin;\n   }\n"
            "   proxy_pass http://app:8000;\n  }\n }\n}\n",
        },
    )
    run = stackaudit("check", ".", "--no-cache", "--format", "json", cwd=root)
    assert run.code == 1, run
    found = {
        (d["location"]["path"], d["location"]["line"], d["code"]) for d in _json(run)["diagnostics"]
    }
    assert VULNERABLE_FINDING in found
    assert ("app.py", 5, "SA305") in found or ("app.py", 5, "SA302") in found, found
    assert not any(line == 4 and code == "SA305" for _, line, code in found), found


def test_two_megabyte_single_lines_finish(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    size = 2 * 1024 * 1024
    build(
        root,
        {
            "stackaudit.toml": 'max-file-size = "4MiB"\n',
            "big.py": "x = '" + "a" * (size - 8) + "'\n",
            "nginx/sites-enabled/site.conf": "{{" * (size // 2),
            "nginx/site.conf.template": "<%=" * (size // 3),
            "run.sh": "echo " + "$(" * (size // 2 - 4) + "\n",
            "entrypoint": " " * size,
        },
    )
    run = stackaudit("check", ".", "--no-cache", "--format", "json", cwd=root)
    assert run.code == 1, run
    report = _json(run)
    assert report["summary"]["internal_errors"] == 0
    assert VULNERABLE_FINDING in {
        (d["location"]["path"], d["location"]["line"], d["code"]) for d in report["diagnostics"]
    }


def test_eight_thousand_serve_commands_in_one_file(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    line = "panel serve app.py --allow-websocket-origin='*'\n"
    build(
        root,
        {
            "start.sh": "#!/bin/sh\n" + line * 8000,
            "Dockerfile": "FROM python\n" + ("RUN " + line) * 8000,
        },
    )
    run = stackaudit("check", ".", "--no-cache", "--format", "json", "--select", "SA101", cwd=root)
    assert run.code == 1, run
    found = [(d["location"]["path"], d["code"]) for d in _json(run)["diagnostics"]]
    assert found.count(("start.sh", "SA101")) == 8000
    assert found.count(("Dockerfile", "SA101")) == 8000


@pytest.mark.parametrize("form", ["text", "json", "sarif"])
def test_report_from_long_lines_is_bounded(hostile: tuple[Path, Path], form: str) -> None:
    # Findings on 50,000-character lines: the code frame shows the part around the
    # span, so the report is about as long as for short lines.
    _, root = hostile
    sizes = []
    for width in (10, 50_000):
        line = f"panel serve app.py --allow-websocket-origin='*' {'a' * width}\n"
        build(root, {"long.sh": "#!/bin/sh\n" + line * 5})
        run = stackaudit("check", ".", "--no-cache", "--format", form, cwd=root)
        assert run.code == 1, run
        assert run.stdout.count("SA101") >= 5
        sizes.append(len(run.stdout))
    assert sizes[1] - sizes[0] < 20_000, sizes


def test_related_places_per_finding_are_bounded(hostile: tuple[Path, Path]) -> None:
    # 600 instances of one app, each generating its own secret: each finding would list
    # the 599 others (SA404), 360,000 related places in all.
    _, root = hostile
    serve = 'panel serve app.py --port {} --cookie-secret "$(openssl rand -hex 32)"\n'
    build(root, {"many.sh": "#!/bin/sh\n" + "".join(serve.format(5000 + i) for i in range(600))})
    run = stackaudit(
        "check", ".", "--no-cache", "--format", "json", "--select", "SA404,SA101", cwd=root
    )
    assert run.code == 1, run
    findings = [d for d in _json(run)["diagnostics"] if d["code"] == "SA404"]
    assert len(findings) == 600
    assert max(len(d["related"]) for d in findings) == 20
    assert "and 579 more" in findings[0]["related"][-1]["message"] + findings[0]["message"]
    assert len(run.stdout) < 600 * 10_000


def _json(run: Run) -> Any:
    import json

    loaded = json.loads(run.stdout)
    return loaded
