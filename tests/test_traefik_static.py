"""Traefik's static configuration as stackaudit reads it: command lines the way paerser
parses them, YAML and TOML files flattened to the same dotted options, the entry points
Traefik adds by itself, and which files are Traefik's."""

from __future__ import annotations

import pytest

from stackaudit.diagnostics import Span
from stackaudit.discovery import classify_content, classify_name
from stackaudit.extractors.traefik import extract_traefik_file
from stackaudit.facts.common import Word
from stackaudit.facts.deploy import TraefikFileConfig, TraefikStaticConfig, go_bool
from stackaudit.facts.traefik import static_config, static_options_from_args
from stackaudit.source import SourceFile

SPAN = Span("docker-compose.yml", 1, 1)


def _args(*texts: str) -> list[tuple[str, str]]:
    words = [Word(text, SPAN) for text in texts]
    return [(key, word.text) for key, word in static_options_from_args(words)]


def test_bool_flag_without_value_is_true_and_others_take_the_next_argument() -> None:
    assert _args("traefik", "--api.insecure", "--entryPoints.Web.address", ":80") == [
        ("api.insecure", "true"),
        ("entrypoints.web.address", ":80"),
    ]


def test_effective_entrypoints_add_http_and_the_traefik_entrypoint() -> None:
    options = static_options_from_args([Word("--api.insecure=true", SPAN)])
    config = static_config(options, SPAN, "cli")
    names = {e.name: e.port for e in config.effective_entrypoints()}
    assert names == {"http": 80, "traefik": 8080}


def test_api_insecure_false_and_go_booleans() -> None:
    options = static_options_from_args([Word("--api.insecure=False", SPAN)])
    assert static_config(options, SPAN, "cli").api_insecure is None
    assert go_bool("T") is True and go_bool("yes") is None


@pytest.mark.parametrize(
    ("setting", "exposes"),
    [(None, True), ("false", False), ("true", True)],
)
def test_exposed_by_default(setting: str | None, exposes: bool) -> None:
    words = [Word("--providers.docker", SPAN)]
    if setting is not None:
        words.append(Word(f"--providers.docker.exposedByDefault={setting}", SPAN))
    config = static_config(static_options_from_args(words), SPAN, "cli")
    assert config.exposes_by_default is exposes


def test_toml_options_are_placed_on_their_lines() -> None:
    text = '[entryPoints.web]\n  address = ":80"\n[entryPoints.web.forwardedHeaders]\n'
    text += '  trustedIPs = ["10.0.0.0/8", "0.0.0.0/0"]\n'
    result = extract_traefik_file(SourceFile("traefik.toml", "traefik", text))
    (config,) = result.facts
    assert isinstance(config, TraefikStaticConfig)
    (web,) = config.entrypoints
    assert web.port == 80 and web.address is not None and web.address.span.line == 2
    assert web.trusts_everyone is not None and web.trusts_everyone.span.line == 4


def test_a_file_provider_configuration_gives_routers_and_middlewares() -> None:
    text = (
        "http:\n  routers:\n    dash:\n      service: api@internal\n"
        "      middlewares: [auth]\n  middlewares:\n    auth:\n      basicAuth:\n"
        "        users: [a]\n"
    )
    result = extract_traefik_file(SourceFile("dynamic.yml", "traefik", text))
    (config,) = result.facts
    assert isinstance(config, TraefikFileConfig)
    (router,) = config.config.routers
    assert [w.text for w in router.middlewares] == ["auth"]
    assert [m.kind for m in config.config.middlewares] == ["basicauth"]


def test_a_template_that_does_not_parse_is_left_alone() -> None:
    text = "[entryPoints.web]\n  address = {{ .Env.ADDRESS }}\n"
    result = extract_traefik_file(SourceFile("traefik.toml.tpl", "traefik", text))
    assert result.facts == [] and result.problems == []


@pytest.mark.parametrize(
    ("path", "head", "kind"),
    [
        ("traefik.yml", b"entryPoints:\n  web:\n", "traefik"),
        ("traefik/dynamic.toml", b"[http.routers.dash]\n", "traefik"),
        ("k8s/traefik-deployment.yaml", b"apiVersion: apps/v1\nkind: Deployment\n", "kubernetes"),
        ("charts/traefik/values.yaml", b"providers:\n", "yaml"),
        ("traefik/notes.yml", b"owner: ops\n", "yaml"),
    ],
)
def test_traefik_files_are_told_by_their_content(path: str, head: bytes, kind: str) -> None:
    assert classify_content(path, head, classify_name(path)) == kind


def test_a_port_published_by_a_development_file_is_reached_at_low_confidence() -> None:
    """An override or `*.dev.yml` publishes its ports wherever Compose merges it, but
    may never run on a server: SA509 reports it, at low confidence."""
    from stackaudit.diagnostics import Confidence

    from .support import FIXTURES, scan

    result = scan(FIXTURES / "SA509" / "override-file-low-confidence", select=["SA509"])
    assert [(d.span.path, d.confidence) for d in result.diagnostics] == [
        ("compose.override.yaml", Confidence.LOW)
    ]
