"""The effective settings of a server as ``ServeCommand`` reports them: option or
environment variable, the way Bokeh and Panel resolve them (see docs/upstream-facts.md
and the rule modules for the upstream lines)."""

from __future__ import annotations

import pytest

from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.shell import extract_shell
from stackaudit.facts.serve import (
    ServeCommand,
    is_loopback_address,
    looks_like_file_path,
    split_env_origins,
)
from stackaudit.model.origins import (
    admits_every_host,
    cli_origin_error,
    match_host,
    origin_problem,
)
from stackaudit.source import SourceFile


def command(script: str, path: str = "start.sh") -> ServeCommand:
    found = [
        fact
        for fact in extract_shell(SourceFile(path, "shell", "#!/bin/sh\n" + script)).facts
        if isinstance(fact, ServeCommand)
    ]
    assert len(found) == 1, found
    return found[0]


def docker(text: str) -> ServeCommand:
    facts = extract_dockerfile(SourceFile("Dockerfile", "dockerfile", text)).facts
    found = [fact for fact in facts if isinstance(fact, ServeCommand)]
    assert len(found) == 1, found
    return found[0]


# -- reachability ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("panel serve app.py", True),
        ("panel serve app.py --address 0.0.0.0", True),
        ("panel serve app.py --address ''", True),
        ("panel serve app.py --address 10.0.0.5", True),
        ("panel serve app.py --address dash.internal", True),
        ("panel serve app.py --address 127.0.0.1", False),
        ("panel serve app.py --addr=127.0.0.2", False),
        ("bokeh serve app.py --address localhost", False),
        ("bokeh serve app.py --address ::1", False),
        ("panel serve app.py --unix-socket /run/app.sock", False),
        ('panel serve app.py --address "$HOST"', None),
        ("panel serve app.py --args --address 127.0.0.1", True),
    ],
)
def test_reachable_beyond_loopback(script: str, expected: bool | None) -> None:
    assert command(script).reachable_beyond_loopback() is expected


def test_reachability_is_unknown_for_other_tools() -> None:
    assert command("uvicorn app:app").reachable_beyond_loopback() is None


def test_loopback_addresses() -> None:
    assert is_loopback_address("127.0.0.1")
    assert is_loopback_address("127.1.2.3")
    assert is_loopback_address("LOCALHOST")
    assert is_loopback_address("[::1]")
    assert not is_loopback_address("0.0.0.0")
    assert not is_loopback_address("::")
    assert not is_loopback_address("localhost.example.com")


def test_listen_port() -> None:
    assert command("panel serve app.py").listen_port() == "5006"
    assert command("panel serve app.py --port 8080").listen_port() == "8080"
    assert command("BOKEH_DEFAULT_SERVER_PORT=7000 bokeh serve x.py").listen_port() == "7000"


# -- authentication ----------------------------------------------------------------------


def test_no_auth() -> None:
    cmd = command("panel serve app.py")
    assert cmd.auth() is None
    assert not cmd.requires_login()


def test_basic_auth_flag() -> None:
    auth = command("panel serve app.py --basic-auth users.json").auth()
    assert auth is not None and auth.kind == "basic"
    assert auth.source.name == "--basic-auth" and not auth.source.from_env


def test_auth_from_environment() -> None:
    auth = command("export PANEL_OAUTH_PROVIDER=GitHub\npanel serve app.py").auth()
    assert auth is not None and auth.kind == "oauth" and auth.provider == "github"
    assert auth.source.from_env and auth.source.name == "PANEL_OAUTH_PROVIDER"


def test_oauth_replaces_basic_auth_on_the_command_line() -> None:
    auth = command("panel serve app.py --basic-auth pw --oauth-provider azure").auth()
    assert auth is not None and auth.kind == "oauth"


def test_auth_module_and_its_variable() -> None:
    auth = command("bokeh serve app.py --auth-module auth.py").auth()
    assert auth is not None and auth.kind == "auth-module"
    auth = command("BOKEH_AUTH_MODULE=auth.py bokeh serve app.py").auth()
    assert auth is not None and auth.kind == "auth-module"


