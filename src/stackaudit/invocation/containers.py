"""Container tools on a command line, read as their own parsers read them.

- ``docker compose [-f FILE]... <command>`` and ``docker-compose``: the ``-f``/``--file``
  files (or ``COMPOSE_FILE`` set before the command) are merged into one project in the
  order given. Relative ``-f`` paths are relative to the current directory of the
  process, not to ``--project-directory`` (compose-go ``loader.LoadConfigFiles`` loads
  them with a resource loader that has no working directory; docker-compose 1.x joins
  them to ``.``). ``docker stack deploy -c FILE...`` merges its files the same way.
- ``docker build``, ``docker image build``, ``docker builder build``, ``docker buildx
  build`` and ``podman build``: every ``-t``/``--tag`` names the image; the Dockerfile is
  ``-f``/``--file`` relative to the current directory, else ``Dockerfile`` (or
  ``dockerfile``) in the context directory (docker/cli ``GetContextFromLocalDir``).

Options are taken the way pflag (cobra) takes them: ``-f x``, ``-fx``, ``-f=x``,
``--file x``, ``--file=x``, interspersed with arguments; ``--`` ends them."""

from __future__ import annotations

import posixpath

from stackaudit.diagnostics import Span
from stackaudit.facts.build import ComposeInvocation, ImageBuild
from stackaudit.facts.common import EnvVar
from stackaudit.facts.deploy import parse_image
from stackaudit.invocation.shellwords import Token
from stackaudit.invocation.spans import token_span
from stackaudit.source import SourceFile

_DOCKER = frozenset({"docker", "podman"})
_COMPOSE = frozenset({"docker-compose", "podman-compose"})

# docker's own options before its command (docker/cli cli/flags/options.go).
_DOCKER_VALUED = frozenset(
    {"--config", "-c", "--context", "-H", "--host", "-l", "--log-level"}
    | {"--tlscacert", "--tlscert", "--tlskey"}
)
# `docker compose` (and docker-compose 1.x) options before the compose command.
_COMPOSE_VALUED = frozenset(
    {"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file"}
    | {"--profile", "--ansi", "--progress", "--parallel", "-H", "--host", "-c", "--context"}
    | {"--log-level", "--tlscacert", "--tlscert", "--tlskey", "--workdir"}
)
_STACK_DEPLOY_VALUED = frozenset({"-c", "--compose-file", "--resolve-image"})
# `docker build` / `docker buildx build` options that take a value.
_BUILD_VALUED = frozenset(
    {"-t", "--tag", "-f", "--file", "--add-host", "--allow", "--annotation", "--attest"}
    | {"--build-arg", "--build-context", "--builder", "--cache-from", "--cache-to", "--call"}
    | {"--cgroup-parent", "--cpu-period", "--cpu-quota", "-c", "--cpu-shares"}
    | {"--cpuset-cpus", "--cpuset-mems", "--iidfile", "--isolation", "--label", "-m"}
    | {"--memory", "--memory-swap", "--metadata-file", "--network", "--no-cache-filter"}
    | {"-o", "--output", "--platform", "--progress", "--secret", "--security-opt"}
    | {"--shm-size", "--ssh", "--target", "--ulimit"}
)
_BUILDX_VALUED = frozenset({"--builder"})

ContainerFact = ComposeInvocation | ImageBuild


class _Parsed:
    """Options (each with the spelling used, in the order written) and arguments."""

    def __init__(self) -> None:
        self.options: list[tuple[str, Token]] = []
        self.arguments: list[Token] = []
        self.end = 0

    def get(self, *spellings: str) -> list[Token]:
        return [token for spelling, token in self.options if spelling in spellings]


def _tail(token: Token, start: int) -> Token:
    return Token(token.text[start:], token.origins[start:], token.start, token.end, token.symbolic)


def _parse(words: list[Token], index: int, valued: frozenset[str], stop: bool) -> _Parsed:
    """pflag's reading of ``words[index:]``; ``stop``: the first argument ends the
    options (a command's own options follow it)."""
    parsed = _Parsed()
    while index < len(words):
        word = words[index]
        text = word.text
        index += 1
        if text == "--":
            parsed.arguments.extend(words[index:])
            index = len(words)
            break
        if not text.startswith("-") or text == "-":
            parsed.arguments.append(word)
            if stop:
                break
            continue
        name, equals, _ = text.partition("=")
        if equals and name in valued:
            parsed.options.append((name, _tail(word, len(name) + 1)))
        elif text in valued:
            if index < len(words):
                parsed.options.append((text, words[index]))
            index += 1
        elif not text.startswith("--") and text[:2] in valued:
            # `-fFILE`, `-f=FILE`
            start = 3 if text[2:3] == "=" else 2
            parsed.options.append((text[:2], _tail(word, start)))
    parsed.end = index
    return parsed


def resolve_paths(directories: tuple[str, ...], written: str) -> tuple[str, ...]:
    """``written`` resolved against each directory, relative to the scanned root; an
    absolute path, or one that leaves the root, names nothing stackaudit read."""
    if written.startswith("/"):
        return ()
    found = []
    for directory in directories:
        path = posixpath.normpath(posixpath.join(directory, written))
        if path != ".." and not path.startswith("../"):
            found.append(path)
    return tuple(dict.fromkeys(found))


