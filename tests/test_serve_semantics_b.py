"""The ``ServeCommand`` queries behind SA205-SA210, SA403, SA404 and SA507: on/off
switches, development modes, where a server listens, and secrets a shell generates at
start (the upstream lines are cited in the rule modules and docs/upstream-facts.md)."""

from __future__ import annotations

import pytest

from stackaudit.diagnostics import Span
from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.shell import extract_procfile, extract_shell
from stackaudit.facts.common import Word
from stackaudit.facts.serve import (
    OptionUse,
    ServeCommand,
    bind_host,
    click_bool,
    literal_truth,
    secret_generator,
)
from stackaudit.source import SourceFile


def commands(script: str, path: str = "start.sh") -> list[ServeCommand]:
    source = SourceFile(path, "shell", "#!/bin/sh\n" + script)
    return [f for f in extract_shell(source).facts if isinstance(f, ServeCommand)]


def command(script: str, path: str = "start.sh") -> ServeCommand:
    found = commands(script, path)
    assert len(found) == 1, found
    return found[0]


def docker(text: str) -> ServeCommand:
    facts = extract_dockerfile(SourceFile("Dockerfile", "dockerfile", text)).facts
    found = [fact for fact in facts if isinstance(fact, ServeCommand)]
    assert len(found) == 1, found
    return found[0]


def python_call(tool: str, dest: str, value: str) -> ServeCommand:
    """A command as the Python extractor reports a keyword argument (``reload=True``)."""
    span = Span("main.py", 2, 1, 2, 30)
    use = OptionUse(dest, Word(dest, span), (Word(value, span),))
    return ServeCommand(
        tool, Word("uvicorn.run", span), span, (use,), (), (), (), (), "python", "main.py", False
    )


# -- on/off switches -----------------------------------------------------------------------


def test_bare_flag_turns_on_and_no_twin_turns_off() -> None:
    assert command("fastapi run main.py --reload").enabled("reload") is not None
    assert command("fastapi run main.py --reload --no-reload").enabled("reload") is None
    assert (
        command("fastapi dev main.py --no-reload").turns_on(
            command("fastapi dev main.py --no-reload").uses("reload")[0]
        )
        is False
    )


@pytest.mark.parametrize(
    ("value", "on"), [("True", True), ("1", True), ("False", False), ("0", False), ("None", False)]
)
def test_keyword_value_decides(value: str, on: bool) -> None:
    found = python_call("uvicorn", "reload", value)
    assert (found.enabled("reload") is not None) is on


def test_written_forms() -> None:
    found = command("gunicorn -b0.0.0.0:80 --workers 2 --reload main:app")
    assert [found.written(use) for use in found.options] == [
        "-b0.0.0.0:80",
        "--workers 2",
        "--reload",
    ]
    assert (
        python_call("uvicorn", "reload", "True").written(
            python_call("uvicorn", "reload", "True").options[0]
        )
        == "reload=True"
    )


# -- development modes (SA207) -------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "panel serve app.py --dev",
        "panel serve app.py --autoreload",
        "bokeh serve --dev app.py",
        "uvicorn main:app --reload",
        "gunicorn --reload main:app",
        "hypercorn main:app --reload",
        "fastapi run main.py --reload",
        "fastapi dev main.py",
        "UVICORN_RELOAD=yes uvicorn main:app",
    ],
)
def test_dev_switches_found(script: str) -> None:
    assert command(script).dev_switches()


@pytest.mark.parametrize(
    "script",
    [
        "panel serve app.py --args --dev",
        "fastapi dev main.py --no-reload",
        "UVICORN_RELOAD=false uvicorn main:app",
        "UVICORN_RELOAD=maybe uvicorn main:app",
        "gunicorn --reload-engine poll main:app",
        "uvicorn main:app --reload-dir src",
    ],
)
def test_dev_switches_absent(script: str) -> None:
    assert command(script).dev_switches() == []


def test_bokeh_dev_is_greedy_and_still_on() -> None:
    found = command("bokeh serve --dev app.py extra.css")
    [switch] = found.dev_switches()
    assert switch.written == "--dev app.py extra.css"
    assert found.positionals == ()


def test_uvicorn_reload_variable_is_ignored_when_the_flag_is_given_or_from_python() -> None:
    assert command("UVICORN_RELOAD=1 fastapi run main.py").dev_switches() == []


def test_literal_int() -> None:
    assert command("panel serve app.py --num-procs 0").literal_int("num_procs") is not None
    assert command('panel serve app.py --num-procs "$N"').literal_int("num_procs") is None
    assert command("panel serve app.py --num-procs four").literal_int("num_procs") is None
    found = command("panel serve app.py --num-pro=3").literal_int("num_procs")
    assert found is not None and found[0] == 3


