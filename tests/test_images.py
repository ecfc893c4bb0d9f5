"""Compose files combined on a command line, and images linked to the Dockerfiles that
build them: parsing of each source, image-name matching, and the model's use of both."""

from __future__ import annotations

import textwrap

import pytest

from stackaudit.diagnostics import Span
from stackaudit.extractors.compose import extract_compose
from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.kubernetes import extract_kubernetes
from stackaudit.extractors.makefile import extract_makefile
from stackaudit.extractors.shell import extract_shell
from stackaudit.extractors.units import extract_systemd
from stackaudit.extractors.yamlcommands import extract_yaml_commands
from stackaudit.facts.build import ComposeInvocation, ImageBuild
from stackaudit.facts.deploy import ImageRef, K8sWorkload, parse_image
from stackaudit.facts.serve import ServeCommand
from stackaudit.invocation.commandline import CommandContext, find_invocations_in_script
from stackaudit.model.deploy import resolve_compose
from stackaudit.model.images import ImageIndex, image_name, same_image
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile


def invocations(text: str, path: str = "deploy/run.sh") -> list[object]:
    source = SourceFile(path, "shell", text)
    found = find_invocations_in_script(CommandContext(source, "shell", "test", True), text)
    return [f for f in found if not isinstance(f, ServeCommand)]


def combination(text: str, path: str = "deploy/run.sh") -> tuple[tuple[str, ...], ...]:
    [found] = invocations(text, path)
    assert isinstance(found, ComposeInvocation)
    return found.candidates


def builds(text: str, path: str = "deploy/run.sh") -> list[tuple[str, tuple[str, ...]]]:
    found = invocations(text, path)
    assert all(isinstance(f, ImageBuild) for f in found)
    return [(f.image.text, f.dockerfiles) for f in found if isinstance(f, ImageBuild)]


# -- docker compose on a command line --------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "docker compose -f a.yml -f b.yml up -d",
        "docker compose --file a.yml --file=b.yml up",
        "docker-compose -fa.yml -f=b.yml -p web up",
        "docker --context prod compose -f a.yml --project-directory . -f b.yml up",
        "sudo -E docker compose -f a.yml -f b.yml up",
        "sh -c 'docker compose -f a.yml -f b.yml up'",
        "COMPOSE_FILE=a.yml:b.yml docker compose up",
        "docker stack deploy -c a.yml --compose-file b.yml web",
    ],
)
def test_compose_files_in_the_order_given(line: str) -> None:
    # Relative to the current directory: the script's own, or the repository root.
    assert combination(line + "\n") == (("deploy/a.yml", "deploy/b.yml"), ("a.yml", "b.yml"))


def test_compose_file_exported_and_separator() -> None:
    text = "export COMPOSE_PATH_SEPARATOR=,\nexport COMPOSE_FILE=a.yml,b.yml\ndocker compose up\n"
    assert combination(text) == (("deploy/a.yml", "deploy/b.yml"), ("a.yml", "b.yml"))


def test_cd_moves_where_paths_start() -> None:
    assert combination("cd ..\ndocker compose -f a.yml up\n") == (("a.yml",),)
    assert combination('cd "$(dirname "$0")"\ndocker compose -f a.yml up\n') == (("deploy/a.yml",),)
    script_dir = 'DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"\ncd "$DIR/.."\n'
    assert combination(script_dir + "docker compose -f a.yml up\n") == (("a.yml",),)
    assert combination("cd ops && docker compose -f a.yml up\n") == (
        ("deploy/ops/a.yml",),
        ("ops/a.yml",),
    )
    # Outside the scanned tree, or unknown: nothing can be named.
    assert invocations("cd /srv/app\ndocker compose -f a.yml up\n") == []
    assert invocations("cd $HOME\ndocker compose -f a.yml up\n") == []


