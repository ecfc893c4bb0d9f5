"""Build files that tag an image built from a Dockerfile of the repository.

- ``skaffold.yaml`` (``apiVersion: skaffold/...``): every ``build.artifacts[]`` (and a
  profile's) builds ``image`` from ``context`` (default ``.``, relative to the file)
  with the Dockerfile ``docker.dockerfile`` (or ``kaniko.dockerfile``; default
  ``Dockerfile``) relative to that context; an artifact built by Jib, Buildpacks,
  Bazel, ko or a custom script has no Dockerfile.
- ``cloudbuild.yaml``: each of ``steps[]`` runs its ``entrypoint`` (or, for the
  ``gcr.io/cloud-builders/docker`` builder, ``docker``) with ``args``, in ``dir``
  (relative to the uploaded source, usually the directory of the file or the
  repository root); ``docker build -t ...`` there is read as on a command line.
- GitHub Actions ``docker/build-push-action``: ``with.tags`` (a list, one per line or
  comma-separated, as the action's ``getInputList`` splits it) names the image built
  from ``with.file``, by default ``Dockerfile`` in ``with.context`` (the Git context,
  the repository's root, when not given). Tags written as the outputs of a
  ``docker/metadata-action`` step (``${{ steps.meta.outputs.tags }}``) are that step's
  ``images``, with a tag known only at run time."""

from __future__ import annotations

import posixpath
import re

from yaml.nodes import Node, ScalarNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.yamlnodes import Walker, node_span, scalar, scalar_token
from stackaudit.facts.build import ImageBuild
from stackaudit.facts.common import has_variable
from stackaudit.facts.deploy import parse_image
from stackaudit.invocation.commandline import CommandContext, find_invocations_in_words
from stackaudit.invocation.containers import resolve_paths
from stackaudit.invocation.shellwords import Token
from stackaudit.source import SourceFile

_OTHER_BUILDERS = ("jib", "buildpacks", "buildpack", "bazel", "ko", "custom")
_STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.tags\s*\}\}$")


def skaffold_builds(
    source: SourceFile, walker: Walker, document: Node, deployment: bool
) -> list[ImageBuild]:
    get = walker.get
    sections = [get(document, "build")]
    sections += [get(profile, "build") for profile in walker.sequence(get(document, "profiles"))]
    here = posixpath.dirname(source.path)
    found: list[ImageBuild] = []
    for section in sections:
        for artifact in walker.sequence(get(section, "artifacts")):
            image = get(artifact, "image")
            if not isinstance(image, ScalarNode) or not image.value.strip():
                continue
            if any(get(artifact, builder) is not None for builder in _OTHER_BUILDERS):
                continue
            context = scalar(get(artifact, "context")) or "."
            settings = get(artifact, "docker") or get(artifact, "kaniko")
            name = scalar(get(settings, "dockerfile")) or "Dockerfile"
            dockerfiles = resolve_paths((here,), posixpath.join(context, name))
            if not dockerfiles or has_variable(context + name):
                continue
            span = node_span(source, image)
            tag = parse_image(image.value, span, has_variable(image.value))
            found.append(ImageBuild(tag, dockerfiles, span, "skaffold artifact", deployment))
    return found


def is_cloudbuild(walker: Walker, document: Node) -> bool:
    """A Cloud Build configuration: top-level ``steps`` naming builder images."""
    steps = walker.sequence(walker.get(document, "steps"))
    return bool(steps) and all(isinstance(walker.get(step, "name"), ScalarNode) for step in steps)


def cloudbuild_builds(
    source: SourceFile, walker: Walker, document: Node, deployment: bool
) -> list[object]:
    get = walker.get
    here = posixpath.dirname(source.path)
    found: list[object] = []
    for step in walker.sequence(get(document, "steps")):
        builder = scalar(get(step, "name")) or ""
        entrypoint = get(step, "entrypoint")
        args = [
            _token(source, node) for node in walker.sequence(get(step, "args")) if _is_text(node)
        ]
        if isinstance(entrypoint, ScalarNode):
            argv = [_token(source, entrypoint), *args]
        elif builder.split("@")[0].split(":")[0].rsplit("/", 1)[-1] == "docker" and args:
            program = args[0]
            argv = [Token("docker", program.origins[:1] * 6, program.start, program.start), *args]
        else:
            continue
        directory = scalar(get(step, "dir")) or "."
        bases = tuple(
            path for base in dict.fromkeys((here, "")) for path in resolve_paths((base,), directory)
        )
        context = CommandContext(
            source, "cloudbuild", f"Cloud Build step `{builder}`", deployment, directories=bases
        )
        found.extend(find_invocations_in_words(context, argv))
    return found


