"""What a container runs, put together across files: ENTRYPOINT + CMD, compose and
Kubernetes overrides, entrypoint scripts (``model.containers``)."""

from __future__ import annotations

import textwrap

from stackaudit.diagnostics import Span
from stackaudit.extractors.compose import extract_compose
from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.kubernetes import extract_kubernetes
from stackaudit.extractors.shell import extract_shell
from stackaudit.facts.deploy import parse_image
from stackaudit.facts.image import DockerImage, ShellScript
from stackaudit.facts.serve import ServeCommand
from stackaudit.invocation.commandline import CommandContext, find_in_words
from stackaudit.invocation.joined import arg_word, joined_source, joined_tokens
from stackaudit.invocation.shellwords import Token, split_commands
from stackaudit.model.deploy import DeployModel
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile

EXTRACTORS = {
    "dockerfile": extract_dockerfile,
    "compose": extract_compose,
    "kubernetes": extract_kubernetes,
    "shell": extract_shell,
}


def facts_of(*files: tuple[str, str, str]) -> list[object]:
    facts: list[object] = []
    for kind, path, text in files:
        result = EXTRACTORS[kind](SourceFile(path, kind, textwrap.dedent(text)))
        assert result.problems == []
        facts.extend(result.facts)
    return facts


def servers(*files: tuple[str, str, str]) -> list[ServeCommand]:
    return Stack(facts_of(*files)).serve_commands


def test_joined_words_keep_the_place_of_every_character() -> None:
    docker = SourceFile("Dockerfile", "dockerfile", 'ENTRYPOINT ["panel", "serve"]\n')
    compose = SourceFile("c.yml", "compose", "command: app.py\n  --allow-websocket-origin=*\n")
    words = [arg_word(docker, t) for t in _tokens(docker, 13, 18) + _tokens(docker, 22, 27)]
    words += [arg_word(compose, t) for t in _tokens(compose, 9, len(compose.text))]
    source = joined_source("Dockerfile")
    context = CommandContext(source, "dockerfile", "joined", True)
    (command,) = find_in_words(context, joined_tokens(source, words))
    assert command.tool == "panel-serve"
    assert command.program.span == Span("Dockerfile", 1, 14, 1, 19)
    # The command's span stays in the program's file; the flag points into the other.
    assert command.span.path == "Dockerfile"
    (origin,) = command.cli_origins()
    assert origin.span == Span("c.yml", 2, 28, 2, 29)


def _tokens(source: SourceFile, start: int, end: int) -> list[Token]:
    text = source.text[start:end]
    return [w for c in split_commands(text, list(range(start, end))) for w in c]


def test_dockerfile_image_records_copies_workdir_and_stage_inheritance() -> None:
    facts = facts_of(
        (
            "dockerfile",
            "app/Dockerfile",
            """
            FROM python:3.12 AS base
            WORKDIR /srv
            COPY docker/ ./docker/
            COPY --from=builder /wheels /wheels
            FROM base
            ADD ["start.sh", "/usr/local/bin/"]
            ENTRYPOINT ["./docker/entrypoint.sh"]
            CMD panel serve app.py
            """,
        )
    )
    (image,) = [f for f in facts if isinstance(f, DockerImage)]
    assert image.workdir == "/srv"
    assert [(c.sources, c.destination) for c in image.copies] == [
        (("docker/",), "/srv/docker/"),
        (("start.sh",), "/usr/local/bin/"),
    ]
    assert image.entrypoint is not None and not image.entrypoint.shell_form
    assert image.cmd is not None and image.cmd.shell_form
    assert image.cmd.words[0].text == "panel serve app.py"


def test_a_script_records_the_commands_that_pass_its_arguments_on() -> None:
    (script,) = [
        f
        for f in facts_of(
            ("shell", "start.sh", 'export A=1\nif [ "$ENV" = dev ]; then exec "$@"; fi\n')
        )
        if isinstance(f, ShellScript)
    ]
    (use,) = script.argument_uses
    assert [w.text for w in use.words] == ["exec", "$@"]
    assert [v.name for v in use.env] == ["A"]
    assert use.branch == "development"
    quiet = facts_of(("shell", "run.sh", "exec panel serve a.py\n"))[-1]
    assert quiet == ShellScript("run.sh", ())


