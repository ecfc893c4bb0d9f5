"""Dockerfile: instructions, stages, ENV, and the command the final image runs.

Docker's rules, reproduced: a line ending in the escape character continues on the next
one (comment and blank lines in between are dropped); ``CMD``/``ENTRYPOINT``/``RUN`` take
an exec form (a JSON array of strings; anything else is shell form, run by
``/bin/sh -c``); the last ``CMD`` and ``ENTRYPOINT`` of a stage win and a stage built
``FROM`` an earlier one inherits them and its ``ENV``; setting ``ENTRYPOINT`` clears an
inherited ``CMD``; an exec-form ``ENTRYPOINT`` receives ``CMD`` as extra arguments, a
shell-form one ignores it.

The final stage is also kept as a ``DockerImage``: ENTRYPOINT and CMD as words, ENV,
the files ``COPY``/``ADD`` put into it and the ``WORKDIR``, so that the model can run
them with what a compose service or a Kubernetes container adds, and follow an
entrypoint script copied into the image (``stackaudit.model.containers``).
"""

from __future__ import annotations

import posixpath
import re

from msgspec import Struct, field

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.dependencies import pins_in_script
from stackaudit.facts.common import EnvVar, has_expansion
from stackaudit.facts.image import CommandLine, DockerImage, ImageCopy
from stackaudit.facts.secrets import BuildArg
from stackaudit.facts.serve import ServeCommand
from stackaudit.invocation.commandline import (
    CommandContext,
    find_in_script,
    find_in_words,
    to_word,
    token_span,
)
from stackaudit.invocation.joined import arg_word
from stackaudit.invocation.shellwords import Token, split_commands
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)(\s+|$)")


class Instruction(Struct):
    keyword: str
    line: int
    args: str
    origins: list[int]
    heredocs: list[tuple[str, list[int]]] = field(default_factory=list)


class Command(Struct):
    """CMD or ENTRYPOINT: exec form as tokens, or shell form as text with origins."""

    exec_form: list[Token] | None
    shell: tuple[str, list[int]] | None
    keyword: str
    line: int


class Stage(Struct):
    name: str
    line: int = 1
    env: list[EnvVar] = field(default_factory=list)
    cmd: Command | None = None
    entrypoint: Command | None = None
    copies: list[ImageCopy] = field(default_factory=list)
    workdir: str = "/"


def read_instructions(source: SourceFile) -> list[Instruction]:
    """Logical instructions with, for each character, its offset in the file."""
    text = source.text
    lines = text.splitlines(keepends=True)
    escape = "\\"
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line)
    # Parser directives may only appear before any other line.
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("`", "\\"):
            escape = match.group(2)

    instructions: list[Instruction] = []
    index = 0
    while index < len(lines):
        raw = lines[index].rstrip("\r\n")
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start_line = index + 1
        chars: list[str] = []
        origins: list[int] = []
        while True:
            raw = lines[index].rstrip("\r\n")
            body = raw.rstrip(" \t")
            continued = body.endswith(escape) and index + 1 < len(lines)
            keep = body[:-1] if continued else raw
            chars.append(keep)
            origins.extend(range(offsets[index], offsets[index] + len(keep)))
            index += 1
            if not continued:
                break
            while index < len(lines) and (
                not lines[index].strip() or lines[index].strip().startswith("#")
            ):
                index += 1
            if index >= len(lines):
                break
        joined = "".join(chars)
        match = _INSTRUCTION.match(joined)
        if not match:
            continue
        start = match.end()
        instruction = Instruction(
            match.group(1).upper(), start_line, joined[start:], origins[start:]
        )
        for heredoc in _HEREDOC.finditer(instruction.args):
            strip_tabs, delimiter = heredoc.group(1) == "-", heredoc.group(3)
            body_chars: list[str] = []
            body_origins: list[int] = []
            while index < len(lines):
                line = lines[index]
                index += 1
                content = line.rstrip("\r\n")
                if (content.lstrip("\t") if strip_tabs else content) == delimiter:
                    break
                body_chars.append(line)
                body_origins.extend(range(offsets[index - 1], offsets[index - 1] + len(line)))
            instruction.heredocs.append(("".join(body_chars), body_origins))
        instructions.append(instruction)
    return instructions


