"""The one place a command line becomes a ``ServeCommand``.

Every carrier (Dockerfile, shell script, compose, Procfile, systemd, Kubernetes, CI,
``subprocess`` argv) hands its words here, so ``panel serve --allow-websocket-origin '*'``
means the same thing wherever it is written. Launchers are looked through the way
they behave: ``exec``, ``nohup``, ``env K=V``, ``uv run``, ``poetry run``, ``conda run``,
``python -m``, ``sh -c '...'`` (whose body is lexed again with its original positions),
``jhsingle-native-proxy`` (with its ``{--}`` substitutions).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import TypeAlias

from msgspec import Struct, field
from msgspec.structs import replace

from stackaudit.diagnostics import Span
from stackaudit.facts.build import ComposeInvocation, ImageBuild
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.serve import OptionUse, ServeCommand
from stackaudit.invocation.argv import parse_args, tool_spec
from stackaudit.invocation.containers import container_tool_invocations, resolve_paths
from stackaudit.invocation.shellwords import (
    DEVELOPMENT,
    Guard,
    Token,
    branch_of,
    split_commands,
    split_flow,
)

# Re-exported: extractors take the span helpers from here, with the rest.
from stackaudit.invocation.spans import to_word as to_word
from stackaudit.invocation.spans import token_span as token_span
from stackaudit.source import SourceFile

# What a command line may be found to run: a server, or a container tool combining
# compose files or building an image.
Invocation: TypeAlias = ServeCommand | ComposeInvocation | ImageBuild

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"^(python|python[23](\.\d+)?|py|pypy3?)$")

# Launchers that run the rest of the line as a command; for each, the options that take
# a value (so that value is not mistaken for the program).
_PASS_THROUGH: dict[str, frozenset[str]] = {
    "exec": frozenset({"-a"}),
    "nohup": frozenset(),
    "time": frozenset(),
    "command": frozenset(),
    "setsid": frozenset(),
    "nice": frozenset({"-n"}),
    "ionice": frozenset({"-c", "-n"}),
    "stdbuf": frozenset(),
    "tini": frozenset({"-p", "-e"}),
    "dumb-init": frozenset({"-r", "--rewrite"}),
    "xvfb-run": frozenset({"-n", "-s", "-e", "-f", "-p", "--server-num", "--server-args"}),
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-U", "-r", "-t"}),
}
# Launchers whose first argument is a user name.
_AS_USER = frozenset({"gosu", "su-exec"})
# Environment runners: `<tool> run [options] [--] cmd ...`
_RUNNERS: dict[str, frozenset[str]] = {
    "uv": frozenset(
        {
            "--with",
            "--python",
            "-p",
            "--project",
            "--directory",
            "--env-file",
            "--group",
            "--extra",
            "--package",
            "--index",
            "--from",
            "--with-requirements",
            "--only-group",
            "--no-group",
            "--script",
        }
    ),
    "uvx": frozenset({"--with", "--python", "-p", "--from"}),
    "poetry": frozenset({"-C", "--directory", "-P", "--project"}),
    "pipenv": frozenset(),
    "pdm": frozenset({"-p", "--project"}),
    "hatch": frozenset({"-e", "--env"}),
    "pixi": frozenset({"-e", "--environment", "--manifest-path"}),
    "conda": frozenset({"-n", "--name", "-p", "--prefix", "--cwd"}),
    "mamba": frozenset({"-n", "--name", "-p", "--prefix", "--cwd"}),
    "micromamba": frozenset({"-n", "--name", "-p", "--prefix", "--cwd"}),
    "edm": frozenset({"-e", "--environment"}),
}
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh"})
_MODULE_TOOLS = {"uvicorn": "uvicorn", "gunicorn": "gunicorn", "hypercorn": "hypercorn"}


class CommandContext(Struct):
    """Where a command line is written and what surrounds it."""

    source: SourceFile
    carrier: str
    context: str
    deployment: bool
    env: list[EnvVar] = field(default_factory=list)
    service: str = ""
    # Arguments a launcher appends at run time (values unknown here, so symbolic).
    extra_args: list[Token] = field(default_factory=list)
    env_files: tuple[Word, ...] = ()
    launcher: str = ""
    # The conditions the command runs under in its script (``if``, ``case`` arms,
    # ``[ ... ] &&``), outermost first.
    guards: tuple[Guard, ...] = ()
    # The directories (relative to the scanned root) the command may run in, likeliest
    # first, once a `cd` said so; None when nothing did (see ``working_directories``),
    # () when it runs outside the scanned tree.
    directories: tuple[str, ...] | None = None

    def with_env(self, env: list[EnvVar]) -> CommandContext:
        return replace(self, env=env)

    def working_directories(self) -> tuple[str, ...]:
        """Where relative paths on the command line start. A script, a Makefile recipe,
        a CI step or a unit does not say which directory it is run from: its own
        directory and the repository root are the two places people run them from, so
        a path is resolved against both and the model keeps the resolutions that name
        a scanned file."""
        if self.directories is not None:
            return self.directories
        return tuple(dict.fromkeys((posixpath.dirname(self.source.path), "")))


def basename(program: str) -> str:
    return program.rstrip("/").rsplit("/", 1)[-1]


def servers(found: list[Invocation]) -> list[ServeCommand]:
    return [item for item in found if isinstance(item, ServeCommand)]


def find_in_script(
    context: CommandContext,
    text: str,
    origins: list[int] | None = None,
    base: int = 0,
    shell: bool = True,
) -> list[ServeCommand]:
    """Every server invocation in a piece of shell script. ``shell=False`` for command
    lines a service manager splits itself: no command substitution happens there."""
    return servers(find_invocations_in_script(context, text, origins, base, shell))


def find_in_words(context: CommandContext, words: list[Token]) -> list[ServeCommand]:
    """The server invocation a simple command runs, looking through launchers."""
    return servers(find_invocations_in_words(context, words))


def find_invocations_in_script(
    context: CommandContext,
    text: str,
    origins: list[int] | None = None,
    base: int = 0,
    shell: bool = True,
) -> list[Invocation]:
    """``find_in_script``, with the container tools the script runs as well (compose
    files combined with ``-f``, images built with ``docker build -t``): for the
    carriers that run in a checkout of the repository (scripts, Makefiles, CI steps,
    units), not inside an image."""
    return [
        found
        for where, words in simple_commands(context, text, origins, base, shell)
        for found in find_invocations_in_words(where, words)
    ]


def simple_commands(
    context: CommandContext,
    text: str,
    origins: list[int] | None = None,
    base: int = 0,
    shell: bool = True,
) -> Iterator[tuple[CommandContext, list[Token]]]:
    """Each simple command of a script that is not an assignment or a ``cd``, with the
    context it runs in: the environment the script has built by then, the conditions
    around it, the directories it may run in, and its words with the variables the
    script assigned before replaced."""
    env = list(context.env)
    # Variables the script assigns unconditionally, in order: their value (None when
    # it is not known here, e.g. assigned in one branch only).
    variables: dict[str, Token | None] = {}
    outer = {var.name for var in context.env}
    for command in split_flow(text, origins, base, substitutions=shell):
        words = command.words
        assigned: list[EnvVar] = []
        if words[0].text == "export" and not words[0].quoted:
            assigned = _assignments(context, words[1:], "export")
        elif all(w.is_assignment for w in words):
            assigned = _assignments(context, words, "shell assignment")
        if assigned or (words[0].text == "export" and not words[0].quoted):
            env.extend(assigned)
            for word in words:
                if _ASSIGNMENT.match(word.text):
                    name = word.text.partition("=")[0]
                    value = _resolve(word, len(name) + 1, variables, outer)
                    variables[name] = value if command.top_level else None
            continue
        if shell:
            # A service manager expands `${NAME}` itself, with no `:-` defaults.
            words = [_resolve(word, 0, variables, outer) or word for word in words]
        if words[0].text in ("cd", "pushd") and not words[0].quoted:
            context = replace(context, directories=_changed_directory(context, env, words[1:]))
            continue
        guards = (*context.guards, *command.guards)
        yield replace(context, env=list(env), guards=guards), words


# `cd "$(dirname "$0")"`, `cd "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"/..`: the
# script's own directory (and a relative path from it).
_SCRIPT_DIRECTORY = re.compile(
    r'^\$\((?:cd\s+"?\$\()?dirname\s+"?\$(?:0|\{?BASH_SOURCE(?:\[0\])?\}?)"?\)'
    r'(?:"?\s*&&\s*pwd(?:\s+-P)?\))?(/[^$`]*)?$'
)
_VARIABLE_PREFIX = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _changed_directory(
    context: CommandContext, env: list[EnvVar], arguments: list[Token]
) -> tuple[str, ...]:
    """The directories a script is in after ``cd``: a relative path from each
    directory it may have been in, the script's own directory for the ``dirname "$0"``
    idioms (written in place or in a variable assigned before); () (outside the scanned
    tree, or unknown) otherwise."""
    words = [word for word in arguments if word.text not in ("-L", "-P", "-e", "--")]
    if len(words) != 1:
        return ()
    target = words[0].text
    if not words[0].symbolic:
        return resolve_paths(context.working_directories(), target)
    variable = _VARIABLE_PREFIX.match(target)
    if variable is not None:
        values = [var.value for var in env if var.name == variable.group(1)]
        if values and values[-1] is not None:
            target = values[-1].text + target[variable.end() :]
    match = _SCRIPT_DIRECTORY.match(target)
    if match is None or context.carrier != "shell":
        return ()
    here = posixpath.dirname(context.source.path)
    return resolve_paths((here,), (match.group(1) or "/.").lstrip("/"))


_REFERENCE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}$`]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def _resolve(
    token: Token, start: int, variables: dict[str, Token | None], outer: set[str]
) -> Token | None:
    """``token.text[start:]`` with the variables the script assigned before replaced by
    their value, and ``${NAME:-default}`` of a variable nobody set here by its default;
    None unless every expansion in it is known so."""
    if not token.symbolic:
        if start == 0:
            return None
        return Token(token.text[start:], token.origins[start:], token.start, token.end)
    text = token.text[start:]
    origins = token.origins[start:]
    parts: list[str] = []
    places: list[int] = []
    default_used = False
    position = 0
    for match in _REFERENCE.finditer(text):
        literal = text[position : match.start()]
        if "$" in literal or "`" in literal:
            return None
        parts.append(literal)
        places.extend(origins[position : match.start()])
        name = match.group(1) or match.group(4)
        if name in variables:
            value = variables[name]
            if value is None:
                return None
            value_text, default_used = value.text, default_used or value.default_used
        elif match.group(2) and name not in outer:
            value_text, default_used = match.group(3), True
        else:
            return None
        parts.append(value_text)
        where = origins[match.start() : match.end()] or [token.start]
        places.extend(where[min(i, len(where) - 1)] for i in range(len(value_text)))
        position = match.end()
    rest = text[position:]
    if "$" in rest or "`" in rest:
        return None
    parts.append(rest)
    places.extend(origins[position:])
    return Token(
        "".join(parts),
        places,
        token.start,
        token.end,
        quoted=token.quoted,
        unquoted_prefix=token.unquoted_prefix,
        default_used=default_used,
    )


def find_invocations_in_words(context: CommandContext, words: list[Token]) -> list[Invocation]:
    """The server invocation a simple command runs, looking through launchers, or the
    compose files it combines and the images it builds."""
    env = list(context.env)
    index = 0
    while index < len(words):
        word = words[index]
        name = basename(word.text)
        if word.is_assignment:
            env.extend(_assignments(context, [word], "command prefix"))
            index += 1
        elif name == "env":
            index += 1
            while index < len(words):
                text = words[index].text
                if words[index].is_assignment:
                    env.extend(_assignments(context, [words[index]], "env"))
                elif text in ("-u", "--unset", "-C", "--chdir", "-S"):
                    index += 1
                elif not text.startswith("-"):
                    break
                index += 1
        elif name in _PASS_THROUGH:
            index = _skip_options(words, index + 1, _PASS_THROUGH[name])
        elif name in _AS_USER:
            index += 2
        elif name in _RUNNERS and index + 1 < len(words) and words[index + 1].text == "run":
            index = _skip_options(words, index + 2, _RUNNERS[name])
        elif name == "uvx":
            index = _skip_options(words, index + 1, _RUNNERS["uvx"])
        elif name == "jhsingle-native-proxy":
            return _jhsingle(context, env, words, index + 1)
        elif name in _SHELLS:
            return _shell_body(context, env, words, index)
        elif _PYTHON.match(name):
            return _python(context, env, words, index)
        elif _is_whole_line(word):
            return _whole_line(context, env, words, index)
        else:
            return _program(context, env, words, index, name)
    return []


def _is_whole_line(word: Token) -> bool:
    """A program word that is a command line (``"panel serve app.py"``, one element of
    an exec-form array): written out, with a blank inside."""
    return not word.symbolic and any(blank in word.text.strip() for blank in " \t")


def _whole_line(
    context: CommandContext, env: list[EnvVar], words: list[Token], index: int
) -> list[Invocation]:
    """The server a whole command line given as one program word was meant to start,
    marked as never started: exec-form arrays, compose and Kubernetes lists and
    ``subprocess`` argv hand that word to ``execve`` as the program's name."""
    word = words[index]
    commands = split_commands(word.text, word.origins)
    written = to_word(context.source, word)
    found: list[Invocation] = []
    for position, inner in enumerate(commands):
        if not inner or _is_whole_line(inner[0]):
            continue
        rest = words[index + 1 :] if position == len(commands) - 1 else []
        for command in find_in_words(context.with_env(env), [*inner, *rest]):
            found.append(replace(command, whole_line=written))
    return found