def container_tool_invocations(
    source: SourceFile,
    words: list[Token],
    index: int,
    env: list[EnvVar],
    directories: tuple[str, ...],
    deployment: bool = True,
) -> list[ContainerFact]:
    """What ``words[index:]`` (a docker, podman or docker-compose command) combines or
    builds; nothing for other commands."""
    program = words[index].text.rstrip("/").rsplit("/", 1)[-1]
    reader = _Reader(source, words, index, env, directories, deployment)
    if program in _COMPOSE:
        return reader.compose(index + 1, program)
    if program not in _DOCKER:
        return []
    top = _parse(words, index + 1, _DOCKER_VALUED, stop=True)
    if not top.arguments:
        return []
    command = top.arguments[0].text
    following = words[top.end].text if top.end < len(words) else ""
    if command == "compose":
        return reader.compose(top.end, f"{program} compose")
    if command == "build":
        return reader.build(top.end, f"{program} build")
    if command in ("image", "builder") and following == "build":
        return reader.build(top.end + 1, f"{program} {command} build")
    if command == "buildx":
        buildx = _parse(words, top.end, _BUILDX_VALUED, stop=True)
        if buildx.arguments and buildx.arguments[0].text in ("build", "b"):
            return reader.build(buildx.end, f"{program} buildx build")
    if command == "stack" and following in ("deploy", "up"):
        return reader.stack_deploy(top.end + 1)
    return []


class _Reader:
    def __init__(
        self,
        source: SourceFile,
        words: list[Token],
        index: int,
        env: list[EnvVar],
        directories: tuple[str, ...],
        deployment: bool,
    ) -> None:
        self.deployment = deployment
        self.source = source
        self.words = words
        self.env = env
        self.directories = directories
        first = token_span(source, words[index])
        last = token_span(source, words[-1])
        self.span = Span(first.path, first.line, first.column, last.end_line, last.end_column)

    def compose(self, index: int, tool: str) -> list[ContainerFact]:
        parsed = _parse(self.words, index, _COMPOSE_VALUED, stop=True)
        files = [token.text for token in parsed.get("-f", "--file")]
        symbolic = any(token.symbolic for token in parsed.get("-f", "--file"))
        if not files:
            files, symbolic = self._compose_file_variable()
        return self._combination(files, symbolic, tool)

    def stack_deploy(self, index: int) -> list[ContainerFact]:
        parsed = _parse(self.words, index, _STACK_DEPLOY_VALUED, stop=False)
        tokens = parsed.get("-c", "--compose-file")
        files = [token.text for token in tokens]
        symbolic = any(token.symbolic for token in tokens)
        return self._combination(files, symbolic, "docker stack deploy")

    def _compose_file_variable(self) -> tuple[list[str], bool]:
        """``COMPOSE_FILE`` set before the command (exported, or as a prefix),
        split on ``COMPOSE_PATH_SEPARATOR`` (``:`` on Linux and macOS)."""
        values = {var.name: var.value for var in self.env}
        listed = values.get("COMPOSE_FILE")
        if listed is None:
            return [], False
        separator = values.get("COMPOSE_PATH_SEPARATOR")
        split_on = separator.text if separator is not None and not separator.symbolic else ":"
        symbolic = listed.symbolic or (separator is not None and separator.symbolic)
        return [name for name in listed.text.split(split_on or ":") if name], symbolic

    def _combination(self, files: list[str], symbolic: bool, tool: str) -> list[ContainerFact]:
        # A file named by a variable, or read from standard input, leaves the project
        # unknown: no combination is recorded rather than a guessed one.
        if not files or symbolic or "-" in files:
            return []
        candidates = []
        for directory in self.directories:
            resolved = [resolve_paths((directory,), name) for name in files]
            if all(resolved):
                candidates.append(tuple(paths[0] for paths in resolved))
        if not candidates:
            return []
        combination = ComposeInvocation(
            self.span, tuple(files), tuple(dict.fromkeys(candidates)), tool
        )
        return [combination]

    def build(self, index: int, how: str) -> list[ContainerFact]:
        parsed = _parse(self.words, index, _BUILD_VALUED, stop=False)
        dockerfiles = self._dockerfiles(parsed)
        if not dockerfiles:
            return []
        found: list[ContainerFact] = []
        for tag in parsed.get("-t", "--tag"):
            if not tag.text:
                continue
            span = token_span(self.source, tag)
            image = parse_image(tag.text, span, tag.symbolic)
            found.append(ImageBuild(image, dockerfiles, span, how, self.deployment))
        return found

    def _dockerfiles(self, parsed: _Parsed) -> tuple[str, ...]:
        """The Dockerfile the build reads, resolved against each directory it may run
        in; () when it is not in the scanned tree or not known (a remote or standard
        input context, a name from a variable)."""
        if len(parsed.arguments) != 1:
            return ()
        context = parsed.arguments[0]
        remote = "://" in context.text or context.text.startswith(("git@", "github.com/"))
        if context.symbolic or context.text == "-" or remote:
            return ()
        named = parsed.get("-f", "--file")
        if named:
            file = named[-1]
            if file.symbolic or file.text in ("", "-"):
                return ()
            return resolve_paths(self.directories, file.text)
        found: list[str] = []
        for name in ("Dockerfile", "dockerfile"):
            found.extend(resolve_paths(self.directories, posixpath.join(context.text, name)))
        return tuple(dict.fromkeys(found))
