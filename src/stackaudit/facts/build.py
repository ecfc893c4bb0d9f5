"""What a command line or a build file says about how the deployment is put together
outside the files that run it: compose files read together as one project (``docker
compose -f a.yml -f b.yml``), images built from a Dockerfile of the repository under a
name (``docker build -t``, ``skaffold.yaml``, ``cloudbuild.yaml``,
``docker/build-push-action``). Which Dockerfiles were scanned is known from their
``DockerImage`` facts (``stackaudit.facts.image``).

Paths are relative to the scanned root. A command line's relative paths are relative to
the directory it runs in, which a script does not say: ``candidates`` hold the paths
resolved against each directory it may run in, likeliest first, and the model keeps the
ones that name scanned files (``stackaudit.model.deploy``)."""

from __future__ import annotations

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.deploy import ImageRef


class ComposeInvocation(Struct, frozen=True):
    """``docker compose -f a.yml -f b.yml up`` (``docker-compose``, ``--file``,
    ``docker stack deploy -c``): the files Compose merges into one project, in the
    order given (later files override earlier ones). ``candidates``: that list resolved
    against each directory the command may run in."""

    span: Span
    written: tuple[str, ...]
    candidates: tuple[tuple[str, ...], ...]
    tool: str


class ImageBuild(Struct, frozen=True):
    """An image built from a Dockerfile of the repository and tagged ``image``.
    ``dockerfiles``: the Dockerfile's path resolved against each directory the build
    may run from, likeliest first (one entry when the file says where it runs)."""

    image: ImageRef
    dockerfiles: tuple[str, ...]
    span: Span
    how: str
    # False for a developer's build (a development script or Makefile target): the
    # deployed image is built elsewhere when both tag the same name.
    deployment: bool = True