def program_index(words: list[Token]) -> int:
    """Where the program a command line runs is, past the launchers ``find_in_words``
    looks through (``env K=V``, ``exec``, ``tini --``, ``gosu user``, ``uv run``...);
    ``len(words)`` when there is none."""
    index = 0
    while index < len(words):
        word = words[index]
        name = basename(word.text)
        if word.is_assignment:
            index += 1
        elif name == "env":
            index += 1
            while index < len(words) and (
                words[index].is_assignment or words[index].text.startswith("-")
            ):
                takes_value = words[index].text in ("-u", "--unset", "-C", "--chdir", "-S")
                index += 2 if takes_value else 1
        elif name in _PASS_THROUGH:
            index = _skip_options(words, index + 1, _PASS_THROUGH[name])
        elif name in _AS_USER:
            index += 2
        elif name in _RUNNERS and index + 1 < len(words) and words[index + 1].text == "run":
            index = _skip_options(words, index + 2, _RUNNERS[name])
        else:
            return index
    return index


def is_shell(name: str) -> bool:
    return basename(name) in _SHELLS


def _skip_options(words: list[Token], index: int, with_value: frozenset[str]) -> int:
    while index < len(words) and words[index].text.startswith("-"):
        text = words[index].text
        index += 1
        if text == "--":
            break
        if text in with_value:
            index += 1
    return index


