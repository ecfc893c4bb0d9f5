"""Platforms in front of a process and the environment set at deploy time: each parser
on its own, then the model that links them to the server commands."""

from __future__ import annotations

from textwrap import dedent

from stackaudit.discovery import classify_name
from stackaudit.extractors.flytoml import extract_fly_toml
from stackaudit.extractors.kubernetes import extract_kubernetes
from stackaudit.extractors.makefile import extract_makefile
from stackaudit.extractors.shell import extract_procfile, extract_shell
from stackaudit.extractors.yamlcommands import extract_yaml_commands
from stackaudit.facts.common import EnvVar
from stackaudit.facts.deploy import K8sConfigMap, K8sContainerEnv
from stackaudit.facts.platform import PlatformEnv, PlatformService
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile


def _source(path: str, kind: str, text: str) -> SourceFile:
    return SourceFile(path, kind, dedent(text).lstrip("\n"))


def _services(facts: list[object]) -> list[PlatformService]:
    return [f for f in facts if isinstance(f, PlatformService)]


def _env(variables: tuple[EnvVar, ...] | list[EnvVar]) -> dict[str, str | None]:
    return {v.name: v.value.text if v.value is not None else None for v in variables}


# -- parsers ------------------------------------------------------------------------------


def test_procfile_web_on_port_is_heroku() -> None:
    facts = extract_procfile(
        _source("Procfile", "procfile", "web: gunicorn main:app\nworker: celery -A tasks worker\n")
    ).facts
    (service,) = _services(facts)
    assert service.platform == "heroku"
    assert service.runs_in is not None and service.runs_in.line == 1


def test_procfile_without_port_or_dev_name_is_no_platform() -> None:
    fixed = "web: uvicorn main:app --host 0.0.0.0 --port 8000\n"
    assert _services(extract_procfile(_source("Procfile", "procfile", fixed)).facts) == []
    dev = "web: uvicorn main:app --port $PORT\n"
    assert _services(extract_procfile(_source("Procfile.dev", "procfile", dev)).facts) == []


def test_gcloud_run_deploy_flags() -> None:
    facts = extract_shell(
        _source(
            "deploy/run.sh",
            "shell",
            """
            #!/bin/sh
            gcloud beta run deploy dash --allow-unauthenticated --source=. --timeout 1h \\
              --set-env-vars "^;^ORIGINS=a.example.com,b.example.com;MODE=prod" \\
              --update-secrets COOKIE=cookie:latest --env-vars-file env.yaml
            """,
        )
    ).facts
    (service,) = _services(facts)
    assert service.platform == "cloud-run"
    assert service.name is not None and service.name.text == "dash"
    assert _env(service.env) == {
        "ORIGINS": "a.example.com,b.example.com",
        "MODE": "prod",
        "COOKIE": None,
    }
    assert [w.text for w in service.env_sources] == ["env.yaml"]
    assert service.timeout is not None and service.timeout.text == "1h"
    assert service.runs_files[:2] == ("Dockerfile", "Procfile")
    assert "deploy/Dockerfile" in service.runs_files


def test_gcloud_env_value_span_points_at_the_value() -> None:
    source = _source("run.sh", "shell", "gcloud run deploy x --set-env-vars A=1,B=*\n")
    (service,) = _services(extract_shell(source).facts)
    value = service.env[1].value
    assert (
        value is not None
        and value.span.column == len("gcloud run deploy x --set-env-vars A=1,B=") + 1
    )


def test_heroku_fly_az_settings() -> None:
    facts = extract_shell(
        _source(
            "bin/setup",
            "shell",
            """
            heroku config:set A=1 B="$SECRET" -a shop
            fly secrets set TOKEN=$TOKEN --app shop
            az webapp config appsettings set --name shop --settings X=1 Y=2 --resource-group g
            """,
        )
    ).facts
    settings = [f for f in facts if isinstance(f, PlatformEnv)]
    assert [(s.platform, s.app.text if s.app else None) for s in settings] == [
        ("heroku", "shop"),
        ("fly", "shop"),
        ("azure-app-service", "shop"),
    ]
    assert _env(settings[0].env)["A"] == "1"
    assert settings[1].env[0].value is None and settings[1].env[0].reference
    assert _env(settings[2].env) == {"X": "1", "Y": "2"}


def test_az_startup_file_command_and_script() -> None:
    facts = extract_shell(
        _source(
            "deploy.sh",
            "shell",
            """
            az webapp config set -g g -n shop --startup-file "gunicorn -b 0.0.0.0 main:app"
            az webapp config set -g g -n shop --startup-file startup.sh
            """,
        )
    ).facts
    commands = [f for f in facts if isinstance(f, ServeCommand)]
    assert [c.tool for c in commands] == ["gunicorn"]
    inline, script = _services(facts)
    assert inline.runs_in is not None and inline.runs_files == ()
    assert script.runs_files == ("startup.sh",)