def test_panel_flags_are_unknown_to_bokeh() -> None:
    cmd = command("bokeh serve app.py --basic-auth pw")
    assert cmd.auth() is None


def test_empty_variable_is_no_auth() -> None:
    assert command("PANEL_BASIC_AUTH= panel serve app.py").auth() is None


def test_symbolic_variable_counts_as_auth() -> None:
    auth = command('PANEL_BASIC_AUTH="$PASSWORD" panel serve app.py').auth()
    assert auth is not None and auth.kind == "basic"


def test_auth_after_args_belongs_to_the_app() -> None:
    assert command("panel serve app.py --args --basic-auth pw").auth() is None


def test_abbreviated_auth_flag() -> None:
    auth = command("panel serve app.py --oauth-prov github").auth()
    assert auth is not None and auth.kind == "oauth"
    assert auth.source.name == "--oauth-prov"


@pytest.mark.parametrize(
    "script",
    [
        "panel serve app.py --oauth-provider github --oauth-optional",
        "PANEL_OAUTH_OPTIONAL=True panel serve app.py --basic-auth pw",
        "PANEL_OAUTH_OPTIONAL=1 panel serve app.py --basic-auth pw",
    ],
)
def test_guest_access_means_no_login(script: str) -> None:
    cmd = command(script)
    assert cmd.guest_access() is not None
    assert not cmd.requires_login()


def test_oauth_optional_false_keeps_login() -> None:
    cmd = command("PANEL_OAUTH_OPTIONAL=no panel serve app.py --basic-auth pw")
    assert cmd.guest_access() is None and cmd.requires_login()


# -- secrets -----------------------------------------------------------------------------


def test_cookie_secret_sources() -> None:
    assert command("panel serve app.py").cookie_secret() is None
    flag = command("panel serve app.py --cookie-secret s").cookie_secret()
    assert flag is not None and flag.name == "--cookie-secret"
    panel_env = command("PANEL_COOKIE_SECRET=s panel serve app.py").cookie_secret()
    assert panel_env is not None and panel_env.name == "PANEL_COOKIE_SECRET"
    bokeh_env = command("BOKEH_COOKIE_SECRET=s panel serve app.py").cookie_secret()
    assert bokeh_env is not None and bokeh_env.name == "BOKEH_COOKIE_SECRET"
    both = command("PANEL_COOKIE_SECRET=a BOKEH_COOKIE_SECRET=b panel serve x.py")
    setting = both.cookie_secret()
    assert setting is not None and setting.name == "PANEL_COOKIE_SECRET"


def test_panel_variable_does_not_apply_to_bokeh() -> None:
    assert command("PANEL_COOKIE_SECRET=s bokeh serve app.py").cookie_secret() is None


def test_empty_cookie_secret_is_none() -> None:
    assert command("PANEL_COOKIE_SECRET= panel serve app.py").cookie_secret() is None
    assert command("panel serve app.py --cookie-secret ''").cookie_secret() is None


def test_oauth_encryption_key() -> None:
    assert command("panel serve app.py").oauth_encryption_key() is None
    key = command('PANEL_OAUTH_ENCRYPTION="$KEY" panel serve app.py').oauth_encryption_key()
    assert key is not None and not key.is_literal


def test_written_secrets() -> None:
    cmd = command(
        'panel serve app.py --cookie-secret abc --oauth-secret "$S" --basic-auth pw '
        "--oauth-encryption-key=k"
    )
    assert [s.name for s in cmd.written_secrets()] == [
        "--cookie-secret",
        "--oauth-encryption-key",
        "--basic-auth",
    ]


def test_basic_auth_credentials_file_is_not_a_secret() -> None:
    assert command("panel serve app.py --basic-auth users.json").written_secrets() == []
    assert command("panel serve app.py --basic-auth /run/secrets/x").written_secrets() == []
    assert looks_like_file_path("creds/users")
    assert not looks_like_file_path("hunter2")


def test_secret_span_points_at_the_value() -> None:
    cmd = command("panel serve app.py --cookie-secret=abcdef")
    (secret,) = cmd.written_secrets()
    assert (secret.span.line, secret.span.column, secret.span.end_column) == (2, 36, 42)


