"""Kubernetes manifests: workloads with their containers (command, args, env, ports,
image), Services, Ingresses with their ingress-nginx annotations, and Traefik
``IngressRoute``/``Middleware`` CRDs; every document of a multi-document file.

Kubernetes semantics: ``command`` replaces the image's ENTRYPOINT and ``args`` its CMD;
``$(VAR)`` in them is expanded by Kubernetes from the container's env (``$$(VAR)`` is a
literal); an env entry with ``valueFrom`` (``secretKeyRef``, ``configMapKeyRef``…) is a
reference, never a literal; ``envFrom`` and ``configMapKeyRef`` are recorded for the model
to resolve against the ConfigMaps and Secrets of the tree (also extracted here). A Knative
``serving.knative.dev`` Service (Cloud Run's service YAML) is a platform service whose
containers are read as a pod's. ingress-nginx CORS (``enable-cors: "true"``) becomes a
``CorsPolicy`` with the controller's defaults: ``cors-allow-origin`` ``*`` and
``cors-allow-credentials`` ``true`` when not given (internal/ingress/annotations/cors).
A Helm template that does not parse as YAML is skipped without a finding."""

from __future__ import annotations

import re

from yaml.nodes import Node, ScalarNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.compose import command_tokens
from stackaudit.extractors.images import skaffold_builds
from stackaudit.extractors.traefik import ingress_route, middleware_cors
from stackaudit.extractors.yamlnodes import (
    BUDGET_MESSAGE,
    BudgetExceeded,
    Walker,
    load_documents,
    node_span,
    restore_placeholders,
    scalar,
    scalar_token,
    unbrace_placeholders,
)
from stackaudit.facts.common import EnvVar, ParseProblem, Word, has_template
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.deploy import (
    NGINX_PREFIX,
    ContainerPort,
    IngressBackend,
    K8sConfigMap,
    K8sContainer,
    K8sContainerEnv,
    K8sEnvFrom,
    K8sIngress,
    K8sKeyRef,
    K8sService,
    K8sWorkload,
    Replicas,
    ServicePort,
    go_bool,
    parse_image,
)
from stackaudit.facts.image import ArgWord
from stackaudit.facts.platform import CLOUD_RUN, PlatformService
from stackaudit.facts.secrets import SecretLiteral
from stackaudit.invocation.commandline import CommandContext, find_in_words
from stackaudit.invocation.joined import arg_word
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
# Workloads that serve requests behind a Service (Jobs run to completion).
_SERVING = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})


def pod_spec(walker: Walker, document: Node) -> tuple[str, Node | None]:
    kind = scalar(walker.get(document, "kind")) or ""
    node: Node | None = document
    for key in _POD_SPEC_PATHS.get(kind, ("-",)):
        node = walker.get(node, key)
    return kind, node


# Kubernetes expands `$(VAR)` from the container's own env in env values, command and
# args, and `$$(VAR)` is a literal; nothing else (`$VAR`, backticks) is expanded.
_K8S_REFERENCE = re.compile(r"(?<!\$)\$\([A-Za-z_][A-Za-z0-9_]*\)")


def k8s_symbolic(text: str) -> bool:
    return _K8S_REFERENCE.search(text.replace("$$", "")) is not None or has_template(text)


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
                EnvVar(
                    name, Word(token.text, span, k8s_symbolic(token.text)), span, "Kubernetes env"
                )
            )
        elif walker.get(item, "valueFrom") is not None:
            found.append(
                EnvVar(name, None, node_span(source, item), "Kubernetes env", reference=True)
            )
    return found


def container_env_sources(
    source: SourceFile, walker: Walker, node: Node, key: str, namespace: str | None
) -> K8sContainerEnv | None:
    """The container's ``envFrom`` entries and ``configMapKeyRef`` values, which the
    model resolves against the ConfigMaps and Secrets of the scanned tree."""
    env_from = []
    for item in walker.sequence(walker.get(node, "envFrom")):
        prefix = scalar(walker.get(item, "prefix")) or ""
        for kind in ("configMap", "secret"):
            name = scalar(walker.get(walker.get(item, f"{kind}Ref"), "name"))
            if name:
                env_from.append(K8sEnvFrom(kind, name, node_span(source, item), prefix))
    key_refs = []
    for item in walker.sequence(walker.get(node, "env")):
        ref = walker.get(walker.get(item, "valueFrom"), "configMapKeyRef")
        variable = scalar(walker.get(item, "name"))
        config_map = scalar(walker.get(ref, "name"))
        config_key = scalar(walker.get(ref, "key"))
        if variable and config_map and config_key:
            key_refs.append(K8sKeyRef(variable, config_map, config_key, node_span(source, item)))
    if not env_from and not key_refs:
        return None
    return K8sContainerEnv(key, namespace, tuple(env_from), tuple(key_refs))


