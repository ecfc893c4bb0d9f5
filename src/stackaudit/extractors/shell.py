"""Shell scripts and Procfiles: every server started by a command in them."""

from __future__ import annotations

import re

from stackaudit.extractors.base import Extraction
from stackaudit.invocation.commandline import CommandContext, find_invocations_in_script
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile


def extract_shell(source: SourceFile) -> Extraction:
    context = CommandContext(
        source, "shell", f"script {source.path}", not is_development_path(source.path)
    )
    return Extraction(facts=list(find_invocations_in_script(context, source.text)))


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
        result.facts.extend(
            find_invocations_in_script(context, text[match.end() : end], base=match.end())
        )
    return result
