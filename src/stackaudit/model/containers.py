"""What each container runs, put together as Docker, Compose and Kubernetes do.

- The image runs ``ENTRYPOINT + CMD``: an exec-form ENTRYPOINT receives CMD as its
  arguments (a shell-form CMD as ``/bin/sh -c <text>``); a shell-form ENTRYPOINT runs
  ``/bin/sh -c <text>`` and ignores CMD.
- Compose ``command:`` replaces CMD; ``entrypoint:`` replaces ENTRYPOINT and drops the
  image's CMD. Kubernetes ``args:`` replaces CMD; ``command:`` replaces ENTRYPOINT and
  drops CMD.
- An ENTRYPOINT (or ``entrypoint:``/``command:``) that runs a script the image holds,
  copied from the repository (``COPY start.sh /start.sh``) or bind-mounted into the
  container, runs what that script runs: its own server commands, and its arguments
  where it passes them on (``exec "$@"``). A script that is not in the repository is
  taken to run its arguments only when it is named like an entrypoint wrapper, and then
  at a lower confidence.

The server in the words put together is recognised by ``find_in_words``, as in one
file; every finding still points at the file and line its word is written in.
Each container is resolved once, over indexes built once (``container_commands``)."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence

from msgspec import Struct, field
from msgspec.structs import replace

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.deploy import ComposeService, K8sContainer
from stackaudit.facts.image import ArgWord, CommandLine, DockerImage, ShellScript
from stackaudit.facts.serve import ServeCommand
from stackaudit.invocation.commandline import (
    CommandContext,
    basename,
    find_in_words,
    is_shell,
    program_index,
)
from stackaudit.invocation.joined import (
    JoinedSource,
    joined_source,
    joined_tokens,
    substitute_arguments,
)
from stackaudit.model.deploy import DeployModel
from stackaudit.policy import is_development_path

# The names an entrypoint wrapper script conventionally has; such a script usually
# ends in `exec "$@"`. Used only when the script itself is not in the repository.
_WRAPPER_NAME = re.compile(r"(entrypoint|docker-entrypoint|start|run)[\w.-]*(\.sh)?$")
# Where `sh` looks for a program named without a slash (Debian's default PATH in the
# official images).
_PATH_DIRECTORIES = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

EnvFileReader = Callable[[tuple[Word, ...], str], tuple[list[EnvVar], tuple[Word, ...]]]


class Runner(Struct):
    """A container started from an image: a compose service or a Kubernetes
    container, with what it sets over the image."""

    key: str  # as on ServeCommand.service
    label: str
    file: str
    carrier: str
    image: DockerImage | None
    context_dir: str | None
    entrypoint: tuple[ArgWord, ...] | None
    command: tuple[ArgWord, ...] | None
    own_keys: frozenset[str]
    env: tuple[EnvVar, ...] = ()
    env_files: tuple[Word, ...] = ()
    # (path in the container, path in the repository) of each bind mount.
    mounts: tuple[tuple[str, str], ...] = ()

    @property
    def deployment(self) -> bool:
        image_deployed = self.image is None or self.image.deployment
        return image_deployed and not is_development_path(self.file)


class _Argv(Struct):
    words: list[ArgWord]
    description: str
    from_image: bool  # some word comes from the image's ENTRYPOINT or CMD


class Resolution(Struct):
    """The server commands of the stack with containers resolved: ``kept`` are facts
    as extracted, ``added`` the commands put together here."""

    kept: list[ServeCommand] = field(default_factory=list)
    added: list[ServeCommand] = field(default_factory=list)


def _shell_words(line: CommandLine) -> list[ArgWord]:
    """A shell-form instruction as Docker runs it: ``/bin/sh -c <text>``."""
    span = line.span
    return [ArgWord("/bin/sh", span), ArgWord("-c", span), *line.words]


def _words(line: CommandLine | None) -> list[ArgWord]:
    if line is None:
        return []
    return _shell_words(line) if line.shell_form else list(line.words)


def effective_argv(
    image: DockerImage | None,
    entrypoint: tuple[ArgWord, ...] | None,
    command: tuple[ArgWord, ...] | None,
) -> _Argv:
    """The words the container starts with (Dockerfile reference, "Understand how CMD
    and ENTRYPOINT interact"; Compose spec ``entrypoint``/``command``; Kubernetes
    "Define a Command and Arguments for a Container")."""
    if entrypoint is not None:
        return _Argv([*entrypoint, *(command or ())], "entrypoint + command", False)
    image_entrypoint = image.entrypoint if image is not None else None
    if image_entrypoint is not None and image_entrypoint.shell_form:
        return _Argv(_shell_words(image_entrypoint), "Dockerfile ENTRYPOINT", True)
    if command is not None:
        if image_entrypoint is None:
            return _Argv(list(command), "command", False)
        return _Argv([*image_entrypoint.words, *command], "Dockerfile ENTRYPOINT + command", True)
    cmd = image.cmd if image is not None else None
    parts = " + ".join(k for k, line in (("ENTRYPOINT", image_entrypoint), ("CMD", cmd)) if line)
    return _Argv([*_words(image_entrypoint), *_words(cmd)], f"Dockerfile {parts}".strip(), True)


class _Resolver:
    def __init__(
        self,
        commands: list[ServeCommand],
        images: Iterable[DockerImage],
        scripts: Iterable[ShellScript],
        deploy: DeployModel,
    ) -> None:
        self.commands = commands
        self.deploy = deploy
        self.images = {image.path: image for image in images}
        self.scripts = {script.path: script for script in scripts}
        self.by_service: dict[str, list[ServeCommand]] = {}
        self.image_commands: dict[str, list[ServeCommand]] = {}
        self.script_commands: dict[str, list[ServeCommand]] = {}
        for command in commands:
            if command.service:
                self.by_service.setdefault(command.service, []).append(command)
            if command.carrier == "dockerfile" and not command.context.endswith("RUN"):
                self.image_commands.setdefault(command.span.path, []).append(command)
            elif command.carrier == "shell" and command.span.path in self.scripts:
                self.script_commands.setdefault(command.span.path, []).append(command)
        # What the resolution replaces: commands by identity, whole files by path.
        self.replaced: set[int] = set()
        self.run_images: set[str] = set()
        self.followed_scripts: set[str] = set()

    # -- one container -------------------------------------------------------------------

    def run(self, runner: Runner) -> list[ServeCommand]:
        own = [c for key in sorted(runner.own_keys) for c in self.by_service.get(key, ())]
        image = runner.image
        if image is not None:
            self.run_images.add(image.path)
        argv = effective_argv(image, runner.entrypoint, runner.command)
        if own and not argv.from_image:
            return []  # the words are the runtime file's own: the extractor read them
        self.replaced.update(id(c) for c in own)
        if image is not None and runner.entrypoint is None and runner.command is None:
            found = self._image_defaults(runner, image)
            if found:
                return found
        if argv.from_image and argv.words:
            found = self._recognise(runner, image, argv.words, argv.description)
            if found:
                return found
        return self._follow(runner, image, argv.words)

    def _image_defaults(self, runner: Runner, image: DockerImage) -> list[ServeCommand]:
        """The commands the Dockerfile runs by itself, in this container."""
        return [
            replace(
                command,
                env=(*command.env, *runner.env),
                env_files=(*command.env_files, *runner.env_files),
                service=runner.key,
                context=f"{command.context} run by {runner.label}",
                deployment=command.deployment and runner.deployment,
            )
            for command in self.image_commands.get(image.path, ())
        ]

    def _context(
        self, runner: Runner | None, source: JoinedSource, description: str
    ) -> CommandContext:
        image = self.images.get(source.path)
        env = [*(image.env if image is not None else ()), *(runner.env if runner else ())]
        label = f"{description} run by {runner.label}" if runner else description
        return CommandContext(
            source,
            "dockerfile",
            label,
            runner.deployment if runner else (image.deployment if image else True),
            env,
            service=runner.key if runner else "",
            env_files=runner.env_files if runner else (),
        )

    def _recognise(
        self,
        runner: Runner | None,
        image: DockerImage | None,
        words: Sequence[ArgWord],
        description: str,
        env: Sequence[EnvVar] = (),
    ) -> list[ServeCommand]:
        source = joined_source(image.path if image is not None else words[0].span.path)
        context = self._context(runner, source, description)
        context.env.extend(env)
        found = find_in_words(context, joined_tokens(source, words))
        return [self._carried(command, runner) for command in found]

    @staticmethod
    def _carried(command: ServeCommand, runner: Runner | None) -> ServeCommand:
        """A command whose program is written in the runtime file is that file's."""
        if runner is not None and command.program.span.path == runner.file:
            return replace(command, carrier=runner.carrier)
        return command

    # -- entrypoint scripts ---------------------------------------------------------------

    def _follow(
        self, runner: Runner | None, image: DockerImage | None, words: list[ArgWord]
    ) -> list[ServeCommand]:
        """What the script the words start runs, when they start one."""
        if not words:
            return []
        source = joined_source(words[0].span.path)
        index = program_index(joined_tokens(source, words))
        if index < len(words) and is_shell(words[index].text):
            following = index + 1
            if following >= len(words) or words[following].text.startswith("-"):
                return []  # `sh -c ...` was read already; `sh -e` alone runs no file
            index = following
        if index >= len(words):
            return []
        program, arguments = words[index], words[index + 1 :]
        script = self._script_at(program.text, runner, image)
        if script is not None:
            return self._script(runner, image, script, arguments)
        if arguments and _WRAPPER_NAME.search(basename(program.text)):
            return self._wrapper_guess(runner, image, program, arguments)
        return []

    def _script_at(
        self, program: str, runner: Runner | None, image: DockerImage | None
    ) -> ShellScript | None:
        """The repository's script that is ``program`` in the container."""
        if "$" in program or not program:
            return None
        if "/" not in program:
            places = [f"{directory}/{program}" for directory in _PATH_DIRECTORIES]
        else:
            places = [posixpath.normpath(posixpath.join(image.workdir if image else "/", program))]
        for place in places:
            for candidate in self._repository_paths(place, runner, image):
                candidate = posixpath.normpath(candidate)
                if candidate in self.scripts:
                    return self.scripts[candidate]
        return None

    def _repository_paths(
        self, place: str, runner: Runner | None, image: DockerImage | None
    ) -> list[str]:
        """The repository files that may be at ``place`` in the container: bind mounts
        first (they hide the image's files), then the image's copies, last one first."""
        found: list[str] = []
        for target, host in runner.mounts if runner else ():
            found.extend(_under(place, target.rstrip("/"), host, directory_only=False))
        if image is not None:
            context = (
                runner.context_dir
                if runner and runner.context_dir is not None
                else posixpath.dirname(image.path)
            )
            for copy in reversed(image.copies):
                into_directory = copy.destination.endswith("/") or len(copy.sources) > 1
                destination = copy.destination.rstrip("/") or "/"
                for source in copy.sources:
                    written = _context_path(context, source)
                    found.extend(_copied(place, destination, written, source, into_directory))
        return found

    def _script(
        self,
        runner: Runner | None,
        image: DockerImage | None,
        script: ShellScript,
        arguments: list[ArgWord],
    ) -> list[ServeCommand]:
        self.followed_scripts.add(script.path)
        description = f"entrypoint script {script.path}"
        found: list[ServeCommand] = []
        for use in script.argument_uses:
            words = substitute_arguments(use.words, arguments)
            if not words:
                continue
            for command in self._recognise(runner, image, words, description, use.env):
                found.append(
                    replace(
                        command,
                        condition=use.condition,
                        branch=use.branch,
                        deployment=command.deployment and use.branch != "development",
                    )
                )
        uses = [use.span for use in script.argument_uses]
        container_env = (*(image.env if image else ()), *(runner.env if runner else ()))
        for command in self.script_commands.get(script.path, ()):
            if any(_starts_within(command.program.span, span) for span in uses):
                continue  # put together with the arguments above
            found.append(
                replace(
                    command,
                    env=(*container_env, *command.env),
                    env_files=runner.env_files if runner else (),
                    carrier="dockerfile",
                    service=runner.key if runner else "",
                    context=f"{description} run by {runner.label}"
                    if runner
                    else f"{description}, the ENTRYPOINT of {image.path if image else ''}",
                    deployment=command.deployment and (runner.deployment if runner else True),
                )
            )
        return found

    def _wrapper_guess(
        self,
        runner: Runner | None,
        image: DockerImage | None,
        program: ArgWord,
        arguments: list[ArgWord],
    ) -> list[ServeCommand]:
        """A script not in the repository, named like an entrypoint wrapper: it is
        taken to run its arguments, but only as a guess (``conditional``)."""
        guess = Word(f"`{program.text}` runs its arguments (not in the repository)", program.span)
        description = f"arguments of {basename(program.text)}"
        return [
            replace(command, condition=guess, branch="conditional")
            for command in self._recognise(runner, image, arguments, description)
        ]

    # -- the whole stack -------------------------------------------------------------------

    def standalone(self) -> list[ServeCommand]:
        """Images nobody in the stack runs: their defaults, as ``docker run`` would."""
        found: list[ServeCommand] = []
        for path, image in self.images.items():
            if path in self.run_images or self.image_commands.get(path):
                continue
            argv = effective_argv(image, None, None)
            found.extend(self._follow(None, image, argv.words))
        return found