def build_push_action_builds(
    source: SourceFile, walker: Walker, document: Node, deployment: bool
) -> list[ImageBuild]:
    get = walker.get
    workspace = workflow_checkout(source.path)
    found: list[ImageBuild] = []
    for _, job in walker.items(get(document, "jobs")):
        steps = walker.sequence(get(job, "steps"))
        metadata = {
            scalar(get(step, "id")) or "": get(get(step, "with"), "images")
            for step in steps
            if (scalar(get(step, "uses")) or "").startswith("docker/metadata-action@")
        }
        for step in steps:
            if not (scalar(get(step, "uses")) or "").startswith("docker/build-push-action@"):
                continue
            settings = get(step, "with")
            dockerfile = _action_dockerfile(
                workspace, scalar(get(settings, "context")), get(settings, "file")
            )
            tags = get(settings, "tags")
            if dockerfile is None or not isinstance(tags, ScalarNode):
                continue
            for image, span in _listed(source, tags, metadata):
                tag = parse_image(image, span, has_variable(image))
                found.append(
                    ImageBuild(tag, (dockerfile,), span, "docker/build-push-action", deployment)
                )
    return found


def workflow_checkout(path: str) -> str:
    """The directory a workflow's steps run in: the repository checked out, whose
    ``.github/workflows/`` holds the workflow."""
    return path.rpartition(".github/workflows/")[0].rstrip("/")


def _action_dockerfile(workspace: str, context: str | None, file: Node | None) -> str | None:
    """The Dockerfile of a build-push-action step: a path context and the file are
    relative to the job's working directory, the checked-out repository."""
    context = re.sub(r"^\$\{\{\s*github\.workspace\s*\}\}", ".", context or ".")
    if "://" in context or context.startswith("{{"):
        context = "."  # the Git context: the repository at the built commit
    name = scalar(file)
    written = name if name else posixpath.join(context, "Dockerfile")
    if has_variable(written) or "${{" in written:
        return None
    paths = resolve_paths((workspace,), written)
    return paths[0] if paths else None


def _listed(
    source: SourceFile, node: ScalarNode, metadata: dict[str, Node | None]
) -> list[tuple[str, Span]]:
    """The entries of an action's list input (split on new lines and commas), with a
    step's ``outputs.tags`` replaced by the images that metadata step lists."""
    found: list[tuple[str, Span]] = []
    for text, span in _entries(source, node):
        reference = _STEP_OUTPUT.match(text)
        images = metadata.get(reference.group(1)) if reference else None
        if reference is None:
            found.append((text, span))
        elif isinstance(images, ScalarNode):
            for image, image_span in _entries(source, images):
                # `name=ghcr.io/org/app,enable=true` (split on the comma already).
                key, equals, value = image.partition("=")
                if not equals:
                    found.append((image, image_span))
                elif key.strip() == "name" and value.strip():
                    found.append((value.strip(), image_span))
    return found


def _entries(source: SourceFile, node: ScalarNode) -> list[tuple[str, Span]]:
    token = scalar_token(source, node)
    found: list[tuple[str, Span]] = []
    for match in re.finditer(r"[^\n,]+", token.text):
        text = match.group().strip()
        if not text or text.startswith("#"):
            continue
        start = match.start() + match.group().index(text)
        origins = token.origins[start : start + len(text)]
        span = source.span(origins[0], origins[-1] + 1) if origins else node_span(source, node)
        found.append((text, span))
    return found


def _is_text(node: Node) -> bool:
    return isinstance(node, ScalarNode) and not node.tag.endswith(":null")


def _token(source: SourceFile, node: Node) -> Token:
    assert isinstance(node, ScalarNode)
    token = scalar_token(source, node)
    # Cloud Build substitutes `$PROJECT_ID`, `${_NAME}` before the step runs.
    token.symbolic = has_variable(token.text)
    return token
