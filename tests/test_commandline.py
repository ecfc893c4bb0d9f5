"""The shared command-line extractor: shell lexing, launchers, argument semantics."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackaudit.diagnostics import Confidence
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.serve import ServeCommand
from stackaudit.invocation.commandline import CommandContext, find_in_script
from stackaudit.invocation.shellwords import split_commands
from stackaudit.source import SourceFile

from .support import scan, write_files


def commands(text: str, path: str = "run.sh") -> list[ServeCommand]:
    source = SourceFile(path, "shell", text)
    return find_in_script(CommandContext(source, "shell", "test", True), text)


def one(text: str) -> ServeCommand:
    [command] = commands(text)
    return command


def words(text: str) -> list[list[str]]:
    return [[w.text for w in command] for command in split_commands(text)]


def test_lexer_quotes_operators_comments_and_redirections() -> None:
    assert words("a 'b c' \"d $X\" e\\ f # comment\ng && h || i | j; k & l") == [
        ["a", "b c", "d $X", "e f"],
        ["g"],
        ["h"],
        ["i"],
        ["j"],
        ["k"],
        ["l"],
    ]
    assert words("cmd > out 2>&1 < in >> log x") == [["cmd", "x"]]
    assert words("a $(b c) `d e` ${F:-g h} $'t\\tu'") == [
        ["a", "$(b c)", "`d e`", "${F:-g h}", "t\tu"]
    ]
    assert words("cat <<EOF\nnot a command\nEOF\nnext") == [["cat"], ["next"]]
    assert words("if x; then y; fi; for i in a b; do z; done") == [["x"], ["y"], ["z"]]


def test_lexer_keeps_exact_positions_through_quotes() -> None:
    [[_, word]] = split_commands("echo 'ab'\"cd\"")
    assert word.text == "abcd"
    assert word.origins == [6, 7, 10, 11]


@pytest.mark.parametrize(
    "line",
    [
        "panel serve app.py",
        "exec panel serve app.py",
        "nohup /opt/venv/bin/panel serve app.py &",
        "env -u X A=1 panel serve app.py",
        "python -m panel serve app.py",
        "python3.12 -u -m panel serve app.py",
        "uv run --with panel panel serve app.py",
        "poetry run panel serve app.py",
        "pipenv run panel serve app.py",
        "conda run -n dash --no-capture-output panel serve app.py",
        "edm run -e dash -- panel serve app.py",
        "sudo -u www -E panel serve app.py",
        "gosu app panel serve app.py",
        "tini -- panel serve app.py",
        "bash -c 'cd /srv && exec panel serve app.py'",
        'sh -ec "panel serve app.py"',
    ],
)
def test_launchers_are_looked_through(line: str) -> None:
    command = one(line)
    assert command.tool == "panel-serve"
    assert [w.text for w in command.positionals] == ["app.py"]


def test_jhsingle_native_proxy_passes_its_substitutions_through() -> None:
    text = (
        "jhsingle-native-proxy --destport 0 panel serve app.py "
        "{--}port {port} {--}allow-websocket-origin=* --ip 0.0.0.0"
    )
    command = one(text)
    assert command.tool == "panel-serve"
    assert command.launcher == "jhsingle-native-proxy"
    assert [w.text for w in command.positionals] == ["app.py"]
    [origin] = command.values("allow_websocket_origin")
    assert origin.text == "*"
    assert text[origin.span.column - 1] == "*"
    port = command.value("port")
    assert port is not None and port.symbolic
    # After `--` every word is the command's; `--ip` there is no longer jhsingle's.
    after = one("python -m jhsingle_native_proxy.main --port=8888 -- bokeh serve a.py --port 1")
    after_port = after.value("port")
    assert after.tool == "bokeh-serve" and after_port is not None and after_port.text == "1"
    # `--authtype none`: no login in front.
    assert one("jhsingle-native-proxy --authtype none -- panel serve a.py").launcher == ""
    # click refuses an option it does not know before `--`: nothing starts.
    assert commands("jhsingle-native-proxy panel serve a.py --allow-websocket-origin=x") == []


@pytest.mark.parametrize(
    ("line", "tool"),
    [
        ("bokeh serve a.py", "bokeh-serve"),
        ("uvicorn main:app", "uvicorn"),
        ("python -m uvicorn main:app", "uvicorn"),
        ("gunicorn -k uvicorn.workers.UvicornWorker main:app", "gunicorn"),
        ("fastapi run main.py", "fastapi-run"),
        ("fastapi dev main.py", "fastapi-dev"),
        ("hypercorn main:app", "hypercorn"),
    ],
)
def test_tools(line: str, tool: str) -> None:
    assert one(line).tool == tool


@pytest.mark.parametrize(
    "line",
    [
        "echo panel serve app.py",
        "grep panel serve",
        "panel convert app.py",
        "python app.py serve",
        "pip install panel",
        "docker run img panel serve x",
    ],
)
def test_not_servers(line: str) -> None:
    assert commands(line) == []


def test_argparse_semantics() -> None:
    command = one(
        "panel serve --allow-websock=a.com --allow-websocket-origin b.com "
        "--exclude-cookies x y app.py --port=5007 --args --port 1 --allow-websocket-origin='*'"
    )
    assert [w.text for w in command.values("allow_websocket_origin")] == ["a.com", "b.com"]
    assert [w.text for w in command.values("exclude_cookies")] == ["x", "y", "app.py"]
    port = command.value("port")
    assert port is not None and port.text == "5007"
    assert [w.text for w in command.app_args] == ["--port", "1", "--allow-websocket-origin=*"]
    assert command.positionals == ()


def test_abbreviation_must_be_unique_and_argparse_only() -> None:
    command = one("panel serve app.py --oauth x")  # --oauth-provider, --oauth-key, ...
    assert [w.text for w in command.unknown] == ["--oauth"]
    uvicorn = one("uvicorn main:app --forwarded-allow 1.2.3.4")  # click: no abbreviations
    assert [w.text for w in uvicorn.unknown] == ["--forwarded-allow"]


def test_click_takes_values_verbatim_and_short_options() -> None:
    command = one("uvicorn main:app --host=0.0.0.0 --port 80 --forwarded-allow-ips '*'")
    assert command.value("host").text == "0.0.0.0"  # type: ignore[union-attr]
    assert command.value("port").text == "80"  # type: ignore[union-attr]
    assert command.value("forwarded_allow_ips").text == "*"  # type: ignore[union-attr]
    assert one("gunicorn -b0.0.0.0:80 main:app").value("bind").text == "0.0.0.0:80"  # type: ignore[union-attr]


def test_bokeh_dev_is_greedy_but_panel_dev_is_a_switch() -> None:
    assert [w.text for w in one("bokeh serve --dev app.py").values("dev")] == ["app.py"]
    panel = one("panel serve --dev app.py")
    assert [w.text for w in panel.positionals] == ["app.py"] and panel.has("dev")


def test_environment_reaches_the_command() -> None:
    command = one("export BOKEH_ALLOW_WS_ORIGIN='*'\nA=1 env B=2 panel serve app.py")
    assert [(v.name, v.value.text if v.value else None) for v in command.env] == [
        ("BOKEH_ALLOW_WS_ORIGIN", "*"),
        ("A", "1"),
        ("B", "2"),
    ]
    assert command.env_var("BOKEH_ALLOW_WS_ORIGIN").span.line == 1  # type: ignore[union-attr]


def test_gunicorn_cmd_args_come_before_the_command_line() -> None:
    command = one(
        "GUNICORN_CMD_ARGS='--bind 0.0.0.0:80 --workers 3' gunicorn --bind 127.0.0.1:8000 m:app"
    )
    assert [w.text for w in command.values("bind")] == ["0.0.0.0:80", "127.0.0.1:8000"]
    assert command.value("workers").text == "3"  # type: ignore[union-attr]
    assert command.value("workers").span.column == 48  # type: ignore[union-attr]


def test_positions_inside_sh_c_body() -> None:
    text = "exec sh -c \"panel serve app.py \\\n  --allow-websocket-origin='*'\""
    [origin] = one(text).values("allow_websocket_origin")
    assert (origin.span.line, origin.span.column) == (2, 29)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"ab -'\"\\$(){}`;&|<>#\n\t=*", "panel serve ", "--allow-websocket-origin", "sh -c "]
        ),
        max_size=40,
    ).map("".join)
)
def test_random_scripts_never_raise_and_spans_stay_inside(text: str) -> None:
    source = SourceFile("run.sh", "shell", text)
    lines = max(1, len(source.lines))
    for command in find_in_script(CommandContext(source, "shell", "fuzz", True), text):
        for use in command.options:
            for word in (use.flag, *use.values):
                assert 1 <= word.span.line <= lines + 1


def test_systemd_environment_file_with_only_the_optional_dash() -> None:
    # Found by fuzz/run.py: `EnvironmentFile=-` names no file.
    from stackaudit.extractors.units import extract_systemd

    text = "[Service]\nEnvironmentFile=-\nExecStart=panel serve a.py\n"
    [command] = extract_systemd(SourceFile("a.service", "systemd", text)).facts
    assert command.env_files == ()  # type: ignore[attr-defined]


# -- control flow: the conditions a command runs under ------------------------------------


def flow(text: str) -> list[tuple[str, str, str | None]]:
    """(program, branch, condition) of each server command of a script."""
    return [
        (c.program.text, c.branch, c.condition.text if c.condition else None)
        for c in commands(text)
    ]


def test_if_else_branches() -> None:
    script = (
        'if [ "$ENV" = dev ]; then\n'
        "  panel serve app.py --dev\n"
        "else\n"
        "  panel serve app.py\n"
        "fi\n"
        "uvicorn main:app\n"
    )
    assert flow(script) == [
        ("panel", "development", '[ "$ENV" = dev ]'),
        ("panel", "production", 'not [ "$ENV" = dev ]'),
        ("uvicorn", "", None),
    ]
    dev, prod, plain = commands(script)
    assert not dev.deployment and prod.deployment and plain.deployment
    assert dev.condition is not None and dev.condition.span.line == 1


def test_elif_and_negated_tests() -> None:
    script = (
        'if [ "$APP_ENV" = production ]; then gunicorn app\n'
        'elif [ "$APP_ENV" = staging ]; then uvicorn app\n'
        "else uvicorn --reload app\n"
        "fi\n"
        'if [ "$MODE" != local ]; then uvicorn app; fi\n'
        'if ! [ -z "$DEBUG" ]; then uvicorn app; fi\n'
        "if [[ $DEV_MODE == true ]]; then uvicorn app; fi\n"
    )
    assert [branch for _, branch, _ in flow(script)] == [
        "production",
        "production",
        "development",
        "production",
        "development",
        "development",
    ]


def test_case_arms() -> None:
    script = (
        'case "$MODE" in\n'
        "  dev|local) panel serve --dev app.py ;;\n"
        "  (prod)\n"
        "    panel serve app.py\n"
        "    ;;\n"
        "  *) panel serve app.py ;;\n"
        "esac\n"
        'case "$1" in web) uvicorn main:app;; esac\n'
    )
    assert flow(script) == [
        ("panel", "development", 'case "$MODE" in dev|local)'),
        ("panel", "production", 'case "$MODE" in prod)'),
        (
            "panel",
            "conditional",
            'not case "$MODE" in dev|local) && not case "$MODE" in prod)',
        ),
        ("uvicorn", "conditional", 'case "$1" in web)'),
    ]


def test_test_lists() -> None:
    script = (
        '[ -n "$DEBUG" ] && exec panel serve --dev app.py\n'
        'test -z "$DEBUG" || uvicorn --reload main:app\n'
        '[ "$DEBUG" = 0 ] && cd /srv && uvicorn main:app\n'
        "[ -f app.conf ] && uvicorn main:app\n"
        "make build && uvicorn main:app\n"
    )
    assert flow(script) == [
        ("panel", "development", '[ -n "$DEBUG" ]'),
        ("uvicorn", "development", 'not test -z "$DEBUG"'),
        ("uvicorn", "production", '[ "$DEBUG" = 0 ]'),
        ("uvicorn", "conditional", "[ -f app.conf ]"),
        ("uvicorn", "", None),
    ]


def test_nested_conditions_and_shell_bodies() -> None:
    script = (
        'if [ "$ENV" = production ]; then\n'
        '  if [ -n "$DEBUG" ]; then uvicorn --reload app; fi\n'
        "  sh -c '[ -f x ] && uvicorn app'\n"
        "fi\n"
    )
    assert flow(script) == [
        ("uvicorn", "development", '[ "$ENV" = production ] && [ -n "$DEBUG" ]'),
        ("uvicorn", "conditional", '[ "$ENV" = production ] && [ -f x ]'),
    ]


def test_variables_assigned_before_are_followed() -> None:
    [command] = commands(
        "HOST=${HOST:-127.0.0.1}\n"
        'export PORT="8000"\n'
        'ADDRESS="$HOST"\n'
        'panel serve app.py --address "$ADDRESS" --port=$PORT\n'
    )
    address = command.bind_address()
    assert address is not None and address.text == "127.0.0.1"
    assert address.default_used and not address.symbolic
    assert address.span.line == 4
    assert command.listen_port() == "8000"
    assert command.reachable_beyond_loopback() is False


@pytest.mark.parametrize(
    "script",
    [
        # Assigned in one branch only.
        'HOST=127.0.0.1\nif [ "$X" = 1 ]; then HOST=0.0.0.0; fi\npanel serve --address $HOST',
        # A command substitution, or a variable the carrier sets.
        "HOST=$(hostname -i)\npanel serve --address $HOST",
        "panel serve --address $HOST",
        'HOST="${HOST}"\npanel serve --address $HOST',
    ],
)
def test_variables_not_known_stay_symbolic(script: str) -> None:
    address = one(script).bind_address()
    assert address is not None and address.symbolic


def test_default_of_a_variable_the_carrier_sets_is_not_used() -> None:
    text = "panel serve --address ${HOST:-127.0.0.1}"
    source = SourceFile("Dockerfile", "dockerfile", text)
    context = CommandContext(source, "dockerfile", "test", True)
    env = [EnvVar("HOST", Word("0.0.0.0", source.span(0, 1)), source.span(0, 1), "ENV")]
    [command] = find_in_script(context.with_env(env), text)
    address = command.bind_address()
    assert address is not None and address.symbolic
    [command] = find_in_script(context, text)
    address = command.bind_address()
    assert address is not None and address.text == "127.0.0.1" and address.default_used


def test_conditional_command_findings_have_medium_confidence(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "start.sh": "if [ -f /etc/reload ]; then\n  uvicorn main:app --reload\nfi\n"
            "uvicorn other:app --reload\n"
        },
    )
    result = scan(tmp_path, select=["SA207"])
    assert sorted((d.span.line, d.confidence) for d in result.diagnostics) == [
        (2, Confidence.MEDIUM),
        (4, Confidence.HIGH),
    ]


def test_no_shell_no_defaults() -> None:
    text = "panel serve --address ${HOST:-127.0.0.1}"
    source = SourceFile("app.service", "systemd", text)
    context = CommandContext(source, "systemd", "test", True)
    [command] = find_in_script(context, text, shell=False)
    address = command.bind_address()
    assert address is not None and address.symbolic


def test_stray_keywords_close_nothing() -> None:
    script = 'case "$M" in\n  dev)\n    fi\n    uvicorn --reload app\n    ;;\nesac\nuvicorn app\n'
    assert [branch for _, branch, _ in flow(script)] == ["development", ""]


@given(st.text(alphabet="ifthenelsecaesdo;|&()[]=$ -\n\"'x", max_size=80))
@settings(max_examples=300, deadline=None)
def test_flow_never_fails(script: str) -> None:
    from stackaudit.invocation.shellwords import split_flow

    # The commands it keeps are the lexer's, in order (it drops tests and patterns).
    remaining = iter(split_commands(script))
    assert all(any(words == command.words for words in remaining) for command in split_flow(script))


def test_or_after_a_guarded_command_is_the_other_side() -> None:
    script = '[ -n "$DEBUG" ] && exec uvicorn --reload app || exec uvicorn app\n'
    assert flow(script) == [
        ("uvicorn", "development", '[ -n "$DEBUG" ]'),
        ("uvicorn", "production", 'not [ -n "$DEBUG" ]'),
    ]


def test_long_elif_chains_stay_bounded() -> None:
    from stackaudit.invocation.shellwords import split_flow

    script = "if [ $A = x0 ]; then uvicorn a\n"
    script += "".join(f"elif [ $A = x{i} ]; then uvicorn a\n" for i in range(1, 500))
    script += "else uvicorn a; fi\n"
    last = split_flow(script)[-1]
    assert len(last.guards) <= 17
    assert len(last.guards[0].text) < 40


def test_words_after_fi_or_esac_are_no_command() -> None:
    from stackaudit.invocation.shellwords import split_flow

    def texts(script: str) -> list[list[str]]:
        return [[word.text for word in command.words] for command in split_flow(script)]

    assert texts("fi =") == []
    assert texts("esac c") == []
    assert texts("if [ x ]; then a; fi b") == [["a"]]


# -- what the parser refuses (SA701) and flask run (SA212) ----------------------------


@pytest.mark.parametrize(
    ("line", "unknown", "missing"),
    [
        ("bokeh serve --port 5006 -use-xheaders", ["-use-xheaders"], []),
        ("bokeh serve --host 0.0.0.0 app.py", ["--host"], []),
        ("panel serve --a app.py", ["--a"], []),  # ambiguous prefix
        (
            "panel serve --allow-websocket-origin -foo app.py",
            ["-foo"],
            ["--allow-websocket-origin"],
        ),
        ("uvicorn main:app --port", [], ["--port"]),
        # accepted: a unique prefix, short options run together, "-b=value", a blank
        ("panel serve --allow-websocket x app.py", [], []),
        ("gunicorn -Dw4 -b=0.0.0.0:80 main:app", [], []),
        ("gunicorn -use-xheaders main:app", [], []),  # `-u se-xheaders`: a user name
        ("panel serve app.py '--foo=a b'", [], []),
        ("uvicorn --host --port 80 main:app", [], []),  # click takes `--port` as the host
        ("panel serve app.py $EXTRA_ARGS --args --not-for-panel", [], []),
    ],
)
def test_words_the_parser_refuses(line: str, unknown: list[str], missing: list[str]) -> None:
    command = one(line)
    assert [w.text for w in command.unknown] == unknown
    assert [w.text for w in command.missing_values] == missing


def test_clustered_short_options_keep_their_values() -> None:
    command = one("gunicorn -Dw4 -b=0.0.0.0:80 main:app")
    assert command.has("daemon")
    assert command.value("workers") == Word("4", command.value("workers").span)  # type: ignore[union-attr]
    assert [w.text for w in command.values("bind")] == ["0.0.0.0:80"]


def test_whole_command_line_as_one_program_word() -> None:
    [command] = commands("exec 'panel serve app.py --port 5006'")
    assert command.tool == "panel-serve"
    assert command.whole_line is not None
    assert command.whole_line.text == "panel serve app.py --port 5006"
    assert command.value("port") is not None and command.value("port").text == "5006"  # type: ignore[union-attr]
    assert commands("'/opt/my app/bin/tool' serve") == []


@pytest.mark.parametrize(
    ("line", "debugger", "host"),
    [
        ("flask --app app --debug run --host 0.0.0.0", "--debug", "0.0.0.0"),
        ("python -m flask run -h 0.0.0.0 --debugger", "--debugger", "0.0.0.0"),
        ("FLASK_DEBUG=true flask run", "FLASK_DEBUG=true", "127.0.0.1"),
        ("FLASK_DEBUG=0 flask run --host 0.0.0.0", None, "0.0.0.0"),
        ("FLASK_DEBUG=1 flask run --no-debugger", None, "127.0.0.1"),
        ("FLASK_DEBUG=1 flask --no-debug run", None, "127.0.0.1"),
        ("FLASK_RUN_HOST=0.0.0.0 FLASK_RUN_DEBUG=1 flask run", "FLASK_RUN_DEBUG=1", "0.0.0.0"),
    ],
)
def test_flask_run_debugger_and_host(line: str, debugger: str | None, host: str) -> None:
    command = one(line)
    assert command.tool == "flask-run"
    switch = command.werkzeug_debugger()
    assert (switch.written if switch else None) == debugger
    assert [listener.host for listener in command.listeners()] == [host]


def test_flask_subcommands_other_than_run_start_no_server() -> None:
    assert commands("flask --app app routes") == []
    assert commands("flask db upgrade") == []