def _starts_within(inner: Span, outer: Span) -> bool:
    return inner.path == outer.path and (outer.line, outer.column) <= (
        inner.line,
        inner.column,
    ) <= (outer.end_line, outer.end_column)


def _context_path(context: str, source: str) -> str:
    """A COPY source in the repository: Docker drops a leading ``/`` and any ``../``
    that would leave the context, and a trailing ``/``."""
    parts = [p for p in source.strip("/").split("/") if p not in ("", ".")]
    kept: list[str] = []
    for part in parts:
        if part == "..":
            if kept:
                kept.pop()
        else:
            kept.append(part)
    return posixpath.normpath(posixpath.join(context, *kept)) if kept else context


def _under(place: str, target: str, host: str, directory_only: bool) -> list[str]:
    """``place`` inside what is put at ``target`` from ``host``."""
    if place == target and not directory_only:
        return [host]
    if target == "/":
        return [posixpath.join(host, place.lstrip("/"))]
    if place.startswith(target + "/"):
        return [posixpath.join(host, place[len(target) + 1 :])]
    return []


def _copied(
    place: str, destination: str, written: str, source: str, into_directory: bool
) -> list[str]:
    """Where ``place`` comes from when ``source`` (at ``written`` in the repository) is
    copied to ``destination``: a file copied as the destination, a file copied into it
    (a trailing ``/``, or several sources), a directory's contents, or a wildcard."""
    name = posixpath.basename(source.rstrip("/"))
    if any(char in name for char in "*?["):
        parent = destination if destination != "/" else ""
        if posixpath.dirname(place) == (parent or "/") and fnmatch.fnmatchcase(
            posixpath.basename(place), name
        ):
            return [posixpath.join(posixpath.dirname(written), posixpath.basename(place))]
        return []
    found = _under(place, destination, written, directory_only=into_directory)
    if place == posixpath.join(destination, name):
        found.append(written)  # a file copied into the destination directory
    return found


