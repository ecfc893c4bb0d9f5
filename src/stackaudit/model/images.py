"""Which Dockerfile of the repository builds the image a container runs.

Builds are gathered from every source (compose ``build:`` with ``image:``, ``docker
build -t``, ``skaffold.yaml``, ``cloudbuild.yaml``, ``docker/build-push-action``) into an
index by image name, built once; a container's ``image:`` is then looked up in it.

Two references name the same image when, after Docker's normalization
(distribution/reference ``splitDockerDomain``: a first component holding ``.`` or ``:``
or equal to ``localhost`` is a registry, else the registry is ``docker.io``;
``index.docker.io`` is ``docker.io``; a one-component Docker Hub path gets ``library/``),
their registry and repository path are equal. The tag and the digest are compared only
when both references write one (``docker build -t app`` builds what ``image: app:1.4``
later runs, once tagged and pushed). A part written as a variable (``${REGISTRY}/app``,
``gcr.io/$PROJECT_ID/app``, ``{{ .Values.image }}``) is unknown: it matches any
non-empty text of the other reference provided everything else matches exactly and
the image's own name (the last path component) is written out on both sides; two
references both holding variables match only when written alike. A tag or digest
holding a variable is ignored."""

from __future__ import annotations

import re
from collections.abc import Iterable

from msgspec import Struct

from stackaudit.facts.deploy import ImageRef

# `${VAR}`, `$VAR`, `$(command)` (shell), `$(VAR)` (Kubernetes), `${{ expr }}` (GitHub
# Actions), `{{ .Values.x }}` (Helm, Jinja), `$1`.
_VARIABLE = re.compile(
    r"\$\{\{.*?\}\}|\{\{.*?\}\}|\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\$\d"
)
_UNKNOWN = "\x00"
# Image references are at most 255 characters; a longer text, or one with more
# variables than this, is not compared (matching stays linear in its length).
_LONGEST = 512
_MOST_VARIABLES = 8


class ImageName(Struct, frozen=True):
    """A reference as matching needs it. ``repository``: normalized when it is written
    out, else as written with each variable replaced by ``_UNKNOWN``; ``familiar``: the
    Docker Hub short form of a written-out one (``nginx`` for
    ``docker.io/library/nginx``); ``name``: the last path component, "" when it holds a
    variable."""

    repository: str
    familiar: str
    name: str
    tag: str | None
    digest: str | None
    written: str

    @property
    def symbolic(self) -> bool:
        return _UNKNOWN in self.repository


def image_name(image: ImageRef) -> ImageName | None:
    text = image.text.strip()
    if not text or len(text) > _LONGEST:
        return None
    masked, count = _VARIABLE.subn(_UNKNOWN, text)
    if count > _MOST_VARIABLES or "$" in masked:
        return None
    rest, _, digest = masked.partition("@")
    tag = None
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    if not rest:
        return None
    name = rest.rsplit("/", 1)[-1]
    repository, familiar = _normalized(rest)
    return ImageName(
        repository,
        familiar,
        "" if _UNKNOWN in name else name,
        None if not tag or _UNKNOWN in tag else tag,
        None if not digest or _UNKNOWN in digest else digest,
        text,
    )


def _normalized(repository: str) -> tuple[str, str]:
    """Docker's full name and its familiar form; a reference whose first component
    holds a variable cannot be told to name a registry or not, and stays as written."""
    first, slash, remainder = repository.partition("/")
    if _UNKNOWN in first:
        return repository, repository
    registry = any(c in first for c in ".:") or first == "localhost" or first.lower() != first
    if not slash or not registry:
        first, remainder = "docker.io", repository
    if first == "index.docker.io":
        first = "docker.io"
    if first == "docker.io" and "/" not in remainder:
        remainder = f"library/{remainder}"
    full = f"{first}/{remainder}"
    familiar = full
    if first == "docker.io":
        familiar = remainder.removeprefix("library/")
    return full, familiar


def same_image(a: ImageName, b: ImageName) -> bool:
    if not a.name or a.name != b.name:
        return False
    if a.tag is not None and b.tag is not None and a.tag != b.tag:
        return False
    if a.digest is not None and b.digest is not None and a.digest != b.digest:
        return False
    if a.symbolic and b.symbolic:
        return a.written == b.written
    if a.symbolic or b.symbolic:
        pattern, literal = (a, b) if a.symbolic else (b, a)
        parts = pattern.repository.split(_UNKNOWN)
        return _glob(parts, literal.repository) or _glob(parts, literal.familiar)
    return a.repository == b.repository


def _glob(parts: list[str], text: str) -> bool:
    """``text`` is ``parts`` joined by non-empty stretches of any characters: the
    pieces are found leftmost, in order, which decides it in one pass."""
    if len(parts) == 1:
        return parts[0] == text
    first, *middle, last = parts
    end = len(text) - len(last)
    if not text.startswith(first) or not text.endswith(last) or end < len(first):
        return False
    position = len(first)
    for piece in middle:
        found = text.find(piece, position + 1, end)
        if found < 0:
            return False
        position = found + len(piece)
    return end > position


class ImageIndex:
    """Dockerfiles by the name of the image they build, built once per run."""

    def __init__(self, builds: Iterable[tuple[ImageRef, str, bool]]) -> None:
        """``builds``: each tag given, the Dockerfile built, and whether the build is
        part of the deployment (not a development script's)."""
        self._by_name: dict[str, list[tuple[ImageName, str, bool]]] = {}
        for image, dockerfile, deployment in builds:
            name = image_name(image)
            if name is not None and name.name:
                self._by_name.setdefault(name.name, []).append((name, dockerfile, deployment))

    def dockerfiles_for(self, image: ImageRef) -> list[str]:
        """The Dockerfiles that build ``image``: those of deployment builds when there
        are any (a development script may tag its own build alike)."""
        wanted = image_name(image)
        if wanted is None or not wanted.name:
            return []
        matches = [
            (dockerfile, deployment)
            for name, dockerfile, deployment in self._by_name.get(wanted.name, ())
            if same_image(wanted, name)
        ]
        deployed = [dockerfile for dockerfile, deployment in matches if deployment]
        return list(dict.fromkeys(deployed or [dockerfile for dockerfile, _ in matches]))
