from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.deploy import ComposeService, K8sWorkload
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.deploy import ServiceRoute, TraefikRuntime
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class StickyMissingReplicas(Rule):
    """
    ## What it does
    Flags a Bokeh/Panel service run as several replicas behind a load balancer that
    does not keep a client on one replica:
    - compose: `deploy.replicas` (or `scale`) above 1 with Traefik labels routing to it,
      and no Traefik service of the container with `loadbalancer.sticky.cookie` or
      `loadbalancer.strategy=hrw`;
    - Kubernetes: `replicas` above 1, reached through an ingress-nginx Ingress without
      `nginx.ingress.kubernetes.io/affinity: cookie` (or `upstream-hash-by`), a Traefik
      `IngressRoute` service without `sticky.cookie` or `strategy: hrw`, or directly
      through a Service without `sessionAffinity: ClientIP`.

    The `hrw` strategy exists from Traefik 3.6 (3.5 and older accept only `wrr` and
    `p2c`): it counts unless the project's (or cluster's) Traefik image tag names an
    older version, and it is suggested only where the tag does not rule it out.

    ingress-nginx and Traefik send requests to the pod endpoints themselves: a
    Service's `sessionAffinity` plays no part behind them (only with ingress-nginx
    `service-upstream: "true"`). Traefik's native load balancing is the other way round
    (an IngressRoute service's `nativeLB: true`, a Service's
    `traefik.ingress.kubernetes.io/service.nativelb` annotation, or a Traefik container
    started with `--providers.kubernetescrd.nativeLBByDefault` /
    `--providers.kubernetesingress.nativeLBByDefault`): Traefik's only server is then
    the Service's ClusterIP, its sticky cookie pins nothing, and only the Service's
    `sessionAffinity: ClientIP` keeps a client on one pod. The service is known to be
    Bokeh/Panel from its
    command (`command:`, container `args`, or the CMD of the Dockerfile it builds), or,
    with medium confidence, from an image named after Bokeh or Panel.

    ## Why is this bad?
    A Bokeh or Panel session starts with the page request, which creates the session in
    one replica, and continues over a WebSocket opened right after. When the balancer
    sends the WebSocket to another replica, that replica knows nothing of the session
    and creates a new one: the app code runs twice, widgets act on a document the page
    does not show, and reconnects land anywhere (bokeh/bokeh#7091, holoviz/panel#6678).
    Traefik balances round-robin (`wrr`) unless told otherwise; kube-proxy picks a
    random endpoint per connection.

    ## Example
    ```yaml
    services:
      dashboard:
        command: panel serve app.py --address 0.0.0.0
        deploy:
          replicas: 3
        labels:
          - traefik.http.routers.dash.rule=Host(`dash.example.com`)
    ```

    ## Use instead
    ```yaml
        labels:
          - traefik.http.routers.dash.rule=Host(`dash.example.com`)
          - traefik.http.services.dash.loadbalancer.server.port=5006
          - traefik.http.services.dash.loadbalancer.sticky.cookie=true
    ```
    On Kubernetes: `nginx.ingress.kubernetes.io/affinity: cookie` on the Ingress, or
    `sessionAffinity: ClientIP` on a Service clients reach directly.

    ## References
    - https://doc.traefik.io/traefik/reference/routing-configuration/http/load-balancing/service/
    - https://doc.traefik.io/traefik/reference/routing-configuration/other-providers/docker/
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#session-affinity
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#service-upstream
    - https://kubernetes.io/docs/reference/networking/virtual-ips/#session-affinity
    - https://doc.traefik.io/traefik/v3.6/reference/routing-configuration/http/load-balancing/service/
    - https://doc.traefik.io/traefik/v3.5/reference/routing-configuration/kubernetes/crd/http/traefikservice/
    - https://github.com/traefik/traefik/pull/12061
    - https://github.com/traefik/traefik/blob/3c0071594a09e8f509167c3365652a630b3fb446/pkg/provider/kubernetes/crd/kubernetes_http.go
    - https://doc.traefik.io/traefik/v3.6/reference/install-configuration/providers/kubernetes/kubernetes-crd/
    - https://docs.docker.com/reference/compose-file/deploy/#replicas
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/views/ws.py#L200-L205
    - https://github.com/bokeh/bokeh/issues/7091
    - https://github.com/holoviz/panel/issues/6678
    """

    code = "SA402"
    name = "sticky-missing-replicas"
    severity = Severity.WARNING
    category = Category.SCALING
    applies_to = (FileKind.COMPOSE, FileKind.KUBERNETES, FileKind.STACK)
    examples = (
        Bad(
            "docker-compose.yml",
            """
            services:
              dashboard:
                image: registry.example.com/dashboard:1.4
                command: panel serve app.py --address 0.0.0.0 --allow-websocket-origin dash.example.com
                deploy:
                  replicas: 3  # expect: SA402
                labels:
                  - traefik.enable=true
                  - traefik.http.routers.dash.rule=Host(`dash.example.com`)
                  - traefik.http.services.dash.loadbalancer.server.port=5006
        """,
        ),
        Bad(
            "k8s.yaml",
            """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: dashboard
            spec:
              replicas: 3  # expect: SA402
              selector: {matchLabels: {app: dashboard}}
              template:
                metadata: {labels: {app: dashboard}}
                spec:
                  containers:
                    - name: app
                      image: registry.example.com/dashboard:1.4
                      args: [panel, serve, app.py, --allow-websocket-origin, dash.example.com]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: dashboard}
            spec:
              selector: {app: dashboard}
              sessionAffinity: ClientIP
              ports: [{port: 80, targetPort: 5006}]
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: dashboard
              annotations:
                nginx.ingress.kubernetes.io/proxy-read-timeout: "3600"
            spec:
              ingressClassName: nginx
              rules:
                - host: dash.example.com
                  http:
                    paths:
                      - path: /
                        pathType: Prefix
                        backend: {service: {name: dashboard, port: {number: 80}}}
        """,
            title="the Service's ClientIP affinity is bypassed by ingress-nginx",
        ),
        Good(
            "docker-compose.yml",
            """
            services:
              dashboard:
                image: registry.example.com/dashboard:1.4
                command: panel serve app.py --address 0.0.0.0 --allow-websocket-origin dash.example.com
                deploy:
                  replicas: 3
                labels:
                  - traefik.http.routers.dash.rule=Host(`dash.example.com`)
                  - traefik.http.services.dash.loadbalancer.server.port=5006
                  - traefik.http.services.dash.loadBalancer.sticky.cookie.name=dash_affinity
        """,
        ),
        Good(
            "k8s.yaml",
            """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: dashboard
            spec:
              replicas: 3
              selector: {matchLabels: {app: dashboard}}
              template:
                metadata: {labels: {app: dashboard}}
                spec:
                  containers:
                    - name: app
                      image: registry.example.com/dashboard:1.4
                      args: [panel, serve, app.py, --allow-websocket-origin, dash.example.com]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: dashboard}
            spec:
              type: LoadBalancer
              selector: {app: dashboard}
              sessionAffinity: ClientIP
              ports: [{port: 80, targetPort: 5006}]
        """,
            title="clients reach the Service directly, with ClientIP affinity",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        deploy = stack.deploy
        commands = stack.serve_commands
        # A workload's commands by its containers' keys, gathered once for all workloads.
        by_key: dict[str, list[ServeCommand]] = {}
        for command in commands:
            by_key.setdefault(command.service, []).append(command)
        for service in deploy.compose_services:
            count = service.replicas.count if service.replicas else None
            if service.replicas is None or count is None or count <= 1:
                continue
            evidence = deploy.bokeh_evidence(service, commands)
            if evidence is None:
                continue
            if deploy.routed_by_traefik(service) and not deploy.traefik_pins(service):
                yield self._compose(service, count, evidence, deploy.compose_traefik(service))
            yield from self._nginx(stack, service, count, evidence)
        for workload in deploy.k8s_workloads:
            count = workload.replicas.count if workload.replicas else None
            if workload.replicas is None or count is None or count <= 1:
                continue
            own = [
                c
                for container in workload.containers
                for c in by_key.get(container.service_key, ())
            ]
            evidence = deploy.k8s_bokeh_evidence(workload, own)
            if evidence is None:
                continue
            for route in deploy.routes_into(workload, deploy.app_ports(workload, own)):
                if not route.affinity:
                    yield self._k8s(workload, count, route, evidence, deploy.k8s_traefik)

    def _compose(
        self,
        service: ComposeService,
        count: int,
        evidence: tuple[Span, str, Confidence],
        runtime: TraefikRuntime,
    ) -> Diagnostic:
        assert service.replicas is not None
        span, why, confidence = evidence
        traefik = service.traefik
        where = traefik.first_span
        related = [Related(where, "Traefik routes here")] if where is not None else []
        related.append(Related(span, f"the service {why}"))
        unpinned = [s for s in traefik.services if not runtime.pins(s.sticky_cookie, s.strategy)]
        names = ", ".join(f"`{s.name}`" for s in unpinned)
        balancer = f"Traefik service {names}" if names else "the default Traefik service"
        label = f"traefik.http.services.{unpinned[0].name if unpinned else service.name}"
        label += ".loadbalancer"
        too_old = [s for s in unpinned if runtime.hrw_too_old(s.strategy)]
        if too_old:
            missing = (
                f"with no sticky cookie, and `strategy=hrw` needs Traefik 3.6 while the "
                f"project runs `{runtime.image_text}`"
            )
            for s in too_old:
                if s.strategy is not None:
                    related.append(Related(s.strategy.span, "hrw: Traefik 3.6 and later"))
        else:
            missing = "with no sticky cookie and no `hrw` strategy"
        return self.report(
            service.replicas.value.span,
            f"{service.label} ({why}) runs {count} replicas behind {balancer}, {missing}: a "
            "session's WebSocket can reach another replica than its page",
            help=f"add the label `{label}.sticky.cookie=true`"
            f"{_hrw_alternative(runtime, f'`{label}.strategy=hrw`')} to {service.label}",
            fix_title="Pin clients to one replica",
            related=related,
            confidence=_lower(confidence, Confidence.HIGH),
        )

    def _nginx(
        self,
        stack: Stack,
        service: ComposeService,
        count: int,
        evidence: tuple[Span, str, Confidence],
    ) -> Iterator[Diagnostic]:
        """nginx ``proxy_pass http://<service>:<port>``: Docker's DNS answers with one
        address per replica and nginx balances over them round-robin. Routes through an
        ``upstream`` block are SA401's."""
        assert service.replicas is not None
        span, why, confidence = evidence
        for frontend in stack.links.frontends:
            route = frontend.route
            if route is None or route.upstream is not None or not route.is_websocket:
                continue
            if not any(b.unit_span == service.span for b in frontend.backends):
                continue
            yield self.report(
                service.replicas.value.span,
                f"{service.label} ({why}) runs {count} replicas and nginx {frontend.where} "
                f"proxies its WebSocket to the service name, which Docker's DNS answers with "
                "every replica: requests are spread round-robin, so a session's WebSocket "
                "can reach another replica than its page",
                help=f"proxy through `upstream {service.name} {{ ip_hash; server "
                f"{service.name}:{route.target.port or 80}; }}` with `proxy_pass "
                f"http://{service.name};`, or run one replica per named service",
                fix_title="Pin clients to one replica",
                related=[
                    Related(route.span, "nginx location"),
                    Related(span, f"the service {why}"),
                ],
                confidence=_lower(confidence, Confidence.HIGH),
            )

    def _k8s(
        self,
        workload: K8sWorkload,
        count: int,
        route: ServiceRoute,
        evidence: tuple[Span, str, Confidence],
        runtime: TraefikRuntime,
    ) -> Diagnostic:
        assert workload.replicas is not None
        _, why, confidence = evidence
        related = [Related(route.span, route.label)]
        if route.service.span == route.span:
            help_text = "set `sessionAffinity: ClientIP` on the Service"
            what = "without `sessionAffinity: ClientIP`"
        elif route.native_lb is not None:
            help_text = (
                "set `sessionAffinity: ClientIP` on the Service, or let Traefik balance "
                "over the pods (no nativeLB) with a sticky cookie"
            )
            what = (
                "with native load balancing: Traefik's only server is the Service's "
                "ClusterIP, so no Traefik sticky cookie can pin a pod, and the Service has "
                "no `sessionAffinity: ClientIP`"
            )
            related.append(Related(route.native_lb, "native load balancing turned on here"))
        elif "IngressRoute" in route.label:
            help_text = (
                "add `sticky: {cookie: {}}`"
                f"{_hrw_alternative(runtime, '`strategy: hrw`')} to the IngressRoute service"
            )
            what = "without a sticky cookie"
            if route.hrw_unsupported:
                what += (
                    f" (its `strategy: hrw` needs Traefik 3.6; the cluster runs "
                    f"`{runtime.image_text}`, which rejects it)"
                )
        else:
            help_text = "add `nginx.ingress.kubernetes.io/affinity: cookie` to the Ingress"
            what = "without cookie affinity (the Service's own affinity does not apply there)"
        return self.report(
            workload.replicas.value.span,
            f"{workload.label} ({why}) runs {count} replicas; {route.label} {what}: a "
            "session's WebSocket can reach another pod than its page",
            help=help_text,
            fix_title="Pin clients to one pod",
            related=related,
            confidence=_lower(confidence, route.confidence),
        )


def _hrw_alternative(runtime: TraefikRuntime, setting: str) -> str:
    """Traefik's ``hrw`` strategy as a second remedy, only where its version has it."""
    supported = runtime.hrw_supported
    if supported is None:
        return f" (or {setting} on Traefik 3.6 and later)"
    return f" (or {setting})" if supported else ""


def _lower(a: Confidence, b: Confidence) -> Confidence:
    order = [Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH]
    return min(a, b, key=order.index)
