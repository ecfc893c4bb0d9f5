"""Makefiles: the recipe lines of each target, run by a shell.

Make's rules: recipe lines start with a tab; a trailing backslash continues a line;
``$$`` is a literal ``$`` for the shell and ``$(VAR)``/``${VAR}`` are make variables,
kept symbolic; a leading ``@``, ``-`` or ``+`` only changes how make runs the line.
A target whose name says development (``dev``, ``run-local``, ``debug``, ``serve-dev``)
is a developer's tool, not a deployment."""

from __future__ import annotations

import re

from stackaudit.extractors.base import Extraction
from stackaudit.extractors.platform_cli import platform_commands
from stackaudit.invocation.commandline import CommandContext, find_invocations_in_script
from stackaudit.policy import is_development_name, is_development_path
from stackaudit.source import SourceFile

_TARGET = re.compile(r"^([A-Za-z0-9_.%/-]+(?:\s+[A-Za-z0-9_.%/-]+)*)\s*::?(?!=)")


def extract_makefile(source: SourceFile) -> Extraction:
    result = Extraction()
    targets: list[str] = []
    offset = 0
    lines = source.text.splitlines(keepends=True)
    index = 0
    file_is_dev = is_development_path(source.path)
    while index < len(lines):
        raw = lines[index]
        start = offset
        offset += len(raw)
        index += 1
        if not raw.startswith("\t"):
            match = _TARGET.match(raw)
            if match and not raw.startswith((".PHONY", "export ")):
                targets = match.group(1).split()
            continue
        chars: list[str] = []
        origins: list[int] = []
        line, line_start = raw, start
        prefixes = "\t @+-"  # only the first line of a recipe carries make's prefixes
        while True:
            body = line.rstrip("\r\n")
            continued = body.endswith("\\")
            content = body[:-1] if continued else body
            lead = len(content) - len(content.lstrip(prefixes))
            prefixes = "\t"
            chars.append(content[lead:] + (" " if continued else ""))
            origins.extend(range(line_start + lead, line_start + len(content) + continued))
            if not continued or index >= len(lines):
                break
            line, line_start = lines[index], offset
            offset += len(line)
            index += 1
        text = "".join(chars).replace("$$", "$")
        if len(text) != len(origins):
            origins = [origins[0]] * len(text) if origins else []
        name = ", ".join(targets) or "recipe"
        development = file_is_dev or any(is_development_name(t) for t in targets)
        context = CommandContext(source, "makefile", f"make target `{name}`", not development)
        result.facts.extend(find_invocations_in_script(context, text, origins))
        # A deploy target's `gcloud run deploy --set-env-vars ...` sets up the platform.
        result.facts.extend(platform_commands(source, text, origins, 0, "makefile", True))
    return result