def test_makefile_deploy_target() -> None:
    source = _source(
        "Makefile",
        "makefile",
        "deploy:\n\tgcloud run deploy api --image $$IMAGE \\\n\t  --set-env-vars A=$$A\n",
    )
    (service,) = _services(extract_makefile(source).facts)
    assert service.env[0].name == "A" and service.env[0].value is not None
    assert service.env[0].value.symbolic


def test_app_engine_render_cloudbuild_azure_action() -> None:
    app = _source(
        "app.yaml",
        "yaml",
        """
        runtime: python312
        service: api
        entrypoint: uvicorn main:app --host 0.0.0.0 --port $PORT
        env_variables:
          MODE: prod
        """,
    )
    (engine,) = _services(extract_yaml_commands(app).facts)
    assert engine.platform == "app-engine" and _env(engine.env) == {"MODE": "prod"}

    render = _source(
        "render.yaml",
        "yaml",
        """
        services:
          - type: worker
            name: jobs
            startCommand: python worker.py
          - type: web
            name: web
            runtime: docker
            dockerfilePath: ./docker/Dockerfile
            envVars:
              - key: A
                value: "1"
              - key: B
                generateValue: true
              - fromGroup: shared
        """,
    )
    (web,) = _services(extract_yaml_commands(render).facts)
    assert web.runs_files == ("docker/Dockerfile",)
    assert _env(web.env) == {"A": "1", "B": None}
    assert [w.text for w in web.env_sources] == ["Render env group `shared`"]

    build = _source(
        "cloudbuild.yaml",
        "yaml",
        """
        steps:
          - name: gcr.io/cloud-builders/gcloud
            args: [run, deploy, api, --set-env-vars=A=1]
          - name: gcr.io/google.com/cloudsdktool/cloud-sdk
            entrypoint: bash
            args: ["-c", "gcloud run deploy web --set-env-vars B=2"]
        """,
    )
    names = [s.name.text for s in _services(extract_yaml_commands(build).facts) if s.name]
    assert names == ["api", "web"]

    workflow = _source(
        ".github/workflows/deploy.yml",
        "github-actions",
        """
        jobs:
          deploy:
            steps:
              - uses: azure/webapps-deploy@v3
                with:
                  app-name: shop
                  startup-command: uvicorn main:app --host 0.0.0.0
        """,
    )
    facts = extract_yaml_commands(workflow).facts
    assert [s.platform for s in _services(facts)] == ["azure-app-service"]
    command = next(f for f in facts if isinstance(f, ServeCommand))
    assert command.deployment


def test_fly_toml() -> None:
    assert classify_name("deploy/fly.staging.toml") == "fly"
    source = _source(
        "deploy/fly.toml",
        "fly",
        """
        app = "shop"
        [build]
          dockerfile = "Dockerfile.web"
        [env]
          MODE = "prod"
        [[services]]
          internal_port = 8000
          [[services.ports]]
            port = 443
            handlers = ["tls", "http"]
        """,
    )
    (service,) = _services(extract_fly_toml(source).facts)
    assert service.name is not None and service.name.text == "shop"
    assert service.runs_files == ("deploy/Dockerfile.web",)
    assert (service.http, service.tls) == (True, True)
    assert _env(service.env) == {"MODE": "prod"}
    assert service.env[0].span.line == 5
    broken = extract_fly_toml(SourceFile("fly.toml", "fly", "app = \n"))
    assert broken.problems and not broken.facts


