"""Kubernetes manifests: the containers of every workload, with their command, args
and env.

Kubernetes semantics: ``command`` replaces the image's ENTRYPOINT and ``args`` its CMD;
``$(VAR)`` in them is expanded by Kubernetes from the container's env (``$$(VAR)`` is a
literal); an env entry with ``valueFrom`` (``secretKeyRef``, ``configMapKeyRef``…) is a
reference, never a literal."""

from __future__ import annotations

from yaml.nodes import Node, ScalarNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.commandline import CommandContext, find_in_words
from stackaudit.extractors.compose import command_tokens
from stackaudit.extractors.yamlnodes import (
    BudgetExceeded,
    Walker,
    load_documents,
    node_span,
    scalar,
    scalar_token,
)
from stackaudit.facts.common import EnvVar, ParseProblem, Word
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile

_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def pod_spec(walker: Walker, document: Node) -> tuple[str, Node | None]:
    kind = scalar(walker.get(document, "kind")) or ""
    node: Node | None = document
    for key in _POD_SPEC_PATHS.get(kind, ("-",)):
        node = walker.get(node, key)
    return kind, node


def container_env(source: SourceFile, walker: Walker, node: Node | None) -> list[EnvVar]:
    found = []
    for item in walker.sequence(node):
        name = scalar(walker.get(item, "name"))
        if not name:
            continue
        value = walker.get(item, "value")
        if isinstance(value, ScalarNode):
            token = scalar_token(source, value)
            span = node_span(source, value)
            found.append(
                EnvVar(name, Word(token.text, span, token.symbolic), span, "Kubernetes env")
            )
        elif walker.get(item, "valueFrom") is not None:
            found.append(
                EnvVar(name, None, node_span(source, item), "Kubernetes env", reference=True)
            )
    return found


def extract_kubernetes(source: SourceFile) -> Extraction:
    result = Extraction()
    documents, problems = load_documents(source)
    if problems and "{{" in source.text:
        # A Helm/Jinja template is not YAML until rendered; it cannot be judged here.
        return result
    result.problems.extend(problems)
    walker = Walker()
    deployment = not is_development_path(source.path)
    try:
        for document in documents:
            kind, spec = pod_spec(walker, document)
            workload = scalar(walker.get(walker.get(document, "metadata"), "name")) or kind
            for key in ("initContainers", "containers"):
                for container in walker.sequence(walker.get(spec, key)):
                    name = scalar(walker.get(container, "name")) or "container"
                    command = command_tokens(source, walker, walker.get(container, "command"))
                    args = command_tokens(source, walker, walker.get(container, "args"))
                    argv = (command if isinstance(command, list) else []) + (
                        args if isinstance(args, list) else []
                    )
                    if not argv:
                        continue
                    context = CommandContext(
                        source,
                        "kubernetes",
                        f"{kind} `{workload}` container `{name}`",
                        deployment,
                        container_env(source, walker, walker.get(container, "env")),
                        service=f"k8s:{source.path}:{workload}/{name}",
                    )
                    found = find_in_words(context, argv)
                    if not found and isinstance(args, list) and command:
                        found = find_in_words(context, args)
                    result.facts.extend(found)
    except BudgetExceeded:
        result.problems.append(
            ParseProblem(Span(source.path, 1, 1), "YAML aliases expand beyond the node budget")
        )
    return result
