"""Backing services told by their image (model/backing.py) and SA602's judgement of
their credentials, severity and confidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackaudit.diagnostics import Confidence, Severity, Span
from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.deploy import parse_image
from stackaudit.model.backing import Container, backing_service

from .support import scan, write_files

SPAN = Span("docker-compose.yml", 1, 1)


def _kind(text: str) -> str | None:
    found = backing_service(parse_image(text, SPAN))
    return found.kind if found else None


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("postgres:16", "postgres"),
        ("docker.io/library/postgres:16-alpine", "postgres"),
        ("library/postgres@sha256:abc", "postgres"),
        ("bitnami/postgresql:16", "postgres"),
        ("mariadb:11", "mariadb"),
        ("redis/redis-stack:latest", "redis"),
        ("rabbitmq:3-management", "rabbitmq"),
        ("confluentinc/cp-kafka:7.6.0", "kafka"),
        ("docker.elastic.co/elasticsearch/elasticsearch:8.13.0", "elasticsearch"),
        ("quay.io/jupyter/scipy-notebook:2024-05-27", "jupyter"),
        ("jupyter/base-notebook", "jupyter"),
        ("mher/flower:2.0", "flower"),
        # Not backing services, or not known before run time.
        ("registry.example.com/postgres-backup:1", None),
        ("example/redis-exporter", None),
        ("${DB_IMAGE}", None),
        ("quay.io/someone/scipy-notebook", None),
        ("ghcr.io/jupyter/base-notebook", None),
    ],
)
def test_images_are_told_by_repository(image: str, kind: str | None) -> None:
    assert _kind(image) == kind


def _env(**values: str) -> tuple[EnvVar, ...]:
    return tuple(
        EnvVar(
            name.replace("__", "."),
            Word(value, SPAN, "${" in value),
            SPAN,
            "compose environment",
        )
        for name, value in values.items()
    )


def _args(*words: str) -> tuple[Word, ...]:
    return tuple(Word(word, SPAN, "${" in word) for word in words)


@pytest.mark.parametrize(
    ("image", "container", "state"),
    [
        ("postgres:16", Container(_env(POSTGRES_HOST_AUTH_METHOD="trust")), "none"),
        ("postgres:16", Container(_env(POSTGRES_PASSWORD="s3cr3t")), "literal"),
        ("postgres:16", Container(_env(POSTGRES_PASSWORD="${PG}")), "runtime"),
        ("postgres:16", Container(_env(POSTGRES_PASSWORD_FILE="/run/s")), "runtime"),
        ("postgres:16", Container((), unread_env=True), "unknown"),
        ("mysql:8", Container(_env(MYSQL_ALLOW_EMPTY_PASSWORD="1")), "none"),
        ("mysql:8", Container(_env(MYSQL_RANDOM_ROOT_PASSWORD="yes")), "generated"),
        (
            "mysql:8",
            Container(_env(MYSQL_RANDOM_ROOT_PASSWORD="yes", MYSQL_PASSWORD="app")),
            "literal",
        ),
        ("mongo:7", Container(()), "none"),
        ("mongo:7", Container(_env(MONGO_INITDB_ROOT_PASSWORD="${MONGO_PW}")), "runtime"),
        ("redis:7", Container((), _args("redis-server", "--appendonly", "yes")), "none"),
        ("redis:7", Container((), _args("redis-server", "--requirepass", "x")), "literal"),
        ("redis:7", Container((), _args("redis-server", "/etc/redis.conf")), "unknown"),
        ("redis/redis-stack", Container(_env(REDIS_ARGS="--requirepass ${P}")), "runtime"),
        ("rabbitmq:3", Container(()), "default"),
        ("rabbitmq:3", Container(_env(RABBITMQ_DEFAULT_PASS="${RMQ}")), "runtime"),
        ("elasticsearch:7.17.0", Container(()), "none"),
        ("elasticsearch:8.13.0", Container(()), "generated"),
        ("elasticsearch:8.13.0", Container(_env(xpack__security__enabled="false")), "none"),
        ("opensearchproject/opensearch:2.11.0", Container(()), "default"),
        ("opensearchproject/opensearch:2", Container(_env(DISABLE_SECURITY_PLUGIN="true")), "none"),
        ("apache/kafka:3.7.0", Container(()), "none"),
        (
            "bitnami/kafka:3.7",
            Container(_env(KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP="CLIENT:SASL_PLAINTEXT")),
            "runtime",
        ),
        ("provectuslabs/kafka-ui", Container(()), "none"),
        ("mher/flower", Container(()), "none"),
        ("mher/flower", Container((), _args("celery", "flower", "--basic_auth=a:b")), "literal"),
        ("jupyter/base-notebook", Container(()), "generated"),
        ("jupyter/base-notebook", Container((), _args("--ServerApp.token=")), "none"),
        ("dpage/pgadmin4", Container(_env(PGADMIN_CONFIG_SERVER_MODE="False")), "none"),
    ],
)
def test_credentials_as_the_image_reads_them(image: str, container: Container, state: str) -> None:
    service = backing_service(parse_image(image, SPAN))
    assert service is not None
    assert service.judge(container).state == state


def test_kafka_listens_on_its_configured_listeners() -> None:
    kafka = backing_service(parse_image("bitnami/kafka:3.7", SPAN))
    assert kafka is not None
    container = Container(
        _env(KAFKA_CFG_LISTENERS="PLAINTEXT://:9094,CONTROLLER://:9093"),
    )
    assert {9092, 9093, 9094} <= kafka.service_ports(container)


def _findings(tmp_path: Path, files: dict[str, str]) -> list[tuple[Severity, Confidence]]:
    write_files(tmp_path, files)
    return [(d.severity, d.confidence) for d in scan(tmp_path, select=["SA602"]).diagnostics]


def test_severity_follows_the_password_and_confidence_the_file(tmp_path: Path) -> None:
    compose = """
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: {password}
    ports: ["5432:5432"]
"""
    assert _findings(tmp_path / "a", {"compose.yaml": compose.format(password="postgres")}) == [
        (Severity.ERROR, Confidence.HIGH)
    ]
    assert _findings(tmp_path / "b", {"compose.yaml": compose.format(password="${PW}")}) == [
        (Severity.WARNING, Confidence.HIGH)
    ]
    assert _findings(
        tmp_path / "c", {"docker-compose.dev.yml": compose.format(password="${PW}")}
    ) == [(Severity.WARNING, Confidence.LOW)]
    # A committed default of its variable: an error, but the variable may be set.
    assert _findings(
        tmp_path / "d", {"compose.yaml": compose.format(password="${PW:-postgres}")}
    ) == [(Severity.ERROR, Confidence.MEDIUM)]


def test_host_network_is_every_interface(tmp_path: Path) -> None:
    compose = """
services:
  cache:
    image: redis:7
    network_mode: host
"""
    assert _findings(tmp_path, {"compose.yaml": compose}) == [(Severity.ERROR, Confidence.MEDIUM)]


def test_a_template_placeholder_behind_an_anchor_is_a_run_time_value(tmp_path: Path) -> None:
    # dockerize-style template: the anchored `{{...}}` is filled in before compose runs.
    compose = """
x-db: &dbpass {{.Env.DB_PASSWORD}}
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: *dbpass
    ports: ["5432:5432"]
    volumes:
      - {{.Env.DATA_DIR}}:/var/lib/postgresql/data
"""
    assert _findings(tmp_path, {"docker-compose.yml.tpl": compose}) == [
        (Severity.WARNING, Confidence.HIGH)
    ]