def parse_exec_form(text: str, origins: list[int]) -> list[Token] | None:
    """A JSON array of strings with per-character origins, or None (then shell form)."""
    index = 0
    length = len(text)

    def skip() -> None:
        nonlocal index
        while index < length and text[index] in " \t\r\n":
            index += 1

    skip()
    if index >= length or text[index] != "[":
        return None
    index += 1
    tokens: list[Token] = []
    skip()
    if index < length and text[index] == "]":
        index += 1
        skip()
        return tokens if index == length else None
    while True:
        skip()
        if index >= length or text[index] != '"':
            return None
        start = index
        index += 1
        chars: list[str] = []
        char_origins: list[int] = []
        while True:
            if index >= length:
                return None
            char = text[index]
            if char == '"':
                index += 1
                break
            if char == "\\":
                if index + 1 >= length:
                    return None
                code = text[index + 1]
                simple = {
                    '"': '"',
                    "\\": "\\",
                    "/": "/",
                    "b": "\b",
                    "f": "\f",
                    "n": "\n",
                    "r": "\r",
                    "t": "\t",
                }
                if code in simple:
                    chars.append(simple[code])
                    char_origins.append(origins[index])
                    index += 2
                    continue
                if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[index + 2 : index + 6]):
                    chars.append(chr(int(text[index + 2 : index + 6], 16)))
                    char_origins.append(origins[index])
                    index += 6
                    continue
                return None
            chars.append(char)
            char_origins.append(origins[index])
            index += 1
        tokens.append(
            Token("".join(chars), char_origins, origins[start], origins[index - 1] + 1, quoted=True)
        )
        skip()
        if index < length and text[index] == ",":
            index += 1
            continue
        if index < length and text[index] == "]":
            index += 1
            skip()
            return tokens if index == length else None
        return None


def _command(instruction: Instruction) -> Command:
    tokens = parse_exec_form(instruction.args, instruction.origins)
    if tokens is not None:
        return Command(tokens, None, instruction.keyword, instruction.line)
    return Command(
        None, (instruction.args, instruction.origins), instruction.keyword, instruction.line
    )


def _env(source: SourceFile, instruction: Instruction) -> list[EnvVar]:
    words = [w for cmd in split_commands(instruction.args, instruction.origins) for w in cmd]
    if not words:
        return []
    if "=" not in words[0].text:
        # Legacy "ENV NAME value with spaces": the rest of the line, as written, is the value.
        args = instruction.args
        first = words[0]
        value_start = len(args) - len(args.lstrip())
        value_start += len(first.text)
        value_start += len(args[value_start:]) - len(args[value_start:].lstrip())
        value_text = args[value_start:].rstrip()
        # The value goes through Docker's word processing like every ENV value, which
        # removes quotes: `ENV PASS ""` sets an empty value.
        quote = value_text[:1]
        if quote in ('"', "'") and value_text.count(quote) == 2 and value_text.endswith(quote):
            value_start += 1
            value_text = value_text[1:-1]
        value = Token(
            value_text,
            instruction.origins[value_start : value_start + len(value_text)],
            first.end,
            first.end,
            symbolic=has_expansion(value_text),
        )
        return [
            EnvVar(first.text, to_word(source, value), token_span(source, first), "Dockerfile ENV")
        ]
    found = []
    for word in words:
        name, sep, _ = word.text.partition("=")
        if not sep:
            continue
        found.append(
            EnvVar(
                name,
                to_word(source, word, len(name) + 1),
                token_span(source, word),
                "Dockerfile ENV",
            )
        )
    return found


def _build_args(source: SourceFile, instruction: Instruction) -> list[BuildArg]:
    """``ARG NAME=default`` (several per line allowed): the default is written in the
    file, and where a ``RUN`` uses it, in the image's history."""
    found = []
    for word in (w for cmd in split_commands(instruction.args, instruction.origins) for w in cmd):
        name, sep, _ = word.text.partition("=")
        if sep:
            variable = EnvVar(
                name,
                to_word(source, word, len(name) + 1),
                token_span(source, word),
                "Dockerfile ARG",
            )
            found.append(BuildArg(variable))
    return found