def _shell_body(
    context: CommandContext, env: list[EnvVar], words: list[Token], index: int
) -> list[Invocation]:
    """``sh -c 'body'``: the body is a script of its own; positions are kept."""
    rest = words[index + 1 :]
    for position, word in enumerate(rest):
        text = word.text
        if text.startswith("-") and not text.startswith("--") and "c" in text[1:]:
            if position + 1 < len(rest):
                body = rest[position + 1]
                return find_invocations_in_script(context.with_env(env), body.text, body.origins)
            return []
        if not text.startswith("-"):
            return []
    return []


def _python(
    context: CommandContext, env: list[EnvVar], words: list[Token], index: int
) -> list[Invocation]:
    index += 1
    while index < len(words):
        text = words[index].text
        if text == "-m" and index + 1 < len(words):
            module = words[index + 1].text
            return _program(context, env, words, index + 1, module)
        if text.startswith("-m") and len(text) > 2:
            return _program(context, env, words, index, text[2:])
        if text in ("-W", "-X", "--check-hash-based-pycs"):
            index += 2
        elif text.startswith("-"):
            index += 1
        else:
            return []
    return []


def _program(
    context: CommandContext, env: list[EnvVar], words: list[Token], index: int, name: str
) -> list[Invocation]:
    subcommand = words[index + 1].text if index + 1 < len(words) else ""
    if name in ("panel", "bokeh") and subcommand == "serve":
        return [_serve_command(context, env, f"{name}-serve", words[index], words[index + 2 :])]
    if name == "fastapi" and subcommand in ("run", "dev"):
        return [
            _serve_command(context, env, f"fastapi-{subcommand}", words[index], words[index + 2 :])
        ]
    if name == "flask":
        return _flask(context, env, words, index)
    tool = _MODULE_TOOLS.get(name)
    if tool:
        return [_serve_command(context, env, tool, words[index], words[index + 1 :])]
    if name == "jhsingle_native_proxy.main":
        return _jhsingle(context, env, words, index + 1)
    if name in _CONTAINER_TOOLS:
        directories = context.working_directories()
        # A CI step builds the images a deployment runs, though it deploys no server.
        released = context.deployment or context.carrier == "ci"
        deployment = released and branch_of(context.guards) != DEVELOPMENT
        return [
            *container_tool_invocations(context.source, words, index, env, directories, deployment)
        ]
    return []