def test_dockerfile_env_secret_reference() -> None:
    cmd = docker("FROM python:3.12\nARG S\nENV PANEL_COOKIE_SECRET=${S}\nCMD panel serve app.py\n")
    secret = cmd.cookie_secret()
    assert secret is not None and secret.from_env and not secret.is_literal


# -- cookies copied into the session token -----------------------------------------------


def test_cookie_filter_and_greedy_values() -> None:
    cmd = command("panel serve --exclude-cookies user id_token app.py --basic-auth pw")
    use = cmd.cookie_filter()
    assert use is not None
    assert [w.text for w in use.values] == ["user", "id_token", "app.py"]
    assert cmd.positionals == ()
    assert not cmd.cookie_header_filtered()


@pytest.mark.parametrize(
    ("args", "filtered"),
    [
        ("--exclude-headers Cookie", True),
        ("--exclude-headers cookie", False),
        ("--include-headers User-Agent", True),
        ("--include-headers Cookie User-Agent", False),
        ("", False),
    ],
)
def test_cookie_header_filtered(args: str, filtered: bool) -> None:
    cmd = command(f"panel serve app.py --exclude-cookies user {args}")
    assert cmd.cookie_header_filtered() is filtered


# -- WebSocket origins -------------------------------------------------------------------


def test_empty_origin_variable_still_replaces_the_flags() -> None:
    cmd = command("BOKEH_ALLOW_WS_ORIGIN= panel serve app.py --allow-websocket-origin a.com")
    assert cmd.origin_source() == "env"
    assert [e.text for e in cmd.effective_origins()] == [""]


def test_env_origin_entries_have_their_own_columns() -> None:
    cmd = command('export BOKEH_ALLOW_WS_ORIGIN="a.com, b.com"\npanel serve app.py')
    first, second = cmd.env_origins()
    assert (first.text, first.span.column, first.span.end_column) == ("a.com", 31, 36)
    assert (second.text, second.span.column, second.span.end_column) == (" b.com", 37, 43)


def test_symbolic_flag_origin_is_marked() -> None:
    (entry,) = command('panel serve app.py --allow-websocket-origin "$HOST"').cli_origins()
    assert entry.symbolic


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ("*", None),
        ("dash.example.com", None),
        ("dash.example.com:8443", None),
        ("*:5006", None),
        ("", "Empty host value"),
        (":5006", "Empty host value"),
        ("*:*", "Invalid port in host value: *:*"),
        ("a.com:*", "Invalid port in host value: a.com:*"),
        ("https://a.com", "Invalid port in host value: https://a.com"),
        ("a:b:c", "Invalid host value: a:b:c"),
        ("a.com:x", "Invalid port in host value: a.com:x"),
    ],
)
def test_cli_origin_error_mirrors_create_hosts_allowlist(entry: str, error: str | None) -> None:
    assert cli_origin_error(entry) == error


@pytest.mark.parametrize(
    ("entry", "from_env", "crashes", "matches_nothing"),
    [
        ("https://a.com", False, True, False),
        ("https://a.com", True, False, True),
        ("a.com,b.com", False, False, True),
        (" b.com", True, False, True),
        ("a.com/app", False, False, True),
        ("a.com:5006/app", False, True, False),
        ("Dash.example.com", False, False, True),
        ("a.com:080", False, False, True),
        ("0.0.0.0", False, False, True),
        ("a.com:", True, False, True),
        ("*:*", True, False, False),
        ("a.com:*", True, False, False),
        ("${HOST}", False, False, True),
        ("{{ host }}", True, False, True),
    ],
)
def test_origin_problem(entry: str, from_env: bool, crashes: bool, matches_nothing: bool) -> None:
    problem = origin_problem(entry, from_env=from_env)
    if not crashes and not matches_nothing:
        assert problem is None
    else:
        assert problem is not None and problem.crashes is crashes