def extract_dockerfile(source: SourceFile) -> Extraction:
    result = Extraction()
    deployment = not is_development_path(source.path)
    stages: dict[str, Stage] = {}
    stage = Stage("")
    for instruction in read_instructions(source):
        keyword = instruction.keyword
        if keyword == "FROM":
            words = instruction.args.split()
            words = [w for w in words if not w.startswith("--")]
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
            parent = stages.get(base.lower())
            stage = Stage(name.lower(), instruction.line)
            if parent is not None:
                stage.env = list(parent.env)
                stage.cmd, stage.entrypoint = parent.cmd, parent.entrypoint
                stage.copies, stage.workdir = list(parent.copies), parent.workdir
            stages[stage.name] = stage
        elif keyword == "WORKDIR":
            stage.workdir = _in_image(stage.workdir, instruction.args.strip())
        elif keyword in ("COPY", "ADD"):
            copy = _copy(source, stage.workdir, instruction)
            if copy is not None:
                stage.copies.append(copy)
        elif keyword == "ENV":
            variables = _env(source, instruction)
            stage.env.extend(variables)
            # Every ENV is committed in the file, whether or not a server is found.
            result.facts.extend(variables)
        elif keyword == "ARG":
            result.facts.extend(_build_args(source, instruction))
        elif keyword == "CMD":
            stage.cmd = _command(instruction)
        elif keyword == "ENTRYPOINT":
            stage.entrypoint = _command(instruction)
            stage.cmd = None if stage.cmd and stage.cmd.line < instruction.line else stage.cmd
        elif keyword == "RUN":
            context = CommandContext(
                source, "dockerfile", "Dockerfile RUN", deployment, list(stage.env)
            )
            command = _command(instruction)
            result.facts.extend(_run_command(context, command))
            for body, origins in instruction.heredocs:
                result.facts.extend(find_in_script(context, body, origins))
            if command.shell is not None:
                result.facts.extend(pins_in_script(source, *command.shell, "Dockerfile RUN"))
            for body, origins in instruction.heredocs:
                result.facts.extend(pins_in_script(source, body, origins, "Dockerfile RUN"))
    result.facts.extend(_final_command(source, stage, deployment))
    result.facts.append(_image(source, stage, deployment))
    return result


def _in_image(directory: str, path: str) -> str:
    """``path`` as an absolute path in the image (relative ones start at ``directory``,
    the WORKDIR); a trailing ``/`` is kept."""
    if not path:
        return directory
    joined = posixpath.normpath(posixpath.join(directory, path))
    return joined + "/" if path.endswith(("/", "/.")) or path == "." else joined


def _copy(source: SourceFile, workdir: str, instruction: Instruction) -> ImageCopy | None:
    """A ``COPY``/``ADD`` of files of the build context (not ``--from`` another stage
    or image, not a URL, not a heredoc)."""
    tokens = parse_exec_form(instruction.args, instruction.origins)
    words = [t.text for t in tokens] if tokens is not None else instruction.args.split()
    if any(w.startswith("--from") for w in words) or instruction.heredocs:
        return None
    paths = [w for w in words if not w.startswith("--")]
    if len(paths) < 2:
        return None
    sources = tuple(p for p in paths[:-1] if "://" not in p and not p.startswith("git@"))
    if not sources:
        return None
    span = Span(source.path, instruction.line, 1)
    return ImageCopy(sources, _in_image(workdir, paths[-1]), span)


def _command_line(source: SourceFile, command: Command | None) -> CommandLine | None:
    if command is None:
        return None
    span = source.line_span(command.line)
    if command.exec_form is not None:
        return CommandLine(tuple(arg_word(source, t) for t in command.exec_form), span)
    assert command.shell is not None
    text, origins = command.shell
    start = origins[0] if origins else 0
    token = Token(text, origins, start, origins[-1] + 1 if origins else start)
    return CommandLine((arg_word(source, token),), span, shell_form=True)


def _image(source: SourceFile, stage: Stage, deployment: bool) -> DockerImage:
    return DockerImage(
        source.path,
        Span(source.path, stage.line, 1),
        _command_line(source, stage.entrypoint),
        _command_line(source, stage.cmd),
        tuple(stage.env),
        tuple(stage.copies),
        stage.workdir,
        deployment,
    )


def _run_command(context: CommandContext, command: Command | None) -> list[ServeCommand]:
    if command is None:
        return []
    if command.exec_form is not None:
        return find_in_words(context, command.exec_form)
    assert command.shell is not None
    return find_in_script(context, *command.shell)


def _final_command(source: SourceFile, stage: Stage, deployment: bool) -> list[ServeCommand]:
    entrypoint, cmd = stage.entrypoint, stage.cmd
    label = " + ".join(c.keyword for c in (entrypoint, cmd) if c is not None)
    context = CommandContext(
        source, "dockerfile", f"Dockerfile {label}", deployment, list(stage.env)
    )
    if entrypoint is None:
        return _run_command(context, cmd)
    if entrypoint.exec_form is None:
        return _run_command(context, entrypoint)
    if cmd is not None and cmd.exec_form is not None:
        found = find_in_words(context, entrypoint.exec_form + cmd.exec_form)
    elif cmd is not None and cmd.shell is not None:
        found = find_in_words(context, entrypoint.exec_form) + find_in_script(context, *cmd.shell)
    else:
        found = find_in_words(context, entrypoint.exec_form)
    # An ENTRYPOINT that is a script (`["/start.sh"]`) is followed by the model, which
    # knows whether the script is in the repository and passes its arguments on.
    return found