_CONTAINER_TOOLS = frozenset({"docker", "podman", "docker-compose", "podman-compose"})

# `flask [OPTIONS] COMMAND`: the options of Flask's group (flask/cli.py ``FlaskGroup``)
# that take a value; ``--debug/--no-debug`` is an option of ``run`` as well.
_FLASK_GROUP_VALUED = frozenset({"--app", "-A", "--env-file", "-e"})


def _flask(
    context: CommandContext, env: list[EnvVar], words: list[Token], index: int
) -> list[Invocation]:
    """``flask [--app X] [--debug] run [options]``: Werkzeug's development server. The
    group's ``--debug``/``--no-debug`` is kept in front of ``run``'s own options (it sets
    ``FLASK_DEBUG`` before ``run`` reads it, and ``run`` accepts the same flag)."""
    debug: list[Token] = []
    position = index + 1
    while position < len(words):
        text = words[position].text
        option = text.split("=", 1)[0]
        if option in _FLASK_GROUP_VALUED:
            position += 1 if "=" in text else 2
        elif text in ("--debug", "--no-debug"):
            debug.append(words[position])
            position += 1
        elif text == "run":
            arguments = [*debug, *words[position + 1 :]]
            return [_serve_command(context, env, "flask-run", words[index], arguments)]
        else:
            return []
    return []


