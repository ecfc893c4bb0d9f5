"""Exact output of the machine formats for one finding: what CI systems parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackaudit import __version__
from stackaudit.cli import main

from .support import write_files

FILES = {
    ".stackaudit.toml": 'select = ["SA101"]\n',
    "a.sh": "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n",
}

JSON = """\
{
  "version": 1,
  "tool": {
    "name": "stackaudit",
    "version": "{VERSION}"
  },
  "diagnostics": [
    {
      "code": "SA101",
      "name": "ws-origin-wildcard",
      "severity": "error",
      "confidence": "high",
      "message": "panel serve: `--allow-websocket-origin *` admits WebSocket connections from every site, with the visitor's cookies",
      "location": {
        "path": "a.sh",
        "line": 2,
        "column": 51,
        "end_line": 2,
        "end_column": 52
      },
      "related": [],
      "help": "name the public host(s) instead: --allow-websocket-origin=<public host[:port]>",
      "fix": {
        "title": "Replace the wildcard with the public host",
        "safety": "display-only",
        "edits": []
      },
      "fingerprint": "4acfe15bac677955"
    }
  ],
  "summary": {
    "files_scanned": 1,
    "findings": 1,
    "by_severity": {
      "error": 1,
      "warning": 0,
      "note": 0
    },
    "suppressed": 0,
    "skipped": [],
    "internal_errors": 0,
    "baselined": 0,
    "stale_baseline": []
  }
}
"""

GITLAB = """\
[
  {
    "type": "issue",
    "check_name": "SA101 ws-origin-wildcard",
    "description": "panel serve: `--allow-websocket-origin *` admits WebSocket connections from every site, with the visitor's cookies",
    "content": {
      "body": "name the public host(s) instead: --allow-websocket-origin=<public host[:port]>"
    },
    "categories": [
      "Security"
    ],
    "severity": "critical",
    "fingerprint": "SA101-4acfe15bac677955",
    "location": {
      "path": "a.sh",
      "positions": {
        "begin": {
          "line": 2,
          "column": 51
        },
        "end": {
          "line": 2,
          "column": 52
        }
      }
    }
  }
]
"""

JUNIT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="stackaudit" tests="1" failures="1" errors="0">
    <testcase classname="a.sh" name="SA101 ws-origin-wildcard at a.sh:2:51" file="a.sh" line="2">
      <failure message="panel serve: `--allow-websocket-origin *` admits WebSocket connections from every site, with the visitor's cookies" type="error">a.sh:2:51: panel serve: `--allow-websocket-origin *` admits WebSocket connections from every site, with the visitor's cookies
help: name the public host(s) instead: --allow-websocket-origin=&lt;public host[:port]&gt;</failure>
    </testcase>
  </testsuite>
</testsuites>
"""


@pytest.mark.parametrize(
    ("name", "expected"), [("json", JSON), ("gitlab", GITLAB), ("junit", JUNIT)]
)
def test_format_output_is_exact(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, FILES)
    assert main(["check", "--no-cache", "--format", name]) == 1
    assert capsys.readouterr().out == expected.replace("{VERSION}", __version__)


def test_the_command_line_offers_every_format() -> None:
    from stackaudit import commands, formatters

    assert commands.FORMATS == formatters.FORMATS
