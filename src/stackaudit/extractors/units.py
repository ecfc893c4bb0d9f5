"""Service managers: systemd unit files and supervisord programs.

systemd (systemd.service(5), systemd.syntax(7)): ``ExecStart=`` may start with the
prefixes ``@ - : + !``; a line ending in a backslash continues; ``#`` and ``;`` start a
comment only at the start of a line; ``Environment=`` holds space-separated, optionally
quoted ``KEY=value`` assignments; ``EnvironmentFile=`` names a file read at start (its
values are not in the unit). supervisord (its config is read by ConfigParser):
``[program:x]`` sections, ``command=`` split like a shell line without running a shell,
``environment=KEY="value",KEY2="value"``, indented lines continue a value, and
``%(ENV_X)s`` expands from the supervisor's environment."""

from __future__ import annotations

import re

from msgspec import Struct

from stackaudit.extractors.base import Extraction
from stackaudit.facts.common import EnvVar, Word
from stackaudit.invocation.commandline import (
    CommandContext,
    find_invocations_in_script,
    to_word,
    token_span,
)
from stackaudit.invocation.shellwords import split_commands
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)\s*[=:]\s?")


class Entry(Struct):
    section: str
    key: str
    value: str
    origins: list[int]


def _entries(source: SourceFile, *, systemd: bool) -> list[Entry]:
    """Key/value entries with per-character offsets, continuations joined."""
    text = source.text
    entries: list[Entry] = []
    section = ""
    offset = 0
    current: Entry | None = None
    continued = False
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        start = offset
        offset += len(raw)
        stripped = line.strip()
        if continued and current is not None:
            body = line.rstrip()
            continued = systemd and body.endswith("\\")
            part = body[:-1] if continued else body
            current.value += " " + part.lstrip()
            lead = len(part) - len(part.lstrip())
            current.origins += [start, *range(start + lead, start + len(part))]
            continue
        if not systemd and current is not None and line[:1] in (" ", "\t") and stripped:
            # ConfigParser: an indented line continues the previous value; supervisord
            # then splits the command like a shell, so the line break is a blank.
            lead = len(line) - len(line.lstrip())
            current.value += " " + stripped
            current.origins += [start, *range(start + lead, start + lead + len(stripped))]
            continue
        if not stripped or stripped[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            section = match.group(1).strip()
            current = None
            continue
        match = _KEY.match(line)
        if not match:
            current = None
            continue
        body = line[match.end() :].rstrip()
        continued = systemd and body.endswith("\\")
        value = body[:-1] if continued else body
        value_start = start + match.end()
        current = Entry(
            section, match.group(1), value, list(range(value_start, value_start + len(value)))
        )
        entries.append(current)
    return entries


def _assignments(source: SourceFile, entry: Entry, how: str) -> list[EnvVar]:
    found = []
    for command in split_commands(entry.value, entry.origins):
        for word in command:
            name, sep, _ = word.text.partition("=")
            if sep and name:
                found.append(
                    EnvVar(
                        name, to_word(source, word, len(name) + 1), token_span(source, word), how
                    )
                )
    return found


def extract_systemd(source: SourceFile) -> Extraction:
    result = Extraction()
    entries = [e for e in _entries(source, systemd=True) if e.section == "Service"]
    env: list[EnvVar] = []
    env_files: list[Word] = []
    for entry in entries:
        if entry.key == "Environment":
            env.extend(_assignments(source, entry, "systemd Environment="))
        elif entry.key == "EnvironmentFile" and entry.value.strip():
            # A leading "-" only makes a missing file acceptable.
            start = len(entry.value) - len(entry.value.lstrip("- "))
            name = entry.value[start:].strip()
            if name:
                span = source.span(entry.origins[start], entry.origins[start] + len(name))
                env_files.append(Word(name, span))
    deployment = not is_development_path(source.path)
    for entry in entries:
        if not entry.key.startswith("Exec"):
            continue
        value = entry.value.lstrip("@-:+!")
        skipped = len(entry.value) - len(value)
        context = CommandContext(
            source,
            "systemd",
            f"systemd {entry.key}=",
            deployment,
            list(env),
            service=f"systemd:{source.path}",
            env_files=tuple(env_files),
        )
        result.facts.extend(
            find_invocations_in_script(context, value, entry.origins[skipped:], shell=False)
        )
    return result


def extract_supervisord(source: SourceFile) -> Extraction:
    result = Extraction()
    deployment = not is_development_path(source.path)
    programs: dict[str, list[Entry]] = {}
    for entry in _entries(source, systemd=False):
        if entry.section.startswith("program:"):
            programs.setdefault(entry.section[len("program:") :], []).append(entry)
    for name, entries in programs.items():
        env: list[EnvVar] = []
        for entry in entries:
            if entry.key == "environment":
                # KEY="value",KEY2=value: commas separate, quotes group.
                spaced = Entry(
                    entry.section, entry.key, entry.value.replace(",", " "), entry.origins
                )
                env.extend(_assignments(source, spaced, "supervisord environment="))
        for entry in entries:
            if entry.key != "command":
                continue
            value = re.sub(r"%\(ENV_(\w+)\)s", lambda m: "${" + m.group(1) + "}", entry.value)
            origins = entry.origins if value == entry.value else [entry.origins[0]] * len(value)
            context = CommandContext(
                source,
                "supervisord",
                f"supervisord program `{name}`",
                deployment,
                list(env),
                service=f"supervisord:{source.path}:{name}",
            )
            result.facts.extend(find_invocations_in_script(context, value, origins, shell=False))
    return result