def _word(source: SourceFile, node: Node | None) -> Word | None:
    if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
        return None
    return Word(node.value, node_span(source, node), k8s_symbolic(node.value))


def _string_map(walker: Walker, node: Node | None) -> tuple[tuple[str, str], ...]:
    return tuple(
        (key, value.value) for key, value in walker.items(node) if isinstance(value, ScalarNode)
    )


def _word_map(
    source: SourceFile, walker: Walker, node: Node | None
) -> tuple[tuple[str, Word], ...]:
    return tuple(
        (key, word)
        for key, value in walker.items(node)
        if (word := _word(source, value)) is not None
    )


class _Manifest:
    """One document of a manifest file."""

    def __init__(self, source: SourceFile, walker: Walker, document: Node) -> None:
        self.source = source
        self.walker = walker
        self.document = document
        self.kind = scalar(walker.get(document, "kind")) or ""
        self.api = scalar(walker.get(document, "apiVersion")) or ""
        self.metadata = walker.get(document, "metadata")
        name_node = walker.get(self.metadata, "name")
        self.name = scalar(name_node) or self.kind
        self.namespace = scalar(walker.get(self.metadata, "namespace")) or None
        self.span = node_span(source, name_node) if name_node is not None else self._kind_span()

    def _kind_span(self) -> Span:
        for key, _ in self.walker.key_items(self.document):
            if key.value == "kind":
                return node_span(self.source, key)
        return node_span(self.source, self.document)

    def annotations(self) -> tuple[tuple[str, Word], ...]:
        return _word_map(self.source, self.walker, self.walker.get(self.metadata, "annotations"))

    # -- workloads ------------------------------------------------------------------------

    def workload(self, spec: Node | None) -> K8sWorkload:
        get = self.walker.get
        replicas_word = _word(self.source, get(get(self.document, "spec"), "replicas"))
        if self.kind == "Pod":
            labels = _string_map(self.walker, get(self.metadata, "labels"))
        else:
            template = get(get(self.document, "spec"), "template")
            labels = _string_map(self.walker, get(get(template, "metadata"), "labels"))
        containers = tuple(
            self.container(node) for node in self.walker.sequence(get(spec, "containers"))
        )
        return K8sWorkload(
            file=self.source.path,
            kind=self.kind,
            name=self.name,
            span=self.span,
            namespace=self.namespace,
            replicas=Replicas(replicas_word, "replicas") if replicas_word is not None else None,
            pod_labels=labels,
            containers=containers,
        )

    def container_key(self, name: str) -> str:
        # Kind and namespace too: one file may hold the same Deployment for two namespaces.
        return f"k8s:{self.source.path}:{self.kind}/{self.namespace or ''}/{self.name}/{name}"

    def container(self, node: Node) -> K8sContainer:
        get = self.walker.get
        name_node = get(node, "name")
        name = scalar(name_node) or "container"
        image_word = _word(self.source, get(node, "image"))
        ports = []
        for port in self.walker.sequence(get(node, "ports")):
            number = scalar(get(port, "containerPort")) or ""
            ports.append(
                ContainerPort(
                    int(number) if number.isdigit() else None,
                    node_span(self.source, port),
                    scalar(get(port, "name")) or "",
                )
            )
        return K8sContainer(
            name=name,
            span=node_span(self.source, name_node if name_node is not None else node),
            service_key=self.container_key(name),
            image=parse_image(image_word.text, image_word.span, image_word.symbolic)
            if image_word is not None
            else None,
            ports=tuple(ports),
            env=tuple(container_env(self.source, self.walker, get(node, "env"))),
            command_words=self.words(get(node, "command")),
            args_words=self.words(get(node, "args")),
        )

    def words(self, node: Node | None) -> tuple[ArgWord, ...] | None:
        listed = command_tokens(self.source, self.walker, node)
        if not isinstance(listed, list):
            return None
        return tuple(arg_word(self.source, token) for token in listed)

    def config_map(self) -> K8sConfigMap:
        """A ConfigMap's ``data`` (values as written) or a Secret's ``data`` and
        ``stringData`` keys (values not read: set, value unknown)."""
        secret = self.kind == "Secret"
        data: list[EnvVar] = []
        for section in ("data", "stringData") if secret else ("data",):
            for key, value in self.walker.key_items(self.walker.get(self.document, section)):
                span = node_span(self.source, key)
                word = None if secret else _word(self.source, value)
                if word is not None:
                    word = Word(word.text, word.span)  # Kubernetes expands nothing here
                label = f"{self.kind} `{self.name}`"
                data.append(EnvVar(key.value, word, span, label, reference=secret))
        return K8sConfigMap(self.name, self.namespace, secret, self.span, tuple(data))

    def secret_literals(self) -> list[SecretLiteral]:
        """A Secret's ``stringData`` values written in clear in the manifest."""
        found = []
        for key, value in self.walker.key_items(self.walker.get(self.document, "stringData")):
            word = _word(self.source, value)
            if word is not None:
                span = node_span(self.source, key)
                found.append(SecretLiteral(self.name, key.value, Word(word.text, word.span), span))
        return found

    # -- networking -----------------------------------------------------------------------

    def service(self) -> K8sService:
        get = self.walker.get
        spec = get(self.document, "spec")
        ports = [
            ServicePort(
                node_span(self.source, port),
                port=scalar(get(port, "port")) or "",
                target_port=scalar(get(port, "targetPort")) or "",
                node_port=scalar(get(port, "nodePort")) or "",
                name=scalar(get(port, "name")) or "",
            )
            for port in self.walker.sequence(get(spec, "ports"))
        ]
        return K8sService(
            file=self.source.path,
            name=self.name,
            span=self.span,
            namespace=self.namespace,
            type=scalar(get(spec, "type")) or "ClusterIP",
            selector=_string_map(self.walker, get(spec, "selector")),
            session_affinity=_word(self.source, get(spec, "sessionAffinity")),
            ports=tuple(ports),
            annotations=self.annotations(),
        )

    def ingress(self) -> K8sIngress:
        get = self.walker.get
        spec = get(self.document, "spec")
        annotations = self.annotations()
        ingress_class = (
            scalar(get(spec, "ingressClassName"))
            or dict(annotations).get("kubernetes.io/ingress.class", Word("", self.span)).text
        )
        backends: list[IngressBackend] = []
        for default in (get(spec, "defaultBackend"), get(spec, "backend")):
            backend = self.backend(default, "", "")
            if backend is not None:
                backends.append(backend)
        for rule in self.walker.sequence(get(spec, "rules")):
            host = scalar(get(rule, "host")) or ""
            for path in self.walker.sequence(get(get(rule, "http"), "paths")):
                backend = self.backend(get(path, "backend"), host, scalar(get(path, "path")) or "")
                if backend is not None:
                    backends.append(backend)
        tls_hosts = [
            name
            for entry in self.walker.sequence(get(spec, "tls"))
            for node in self.walker.sequence(get(entry, "hosts"))
            if (name := scalar(node))
        ]
        return K8sIngress(
            file=self.source.path,
            name=self.name,
            span=self.span,
            namespace=self.namespace,
            ingress_class=ingress_class or None,
            annotations=annotations,
            backends=tuple(backends),
            tls_hosts=tuple(tls_hosts),
        )

    def backend(self, node: Node | None, host: str, path: str) -> IngressBackend | None:
        get = self.walker.get
        if node is None:
            return None
        service = get(node, "service")
        if service is not None:  # networking.k8s.io/v1
            name = scalar(get(service, "name"))
            port = get(service, "port")
            number = scalar(get(port, "number")) or scalar(get(port, "name")) or ""
        else:  # extensions/v1beta1, networking.k8s.io/v1beta1
            name = scalar(get(node, "serviceName"))
            number = scalar(get(node, "servicePort")) or ""
        if not name:
            return None
        return IngressBackend(name, node_span(self.source, node), number, host, path)


