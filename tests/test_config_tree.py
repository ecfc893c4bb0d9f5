"""Configurations found from the scanned path upward, nested ones governing their
subtree, `extend`, and `--show-settings`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackaudit.cli import main

from .support import write_files

WILDCARD = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n"


def check(capsys: pytest.CaptureFixture[str], cwd: Path, *args: str) -> tuple[int, list[str], str]:
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        code = main(["check", "-q", "--no-cache", *args])
    finally:
        os.chdir(previous)
    out, err = capsys.readouterr()
    return code, [line.split(" ")[0] + line.split(" ")[1] for line in out.splitlines()], err


def test_a_nested_configuration_governs_its_subtree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        tmp_path,
        {
            "pyproject.toml": '[tool.stackaudit]\nselect = ["SA101"]\n',
            "a.sh": WILDCARD,
            "svc/pyproject.toml": '[tool.stackaudit]\nselect = ["SA1"]\nignore = ["SA101"]\n',
            "svc/a.sh": WILDCARD,
            "svc/deep/a.sh": WILDCARD,
            "other/a.sh": WILDCARD,
        },
    )
    code, found, _ = check(capsys, tmp_path)
    assert code == 1
    assert found == ["a.sh:2:51:SA101", "other/a.sh:2:51:SA101"]


def test_nested_excludes_are_relative_to_their_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        tmp_path,
        {
            ".stackaudit.toml": 'select = ["SA101"]\n',
            "legacy/a.sh": WILDCARD,
            "svc/stackaudit.toml": 'select = ["SA101"]\nextend-exclude = ["/legacy/"]\n',
            "svc/legacy/a.sh": WILDCARD,
            "svc/new/legacy/a.sh": WILDCARD,
        },
    )
    _, found, _ = check(capsys, tmp_path)
    # `/legacy/` is anchored at svc/: svc/legacy is skipped, the others are not.
    assert found == ["legacy/a.sh:2:51:SA101", "svc/new/legacy/a.sh:2:51:SA101"]


def test_extend_takes_the_other_files_keys_as_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        tmp_path,
        {
            "pyproject.toml": '[tool.stackaudit]\nselect = ["SA101"]\n',
            "svc/pyproject.toml": (
                '[tool.stackaudit]\nextend = "../pyproject.toml"\n'
                'per-file-ignores = { "old/*" = ["SA101"] }\n'
            ),
            "svc/a.sh": WILDCARD,
            "svc/old/a.sh": WILDCARD,
            "svc/b.py": "import os\nos.system('x')\n",
        },
    )
    _, found, _ = check(capsys, tmp_path)
    assert found == ["svc/a.sh:2:51:SA101"]


@pytest.mark.parametrize(
    ("extend", "message"),
    [
        ('"../../outside.toml"', "leads out of the project"),
        ('"pyproject.toml"', "names the file itself"),
        ('"../b/pyproject.toml"', "goes round in a circle: "),
        ('"missing.toml"', "cannot read"),
        ("3", "must be the path"),
    ],
)
def test_a_bad_extend_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extend: str, message: str
) -> None:
    repo = tmp_path / "repo"
    write_files(
        tmp_path,
        {
            "outside.toml": 'ignore = ["SA"]\n',
            "repo/pyproject.toml": '[tool.stackaudit]\nselect = ["SA101"]\n',
            "repo/a/pyproject.toml": f"[tool.stackaudit]\nextend = {extend}\n",
            "repo/b/pyproject.toml": '[tool.stackaudit]\nextend = "../a/pyproject.toml"\n',
            "repo/a/x.sh": WILDCARD,
        },
    )
    code, found, err = check(capsys, repo)
    assert code == 2 and found == []
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "text",
    ["[tool.stackaudit\n", '[tool.stackaudit]\nselct = ["SA1"]\n', "[project\nname='x'\n"],
)
def test_a_broken_nested_configuration_fails_closed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    write_files(tmp_path, {"a.sh": WILDCARD, "svc/pyproject.toml": text, "svc/a.sh": WILDCARD})
    code, found, err = check(capsys, tmp_path)
    assert code == 2 and found == []
    assert "svc/pyproject.toml" in err
    if "invalid TOML" in err:
        assert 'exclude its directory: `extend-exclude = ["svc/"]`' in err


def test_configuration_is_found_from_the_scanned_path_not_the_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        tmp_path,
        {
            "elsewhere/.stackaudit.toml": 'ignore = ["SA"]\n',
            "repo/.stackaudit.toml": 'select = ["SA101"]\n',
            "repo/svc/.stackaudit.toml": 'select = ["SA102"]\n',
            "repo/svc/a.sh": WILDCARD,
            "repo/b.sh": WILDCARD,
        },
    )
    elsewhere = tmp_path / "elsewhere"
    _, found, _ = check(capsys, elsewhere, str(tmp_path / "repo"))
    assert [f.rsplit("/", 1)[-1] for f in found] == ["b.sh:2:51:SA101"]
    # Named below a nested configuration, the path is governed by it, not by the root's.
    _, found, _ = check(capsys, tmp_path / "repo", "svc/a.sh", "b.sh")
    assert found == ["b.sh:2:51:SA101"]


def test_stack_wide_keys_in_a_nested_file_are_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        tmp_path,
        {"svc/stackaudit.toml": 'auth-by-proxy = true\nselect = ["SA101"]\n', "svc/a.sh": WILDCARD},
    )
    code, found, err = check(capsys, tmp_path)
    assert code == 1 and found == ["svc/a.sh:2:51:SA101"]
    assert "`auth-by-proxy` describe the whole run" in err


def test_a_nested_configuration_linked_out_of_the_root_is_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path, {"outside.toml": 'ignore = ["SA"]\n', "repo/svc/a.sh": WILDCARD})
    (tmp_path / "repo/svc/stackaudit.toml").symlink_to(tmp_path / "outside.toml")
    write_files(tmp_path, {"repo/.stackaudit.toml": 'select = ["SA101"]\n'})
    code, found, err = check(capsys, tmp_path / "repo")
    assert code == 1 and found == ["svc/a.sh:2:51:SA101"]
    assert "svc/stackaudit.toml: symbolic link out of the scanned root, not read" in err


def test_show_settings_prints_what_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        tmp_path,
        {
            ".stackaudit.toml": 'select = ["SA1"]\npublic-hosts = ["dash.example.com"]\n',
            "svc/.stackaudit.toml": 'select = ["SA101"]\nextend-exclude = ["old/"]\n',
        },
    )
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert main(["check", "--show-settings", "--ignore", "SA102", "svc"]) == 0
    finally:
        os.chdir(previous)
    assert capsys.readouterr().out == (
        "# settings for svc/\n"
        f"# root configuration: {tmp_path}/.stackaudit.toml\n"
        f"# governed below svc/ by {tmp_path}/svc/.stackaudit.toml\n"
        "\n"
        'select = ["SA101"]\n'
        'ignore = ["SA102"]\n'
        "per-file-ignores = {}\n"
        "# excludes are relative to the directory of the configuration that sets them\n"
        "# (the scan root for the root's); paths named on the command line are checked anyway\n"
        "exclude = []\n"
        'extend-exclude = ["old/"]\n'
        'fail-on = "warning"\n'
        "max-file-size = 2097152\n"
        'public-hosts = ["dash.example.com"]\n'
        "public-apps = []\n"
        "auth-by-proxy = false\n"
        "# nginx-version is not set\n"
        'min-confidence = "low"\n'
        'persona = "regular"\n'
    )


def test_config_on_the_command_line_governs_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As in Ruff, `--config FILE` is used for all files: a configuration nested in the
    tree must not switch off, in its subtree, what the file named on the command line
    selects (an audit with a strict `--config` would pass what it was run to find)."""
    write_files(
        tmp_path,
        {
            "audit.toml": 'select = ["SA101"]\n',
            "svc/pyproject.toml": '[tool.stackaudit]\nselect = ["SA1"]\nignore = ["SA101"]\n',
            "svc/a.sh": WILDCARD,
        },
    )
    assert check(capsys, tmp_path)[1] == []
    code, found, _ = check(capsys, tmp_path, "--config", "audit.toml")
    assert (code, found) == (1, ["svc/a.sh:2:51:SA101"])


def test_the_walk_looks_for_every_configuration_name() -> None:
    from stackaudit.config import CONFIG_FILES
    from stackaudit.discovery import _CONFIG_NAMES

    assert frozenset(CONFIG_FILES) == _CONFIG_NAMES


def test_a_long_extend_chain_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {
        f"c{i}/pyproject.toml": f'[tool.stackaudit]\nextend = "../c{i + 1}/pyproject.toml"\n'
        for i in range(12)
    }
    files["c12/pyproject.toml"] = '[tool.stackaudit]\nselect = ["SA101"]\n'
    write_files(tmp_path, {**files, "c0/a.sh": WILDCARD})
    code, found, err = check(capsys, tmp_path)
    assert code == 2 and found == []
    assert "`extend` chain longer than 8 files" in err