# jhsingle-native-proxy (jhsingle_native_proxy/main.py ``run``, a click command): its
# options that take a value; the others are flags. Everything else is the command it
# starts (click's ``nargs=-1`` argument, options and arguments interspersed, all
# arguments after ``--``).
_JHSINGLE_VALUED = frozenset(
    {
        "--port",
        "--destport",
        "--ip",
        "--presentation-path",
        "--authtype",
        "--request-timeout",
        "--last-activity-interval",
        "--ready-check-path",
        "--ready-timeout",
        "--repo",
        "--repobranch",
        "--repofolder",
        "--conda-env",
        "--websocket-max-message-size",
        "--aiohttp-request-timeout",
    }
)
_JHSINGLE_FLAGS = frozenset(
    {
        "--debug",
        "--no-debug",
        "--logs",
        "--no-logs",
        "--force-alive",
        "--no-force-alive",
        "--allow-root",
        "--no-allow-root",
        "--NotebookApp.allow_origin",
        "--no-NotebookApp.allow_origin",
        "--forward-user-info",
        "--no-forward-user-info",
        "--query-user-info",
        "--no-query-user-info",
        "--progressive",
        "--no-progressive",
        "--aiohttp-no-ssl-connector",
    }
)
# The substitutions jhsingle makes in each word of the command (``str.format`` with
# ``process_args``, proxyhandlers.py): ``{--}`` and ``{-}`` write the dashes click would
# otherwise take as its own options; the others are known only at run time.
_JHSINGLE_FIELD = re.compile(r"\{([^{}]*)\}")


