"""Shell scripts and Procfiles: every server started by a command in them, and for a
script the commands that pass its arguments on (``exec "$@"``), which run what a
Dockerfile's CMD or a compose ``command:`` gives a script used as ENTRYPOINT."""

from __future__ import annotations

import re

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.facts.image import ArgumentUse, ShellScript
from stackaudit.invocation.commandline import (
    CommandContext,
    find_in_script,
    find_in_words,
    guard_condition,
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
        facts.extend(find_in_words(where, words))
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
    return Extraction(facts=facts)


# Procfile: "<process type>: <command>", one per line, run by a shell.
_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):[ \t]*", re.MULTILINE)


def extract_procfile(source: SourceFile) -> Extraction:
    result = Extraction()
    text = source.text
    for match in _PROCFILE_LINE.finditer(text):
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        context = CommandContext(
            source,
            "procfile",
            f"Procfile process `{match.group(1)}`",
            not is_development_path(source.path),
        )
        result.facts.extend(find_in_script(context, text[match.end() : end], base=match.end()))
    return result
