"""The GitHub Action (action.yml) and the example workflow that uses it: structure,
inputs documented, inputs reaching scripts only through env, and the check script run
as the runner runs it (bash -eo pipefail)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import REPO

EXPRESSION = re.compile(r"\$\{\{")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _load(REPO / "action.yml")["runs"]["steps"]
    return steps


def test_inputs_are_documented_here_and_in_the_readme() -> None:
    action = _load(REPO / "action.yml")
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert set(inputs) == {"paths", "args", "sarif", "category", "python-version", "fail-on"}
    assert all(spec["description"].strip() for spec in inputs.values())
    assert inputs["paths"]["default"] == "." and inputs["sarif"]["default"] == "true"
    assert inputs["python-version"]["default"] == "3.11"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in inputs:
        assert f"`{name}`" in readme, name


def test_scripts_take_inputs_only_through_env() -> None:
    for step in _steps():
        if "run" in step:
            # No expression inside a script: a value with `"; curl ...` stays a value.
            assert not EXPRESSION.search(step["run"]), step
            assert step["shell"] == "bash"
    check = next(step for step in _steps() if step.get("id") == "check")
    assert check["env"]["STACKAUDIT_ARGS"] == "${{ inputs.args }}"


def test_steps_install_from_the_action_check_upload_then_fail() -> None:
    steps = _steps()
    assert steps[0]["uses"] == "actions/setup-python@v5"
    assert steps[1]["env"]["STACKAUDIT_SOURCE"] == "${{ github.action_path }}"
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/"))
    assert upload["uses"] == "github/codeql-action/upload-sarif@v3"
    # The upload runs whatever the check found; the step fails only after it.
    assert "steps.check.outputs.exit-code" not in upload["if"]
    assert steps[-1]["if"] == "steps.check.outputs.exit-code != '0'"
    assert steps.index(upload) < len(steps) - 1


def test_example_workflow_uses_the_action_with_history_and_permissions() -> None:
    workflow = _load(REPO / "examples/github-workflow.yml")
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    checkout, action = job["steps"]
    assert checkout["uses"] == "actions/checkout@v4"
    assert checkout["with"]["fetch-depth"] == 0
    assert action["uses"] == "stackaudit/stackaudit@v0.1.0"
    assert "--diff-base" in action["with"]["args"]


def test_precommit_hooks_are_valid_and_the_readme_names_a_tag() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    required = {"id", "name", "entry", "language"}
    assert all(required <= set(hook) for hook in hooks)
    assert all(hook["entry"].endswith(" --") for hook in hooks)
    from stackaudit import __version__

    # The snippets name the release being documented, which is tagged `v<version>`.
    tag = f"v{__version__}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"rev: {tag}" in readme
    assert f"uses: stackaudit/stackaudit@{tag}" in readme
    workflow = (REPO / "examples" / "github-workflow.yml").read_text(encoding="utf-8")
    assert f"uses: stackaudit/stackaudit@{tag}" in workflow
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"\n## {__version__} " in changelog


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_check_script_annotates_writes_sarif_and_keeps_the_exit_code(tmp_path: Path) -> None:
    check = next(step for step in _steps() if step.get("id") == "check")
    shim = tmp_path / "bin" / "stackaudit"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m stackaudit "$@"\n')
    shim.chmod(0o755)
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {
        **os.environ,
        "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO / "src"),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "STACKAUDIT_PATHS": ".",
        "STACKAUDIT_ARGS": "--cache-dir " + str(tmp_path / "cache"),
        "STACKAUDIT_FAIL_ON": "error",
        "STACKAUDIT_UPLOAD": "true",
        "STACKAUDIT_CATEGORY": "deploy",
        "STACKAUDIT_SARIF_FILE": str(tmp_path / "stackaudit.sarif"),
    }
    run = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", check["run"]],
        cwd=REPO / "examples/insecure-stack",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["::error"] * 8 + ["::warning"] * 8
    assert output.read_text() == (f"sarif-file={tmp_path / 'stackaudit.sarif'}\nexit-code=1\n")
    assert '"id": "stackaudit/deploy/"' in (tmp_path / "stackaudit.sarif").read_text()
    assert summary.read_text().count("### stackaudit") == 1