@pytest.mark.parametrize(
    "line",
    [
        "docker compose up",  # the directory's default project: nothing new
        "docker compose -f $FILE up",
        'docker compose -f a.yml -f "compose.${ENV}.yml" up',
        "docker compose -f - up",
        "docker compose -f /etc/app/compose.yml up",
        "docker compose -f ../../../elsewhere.yml up",
        "docker run -f a.yml image",
        "echo docker compose -f a.yml up",
    ],
)
def test_no_combination_is_guessed(line: str) -> None:
    assert invocations(line + "\n") == []


def test_carriers_that_run_in_the_checkout_record_combinations() -> None:
    line = "docker compose -f docker-compose.yml -f docker-compose.prod.yml up -d"
    sources = {
        "Makefile": (extract_makefile, f"deploy:\n\t{line}\n"),
        "run.sh": (extract_shell, f"#!/bin/sh\n{line}\n"),
        "ops/app.service": (extract_systemd, f"[Service]\nExecStart=/usr/bin/{line}\n"),
        ".gitlab-ci.yml": (extract_yaml_commands, f"deploy:\n  script:\n    - {line}\n"),
        ".github/workflows/d.yml": (
            extract_yaml_commands,
            f"jobs:\n  d:\n    steps:\n      - run: {line}\n",
        ),
    }
    for path, (extract, text) in sources.items():
        kind = "github-actions" if ".github" in path else "yaml"
        facts = extract(SourceFile(path, kind, text)).facts
        [found] = [f for f in facts if isinstance(f, ComposeInvocation)]
        assert ("docker-compose.yml", "docker-compose.prod.yml") in found.candidates, path


def test_containers_and_images_record_no_combination() -> None:
    dockerfile = 'FROM x\nRUN docker compose -f a.yml -f b.yml config\nCMD ["docker", "build", "-t", "a", "."]\n'
    facts = extract_dockerfile(SourceFile("Dockerfile", "dockerfile", dockerfile)).facts
    assert not [f for f in facts if isinstance(f, ComposeInvocation | ImageBuild)]


# -- docker build on a command line -----------------------------------------------------


def test_docker_build_tags_and_dockerfile() -> None:
    assert builds("docker build -t app:1 -t ghcr.io/o/app .\n") == [
        ("app:1", ("deploy/Dockerfile", "Dockerfile", "deploy/dockerfile", "dockerfile")),
        ("ghcr.io/o/app", ("deploy/Dockerfile", "Dockerfile", "deploy/dockerfile", "dockerfile")),
    ]
    # -f is relative to the current directory, not to the context.
    assert builds(
        "docker buildx build --platform linux/amd64 -f d/Dockerfile.prod --tag=app ctx\n"
    ) == [("app", ("deploy/d/Dockerfile.prod", "d/Dockerfile.prod"))]
    assert builds("cd ..\ndocker image build --build-arg X=1 -tapp web\n") == [
        ("app", ("web/Dockerfile", "web/dockerfile"))
    ]
    assert builds("podman build -t app --file=Containerfile .\n") == [
        ("app", ("deploy/Containerfile", "Containerfile"))
    ]
    # The context after the options, or between them.
    assert builds("docker build . -t app --no-cache\n")[0][0] == "app"


@pytest.mark.parametrize(
    "line",
    [
        "docker build .",  # no tag
        "docker build -t app https://github.com/o/r.git",
        "docker build -t app - < Dockerfile",
        "docker build -t app -f $DOCKERFILE .",
        "docker build -t app $CONTEXT",
        "docker build -t app a b",
        "docker buildx bake",
        "docker pull app",
    ],
)
def test_builds_without_a_known_dockerfile(line: str) -> None:
    assert invocations(line + "\n") == []


def test_a_development_branch_builds_no_deployed_image() -> None:
    found = invocations('if [ "$ENV" = dev ]; then docker build -t app .; fi\n')
    assert [f.deployment for f in found if isinstance(f, ImageBuild)] == [False]


# -- image names --------------------------------------------------------------------------