def test_kubernetes_env_sources_config_maps_and_knative() -> None:
    source = _source(
        "k8s.yaml",
        "kubernetes",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {MODE: prod}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds}
        stringData: {TOKEN: hunter2}
        ---
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: api}
        spec:
          template:
            spec:
              timeoutSeconds: 900
              containers:
                - name: api
                  image: api:1
                  envFrom:
                    - configMapRef: {name: settings}
                      prefix: APP_
                    - secretRef: {name: creds}
                  env:
                    - name: LEVEL
                      valueFrom:
                        configMapKeyRef: {name: settings, key: MODE}
        """,
    )
    facts = extract_kubernetes(source).facts
    maps = [f for f in facts if isinstance(f, K8sConfigMap)]
    assert [(m.name, m.secret, _env(m.data)) for m in maps] == [
        ("settings", False, {"MODE": "prod"}),
        ("creds", True, {"TOKEN": None}),
    ]
    (sources,) = [f for f in facts if isinstance(f, K8sContainerEnv)]
    assert [(e.kind, e.name, e.prefix) for e in sources.env_from] == [
        ("configMap", "settings", "APP_"),
        ("secret", "creds", ""),
    ]
    assert [(r.variable, r.config_map, r.key) for r in sources.key_refs] == [
        ("LEVEL", "settings", "MODE")
    ]
    (knative,) = _services(facts)
    assert knative.platform == "cloud-run"
    assert knative.runs_containers == "k8s:k8s.yaml:Service//api/"
    assert knative.timeout is not None and knative.timeout.text == "900"


# -- the model ----------------------------------------------------------------------------


def _stack(*sources: SourceFile) -> Stack:
    from stackaudit.extractors import extractor_for

    facts: list[object] = []
    for source in sources:
        extractor = extractor_for(source.kind)
        assert extractor is not None
        facts.extend(extractor(source).facts)
    return Stack(facts)


def test_model_k8s_env_resolution_and_precedence() -> None:
    stack = _stack(
        _source(
            "k8s.yaml",
            "kubernetes",
            """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
            data: {MODE: prod, LEVEL: debug}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              template:
                spec:
                  containers:
                    - name: web
                      args: [uvicorn, main:app]
                      envFrom:
                        - configMapRef: {name: settings}
                        - secretRef: {name: absent}
                      env:
                        - {name: LEVEL, value: info}
                        - name: FROM_MAP
                          valueFrom: {configMapKeyRef: {name: settings, key: MODE}}
                        - name: HIDDEN
                          valueFrom: {secretKeyRef: {name: absent, key: x}}
            """,
        )
    )
    (command,) = stack.serve_commands
    var = command.env_var("LEVEL")
    assert var is not None and var.value is not None and var.value.text == "info"  # env wins
    assert _env([v for v in command.env if v.name in ("MODE", "FROM_MAP", "HIDDEN")]) == {
        "MODE": "prod",
        "FROM_MAP": "prod",
        "HIDDEN": None,
    }
    assert [w.text for w in command.env_files] == ["envFrom Secret `absent`"]


def test_model_platform_for_and_env_precedence() -> None:
    stack = _stack(
        _source("fly.toml", "fly", 'app = "shop"\n[env]\n  MODE = "fly"\n[http_service]\n'),
        _source(
            "Dockerfile",
            "dockerfile",
            'FROM python:3.12\nENV MODE=image\nCMD ["uvicorn", "main:app", "--host", "0.0.0.0"]\n',
        ),
        _source(
            "bin/secrets", "shell", "fly secrets set TOKEN=abc -a other\nfly secrets set K=1\n"
        ),
    )
    (command,) = stack.serve_commands
    platform = stack.platform_for(command)
    assert platform is not None
    assert (platform.key, platform.public_origin) == ("fly", "https://shop.fly.dev")
    assert platform.terminates_tls and platform.forwarded_headers
    mode = command.env_var("MODE")
    assert mode is not None and mode.value is not None and mode.value.text == "fly"
    assert command.env_var("K") is not None
    assert command.env_var("TOKEN") is None  # set on another app


def test_model_cloud_run_timeout() -> None:
    stack = _stack(
        _source("Dockerfile", "dockerfile", 'FROM python:3.12\nCMD ["panel", "serve", "app.py"]\n'),
        _source("deploy.sh", "shell", "gcloud run deploy dash --source . --timeout=30m\n"),
    )
    (command,) = stack.serve_commands
    platform = stack.platform_for(command)
    assert platform is not None and platform.timeout is not None
    assert (platform.timeout.seconds, platform.timeout.idle) == (1800.0, False)
    assert platform.public_origin is None


def test_settings_and_config_maps_go_to_the_nearest_project() -> None:
    web = "web: panel serve app.py --port $PORT\n"
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {MODE: %s}\n"
    workload = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: w}
        spec:
          template:
            spec:
              containers:
                - {name: w, args: [uvicorn, m:app], envFrom: [{configMapRef: {name: s}}]}
        """
    stack = _stack(
        _source("a/Procfile", "procfile", web),
        _source("b/Procfile", "procfile", web),
        _source("a/bin/setup", "shell", "heroku config:set MODE=a\n"),
        _source("a/k8s/cm.yaml", "kubernetes", config_map % "a"),
        _source("b/k8s/cm.yaml", "kubernetes", config_map % "b"),
        _source("b/k8s/deploy.yaml", "kubernetes", workload),
    )
    modes = {}
    for command in stack.serve_commands:
        var = command.env_var("MODE")
        modes[command.span.path] = var.value.text if var and var.value else None
    assert modes == {"a/Procfile": "a", "b/Procfile": None, "b/k8s/deploy.yaml": "b"}