def test_origin_problems_never_match_in_bokeh() -> None:
    """Every entry said to match nothing really matches no Origin Bokeh could see."""
    origins = ["a.com:80", "a.com:5006", "b.com:80", "dash.example.com:80", "0.0.0.0:80"]
    for entry, from_env in [
        ("a.com,b.com", False),
        (" b.com", True),
        ("a.com/app", True),
        ("Dash.example.com", True),
        ("a.com:080", True),
        ("a.com:", True),
        ("${HOST}", True),
    ]:
        pattern = entry if from_env or ":" in entry else entry + ":80"
        assert not any(match_host(origin, pattern) for origin in origins), entry


def test_env_split_and_wildcards() -> None:
    assert split_env_origins("a, b,") == ["a", " b", ""]
    assert admits_every_host("*") and admits_every_host("*:5006")
    assert not admits_every_host("*.example.com")


def test_flag_with_symbolic_inline_value() -> None:
    cmd = command('panel serve app.py --allow-websocket-origin="$ORIGIN" --basic-auth=$X')
    assert [w.text for w in cmd.values("allow_websocket_origin")] == ["$ORIGIN"]
    assert cmd.auth() is not None


def test_development_dockerfile_is_not_a_deployment() -> None:
    facts = extract_dockerfile(
        SourceFile("Dockerfile.dev", "dockerfile", 'FROM python\nCMD ["panel", "serve", "a.py"]\n')
    ).facts
    (cmd,) = [fact for fact in facts if isinstance(fact, ServeCommand)]
    assert not cmd.deployment


@pytest.mark.parametrize(
    ("script", "worker", "uvicorn"),
    [
        ("gunicorn -b 0.0.0.0:8000 app:app", "gunicorn", False),  # the default sync worker
        ("gunicorn -k gthread app:app", "gunicorn", False),
        ("gunicorn --worker-class=egg:gunicorn#gevent app:app", "gunicorn", False),
        ("gunicorn -k gunicorn.workers.gasgi.ASGIWorker app:app", "gunicorn", False),
        ("gunicorn -k uvicorn.workers.UvicornWorker main:app", "uvicorn", True),
        ("gunicorn -k uvicorn_worker.UvicornH11Worker main:app", "uvicorn", True),
        ("gunicorn -k tornado app:app", "tornado", False),
        ("gunicorn -k myapp.workers.Custom main:app", "unknown", False),
        ('gunicorn -k "$WORKER" main:app', "unknown", False),
        ("gunicorn -c gunicorn_conf.py main:app", "unknown", False),  # the file may set it
        ("GUNICORN_CMD_ARGS='-k uvicorn.workers.UvicornWorker' gunicorn main:app", "uvicorn", True),
        ("uvicorn main:app", None, True),
        ("fastapi run main.py", None, True),
        ("hypercorn main:app", None, False),
    ],
)
def test_gunicorn_worker_class(script: str, worker: str | None, uvicorn: bool) -> None:
    """Which code parses the requests: gunicorn's own workers, or uvicorn's protocols
    (gunicorn/workers/__init__.py SUPPORTED_WORKERS, uvicorn/workers.py)."""
    found = command(script)
    assert found.gunicorn_worker() == worker
    assert found.runs_uvicorn is uvicorn


def test_panel_login_variables_protect_panel_serve_but_not_pn_serve() -> None:
    """`panel serve` reads PANEL_BASIC_AUTH; `pn.serve` installs a login only for its own
    `basic_auth`/`oauth_provider` arguments (panel/io/server.py `get_server`)."""
    from msgspec.structs import replace

    from stackaudit.diagnostics import Span
    from stackaudit.extractors.python import extract_python
    from stackaudit.facts.common import EnvVar, Word
    from stackaudit.facts.serve import ServeCommand
    from stackaudit.source import SourceFile

    span = Span("Dockerfile", 2, 1)
    env = (EnvVar("PANEL_BASIC_AUTH", Word("s3cret-pass", span), span, "Dockerfile"),)
    source = SourceFile("app.py", "python", "import panel as pn\npn.serve({'/': app})\n")
    [api] = [f for f in extract_python(source).facts if isinstance(f, ServeCommand)]
    assert api.api_call and replace(api, env=env).auth() is None
    cli = replace(api, api_call=False, carrier="dockerfile", env=env)
    assert cli.auth() is not None and cli.auth().kind == "basic"  # type: ignore[union-attr]