def ref(text: str) -> ImageRef:
    return parse_image(text, Span("x", 1), "$" in text or "{{" in text)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("nginx", "docker.io/library/nginx:1.27", True),
        ("index.docker.io/library/nginx", "nginx", True),
        ("org/app", "docker.io/org/app", True),
        ("org/app", "ghcr.io/org/app", False),  # another registry
        ("localhost/app", "app", False),
        ("localhost:5000/app:1", "localhost:5000/app", True),
        ("app:1.0", "app:1.1", False),  # both tagged: the tags decide
        ("app", "app:1.1", True),  # one tag only: ignored
        ("app@sha256:aa", "app@sha256:bb", False),
        ("app:$TAG", "app:1.1", True),  # a tag only known at run time is ignored
        ("gcr.io/$PROJECT_ID/app", "gcr.io/acme/app:2", True),
        ("gcr.io/$PROJECT_ID/app", "eu.gcr.io/acme/app", False),
        ("${REGISTRY}/app", "ghcr.io/org/app", True),
        ("${REGISTRY}/app", "app", True),
        ("${REGISTRY}/app", "ghcr.io/org/other", False),
        ("org/$NAME", "org/app", False),  # the image's own name must be written out
        ("$IMAGE", "app", False),
        ("{{ .Values.image }}", "app", False),
        ("gcr.io/$P/app", "gcr.io/$P/app", True),  # both with variables: written alike
        ("gcr.io/$P/app", "gcr.io/$Q/app", False),
        ("a/${X}/b/${Y}/app", "a/1/b/2/app", True),
        ("a/${X}/b/${Y}/app", "a/b/2/app", False),  # each variable stands for some text
    ],
)
def test_same_image(a: str, b: str, same: bool) -> None:
    first, second = image_name(ref(a)), image_name(ref(b))
    assert first is not None and second is not None
    assert same_image(first, second) is same
    assert same_image(second, first) is same


def test_overlong_or_many_variable_names_match_nothing() -> None:
    assert image_name(ref("a" * 600)) is None
    assert image_name(ref("/".join(f"${{V{i}}}" for i in range(10)) + "/app")) is None


def test_index_prefers_deployment_builds() -> None:
    index = ImageIndex([(ref("app"), "Dockerfile.dev", False), (ref("app:2"), "Dockerfile", True)])
    assert index.dockerfiles_for(ref("registry-1.docker.io/x/app")) == []
    assert index.dockerfiles_for(ref("app:2")) == ["Dockerfile"]
    assert index.dockerfiles_for(ref("app:3")) == ["Dockerfile.dev"]


# -- build files --------------------------------------------------------------------------


def yaml_builds(path: str, text: str, kind: str = "yaml") -> list[tuple[str, tuple[str, ...]]]:
    source = SourceFile(path, kind, textwrap.dedent(text))
    extract = extract_kubernetes if kind == "kubernetes" else extract_yaml_commands
    return [
        (f.image.text, f.dockerfiles) for f in extract(source).facts if isinstance(f, ImageBuild)
    ]


def test_skaffold_artifacts() -> None:
    text = """
        apiVersion: skaffold/v4beta11
        kind: Config
        build:
          artifacts:
            - image: web
            - image: api
              context: services/api
              docker: {dockerfile: docker/Dockerfile.prod}
            - image: jvm
              jib: {}
        profiles:
          - name: cluster
            build:
              artifacts:
                - image: worker
                  context: worker
                  kaniko: {dockerfile: Containerfile}
    """
    assert yaml_builds("deploy/skaffold.yaml", text, "kubernetes") == [
        ("web", ("deploy/Dockerfile",)),
        ("api", ("deploy/services/api/docker/Dockerfile.prod",)),
        ("worker", ("deploy/worker/Containerfile",)),
    ]