def _jhsingle(
    context: CommandContext, env: list[EnvVar], words: list[Token], index: int
) -> list[Invocation]:
    """``jhsingle-native-proxy [options] cmd ... {--}option`` (or ``-- cmd --option``):
    the wrapped command, with jhsingle's substitutions made. Unless ``--authtype none``,
    JupyterHub's OAuth login stands in front of it, as a launching platform's does."""
    command: list[Token] = []
    authtype = "oauth"
    while index < len(words):
        word = words[index]
        text = word.text
        index += 1
        if text == "--":
            command.extend(words[index:])
            break
        if not text.startswith("-") or text == "-":
            command.append(word)
            continue
        option, equals, value = text.partition("=")
        if option in _JHSINGLE_VALUED:
            if not equals:
                value = words[index].text if index < len(words) else ""
                index += 1
            if option == "--authtype":
                authtype = value
        elif option not in _JHSINGLE_FLAGS or equals:
            return []  # click refuses an unknown option: nothing is started
    if not command:
        return []
    rendered = [_jhsingle_word(word) for word in command]
    launcher = "jhsingle-native-proxy" if authtype != "none" else context.launcher
    return find_invocations_in_words(replace(context, launcher=launcher, env=env), rendered)


def _jhsingle_word(word: Token) -> Token:
    if "{" not in word.text:
        return word
    text: list[str] = []
    origins: list[int] = []
    symbolic = word.symbolic
    done = 0
    for match in _JHSINGLE_FIELD.finditer(word.text):
        text.append(word.text[done : match.start()])
        origins.extend(word.origins[done : match.start()])
        field_name = match.group(1)
        if field_name in ("-", "--"):
            text.append(field_name)
            origins.extend(word.origins[match.start(1) : match.end(1)])
        else:
            text.append(match.group())
            origins.extend(word.origins[match.start() : match.end()])
            symbolic = True
        done = match.end()
    text.append(word.text[done:])
    origins.extend(word.origins[done:])
    return replace(word, text="".join(text), origins=origins, symbolic=symbolic)


def _assignments(context: CommandContext, words: list[Token], how: str) -> list[EnvVar]:
    found = []
    for word in words:
        if not _ASSIGNMENT.match(word.text):
            continue
        name, _, _ = word.text.partition("=")
        value = to_word(context.source, word, len(name) + 1)
        found.append(EnvVar(name, value, token_span(context.source, word), how))
    return found


