"""Compose, Kubernetes and Traefik: interpolation, ports, merging, routing, linking."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackaudit.diagnostics import Confidence
from stackaudit.extractors.compose import extract_compose, interpolate
from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.kubernetes import extract_kubernetes
from stackaudit.facts.common import EnvVar
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.deploy import ComposeFile, ComposeService, PortMapping
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.deploy import DeployModel
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile

from .support import found, scan, write_files


def compose_facts(text: str, path: str = "docker-compose.yml") -> list[object]:
    result = extract_compose(SourceFile(path, "compose", textwrap.dedent(text)))
    assert result.problems == []
    return result.facts


def k8s_facts(text: str, path: str = "k8s.yaml") -> list[object]:
    result = extract_kubernetes(SourceFile(path, "kubernetes", textwrap.dedent(text)))
    assert result.problems == []
    return result.facts


def deploy(*files: tuple[str, str]) -> DeployModel:
    facts: list[object] = []
    for path, text in files:
        if path.endswith("Dockerfile"):
            facts += extract_dockerfile(SourceFile(path, "dockerfile", textwrap.dedent(text))).facts
        elif "k8s" in path:
            facts += k8s_facts(text, path)
        else:
            facts += compose_facts(text, path)
    return Stack(facts).deploy


def service(model: DeployModel, name: str) -> ComposeService:
    [found_service] = [s for s in model.compose_services if s.name == name]
    return found_service


def ports(text: str) -> list[PortMapping]:
    facts = compose_facts(f"services:\n  app:\n    ports:\n{textwrap.indent(text, '      ')}")
    [compose] = [f for f in facts if isinstance(f, ComposeFile)]
    return list(compose.services[0].ports)


# -- interpolation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "text", "symbolic", "default"),
    [
        ("plain", "plain", False, False),
        ("a$$b", "a$b", False, False),
        ("$$(cat /x)", "$(cat /x)", False, False),
        ("${VAR}", "${VAR}", True, False),
        ("$VAR/x", "$VAR/x", True, False),
        ("${VAR:-dflt}", "dflt", False, True),
        ("${VAR-dflt}", "dflt", False, True),
        ("${VAR:?must be set}", "${VAR:?must be set}", True, False),
        ("${VAR?must be set}", "${VAR?must be set}", True, False),
        ("${VAR:+alt}", "${VAR:+alt}", True, False),
        ("x${A:-${B:-inner}}y", "xinnery", False, True),
        ("${A:-${B}}", "${B}", True, True),
        ("${A:-$$literal}", "$literal", False, True),
        ("${unterminated", "${unterminated", True, False),
        ("cost: 5$", "cost: 5$", False, False),
    ],
)
def test_interpolation(written: str, text: str, symbolic: bool, default: bool) -> None:
    result = interpolate(written, list(range(len(written))))
    assert (result.text, result.symbolic, result.default_used) == (text, symbolic, default)
    assert len(result.origins) == len(result.text)


def test_a_default_points_at_its_own_characters() -> None:
    written = "${HOST:-0.0.0.0}:5006"
    result = interpolate(written, list(range(len(written))))
    assert result.text == "0.0.0.0:5006"
    assert written[result.origins[0] : result.origins[6] + 1] == "0.0.0.0"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="${}:-?+ab_$", max_size=40))
def test_interpolation_never_fails(written: str) -> None:
    result = interpolate(written, list(range(len(written))))
    assert len(result.origins) == len(result.text) == len(result.unknown)


# -- ports, images, volumes, labels --------------------------------------------------------


def test_short_port_syntax() -> None:
    found_ports = ports(
        textwrap.dedent(
            """\
            - "5006"
            - "127.0.0.1:5006:5006"
            - "8000-8005:8000-8005"
            - "[::1]:80:80"
            - "6060:6060/udp"
            - "127.0.0.1::5000"
            - 22:22
            - 9000
            - "0.0.0.0:7000:7000"
            """
        )
    )
    got = [(p.host_ip, p.published, p.target, p.protocol, p.on_all_interfaces) for p in found_ports]
    assert got == [
        (None, None, "5006", "tcp", True),
        ("127.0.0.1", "5006", "5006", "tcp", False),
        (None, "8000-8005", "8000-8005", "tcp", True),
        ("::1", "80", "80", "tcp", False),
        (None, "6060", "6060", "udp", True),
        ("127.0.0.1", None, "5000", "tcp", False),
        (None, "22", "22", "tcp", True),  # YAML 1.1 would read 22:22 as 1342
        (None, None, "9000", "tcp", True),
        ("0.0.0.0", "7000", "7000", "tcp", True),
    ]
    assert found_ports[2].targets is not None and 8003 in found_ports[2].targets


def test_long_port_syntax_and_interpolated_host() -> None:
    found_ports = ports(
        textwrap.dedent(
            """\
            - target: 5006
              published: "8080"
              host_ip: 127.0.0.1
            - target: 5006
              published: 8081
              protocol: UDP
            - "${BIND:-127.0.0.1}:5007:5006"
            - "${BIND}:5008:5006"
            - "${BIND:?error: set it}:5009:5006"
            """
        )
    )
    assert [(p.host_ip, p.published, p.protocol) for p in found_ports[:2]] == [
        ("127.0.0.1", "8080", "tcp"),
        (None, "8081", "udp"),
    ]
    assert found_ports[2].default_used and found_ports[2].on_all_interfaces is False
    assert found_ports[3].on_all_interfaces is None and found_ports[3].symbolic
    assert found_ports[4].on_all_interfaces is None and found_ports[4].published == "5009"


def test_service_settings() -> None:
    model = deploy(
        (
            "deploy/docker-compose.yml",
            """
            services:
              web:
                image: registry.example.com:5000/team/nginx:1.27-alpine@sha256:abc
                build:
                  context: ../app
                  dockerfile: docker/Dockerfile.prod
                expose: ["80", 8080]
                networks: {front: {}, back: {aliases: [web]}}
                network_mode: host
                deploy:
                  replicas: ${REPLICAS:-3}
                  labels: [swarm.only=yes]
                labels:
                  com.example.team: dashboards
                volumes:
                  - ./nginx/site.conf:/etc/nginx/conf.d/default.conf:ro
                  - data:/var/lib/data
                  - /tmp
                  - type: bind
                    source: ../shared
                    target: /shared
                env_file: [.env, {path: extra.env, required: false}]
                profiles: [prod]
                depends_on: {api: {condition: service_healthy}}
            """,
        )
    )
    web = service(model, "web")
    assert web.image is not None
    assert (web.image.name, web.image.tag, web.image.version) == ("nginx", "1.27-alpine", "1.27")
    assert web.build is not None and web.build.dockerfile == "app/docker/Dockerfile.prod"
    assert [w.text for w in web.expose] == ["80", "8080"]
    assert web.networks == ("front", "back") and web.host_network
    assert web.replicas is not None and web.replicas.count == 3
    assert web.replicas.value.default_used
    assert {label.key for label in web.labels} == {"com.example.team", "swarm.only"}
    mounts = [(v.source, v.target, v.kind, v.read_only, v.host_path) for v in web.volumes]
    assert mounts == [
        (
            "./nginx/site.conf",
            "/etc/nginx/conf.d/default.conf",
            "bind",
            True,
            "deploy/nginx/site.conf",
        ),
        ("data", "/var/lib/data", "volume", False, None),
        (None, "/tmp", "volume", False, None),
        ("../shared", "/shared", "bind", False, "shared"),
    ]
    assert [w.text for w in web.env_files] == [".env", "extra.env"]
    assert web.profiles == ("prod",) and web.depends_on == ("api",)


# -- merging --------------------------------------------------------------------------------


def test_override_merges_as_compose_does() -> None:
    model = deploy(
        (
            "docker-compose.yml",
            """
            services:
              app:
                image: app:1
                command: panel serve a.py
                ports: ["127.0.0.1:5006:5006", "9000:9000"]
                labels: {a: "1", b: "1"}
                environment: {A: "1", B: "1"}
            """,
        ),
        (
            "docker-compose.override.yml",
            """
            services:
              app:
                command: panel serve b.py
                ports: ["9000:9000", "5007:5007"]
                labels: [b=2, c=3]
                environment: [B=2]
              extra:
                image: extra:1
            """,
        ),
        ("docker-compose.prod.yml", "services:\n  app:\n    image: app:prod\n"),
    )
    [prod, app, extra] = sorted(model.compose_services, key=lambda s: (s.project, s.name))
    assert app.project == "docker-compose.yml" and extra.name == "extra"
    assert [p.describe() for p in app.ports] == ["127.0.0.1:5006:5006", "9000:9000", "5007:5007"]
    assert [(label.key, label.value.text) for label in app.labels] == [
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
    ]
    assert [(v.name, v.value.text if v.value else None) for v in app.env] == [
        ("A", "1"),
        ("B", "2"),
    ]
    assert app.command is not None and app.command.path == "docker-compose.override.yml"
    assert set(app.sources) == {
        "compose:docker-compose.yml:app",
        "compose:docker-compose.override.yml:app",
    }
    assert prod.project == "docker-compose.prod.yml" and prod.image is not None


def test_only_the_first_override_is_merged_into_the_first_base() -> None:
    model = deploy(
        ("compose.yaml", "services:\n  a:\n    image: one\n"),
        ("docker-compose.yml", "services:\n  b:\n    image: two\n"),
        ("compose.override.yml", "services:\n  a:\n    image: three\n"),
    )
    assert {
        (s.project, s.name, s.image.text if s.image else "") for s in model.compose_services
    } == {
        ("compose.yaml", "a", "three"),
        ("docker-compose.yml", "b", "two"),
    }


def test_extends_include_and_cycles() -> None:
    model = deploy(
        (
            "docker-compose.yml",
            """
            include:
              - infra/compose.yaml
              - path: [../outside.yaml]
            services:
              base:
                image: app:1
                ports: ["5006:5006"]
              app:
                extends: base
                labels: [traefik.enable=true]
              remote:
                extends: {file: common/services.yml, service: shared}
              loop-a:
                extends: loop-b
              loop-b:
                extends: loop-a
            """,
        ),
        (
            "infra/compose.yaml",
            "include: [../docker-compose.yml]\nservices:\n  proxy:\n    image: traefik:v3\n",
        ),
        ("common/services.yml", "services:\n  shared:\n    image: shared:2\n    expose: ['80']\n"),
    )
    projects = {s.project for s in model.compose_services if s.project == "docker-compose.yml"}
    assert projects == {"docker-compose.yml"}
    app = service(model, "app")
    assert app.image is not None and app.image.text == "app:1"
    assert [p.describe() for p in app.ports] == ["5006:5006"]
    assert app.traefik.routes_http
    remote = next(s for s in model.compose_services if s.name == "remote")
    assert remote.image is not None and remote.image.text == "shared:2"
    assert [s.name for s in model.compose_services if s.project == "docker-compose.yml"].count(
        "proxy"
    ) == 1


# -- Traefik ----------------------------------------------------------------------------------


def test_traefik_labels_are_case_insensitive_and_sticky_needs_the_cookie() -> None:
    model = deploy(
        (
            "docker-compose.yml",
            """
            services:
              sticky:
                labels:
                  - TRAEFIK.HTTP.ROUTERS.r.RULE=Host(`a.example.com`) || Host(`b.example.com`, `c`)
                  - traefik.http.routers.r.middlewares=auth@docker, cors
                  - traefik.http.routers.r.tls.certresolver=le
                  - traefik.http.services.s.loadBalancer.sticky.cookie.name=route
                  - traefik.http.middlewares.auth.basicauth.usersfile=/users
              hrw:
                labels: {traefik.http.services.s.loadbalancer.strategy: HRW}
              not-sticky:
                labels:
                  - traefik.http.services.s.loadbalancer.sticky=true
                  - traefik.http.services.t.loadbalancer.sticky.cookie=false
              off:
                labels: [traefik.enable=false, traefik.http.routers.x.rule=Host(`x`)]
              tcp-only:
                labels: [traefik.enable=true, traefik.tcp.routers.db.rule=HostSNI(`*`)]
            """,
        )
    )
    sticky = service(model, "sticky").traefik
    [router] = sticky.routers
    assert router.hosts == ("a.example.com", "b.example.com", "c")
    assert [w.text for w in router.middlewares] == ["auth@docker", "cors"] and router.tls
    assert sticky.session_affinity and sticky.middlewares[0].authenticates
    assert service(model, "hrw").traefik.session_affinity
    assert not service(model, "not-sticky").traefik.session_affinity
    assert not service(model, "off").traefik.routes_http
    assert not service(model, "tcp-only").traefik.routes_http


def test_traefik_cors_policies() -> None:
    facts = compose_facts(
        """
        services:
          api:
            labels:
              - traefik.http.middlewares.c.headers.accesscontrolalloworiginlist=https://a.example.com, *
              - traefik.http.middlewares.c.headers.accessControlAllowOriginListRegex=https://.*\\.example\\.com
              - traefik.http.middlewares.c.headers.accesscontrolallowcredentials=true
        """
    )
    [policy] = [f for f in facts if isinstance(f, CorsPolicy)]
    assert policy.kind == "traefik"
    assert [w.text for w in policy.allowed_origins] == ["https://a.example.com", "*"]
    assert [p.match for p in policy.origin_patterns] == ["search"]
    assert policy.allow_credentials is not None and policy.reflection_guarded


# -- environment and secrets ------------------------------------------------------------------


def test_env_of_image_only_services_is_a_fact_of_its_own() -> None:
    facts = compose_facts(
        """
        services:
          image-only:
            image: panel-app
            environment: {PANEL_COOKIE_SECRET: literal}
          with-command:
            command: panel serve app.py
            environment: {PANEL_COOKIE_SECRET: other}
        """
    )
    loose = [f for f in facts if isinstance(f, EnvVar)]
    assert [v.name for v in loose] == ["PANEL_COOKIE_SECRET"] and loose[0].value is not None
    assert loose[0].value.text == "literal"
    [command] = [f for f in facts if isinstance(f, ServeCommand)]
    assert command.env_var("PANEL_COOKIE_SECRET") is not None


def test_secret_findings_follow_interpolation(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "docker-compose.yml": textwrap.dedent(
                """\
                services:
                  a:
                    image: panel-app
                    environment:
                      PANEL_COOKIE_SECRET: ${COOKIE_SECRET}
                      BOKEH_SECRET_KEY: ${KEY:-default-key}
                """
            )
        },
    )
    result = scan(tmp_path, select=["SA202"])
    assert found(result.diagnostics) == {("docker-compose.yml", 6, "SA202")}
    assert result.diagnostics[0].confidence == Confidence.MEDIUM


# -- Kubernetes ---------------------------------------------------------------------------------


K8S = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: dash, namespace: apps}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: dash, tier: web}}
    spec:
      containers:
        - name: panel
          image: holoviz/panel-demo:1.0
          args: [panel, serve, app.py, --port, "5100"]
          ports: [{containerPort: 5100, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: dash, namespace: apps}
spec:
  selector: {app: dash}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: dash, namespace: other}
spec:
  selector: {app: dash}
---
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata:
  name: dash
  namespace: apps
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/enable-cors: "true"
    nginx.ingress.kubernetes.io/cors-allow-origin: "https://a.example.com,https://b.example.com"
    nginx.ingress.kubernetes.io/cors-allow-credentials: "false"
spec:
  rules:
    - host: dash.example.com
      http:
        paths:
          - path: /
            backend: {serviceName: dash, servicePort: 80}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: dash-route, namespace: apps}
spec:
  routes:
    - match: Host(`dash.example.com`)
      services:
        - name: dash
          port: 80
          strategy: wrr
"""