def test_cloudbuild_steps() -> None:
    text = """
        steps:
          - name: gcr.io/cloud-builders/docker
            args: ['build', '-t', 'gcr.io/$PROJECT_ID/web:$SHORT_SHA', '-f', 'web/Dockerfile', 'web']
          - name: gcr.io/cloud-builders/docker
            dir: api
            args: ['build', '--tag=gcr.io/$PROJECT_ID/api', '.']
          - name: gcr.io/cloud-builders/gcloud
            entrypoint: bash
            args: ['-c', 'docker build -t gcr.io/$PROJECT_ID/job job']
          - name: gcr.io/cloud-builders/docker
            args: ['push', 'gcr.io/$PROJECT_ID/web']
        images: ['gcr.io/$PROJECT_ID/web']
    """
    assert yaml_builds("cloudbuild.yaml", text) == [
        ("gcr.io/$PROJECT_ID/web:$SHORT_SHA", ("web/Dockerfile",)),
        ("gcr.io/$PROJECT_ID/api", ("api/Dockerfile", "api/dockerfile")),
        ("gcr.io/$PROJECT_ID/job", ("job/Dockerfile", "job/dockerfile")),
    ]


def test_build_push_action() -> None:
    text = """
        jobs:
          release:
            steps:
              - uses: docker/metadata-action@v5
                id: meta
                with:
                  images: |
                    ghcr.io/acme/web
                    name=docker.io/acme/web,enable=true
              - uses: docker/build-push-action@v6
                with:
                  tags: ${{ steps.meta.outputs.tags }}
              - uses: docker/build-push-action@v6
                with:
                  context: ./api
                  tags: acme/api:latest,acme/api:${{ github.sha }}
              - uses: docker/build-push-action@v6
                with:
                  context: .
                  file: docker/Dockerfile.job
                  tags: |
                    acme/job
              - uses: docker/build-push-action@v6
                with:
                  file: ${{ matrix.dockerfile }}
                  tags: acme/matrix
    """
    assert yaml_builds("sub/.github/workflows/release.yml", text, "github-actions") == [
        ("ghcr.io/acme/web", ("sub/Dockerfile",)),
        ("docker.io/acme/web", ("sub/Dockerfile",)),
        ("acme/api:latest", ("sub/api/Dockerfile",)),
        ("acme/api:${{ github.sha }}", ("sub/api/Dockerfile",)),
        ("acme/job", ("sub/docker/Dockerfile.job",)),
    ]


# -- the model ----------------------------------------------------------------------------


def compose_files(files: dict[str, str]) -> list[object]:
    facts: list[object] = []
    for path, text in files.items():
        facts += extract_compose(SourceFile(path, "compose", text)).facts
    return facts


def test_combined_files_form_a_project_beside_the_default_one() -> None:
    from stackaudit.facts.deploy import ComposeFile

    facts = compose_files(
        {
            "docker-compose.yml": "services:\n  dash:\n    image: a\n",
            "docker-compose.override.yml": "services:\n  dash:\n    ports: ['1:1']\n",
            "docker-compose.prod.yml": "services:\n  dash:\n    ports: ['2:2']\n",
            "docker-compose.lone.yml": "services:\n  other:\n    image: b\n",
        }
    )
    files = [f for f in facts if isinstance(f, ComposeFile)]
    prod = ("docker-compose.yml", "docker-compose.prod.yml")
    services = resolve_compose(files, invoked=[prod, prod])
    projects = {s.project: (s.project_files, [p.published for p in s.ports]) for s in services}
    assert projects == {
        "docker-compose.yml": (("docker-compose.yml", "docker-compose.override.yml"), ["1"]),
        "docker-compose.lone.yml": (("docker-compose.lone.yml",), []),
        # The prod file is read only after another: no project of its own.
        "-f docker-compose.yml -f docker-compose.prod.yml": (prod, ["2"]),
    }


def test_the_combination_naming_scanned_files_is_chosen() -> None:
    text = "services:\n  dash:\n    image: a\n"
    facts = compose_files({"ops/docker-compose.yml": text, "ops/docker-compose.prod.yml": text})
    script = "cd ops\ndocker compose -f docker-compose.yml -f docker-compose.prod.yml up\n"
    facts += extract_shell(SourceFile("scripts/deploy.sh", "shell", script)).facts
    projects = {s.project for s in Stack(facts).deploy.compose_services}
    assert projects == {
        "ops/docker-compose.yml",
        "-f ops/docker-compose.yml -f ops/docker-compose.prod.yml",
    }