# -- runners ------------------------------------------------------------------------------


def _built_image(
    dockerfiles: Iterable[str], images: dict[str, DockerImage], deploy: DeployModel
) -> tuple[DockerImage | None, str | None]:
    """The first of ``dockerfiles`` that was scanned, with the build context a compose
    service gives it (None: the Dockerfile's directory, ``docker build``'s usual
    context)."""
    for path in dockerfiles:
        if path in images:
            return images[path], deploy.build_context(path)
    return None, None


def compose_runner(
    service: ComposeService,
    images: dict[str, DockerImage],
    deploy: DeployModel,
    read_env_files: EnvFileReader,
) -> Runner:
    """A compose service: the image it builds, else the image another build of the
    repository tags with the name in its ``image:``."""
    build = service.build
    if build is not None:
        image = images.get(build.dockerfile) if build.dockerfile else None
        context_dir: str | None = build.context
    else:
        image, context_dir = _built_image(deploy.dockerfiles_run_by(service), images, deploy)
    loaded, unread = read_env_files(service.env_files, service.file)
    return Runner(
        key=service.key,
        label=service.label,
        file=service.file,
        carrier="compose",
        image=image,
        context_dir=context_dir,
        entrypoint=service.entrypoint_words,
        command=service.command_words,
        own_keys=frozenset(service.sources),
        env=(*loaded, *service.env),
        env_files=unread,
        mounts=tuple((v.target, v.host_path) for v in service.volumes if v.host_path),
    )


