"""Platform manifests written in YAML: App Engine's ``app.yaml``, Render's
``render.yaml``, Cloud Build's ``cloudbuild.yaml`` steps, and the Azure App Service
deploy action of a GitHub workflow. Each gives a ``PlatformService`` (which commands
the platform starts, the environment it sets) or the platform commands a step runs.

- App Engine: a service file has a top-level ``runtime:``; ``entrypoint:`` is the
  command it starts, ``env_variables:`` its environment
  (https://cloud.google.com/appengine/docs/flexible/reference/app-yaml,
  https://cloud.google.com/appengine/docs/standard/reference/app-yaml).
- Render: ``services:`` items of ``type: web`` are public web services, started by
  ``startCommand`` (``dockerCommand``, or the image's command for a Docker runtime);
  ``envVars`` items give a ``value``, or a value set elsewhere (``generateValue: true``,
  ``sync: false``, ``fromDatabase``, ``fromService``), or a whole env group
  (``fromGroup``, names unknown here) (https://render.com/docs/blueprint-spec).
- Cloud Build: ``steps[].args`` run by the step's ``entrypoint`` (the
  ``gcr.io/cloud-builders/gcloud`` image's is ``gcloud``), or ``bash -c SCRIPT``, or a
  ``script:`` (https://cloud.google.com/build/docs/build-config-file-schema).
- ``azure/webapps-deploy``'s ``startup-command`` input
  (https://github.com/Azure/webapps-deploy/blob/master/action.yml)."""

from __future__ import annotations

import posixpath

from yaml.nodes import MappingNode, Node, ScalarNode

from stackaudit.extractors.platform_cli import platform_commands, platform_words
from stackaudit.extractors.yamlnodes import Walker, node_span, scalar, scalar_token
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.platform import APP_ENGINE, AZURE_APP_SERVICE, RENDER, PlatformService
from stackaudit.invocation.commandline import CommandContext, find_in_script
from stackaudit.invocation.shellwords import Token
from stackaudit.source import SourceFile

# Images whose entrypoint is gcloud (Cloud Build's builder and the SDK image's wrapper).
_GCLOUD_IMAGES = ("gcr.io/cloud-builders/gcloud", "gcr.io/google.com/cloudsdktool/cloud-sdk")


def _word(source: SourceFile, node: Node | None) -> Word | None:
    if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
        return None
    token = scalar_token(source, node)
    return Word(token.text, node_span(source, node), token.symbolic)


def _scalar_env(source: SourceFile, walker: Walker, node: Node | None, label: str) -> list[EnvVar]:
    found = []
    for key, value in walker.key_items(node):
        word = _word(source, value)
        if word is not None:
            found.append(EnvVar(key.value, word, node_span(source, key), label))
    return found


def platform_manifest(
    source: SourceFile, walker: Walker, document: Node, deployment: bool
) -> list[object]:
    """The platform facts of one YAML document."""
    if not isinstance(document, MappingNode):
        return []
    found: list[object] = []
    if scalar(walker.get(document, "runtime")) and walker.get(document, "entrypoint"):
        found.extend(_app_engine(source, walker, document))
    services = walker.get(document, "services")
    if services is not None and not isinstance(services, MappingNode):
        found.extend(_render(source, walker, services))
    steps = walker.get(document, "steps")
    if steps is not None and source.kind == "yaml":
        found.extend(_cloud_build(source, walker, steps, deployment))
    if source.kind == "github-actions":
        found.extend(_azure_actions(source, walker, document, deployment))
    return found


def _app_engine(source: SourceFile, walker: Walker, document: Node) -> list[object]:
    entrypoint = walker.get(document, "entrypoint")
    if not isinstance(entrypoint, ScalarNode):
        return []
    span = node_span(source, entrypoint)
    env = _scalar_env(source, walker, walker.get(document, "env_variables"), "app.yaml")
    name = _word(source, walker.get(document, "service"))
    return [PlatformService(APP_ENGINE, span, name=name, runs_in=span, env=tuple(env))]