def _serve_command(
    context: CommandContext, env: list[EnvVar], tool: str, program: Token, args: list[Token]
) -> ServeCommand:
    source = context.source
    args = [*_env_args(source, env, tool), *args, *context.extra_args]
    if tool == "panel-serve":
        args = _anaconda_project_args(args)
    parsed = parse_args(tool_spec(tool), args)
    options = tuple(
        OptionUse(
            option.dest,
            Word(
                option.flag.text[: option.flag_end],
                token_span_part(source, option.flag, 0, option.flag_end),
                option.flag.symbolic,
            ),
            tuple(to_word(source, token, start) for token, start in option.values),
        )
        for option in parsed.options
    )
    guards = context.guards
    condition = guard_condition(source, guards)
    branch = branch_of(guards)
    span = _command_span(source, [program, *args])
    return ServeCommand(
        tool=tool,
        program=to_word(source, program),
        span=span,
        options=options,
        positionals=tuple(to_word(source, t) for t in parsed.positionals),
        app_args=tuple(to_word(source, t) for t in parsed.remainder),
        unknown=tuple(to_word(source, t) for t in parsed.unknown),
        missing_values=tuple(to_word(source, t) for t in parsed.missing_value),
        env=tuple(env),
        carrier=context.carrier,
        context=context.context,
        # A development branch of a script is not what the deployment runs.
        deployment=context.deployment and branch != DEVELOPMENT,
        service=context.service,
        env_files=context.env_files,
        launcher=context.launcher,
        condition=condition,
        branch=branch,
    )


def guard_condition(source: SourceFile, guards: tuple[Guard, ...]) -> Word | None:
    """The conditions a command runs under, as one word for messages."""
    if not guards:
        return None
    return Word(
        " && ".join(guard.written for guard in guards)[:300],
        source.span(min(g.start for g in guards), max(g.end for g in guards)),
    )


def _command_span(source: SourceFile, tokens: list[Token]) -> Span:
    """From the program to the last word written in the same file (an ENTRYPOINT's
    words and a compose ``command:`` put together are in two files)."""
    first = token_span(source, tokens[0])
    for token in reversed(tokens):
        last = token_span(source, token)
        if last.path == first.path and (last.end_line, last.end_column) >= (
            first.line,
            first.column,
        ):
            return Span(first.path, first.line, first.column, last.end_line, last.end_column)
    return first


# panel/command/__init__.py ``transform_cmds``: options anaconda-project passes to a
# command with ``supports_http_options`` become Bokeh's; the other ones are dropped.
_ANACONDA_PROJECT_OPTIONS = {
    "--anaconda-project-host": "--allow-websocket-origin",
    "--anaconda-project-port": "--port",
    "--anaconda-project-address": "--address",
}


def _anaconda_project_args(args: list[Token]) -> list[Token]:
    out: list[Token] = []
    skip = False
    for token in args:
        if skip:
            skip = False
            continue
        text = token.text
        if text in _ANACONDA_PROJECT_OPTIONS:
            replacement = _ANACONDA_PROJECT_OPTIONS[text]
            out.append(
                Token(
                    replacement,
                    [token.origins[0] if token.origins else token.start] * len(replacement),
                    token.start,
                    token.end,
                )
            )
        elif text == "--anaconda-project-iframe-hosts":
            skip = True
        elif not text.startswith("--anaconda-project"):
            out.append(token)
    return out


def _env_args(source: SourceFile, env: list[EnvVar], tool: str) -> list[Token]:
    """gunicorn reads ``GUNICORN_CMD_ARGS`` with its own parser and applies it before the
    command line, which therefore wins (gunicorn/app/base.py ``load_config``)."""
    if tool != "gunicorn":
        return []
    found = [var for var in env if var.name == "GUNICORN_CMD_ARGS"]
    if not found or found[-1].value is None or found[-1].value.symbolic:
        return []
    value = found[-1].value
    origins = source.origins_of(value.span, value.text)
    return [word for command in split_commands(value.text, origins) for word in command]


def token_span_part(source: SourceFile, token: Token, start: int, end: int) -> Span:
    origins = token.origins[start:end]
    if origins:
        return source.span(origins[0], origins[-1] + 1)
    return source.span(token.start, token.end)