def test_dockerfiles_for_image_matches_docker_normalised_names() -> None:
    model = Stack(
        facts_of(
            (
                "compose",
                "compose.yml",
                """
                services:
                  a: {build: ., image: "library/dash:dev"}
                  b: {build: {context: web, dockerfile: Dockerfile.prod}, image: org/web}
                  c: {image: org/other}
                """,
            )
        )
    ).deploy
    span = Span("k.yaml", 1, 1)
    assert model.dockerfiles_for_image(parse_image("docker.io/dash:dev", span)) == ["Dockerfile"]
    # Both references write a tag and they differ: another build made that image.
    assert model.dockerfiles_for_image(parse_image("docker.io/dash:1.2", span)) == []
    # The build writes no tag: it is tagged when pushed.
    assert model.dockerfiles_for_image(parse_image("org/web:3", span)) == ["web/Dockerfile.prod"]
    assert model.dockerfiles_for_image(parse_image("org/other", span)) == []


def test_compose_entrypoint_or_command_stops_the_image_command() -> None:
    facts = facts_of(
        ("dockerfile", "Dockerfile", 'CMD ["panel", "serve", "app.py"]\n'),
        (
            "compose",
            "compose.yml",
            """
            services:
              keeps: {build: .}
              entry: {build: ., entrypoint: ["sh"]}
              empty: {build: ., command: []}
            """,
        ),
    )
    model: DeployModel = Stack(facts).deploy
    (command,) = [f for f in facts if isinstance(f, ServeCommand)]
    runs = {s.name: model.runs_image_command(s, command) for s in model.compose_services}
    assert runs == {"keeps": True, "entry": False, "empty": False}
    commands = Stack(facts).serve_commands
    assert [c.service for c in commands] == ["compose:compose.yml:keeps"]


def test_a_script_in_the_repository_decides_over_its_name() -> None:
    dockerfile = ("dockerfile", "Dockerfile", 'COPY . /app\nENTRYPOINT ["/app/start.sh"]\n')
    compose = (
        "compose",
        "compose.yml",
        'services:\n  s: {build: ., command: ["panel", "serve", "a.py"]}\n',
    )
    passes = ("shell", "start.sh", 'python -m migrate\nexec "$@"\n')
    ignores = ("shell", "start.sh", "exec gunicorn app:app\n")
    (found,) = servers(dockerfile, compose, passes)
    assert (found.tool, found.service, found.branch) == ("panel-serve", "compose:compose.yml:s", "")
    (found,) = servers(dockerfile, compose, ignores)
    assert (found.tool, found.service, found.carrier) == (
        "gunicorn",
        "compose:compose.yml:s",
        "dockerfile",
    )
    # Not in the repository: the name makes it a guess, at a lower confidence.
    (guess,) = servers(dockerfile, compose)
    assert (guess.tool, guess.branch) == ("panel-serve", "conditional")


def test_a_mounted_script_is_followed_without_an_image() -> None:
    compose = (
        "compose",
        "deploy/compose.yml",
        """
        services:
          s:
            image: python:3.12
            volumes: ["./bin:/opt/bin:ro"]
            entrypoint: ["sh", "/opt/bin/serve"]
            command: ["--num-procs", "0"]
        """,
    )
    script = ("shell", "deploy/bin/serve", 'exec bokeh serve app.py "$@"\n')
    (found,) = servers(compose, script)
    assert found.service == "compose:deploy/compose.yml:s"
    value = found.value("num_procs")
    assert value is not None and value.text == "0"
    assert value.span.path == "deploy/compose.yml"


def test_k8s_args_follow_the_linked_image_entrypoint() -> None:
    found = servers(
        ("dockerfile", "Dockerfile", 'ENTRYPOINT ["bokeh", "serve"]\n'),
        (
            "compose",
            "compose.yml",
            "services:\n  s: {build: ., image: org/dash, entrypoint: [sh]}\n",
        ),
        (
            "kubernetes",
            "k8s.yaml",
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
                - {name: a, image: org/dash:2, args: ["app.py", "--port", "5100"]}
                - {name: b, image: org/dash:2, command: ["sh"], args: ["-c", "sleep 1"]}
            """,
        ),
    )
    (command,) = found
    assert command.service.endswith("/p/a")
    assert command.listen_port() == "5100"