def test_kubernetes_container_runs_the_dockerfile_of_its_image() -> None:
    dockerfile = 'FROM python:3.12\nENV A=1\nCMD ["panel", "serve", "app.py"]\n'
    manifest = textwrap.dedent(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
                - name: runs-image
                  image: ghcr.io/acme/web:1
                  env: [{name: B, value: "2"}]
                - name: sets-args
                  image: ghcr.io/acme/web:1
                  args: [python, job.py]
                - name: other-image
                  image: ghcr.io/acme/other:1
        """
    )
    facts = [
        *extract_dockerfile(SourceFile("web/Dockerfile", "dockerfile", dockerfile)).facts,
        *extract_kubernetes(SourceFile("k8s.yaml", "kubernetes", manifest)).facts,
        *extract_shell(
            SourceFile("build.sh", "shell", "docker build -t ghcr.io/acme/web web\n")
        ).facts,
    ]
    stack = Stack(facts)
    [workload] = [f for f in facts if isinstance(f, K8sWorkload)]
    assert [(c.command_words is None, c.args_words is None) for c in workload.containers] == [
        (True, True),
        (True, False),
        (True, True),
    ]
    assert stack.deploy.dockerfiles_for_image(workload.containers[0].image or ref("x")) == [
        "web/Dockerfile"
    ]
    [command] = stack.serve_commands
    assert command.service == workload.containers[0].service_key
    assert [(v.name, v.value.text if v.value else None) for v in command.env] == [
        ("A", "1"),
        ("B", "2"),
    ]
    assert stack.deploy.workload_for(command) == workload


def test_compose_service_naming_a_built_image_runs_its_command() -> None:
    dockerfile = 'FROM python:3.12\nCMD ["panel", "serve", "app.py"]\n'
    facts = [
        *extract_dockerfile(SourceFile("Dockerfile", "dockerfile", dockerfile)).facts,
        *compose_files({"docker-compose.yml": "services:\n  dash:\n    image: acme/dash:1\n"}),
        *extract_shell(SourceFile("build.sh", "shell", "docker build -t acme/dash:1 .\n")).facts,
    ]
    [command] = Stack(facts).serve_commands
    assert command.service == "compose:docker-compose.yml:dash"
    # Without the build, the image's command is not known.
    unbuilt = [f for f in facts if not isinstance(f, ImageBuild)]
    assert [c.service for c in Stack(unbuilt).serve_commands] == [""]


def test_arguments_reach_the_entrypoint_of_an_image_built_elsewhere() -> None:
    """The image a `docker build -t` makes is put together with what the compose
    service or Kubernetes container sets over it, as Docker does: `command:`/`args:`
    replace CMD and follow the exec-form ENTRYPOINT."""
    dockerfile = 'FROM python:3.12\nENTRYPOINT ["panel", "serve"]\nCMD ["app.py"]\n'
    manifest = textwrap.dedent(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
                - name: board
                  image: acme/dash:1
                  args: [board.py, --allow-websocket-origin=board.example.com]
        """
    )
    facts = [
        *extract_dockerfile(SourceFile("Dockerfile", "dockerfile", dockerfile)).facts,
        *compose_files(
            {
                "docker-compose.yml": "services:\n  dash:\n    image: acme/dash:1\n"
                "    command: [other.py]\n"
            }
        ),
        *extract_kubernetes(SourceFile("k8s.yaml", "kubernetes", manifest)).facts,
        *extract_shell(SourceFile("build.sh", "shell", "docker build -t acme/dash:1 .\n")).facts,
    ]
    commands = Stack(facts).serve_commands
    ran = {c.service: c for c in commands}
    compose, k8s = "compose:docker-compose.yml:dash", "k8s:k8s.yaml:Deployment//web/board"
    assert sorted(ran) == [compose, k8s]
    assert [w.text for w in ran[compose].positionals] == ["other.py"]
    assert [w.text for w in ran[k8s].positionals] == ["board.py"]
    assert [o.flag.text for o in ran[k8s].options] == ["--allow-websocket-origin"]
    assert ran[k8s].options[0].span.path == "k8s.yaml"