def ingress_nginx_cors(ingress: K8sIngress) -> CorsPolicy | None:
    """ingress-nginx's CORS for an Ingress with ``enable-cors: "true"``: the origin list
    defaults to ``*`` and credentials to ``true``; with ``*`` the controller sends
    ``Access-Control-Allow-Origin: *``, with a list it echoes an Origin that matches
    (a case-insensitive regex built from the list)."""
    enabled = ingress.nginx("enable-cors")
    if enabled is None or go_bool(enabled.text) is not True:
        return None
    origin = ingress.nginx("cors-allow-origin")
    origins: tuple[Word, ...]
    if origin is None:
        origins = (Word("*", enabled.span, default_used=True),)
    else:
        parts = [part.strip() for part in origin.text.split(",") if part.strip()]
        if "*" in parts or not parts:
            parts = ["*"]
        origins = tuple(Word(part, origin.span, origin.symbolic) for part in parts)
    written = ingress.nginx("cors-allow-credentials")
    credentials: Word | None = Word("true", enabled.span, default_used=True)
    if written is not None and go_bool(written.text) is not None:
        credentials = written if go_bool(written.text) else None
    wildcard = any(word.text == "*" for word in origins)
    return CorsPolicy(
        kind="ingress-nginx",
        span=enabled.span,
        where=f"Ingress `{ingress.name}` (ingress-nginx enable-cors)",
        allowed_origins=origins,
        reflects_origin=None if wildcard else (origin.span if origin else None),
        reflection_guarded=not wildcard,
        allow_credentials=credentials,
    )