def _render(source: SourceFile, walker: Walker, services: Node) -> list[object]:
    found: list[object] = []
    for item in walker.sequence(services):
        if scalar(walker.get(item, "type")) != "web":
            continue  # `pserv` is private, `worker` and `cron` take no requests
        name_node = walker.get(item, "name")
        name = _word(source, name_node)
        span = node_span(source, name_node if name_node is not None else item)
        start = walker.get(item, "startCommand") or walker.get(item, "dockerCommand")
        runs_in = node_span(source, start) if isinstance(start, ScalarNode) else None
        runtime = scalar(walker.get(item, "runtime")) or scalar(walker.get(item, "env"))
        files: tuple[str, ...] = ()
        if runtime == "docker" and start is None:
            root = scalar(walker.get(item, "rootDir")) or ""
            dockerfile = scalar(walker.get(item, "dockerfilePath")) or "Dockerfile"
            files = (posixpath.normpath(posixpath.join(root, dockerfile)),)
        env, sources = _render_env(source, walker, walker.get(item, "envVars"))
        found.append(
            PlatformService(
                RENDER,
                span,
                name=name,
                runs_in=runs_in,
                runs_files=files,
                env=tuple(env),
                env_sources=tuple(sources),
            )
        )
    return found


def _render_env(
    source: SourceFile, walker: Walker, node: Node | None
) -> tuple[list[EnvVar], list[Word]]:
    env: list[EnvVar] = []
    sources: list[Word] = []
    for item in walker.sequence(node):
        group = _word(source, walker.get(item, "fromGroup"))
        if group is not None:
            sources.append(Word(f"Render env group `{group.text}`", group.span))
            continue
        key_node = walker.get(item, "key")
        key = scalar(key_node)
        if not key or key_node is None:
            continue
        value = _word(source, walker.get(item, "value"))
        span = node_span(source, key_node)
        if value is not None:
            env.append(EnvVar(key, value, span, "render.yaml envVars"))
        else:
            # generateValue, sync: false (set in the dashboard), fromDatabase, fromService.
            env.append(EnvVar(key, None, span, "render.yaml envVars", reference=True))
    return env, sources


def _cloud_build(source: SourceFile, walker: Walker, steps: Node, deployment: bool) -> list[object]:
    found: list[object] = []
    for step in walker.sequence(steps):
        args = [
            scalar_token(source, node)
            for node in walker.sequence(walker.get(step, "args"))
            if isinstance(node, ScalarNode)
        ]
        if not args:
            continue
        entrypoint = scalar(walker.get(step, "entrypoint"))
        image = scalar(walker.get(step, "name")) or ""
        if entrypoint in ("bash", "sh", "/bin/bash", "/bin/sh") and args[0].text == "-c":
            if len(args) > 1:
                found.extend(
                    platform_commands(source, args[1].text, args[1].origins, 0, "ci", deployment)
                )
        elif entrypoint == "gcloud" or (entrypoint is None and image.startswith(_GCLOUD_IMAGES)):
            program = Token("gcloud", [], args[0].start, args[0].start)
            found.extend(platform_words(source, [program, *args], "ci", deployment))
    return found


def _azure_actions(
    source: SourceFile, walker: Walker, document: Node, deployment: bool
) -> list[object]:
    found: list[object] = []
    for _, job in walker.items(walker.get(document, "jobs")):
        for step in walker.sequence(walker.get(job, "steps")):
            uses = scalar(walker.get(step, "uses")) or ""
            if not uses.lower().startswith("azure/webapps-deploy"):
                continue
            inputs = walker.get(step, "with")
            command = walker.get(inputs, "startup-command")
            if not isinstance(command, ScalarNode) or not command.value.strip():
                continue
            token = scalar_token(source, command)
            span = node_span(source, command)
            context = CommandContext(
                source, "manifest", "Azure App Service startup command", deployment
            )
            found.extend(find_in_script(context, token.text, token.origins))
            name = _word(source, walker.get(inputs, "app-name"))
            found.append(PlatformService(AZURE_APP_SERVICE, span, name=name, runs_in=span))
    return found