def test_kubernetes_links() -> None:
    model = deploy(("k8s/dash.yaml", K8S))
    [workload] = model.k8s_workloads
    assert workload.replicas is not None and workload.replicas.count == 2
    [selecting] = model.services_selecting(workload)
    assert selecting.namespace == "apps"
    stack = Stack(k8s_facts(K8S, "k8s/dash.yaml"))
    ports_used = model.app_ports(workload, stack.serve_commands)
    assert ports_used == {"5100", "http"}
    routes = model.routes_into(workload, ports_used)
    assert [(r.label.split(" ")[0], r.affinity) for r in routes] == [
        ("Ingress", True),
        ("IngressRoute", False),
    ]
    evidence = model.k8s_bokeh_evidence(workload, stack.serve_commands)
    assert evidence is not None and evidence[2] == Confidence.HIGH


def test_ingress_route_to_traefik_dashboard_reaches_no_workload() -> None:
    dashboard = """
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: dashboard, namespace: apps}
spec:
  routes:
    - match: Host(`traefik.example.com`)
      kind: Rule
      services:
        - name: api@internal
          kind: TraefikService
"""
    model = deploy(("k8s/dash.yaml", K8S), ("k8s/dashboard.yaml", dashboard))
    [workload] = model.k8s_workloads
    labels = [r.label for r in model.routes_into(workload, {"5100", "http"})]
    assert not any("dashboard" in label for label in labels)
    assert len(labels) == 2