def extract_kubernetes(source: SourceFile) -> Extraction:
    result = Extraction()
    documents, problems = load_documents(source)
    unbraced = unbrace_placeholders(source.text) if problems else None
    if unbraced is not None:
        # A Helm template (`replicas: {{ .Values.replicas }}`, `{{- if }}` lines): read
        # around its template parts, which stay run-time values.
        retried, still = load_documents(source, unbraced)
        if not still:
            restore_placeholders(source, retried)
            documents, problems = retried, []
    if problems and "{{" in source.text:
        # Still no YAML: it cannot be judged before it is rendered.
        return result
    result.problems.extend(problems)
    walker = Walker()
    deployment = not is_development_path(source.path)
    try:
        for document in documents:
            _document(source, walker, document, deployment, result)
    except BudgetExceeded:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), BUDGET_MESSAGE))
    return result


def _document(
    source: SourceFile, walker: Walker, document: Node, deployment: bool, result: Extraction
) -> None:
    manifest = _Manifest(source, walker, document)
    kind = manifest.kind
    if manifest.api.startswith("skaffold/"):
        result.facts.extend(skaffold_builds(source, walker, document, deployment))
        return
    if kind == "Service" and manifest.api == "v1":
        result.facts.append(manifest.service())
        return
    if kind == "Ingress":
        ingress = manifest.ingress()
        result.facts.append(ingress)
        policy = ingress_nginx_cors(ingress)
        if policy is not None:
            result.facts.append(policy)
        return
    if manifest.api.startswith(("traefik.io/", "traefik.containo.us/")):
        if kind == "IngressRoute":
            result.facts.append(
                ingress_route(source, walker, document, manifest.name, manifest.namespace)
            )
        elif kind == "Middleware":
            cors = middleware_cors(source, walker, document, manifest.name)
            if cors is not None:
                result.facts.append(cors)
        return
    if kind in ("ConfigMap", "Secret") and manifest.api == "v1":
        result.facts.append(manifest.config_map())
        if kind == "Secret":
            result.facts.extend(manifest.secret_literals())
        return
    kind, spec = pod_spec(walker, document)
    if manifest.api.startswith("serving.knative.dev/") and kind == "Service":
        # A Knative Service: the service YAML Cloud Run deploys (`gcloud run services
        # replace`); its pods are reached through the platform's router only.
        spec = walker.get(walker.get(walker.get(document, "spec"), "template"), "spec")
        if spec is None:
            return
        result.facts.append(
            PlatformService(
                CLOUD_RUN,
                manifest.span,
                name=Word(manifest.name, manifest.span),
                runs_containers=manifest.container_key(""),
                timeout=_word(source, walker.get(spec, "timeoutSeconds")),
            )
        )
    if spec is None:
        return
    if kind in _SERVING:
        result.facts.append(manifest.workload(spec))
    for key in ("initContainers", "containers"):
        for container in walker.sequence(walker.get(spec, key)):
            env = container_env(source, walker, walker.get(container, "env"))
            sources = container_env_sources(
                source,
                walker,
                container,
                manifest.container_key(scalar(walker.get(container, "name")) or "container"),
                manifest.namespace,
            )
            if sources is not None:
                result.facts.append(sources)
            found = _commands(source, walker, container, env, manifest, deployment)
            result.facts.extend(found)
            if not found:
                # The image's own command runs: its environment still matters.
                result.facts.extend(env)


def _commands(
    source: SourceFile,
    walker: Walker,
    container: Node,
    env: list[EnvVar],
    manifest: _Manifest,
    deployment: bool,
) -> list[object]:
    name = scalar(walker.get(container, "name")) or "container"
    command = command_tokens(source, walker, walker.get(container, "command"))
    args = command_tokens(source, walker, walker.get(container, "args"))
    argv = (command if isinstance(command, list) else []) + (args if isinstance(args, list) else [])
    if not argv:
        return []
    context = CommandContext(
        source,
        "kubernetes",
        f"{manifest.kind} `{manifest.name}` container `{name}`",
        deployment,
        env,
        service=manifest.container_key(name),
    )
    # A `command:` that is a script running its arguments is followed by the model.
    return list(find_in_words(context, argv))


__all__ = ["NGINX_PREFIX", "container_env", "extract_kubernetes", "pod_spec"]