# -- where the server listens (SA507) ------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "public"),
    [
        ("panel serve app.py", True),
        ("panel serve app.py --address 0.0.0.0", True),
        ("panel serve app.py --address ''", True),
        ("panel serve app.py --address 127.0.0.1", False),
        ("panel serve app.py --unix-socket /run/app.sock", False),
        ("uvicorn main:app", False),
        ("uvicorn main:app --host 0.0.0.0", True),
        ("uvicorn main:app --host ::", True),
        ("uvicorn main:app --host 0.0.0.0 --uds /run/app.sock", False),
        ("UVICORN_HOST=0.0.0.0 uvicorn main:app", True),
        ('uvicorn main:app --host "$HOST"', False),
        ("fastapi run main.py", True),
        ("fastapi dev main.py", False),
        ("gunicorn main:app", False),
        ("PORT=8000 gunicorn main:app", True),
        ("PORT=8000 gunicorn -b 127.0.0.1:8000 main:app", False),
        ("gunicorn -b :8000 main:app", True),
        ("gunicorn -b '[::]:8000' main:app", True),
        ("gunicorn -b tcp://0.0.0.0:8000 main:app", True),
        ("gunicorn -b unix:/run/a.sock main:app", False),
        ("GUNICORN_CMD_ARGS='-b 0.0.0.0:80' gunicorn main:app", True),
        ("GUNICORN_CMD_ARGS='-b 0.0.0.0:80' gunicorn -b 127.0.0.1:80 main:app", False),
        ('GUNICORN_CMD_ARGS="$ARGS" gunicorn main:app', False),
        ("hypercorn -b 0.0.0.0:8000 main:app", True),
        ("hypercorn main:app", False),
    ],
)
def test_listens_on_all_interfaces(script: str, public: bool) -> None:
    assert any(lis.all_interfaces for lis in command(script).listeners()) is public


def test_procfile_platform_sets_port_for_gunicorn() -> None:
    source = SourceFile("Procfile", "procfile", "web: gunicorn main:app\n")
    [found] = [f for f in extract_procfile(source).facts if isinstance(f, ServeCommand)]
    assert [lis.host for lis in found.listeners()] == ["0.0.0.0"]


def test_uvicorn_host_variable_not_read_by_uvicorn_run() -> None:
    found = python_call("uvicorn", "reload", "False")
    assert [lis.host for lis in found.listeners()] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("bind", "host"),
    [
        ("0.0.0.0:80", "0.0.0.0"),
        (":80", ""),
        ("[::1]:80", "::1"),
        ("example.org", "example.org"),
        ("tcp://10.0.0.1:80", "10.0.0.1"),
        ("unix:/run/a.sock", None),
        ("fd://3", None),
    ],
)
def test_bind_host(bind: str, host: str | None) -> None:
    assert bind_host(bind) == host


# -- secrets generated at start (SA404) ----------------------------------------------------


def test_generated_secret_in_option_and_prefix() -> None:
    found = command(
        "BOKEH_SECRET_KEY=$(bokeh secret) panel serve app.py "
        '--cookie-secret "$(openssl rand -hex 32)"'
    )
    assert sorted((s.setting, s.generator) for s in found.generated_secrets()) == [
        ("--cookie-secret", "openssl rand"),
        ("BOKEH_SECRET_KEY", "bokeh secret"),
    ]


def test_secret_from_a_variable_or_a_file_is_not_generated() -> None:
    found = command(
        'panel serve app.py --cookie-secret "$SECRET" '
        '--oauth-encryption-key "$(cat /run/secrets/key)"'
    )
    assert found.generated_secrets() == []


def test_docker_env_and_exec_form_run_no_shell() -> None:
    found = docker(
        "FROM python\nENV PANEL_COOKIE_SECRET=$(openssl rand -hex 32)\n"
        'CMD ["panel", "serve", "app.py", "--cookie-secret", "$(uuidgen)"]\n'
    )
    assert found.generated_secrets() == []


def test_other_servers_use_secret_named_variables() -> None:
    found = command("SECRET_KEY=$(uuidgen) WORKER_ID=$(uuidgen) uvicorn main:app")
    assert [s.setting for s in found.generated_secrets()] == ["SECRET_KEY"]


@pytest.mark.parametrize(
    ("text", "generator"),
    [
        ("$(openssl rand -base64 32)", "openssl rand"),
        ("`uuidgen`", "uuidgen"),
        ("$(head -c 32 /dev/urandom | base64)", "/dev/urandom"),
        ("$(python -c 'import secrets; print(secrets.token_hex())')", "python secrets"),
        ("$(python3 -c 'import os; print(os.urandom(16).hex())')", "os.urandom"),
        ("abc$RANDOM", "$RANDOM"),
        ("$(cat /run/secrets/key)", None),
        ("${SECRET:-dev}", None),
    ],
)
def test_secret_generator(text: str, generator: str | None) -> None:
    assert secret_generator(Word(text, Span("x", 1), symbolic=True)) == generator


def test_literal_text_is_never_generated() -> None:
    assert secret_generator(Word("$(uuidgen)", Span("x", 1), symbolic=False)) is None


# -- value readers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("Yes", True),
        ("1", True),
        ("on", True),
        ("t", True),
        ("false", False),
        ("0", False),
        ("off", False),
        ("", False),
        ("maybe", None),
    ],
)
def test_click_bool(text: str, value: bool | None) -> None:
    assert click_bool(text) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("True", True),
        ("yes", True),
        ("2", True),
        ("False", False),
        ("none", False),
        ("", False),
    ],
)
def test_literal_truth(text: str, value: bool) -> None:
    assert literal_truth(text) is value