def test_ingress_nginx_cors_defaults() -> None:
    facts = k8s_facts(K8S)
    [policy] = [f for f in facts if isinstance(f, CorsPolicy)]
    assert [w.text for w in policy.allowed_origins] == [
        "https://a.example.com",
        "https://b.example.com",
    ]
    assert policy.allow_credentials is None and policy.reflection_guarded
    defaults = k8s_facts(
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: x
          annotations: {nginx.ingress.kubernetes.io/enable-cors: "true"}
        """
    )
    [policy] = [f for f in defaults if isinstance(f, CorsPolicy)]
    assert [w.text for w in policy.allowed_origins] == ["*"]
    assert policy.allow_credentials is not None and policy.allow_credentials.text == "true"


def test_helm_templates_and_alias_bombs() -> None:
    helm = extract_kubernetes(
        SourceFile("t.yaml", "kubernetes", "kind: Deployment\nmetadata:\n  name: {{ .Name }\n")
    )
    assert helm.facts == [] and helm.problems == []
    # Each level merges the previous one ten times: 10**8 keys to visit at the bottom.
    bomb = "a: &a {" + ", ".join(f"k{i}: x" for i in range(10)) + "}\n"
    for level in "bcdefgh":
        previous = ", ".join([f"*{chr(ord(level) - 1)}"] * 10)
        bomb += f"{level}: &{level} {{<<: [{previous}]}}\n"
    bomb += "services:\n  app:\n    <<: *h\n"
    result = extract_compose(SourceFile("docker-compose.yml", "compose", bomb))
    assert [p.message for p in result.problems] == [
        "more YAML nodes than the budget of 200,000 (aliases count at every use)"
    ]


def test_dockerfile_cmd_links_to_the_compose_service() -> None:
    model = deploy(
        ("app/Dockerfile", 'FROM python:3.12\nCMD ["bokeh", "serve", "app.py"]\n'),
        (
            "docker-compose.yml",
            "services:\n  app:\n    build: app\n  other:\n    build: app\n    command: sleep 1\n",
        ),
    )
    facts = extract_dockerfile(
        SourceFile(
            "app/Dockerfile", "dockerfile", 'FROM python:3.12\nCMD ["bokeh", "serve", "app.py"]\n'
        )
    ).facts
    commands = [f for f in facts if isinstance(f, ServeCommand)]
    evidence = model.bokeh_evidence(service(model, "app"), commands)
    assert evidence is not None and evidence[1] == "runs `bokeh serve`"
    assert model.bokeh_evidence(service(model, "other"), commands) is None
    assert model.compose_service_for(commands[0]) == service(model, "app")


def test_exposure_of_a_command() -> None:
    text = """
        services:
          public:
            command: panel serve app.py --port 5100
            ports: ["5100:5100", "9000:9000"]
          local:
            command: panel serve app.py
            ports: ["127.0.0.1:5006:5006"]
          internal:
            command: panel serve app.py
            expose: ["5006"]
          host:
            command: panel serve app.py
            network_mode: host
        """
    facts = compose_facts(text)
    stack = Stack(facts)
    by_service = {
        c.service.rsplit(":", 1)[-1]: stack.deploy.exposure(c) for c in stack.serve_commands
    }
    public = by_service["public"]
    assert public is not None and [p.describe() for p in public.ports] == ["5100:5100"]
    assert public.reachable_without_proxy is True
    assert by_service["local"] is not None and by_service["local"].reachable_without_proxy is False
    internal = by_service["internal"]
    assert internal is not None and internal.reachable_without_proxy is False
    assert by_service["host"] is not None and by_service["host"].reachable_without_proxy is None


def test_services_mounting_a_config() -> None:
    model = deploy(
        (
            "deploy/compose.yaml",
            """
            services:
              proxy:
                image: nginx:1.27
                volumes: [./nginx/conf.d:/etc/nginx/conf.d:ro, ../site.conf:/etc/nginx/nginx.conf]
              app:
                image: app
            """,
        )
    )
    assert [s.name for s in model.services_mounting("deploy/nginx/conf.d/app.conf")] == ["proxy"]
    assert [s.name for s in model.services_mounting("site.conf")] == ["proxy"]
    assert model.services_mounting("deploy/other.conf") == []
    assert [s.name for s in model.services_named("app")] == ["app"]


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.text(alphabet="abc:/.-[]${}=*0159 ", max_size=12),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "target",
                    "published",
                    "host_ip",
                    "path",
                    "service",
                    "file",
                    "context",
                    "dockerfile",
                    "replicas",
                    "labels",
                    "source",
                    "type",
                    "name",
                    "value",
                    "port",
                    "number",
                    "selector",
                    "spec",
                    "template",
                    "metadata",
                ]
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
_SERVICE_KEYS = st.sampled_from(
    [
        "image",
        "build",
        "command",
        "entrypoint",
        "ports",
        "expose",
        "networks",
        "network_mode",
        "deploy",
        "scale",
        "labels",
        "volumes",
        "environment",
        "env_file",
        "profiles",
        "depends_on",
        "extends",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text("ab", min_size=1, max_size=3), st.dictionaries(_SERVICE_KEYS, _VALUES)),
    _VALUES,
)
def test_odd_compose_values_never_raise(services: dict[str, object], include: object) -> None:
    import yaml

    text = yaml.safe_dump({"services": services, "include": include})
    facts = extract_compose(SourceFile("compose.yaml", "compose", text)).facts
    Stack(facts).deploy  # noqa: B018 - resolving must not raise either


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["Deployment", "Service", "Ingress", "IngressRoute", "Middleware", "Pod"]),
    _VALUES,
)
def test_odd_manifests_never_raise(kind: str, spec: object) -> None:
    import yaml

    api = "traefik.io/v1alpha1" if kind in ("IngressRoute", "Middleware") else "v1"
    document = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "x", "annotations": spec},
        "spec": spec,
    }
    facts = extract_kubernetes(SourceFile("k.yaml", "kubernetes", yaml.safe_dump(document))).facts
    Stack(facts).deploy  # noqa: B018


def test_exposed_by_default_false_needs_traefik_enable() -> None:
    model = deploy(
        (
            "compose.yaml",
            """
            services:
              traefik:
                image: traefik:v3.3
                command: ["--providers.docker", "--providers.docker.exposedByDefault=false"]
              labelled:
                labels: [traefik.http.routers.a.rule=Host(`a`)]
              enabled:
                labels: [traefik.enable=true, traefik.http.routers.b.rule=Host(`b`)]
            """,
        )
    )
    assert not model.routed_by_traefik(service(model, "labelled"))
    assert model.routed_by_traefik(service(model, "enabled"))
    assert model.proxy_evidence(service(model, "labelled")) == []


def test_escaped_dollar_reaches_the_program_as_text() -> None:
    # `$$` is a literal dollar: without a shell, `$${HOST}` is the text `${HOST}` for the
    # server; through `sh -c` the shell expands it; `${HOST}` is Compose's own variable.
    facts = compose_facts(
        """
        services:
          plain:
            image: dash
            command: ["panel", "serve", "app.py", "--allow-websocket-origin=$${HOST}"]
          shell:
            image: dash
            command: ["sh", "-c", "exec panel serve app.py --allow-websocket-origin=$${HOST}"]
          compose:
            image: dash
            command: ["panel", "serve", "app.py", "--allow-websocket-origin=${HOST}"]
          string:
            image: dash
            command: panel serve app.py --allow-websocket-origin=$${HOST}
        """
    )
    origins = {
        command.service: command.values("allow_websocket_origin")[-1]
        for command in facts
        if isinstance(command, ServeCommand)
    }
    assert {name.rsplit(":", 1)[-1]: (w.text, w.symbolic) for name, w in origins.items()} == {
        "plain": ("${HOST}", False),
        "shell": ("${HOST}", True),
        "compose": ("${HOST}", True),
        "string": ("${HOST}", False),
    }


def test_compose_templates_are_read_or_skipped_quietly() -> None:
    from stackaudit.extractors.compose import extract_compose
    from stackaudit.source import SourceFile

    jinja = (
        "services:\n  web:\n{% if prod %}\n    command: panel serve a.py\n{% endif %}\n"
        "    image: {{ image }}\n"
    )
    result = extract_compose(SourceFile("docker-compose.yml.j2", "compose", jinja))
    assert result.problems == [] and result.facts
    # Not YAML even with its statements blanked: skipped, no SA001.
    go = "services:\n  web:\n    command: [ {{ range .A }}{{ . }}, {{ end }} ]\n  - x\n"
    assert extract_compose(SourceFile("compose.yaml.tpl", "compose", go)).problems == []
    # A plain compose file holding a Go template elsewhere still reports its own error.
    plain = "services:\n  web:\n    healthcheck:\n      test: \"docker inspect -f '{{.State}}'\"\n  - x\n"
    [problem] = extract_compose(SourceFile("docker-compose.yml", "compose", plain)).problems
    assert problem.message.startswith("invalid YAML")


def test_env_file_lines_as_compose_reads_them() -> None:
    from stackaudit.extractors.envfile import extract_env_file
    from stackaudit.facts.envfile import EnvFile
    from stackaudit.source import SourceFile

    text = (
        "# comment\n"
        "\n"
        "PLAIN=value # comment\n"
        "HASH=value#not-a-comment\n"
        "export EXPORTED=1\n"
        "SINGLE='$HOME \\' x'\n"
        'DOUBLE="a\\tb $HOME" # comment\n'
        "FROM_HOST\n"
        "EXPANDED=${OTHER:-x}\n"
    )
    [env_file] = extract_env_file(SourceFile("app.env", "env", text)).facts
    assert isinstance(env_file, EnvFile)
    found = {
        v.name: (v.value.text, v.value.symbolic) if v.value else None for v in env_file.variables
    }
    assert found == {
        "PLAIN": ("value", False),
        "HASH": ("value#not-a-comment", False),
        "EXPORTED": ("1", False),
        "SINGLE": ("$HOME ' x", False),
        "DOUBLE": ("a\tb $HOME", True),
        "FROM_HOST": None,
        "EXPANDED": ("${OTHER:-x}", True),
    }
    plain = env_file.variables[0]
    assert (plain.span.line, plain.value.span.column if plain.value else 0) == (3, 7)


def test_a_proxy_reaches_the_project_that_mounts_its_configuration() -> None:
    """docker-compose.yml and docker-compose.prod.yml in one directory are two projects
    that both name a service `dash`; nginx.conf is mounted by the prod project only, so
    its `proxy_pass http://dash:5006` reaches that project's `dash` alone."""
    from stackaudit.config import Config
    from stackaudit.graph import build_stack

    from .support import FIXTURES

    root = FIXTURES / "stacks" / "compose-projects-same-dir_fp"
    stack = build_stack([root], root, Config(), 1)
    [frontend] = stack.links.frontends
    assert [b.command.span.path for b in frontend.backends] == ["docker-compose.prod.yml"]


def test_unquoted_template_values_are_read_around_and_kept_as_written() -> None:
    from stackaudit.extractors.yamlnodes import unbrace_placeholders

    text = "a: {{.Env.X}} # c\nb:\n  - {{.Env.K}}:/k\nc: &x {{ y }}\nd: 'q{{z}}'\n"
    assert unbrace_placeholders(text) == (
        "a: _{.Env.X}} # c\nb:\n  - _{.Env.K}}:/k\nc: &x _{ y }}\nd: 'q{{z}}'\n"
    )
    assert unbrace_placeholders("a: plain\n") is None


def test_masking_template_braces_stays_linear_on_a_hostile_line() -> None:
    """A compose or Kubernetes file that is no YAML is retried with its template braces
    masked; a long run of `&` or `!` must not make that search quadratic."""
    import time

    from stackaudit.extractors.yamlnodes import unbrace_placeholders

    started = time.process_time()
    for char in "&!:-":
        assert unbrace_placeholders("a: " + char * 200_000 + "\n") is None
    assert unbrace_placeholders("a: &anchor {{ x }}\n") == "a: &anchor _{ x }}\n"
    assert time.process_time() - started < 5  # quadratic: minutes


@pytest.mark.parametrize(
    ("tag", "supported"),
    [
        ("v3.6.2", True),
        ("3.6", True),
        ("v3.7", True),
        ("v4.0", True),
        ("v3.5.3", False),
        ("v2.11", False),
        ("v3", None),  # 3.x spans both sides of 3.6
        ("latest", None),
        (None, None),
    ],
)
def test_traefik_hrw_needs_3_6(tag: str | None, supported: bool | None) -> None:
    """Traefik's `hrw` strategy exists from 3.6; the image tag tells, when it names a
    minor version."""
    image = f"traefik:{tag}" if tag else "traefik"
    model = deploy(
        (
            "docker-compose.yml",
            f"""
            services:
              app:
                image: example/app
                labels:
                  traefik.http.services.app.loadbalancer.strategy: hrw
              proxy:
                image: {image}
            """,
        )
    )
    runtime = model.compose_traefik(service(model, "app"))
    assert runtime.hrw_supported is supported
    assert model.traefik_pins(service(model, "app")) is (supported is not False)