def k8s_runner(
    container: K8sContainer,
    label: str,
    file: str,
    images: dict[str, DockerImage],
    deploy: DeployModel,
) -> Runner:
    """A Kubernetes container: the image a build of the repository tags with the name
    in its ``image:`` (``DeployModel.dockerfiles_for_image``: compose ``build:`` +
    ``image:``, ``docker build -t``, skaffold, Cloud Build, build-push-action)."""
    image, context_dir = None, None
    if container.image is not None:
        found = deploy.dockerfiles_for_image(container.image)
        image, context_dir = _built_image(found, images, deploy)
    return Runner(
        key=container.service_key,
        label=f"{label} container `{container.name}`",
        file=file,
        carrier="kubernetes",
        image=image,
        context_dir=context_dir,
        entrypoint=container.command_words,
        command=container.args_words,
        own_keys=frozenset({container.service_key}),
        env=container.env,
    )


def container_commands(
    commands: list[ServeCommand],
    images: Iterable[DockerImage],
    scripts: Iterable[ShellScript],
    deploy: DeployModel,
    read_env_files: EnvFileReader,
) -> Resolution:
    """Every server command with the containers resolved: the commands each compose
    service and Kubernetes container runs (image, overrides and entrypoint scripts put
    together), the images nobody runs with their own defaults, and every other
    command as extracted. A Dockerfile's own command is replaced by what the
    containers built from it run; a script followed as an entrypoint is the
    container's, not a host's."""
    resolver = _Resolver(commands, images, scripts, deploy)
    added: list[ServeCommand] = []
    for service in deploy.compose_services:
        runner = compose_runner(service, resolver.images, deploy, read_env_files)
        added.extend(resolver.run(runner))
    for workload in deploy.k8s_workloads:
        for container in workload.containers:
            runner = k8s_runner(container, workload.label, workload.file, resolver.images, deploy)
            added.extend(resolver.run(runner))
    added.extend(resolver.standalone())
    kept = [
        command
        for command in commands
        if id(command) not in resolver.replaced
        and not (
            command.carrier == "dockerfile"
            and not command.context.endswith("RUN")
            and command.span.path in resolver.run_images
        )
        and not (command.carrier == "shell" and command.span.path in resolver.followed_scripts)
    ]
    return Resolution(kept, added)
