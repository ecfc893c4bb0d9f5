"""What a container starts, as each file writes its part: the image's ENTRYPOINT and CMD
with the files the Dockerfile copies into it, a compose service's or Kubernetes
container's ``entrypoint:``/``command:``/``args:`` as words, and the scripts that pass
their own arguments on (``exec "$@"``).

The words keep where each character is written, so the model can put an ENTRYPOINT
from a Dockerfile and a ``command:`` from a compose file together and still point a
finding at the line of the flag (``stackaudit.model.containers``)."""

from __future__ import annotations

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word


class ArgWord(Struct, frozen=True):
    """One word of a command line as the program receives it, with the place of each
    of its characters: ``runs`` are ``(line, column, count)`` stretches of consecutive
    characters, in order (empty when the characters cannot be placed one by one: the
    whole ``span`` then stands for each)."""

    text: str
    span: Span
    runs: tuple[tuple[int, int, int], ...] = ()
    symbolic: bool = False
    quoted: bool = False
    unquoted_prefix: int = -1
    default_used: bool = False

    @property
    def passes_all_arguments(self) -> bool:
        """``"$@"`` (or ``${@}``): the shell's positional parameters, one word each."""
        return self.symbolic and self.text in ("$@", "${@}")


class CommandLine(Struct, frozen=True):
    """An ENTRYPOINT, CMD, ``entrypoint:``, ``command:`` or ``args:``: exec-form words,
    or (``shell_form``) one word holding the text Docker hands to ``/bin/sh -c``."""

    words: tuple[ArgWord, ...]
    span: Span
    shell_form: bool = False


class ImageCopy(Struct, frozen=True):
    """``COPY``/``ADD`` from the build context: the sources as written (relative to the
    context) and the destination as an absolute path in the image (``WORKDIR`` applied;
    a trailing ``/`` kept, since it makes the destination a directory)."""

    sources: tuple[str, ...]
    destination: str
    span: Span


class DockerImage(Struct, frozen=True):
    """The image a Dockerfile's last stage builds: its ENTRYPOINT and CMD (inherited
    from an earlier stage it is built ``FROM``), its ENV, the files copied into it and
    its final ``WORKDIR``."""

    path: str
    span: Span
    entrypoint: CommandLine | None = None
    cmd: CommandLine | None = None
    env: tuple[EnvVar, ...] = ()
    copies: tuple[ImageCopy, ...] = ()
    workdir: str = "/"
    deployment: bool = True


class ArgumentUse(Struct, frozen=True):
    """A command of a script that passes the script's arguments on with ``"$@"``:
    ``exec "$@"`` runs them, ``exec panel serve app.py "$@"`` adds them to a server.
    ``env`` is the environment the script has built by then; ``condition``/``branch``
    as on ``ServeCommand``."""

    words: tuple[ArgWord, ...]
    span: Span
    env: tuple[EnvVar, ...] = ()
    condition: Word | None = None
    branch: str = ""


class ShellScript(Struct, frozen=True):
    """A shell script of the repository (one per script, so the model knows it is
    there), with the commands that pass its arguments on."""

    path: str
    argument_uses: tuple[ArgumentUse, ...] = ()
