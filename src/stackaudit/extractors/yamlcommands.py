"""Commands written in other YAML files: GitHub Actions ``run:`` steps, and the start
commands of platform manifests (anaconda-project ``commands``, App Engine
``entrypoint``, Render ``startCommand``, snapcraft ``apps.*.command``, Platform.sh
``web.commands.start``). Each such value is a shell command line."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.dependencies import conda_pin
from stackaudit.extractors.helm import helm_chart_file, is_helm_chart_file
from stackaudit.extractors.images import (
    build_push_action_builds,
    cloudbuild_builds,
    is_cloudbuild,
    workflow_checkout,
)
from stackaudit.extractors.platform_cli import platform_commands
from stackaudit.extractors.platform_manifests import platform_manifest
from stackaudit.extractors.yamlnodes import (
    BUDGET_MESSAGE,
    BudgetExceeded,
    Walker,
    load_documents,
    scalar,
    scalar_token,
)
from stackaudit.facts.common import ParseProblem
from stackaudit.facts.deps import DependencyPin
from stackaudit.invocation.commandline import CommandContext, find_invocations_in_script
from stackaudit.invocation.shellwords import Token
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile

COMMAND_KEYS = frozenset(
    {
        "run",
        "command",
        "entrypoint",
        "startCommand",
        "start",
        "unix",
        "cmd",
        "script",
        "preDeployCommand",
        "run_command",
    }
)


def _walk(
    walker: Walker,
    node: Node,
    key: str | None,
    found: list[tuple[str, ScalarNode, bool]],
    http_options: bool = False,
) -> None:
    if isinstance(node, ScalarNode):
        if key in COMMAND_KEYS and isinstance(node.value, str) and node.value.strip():
            found.append((key, node, http_options))
    elif isinstance(node, MappingNode):
        # anaconda-project: a command with `supports_http_options: true` is given the host,
        # port and address to serve on when it is run.
        options = scalar(walker.get(node, "supports_http_options")) in ("true", "True", "yes")
        for name, value in walker.items(node):
            _walk(walker, value, name, found, options)
    elif isinstance(node, SequenceNode):
        for item in walker.sequence(node):
            # A list under a command key (`script: [a, b]`) holds command lines too.
            _walk(walker, item, key if key in COMMAND_KEYS else None, found, http_options)


def _launcher_http_options(at: Token) -> list[Token]:
    """The options anaconda-project appends, with values known only at run time."""
    words = [
        "--anaconda-project-host",
        "${ANACONDA_PROJECT_HOST}",
        "--anaconda-project-address",
        "${ANACONDA_PROJECT_ADDRESS}",
        "--anaconda-project-port",
        "${ANACONDA_PROJECT_PORT}",
    ]
    return [
        Token(word, [at.start] * len(word), at.start, at.end, symbolic=word.startswith("$"))
        for word in words
    ]


def _conda_pins(source: SourceFile, walker: Walker, document: Node) -> list[DependencyPin]:
    """conda environment / anaconda-project ``dependencies:`` and ``packages:`` lists,
    with their ``pip:`` sublists."""
    pins: list[DependencyPin] = []
    for key in ("dependencies", "packages"):
        for item in walker.sequence(walker.get(document, key)):
            if isinstance(item, ScalarNode):
                pin = conda_pin(
                    source, item.value, item.start_mark.index, item.end_mark.index, source.path
                )
                if pin:
                    pins.append(pin)
            for pip_item in walker.sequence(walker.get(item, "pip")):
                if isinstance(pip_item, ScalarNode):
                    pin = conda_pin(
                        source,
                        pip_item.value,
                        pip_item.start_mark.index,
                        pip_item.end_mark.index,
                        source.path,
                    )
                    if pin:
                        pins.append(pin)
    return pins


def extract_yaml_commands(source: SourceFile) -> Extraction:
    result = Extraction()
    documents, problems = load_documents(source)
    # A YAML file of no known kind may be a template or anything else: not ours to judge.
    if source.kind != "yaml":
        result.problems.extend(problems)
    walker = Walker()
    ci = source.kind == "github-actions"
    deployed_path = not is_development_path(source.path)
    deployment = not ci and deployed_path
    try:
        if is_helm_chart_file(source.path) and not problems:
            result.facts.append(helm_chart_file(source, walker, documents))
        for document in documents:
            result.facts.extend(_conda_pins(source, walker, document))
            if ci:
                result.facts.extend(build_push_action_builds(source, walker, document, True))
            elif is_cloudbuild(walker, document):
                result.facts.extend(cloudbuild_builds(source, walker, document, deployment))
            found: list[tuple[str, ScalarNode, bool]] = []
            _walk(walker, document, None, found)
            for key, node, http_options in found:
                token = scalar_token(source, node)
                label = "workflow step `run:`" if ci else f"`{key}:` in {source.path}"
                context = CommandContext(source, "ci" if ci else "manifest", label, deployment)
                if ci:
                    # A step runs in the checked-out repository unless told otherwise.
                    context.directories = (workflow_checkout(source.path),)
                if http_options:
                    context.extra_args = _launcher_http_options(token)
                    context.launcher = "anaconda-project"
                result.facts.extend(find_invocations_in_script(context, token.text, token.origins))
                # A deploy step (`gcloud run deploy`, `heroku config:set`...) sets up
                # the platform whether it runs in CI or from a script.
                result.facts.extend(
                    platform_commands(source, token.text, token.origins, 0, context.carrier)
                )
            result.facts.extend(platform_manifest(source, walker, document, deployed_path))
    except BudgetExceeded:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), BUDGET_MESSAGE))
    return result
