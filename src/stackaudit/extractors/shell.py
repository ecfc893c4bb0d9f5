"""Shell scripts and Procfiles: every server started by a command in them, the
platform commands (deploys, config) they run, and for a script the commands that pass
its arguments on (``exec "$@"``), which run what a Dockerfile's CMD or a compose
``command:`` gives a script used as ENTRYPOINT.

Heroku starts the ``web`` process of the app's ``Procfile`` (that exact name, at the
app's root) and routes HTTP to it only; the process must listen on ``$PORT``
(https://devcenter.heroku.com/articles/procfile,
https://devcenter.heroku.com/articles/dynos#web-dynos). ``Procfile.dev`` and the like
are read by local process managers (honcho, foreman), not by the platform."""

from __future__ import annotations

import posixpath
import re

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.platform_cli import platform_commands
from stackaudit.facts.image import ArgumentUse, ShellScript
from stackaudit.facts.platform import HEROKU, PlatformService
from stackaudit.facts.serve import ServeCommand
from stackaudit.invocation.commandline import (
    CommandContext,
    find_invocations_in_script,
    find_invocations_in_words,
    guard_condition,
    servers,
    simple_commands,
)
from stackaudit.invocation.joined import arg_word
from stackaudit.invocation.shellwords import branch_of
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile


def extract_shell(source: SourceFile) -> Extraction:
    context = CommandContext(
        source, "shell", f"script {source.path}", not is_development_path(source.path)
    )
    facts: list[object] = []
    uses: list[ArgumentUse] = []
    for where, words in simple_commands(context, source.text):
        facts.extend(find_invocations_in_words(where, words))
        if any(w.symbolic and w.text in ("$@", "${@}") for w in words):
            placed = tuple(arg_word(source, word) for word in words)
            first, last = placed[0].span, placed[-1].span
            uses.append(
                ArgumentUse(
                    placed,
                    Span(source.path, first.line, first.column, last.end_line, last.end_column),
                    tuple(where.env),
                    guard_condition(source, where.guards),
                    branch_of(where.guards),
                )
            )
    facts.append(ShellScript(source.path, tuple(uses)))
    facts.extend(platform_commands(source, source.text, deployment=context.deployment))
    return Extraction(facts=facts)


# Procfile: "<process type>: <command>", one per line, run by a shell.
_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):[ \t]*", re.MULTILINE)
_PORT = re.compile(r"\$\{?PORT\b")


def _on_platform_port(line: str, commands: list[ServeCommand]) -> bool:
    """The web process listens on the port the platform assigns: ``$PORT`` is written,
    or gunicorn binds ``0.0.0.0:$PORT`` by itself (no ``--bind``, ``PORT`` set)."""
    if _PORT.search(line):
        return True
    return any(
        c.tool == "gunicorn" and any("PORT" in lis.written for lis in c.listeners())
        for c in commands
    )


def extract_procfile(source: SourceFile) -> Extraction:
    result = Extraction()
    text = source.text
    deployment = not is_development_path(source.path)
    for match in _PROCFILE_LINE.finditer(text):
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        process = match.group(1)
        context = CommandContext(source, "procfile", f"Procfile process `{process}`", deployment)
        found = find_invocations_in_script(context, text[match.end() : end], base=match.end())
        result.facts.extend(found)
        commands = servers(found)
        if (
            process == "web"
            and posixpath.basename(source.path) == "Procfile"
            and deployment
            and _on_platform_port(text[match.end() : end], commands)
        ):
            line = source.span(match.start(), end)
            result.facts.append(PlatformService(HEROKU, line, runs_in=line))
    return result
