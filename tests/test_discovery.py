"""Discovery: which files are read, what kind each is, and what is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackaudit.discovery import classify_content, classify_name, discover

from .support import write_files


def kinds(root: Path, exclude: list[str] | None = None, max_size: int = 2**21) -> dict[str, str]:
    found, _ = discover([root], root, exclude or [], max_size)
    return {c.rel: c.kind for c in found}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("Dockerfile", "dockerfile"),
        ("docker/Dockerfile.prod", "dockerfile"),
        ("api.dockerfile", "dockerfile"),
        ("Containerfile", "dockerfile"),
        ("docker-compose.yml", "compose"),
        ("compose.override.yaml", "compose"),
        ("docker-compose.prod.yml", "compose"),
        ("app/main.py", "python"),
        ("notebooks/explore.ipynb", "notebook"),
        ("Procfile", "procfile"),
        ("deploy/app.service", "systemd"),
        ("nginx.conf", "nginx"),
        ("nginx/default.conf.template", "nginx"),
        ("etc/nginx/sites-available/dash", "conf-dir"),
        ("conf.d/app.conf", "conf-dir"),
        ("nginx/html/index.html", None),
        ("nginx/certs/site.pem", None),
        ("ace-builds/src-min-noconflict/snippets/abc.js", None),
        ("scripts/start.sh", "shell"),
        ("docker-entrypoint", "shell"),
        ("requirements-prod.txt", "requirements"),
        ("pyproject.toml", "dependencies"),
        (".github/workflows/ci.yml", "github-actions"),
        ("README.md", None),
        ("image.png", None),
        ("Dockerfile-dev", "dockerfile"),
        ("prod.Dockerfile", "dockerfile"),
        ("docker/Containerfile.gpu", "dockerfile"),
        ("app.containerfile", "dockerfile"),
        ("Dockerfile_prod", "maybe-dockerfile"),
        ("dockerfile.prod", "maybe-dockerfile"),
        ("tools/dockerfile_parser.go", "maybe-dockerfile"),
        ("Dockerfile.dockerignore", None),
        ("prod.Dockerfile.dockerignore", None),
        ("docker-build.sh", "shell"),
        ("docker-stack.yml", "yaml"),
        ("docker-compose.yml.tpl", "compose"),
        ("compose.yaml.j2", "compose"),
        ("deploy/docker-compose.prod.yml.template", "compose"),
        ("compose.override.yaml.jinja2", "compose"),
        ("stack.yml.tmpl", "yaml"),
        ("nginx/cors_support.conf", "nginx"),
        ("cors_support.conf", "conf"),
    ],
)
def test_classify_by_name(path: str, kind: str | None) -> None:
    result = classify_name(path)
    if result in ("yaml", "conf", "maybe-shell") and kind not in ("yaml", "conf"):
        result = None if kind is None else result
    assert result == kind


@pytest.mark.parametrize(
    ("path", "head", "by_name", "kind"),
    [
        # Dockerfiles under names docker does not read by itself.
        ("Dockerfile_prod", b"FROM python:3.12\nCMD x\n", "maybe-dockerfile", "dockerfile"),
        (
            "dockerfile.prod",
            b"# syntax=docker/dockerfile:1\n\nARG PY=3.12\nARG BASE=\\\n  slim\nfrom python:$PY\n",
            "maybe-dockerfile",
            "dockerfile",
        ),
        (
            "Dockerfile_build",
            b"FROM --platform=$BUILDPLATFORM python:3.12 AS build\n",
            "maybe-dockerfile",
            "dockerfile",
        ),
        ("Dockerfile_prod", b"RUN x\nFROM python\n", "maybe-dockerfile", None),
        ("docker-notes", b"From lines are pinned by digest\n", "maybe-dockerfile", None),
        ("tools/dockerfile_parser.go", b"package tools\n// FROM x\n", "maybe-dockerfile", None),
        ("docker-notes", b"Build with docker build\nFROM lines\n", "maybe-dockerfile", None),
        ("docker-run", b"#!/bin/sh\nexec docker run x\n", "maybe-dockerfile", "shell"),
        # Compose templates by their name; `.yml.tmpl` by its content.
        ("stack.yml.tmpl", b"services:\n  web:\n    image: {{ image }}\n", "yaml", "compose"),
        # nginx fragments under any `.conf` name.
        (
            "cors_support.conf",
            b"add_header Access-Control-Allow-Origin $http_origin;\n"
            b"add_header Access-Control-Allow-Credentials true;\n",
            "conf",
            "nginx",
        ),
        (
            "cors.conf",
            b"if ($http_origin ~* ^https://app\\.example\\.com$) {\n"
            b"    set $cors $http_origin;  # allowed\n}\n",
            "conf",
            "nginx",
        ),
        (
            "health.conf",
            b"location = /healthz {\n    access_log off;\n    return 200;\n}\n",
            "conf",
            "nginx",
        ),
        (
            "headers.conf",
            b"more_set_headers 'X: 1';\nproxy_hide_header Server;\nserver_tokens off;\n",
            "conf",
            "nginx",
        ),
        # Other programs' `.conf` files stay out.
        (
            "apache/site.conf",
            b"<VirtualHost *:80>\n  ServerName x;\n  Header set X 1;\n</VirtualHost>\n",
            "conf",
            None,
        ),
        ("fonts/local.conf", b"<?xml version='1.0'?>\n<fontconfig/>\n", "conf", None),
        ("logrotate.conf", b"/var/log/*.log {\n  daily\n  rotate 7\n}\n", "conf", None),
        ("redis.conf", b"bind 127.0.0.1\nport 6379\nuser default on\n", "conf", None),
        ("postgresql.conf", b"listen_addresses = '*';\nport = 5432;\n", "conf", None),
        ("sysctl.conf", b"net.core.somaxconn = 1024\n", "conf", None),
        (
            "php-fpm.conf",
            b"[global]\npid = /run/php.pid;\nerror_log = /var/log/php.log;\n",
            "conf",
            None,
        ),
        # Two lines of nginx's directives, but a `key = value` line too: not nginx.
        ("mixed.conf", b"user nobody;\npid /run/x.pid;\nmode = 1\n", "conf", None),
    ],
)
def test_classify_by_content_table(path: str, head: bytes, by_name: str, kind: str | None) -> None:
    assert classify_content(path, head, by_name) == kind


def test_classify_by_content() -> None:
    assert (
        classify_content("k8s/app.yaml", b"apiVersion: apps/v1\nkind: Deployment\n", "yaml")
        == "kubernetes"
    )
    assert (
        classify_content("stack.yml", b"version: '3'\nservices:\n  web: {}\n", "yaml") == "compose"
    )
    assert classify_content("site.conf", b"server {\n  listen 80;\n}\n", "conf") == "nginx"
    assert (
        classify_content("app.conf", b"[program:app]\ncommand=panel serve\n", "conf")
        == "supervisord"
    )
    assert classify_content("misc.conf", b"key = value\n", "conf") is None
    php_fpm = b"[www]\nuser = www-data\nlisten = 127.0.0.1:9000\n"
    assert classify_content("php-fpm.d/www.conf", php_fpm, "conf") is None
    assert classify_content("site.conf", b"  listen 443 ssl;  # tls\n", "conf") == "nginx"
    # nginx's directories hold fragments with no block; other programs use them too.
    fragment = b"# from snippets/\nproxy_set_header Host $host;\nproxy_read_timeout 1h;\n"
    assert classify_content("snippets/proxy.conf", fragment, "conf-dir") == "nginx"
    # Elsewhere, a fragment is nginx's when two of its lines are directives from nginx's
    # table ending in `;` or `{`; one such line is not enough.
    assert classify_content("misc.conf", fragment, "conf") == "nginx"
    assert classify_content("misc.conf", b"proxy_read_timeout 1h;\n", "conf") is None
    assert classify_content("etc/nginx/sites-enabled/dash", b"server {\n}\n", "conf-dir") == "nginx"
    program = b"[program:app]\ncommand=panel serve app.py\n"
    assert classify_content("supervisor/conf.d/app.conf", program, "conf-dir") == "supervisord"
    assert (
        classify_content("fonts/conf.d/10-hinting.conf", b"<?xml version='1.0'?>\n", "conf-dir")
        is None
    )
    assert (
        classify_content("mysql/conf.d/my.cnf", b"[mysqld]\nmax_connections = 10\n", "conf-dir")
        is None
    )
    assert classify_content("run", b"#!/usr/bin/env bash\nexec x\n", "maybe-shell") == "shell"
    assert classify_content("manage", b"#!/usr/bin/env python3\n", "maybe-shell") == "python"
    assert classify_content("LICENSE", b"MIT License\n", "maybe-shell") is None


def test_nested_gitignore_and_excludes(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".gitignore": "build/\n*.log.sh\n",
            "a/.gitignore": "local.sh\n!keep.log.sh\n",
            "a/local.sh": "x",
            "a/keep.log.sh": "x",
            "a/run.sh": "x",
            "b/local.sh": "x",
            "b/x.log.sh": "x",
            "build/run.sh": "x",
            "node_modules/p/run.sh": "x",
            ".venv/bin/run.sh": "x",
            "legacy/run.sh": "x",
        },
    )
    assert sorted(kinds(tmp_path, ["legacy/"])) == ["a/keep.log.sh", "a/run.sh", "b/local.sh"]


def test_explicit_path_is_scanned_even_if_excluded(tmp_path: Path) -> None:
    write_files(tmp_path, {"examples/demo/run.sh": "x", "examples/demo/fixtures/x.sh": "x"})
    found, _ = discover([tmp_path / "examples/demo"], tmp_path, ["examples", "fixtures"], 2**21)
    assert [c.rel for c in found] == ["examples/demo/run.sh"]


def test_symlinks_never_leave_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    write_files(outside, {"secret.sh": "x"})
    write_files(root, {"inside.sh": "x"})
    (root / "leak.sh").symlink_to(outside / "secret.sh")
    (root / "leakdir").symlink_to(outside)
    (root / "loop").symlink_to(root)
    (root / "alias.sh").symlink_to(root / "inside.sh")
    found, skipped = discover([root], root, [], 2**21)
    assert sorted(c.rel for c in found) == ["alias.sh", "inside.sh"]
    assert {s.rel: s.reason for s in skipped} == {
        "leak.sh": "symbolic link out of the scanned root",
        "leakdir": "symbolic link out of the scanned root",
    }


def test_size_limit_and_binary(tmp_path: Path) -> None:
    from stackaudit.engine import process_file

    write_files(tmp_path, {"big.sh": "#" * 5000, "small.sh": "echo\n"})
    (tmp_path / "blob.sh").write_bytes(b"\x00\x01binary")
    found, skipped = discover([tmp_path], tmp_path, [], 1000)
    assert [s.rel for s in skipped] == ["big.sh"]
    results = {c.rel: process_file(c) for c in found}
    assert results["blob.sh"].skipped == "binary file (holds a NUL byte)"
    assert results["small.sh"].skipped is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_directory(tmp_path: Path) -> None:
    write_files(tmp_path, {"locked/run.sh": "x", "ok.sh": "x"})
    (tmp_path / "locked").chmod(0)
    try:
        found, skipped = discover([tmp_path], tmp_path, [], 2**21)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [c.rel for c in found] == ["ok.sh"]
    assert skipped[0].rel == "locked"


def test_directory_named_like_a_file_kind(tmp_path: Path) -> None:
    write_files(tmp_path, {"nginx.conf/inner.sh": "x"})
    assert kinds(tmp_path) == {"nginx.conf/inner.sh": "shell"}


def test_discovery_reads_files_by_what_they_hold(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "docker/Dockerfile_prod": "# syntax=docker/dockerfile:1\nARG V=3.12\nFROM python:$V\n",
            "docker/docker-notes": "FROM lines are pinned\n",
            "docker/Dockerfile.dockerignore": "*.pyc\n",
            "deploy/docker-compose.prod.yml.j2": "services:\n  web:\n    image: {{ image }}\n",
            "deploy/cors_support.conf": "add_header A $http_origin;\nadd_header B true;\n",
            "deploy/redis.conf": "bind 127.0.0.1\nport 6379\n",
            "deploy/postgresql.conf": "port = 5432\nlisten_addresses = '*'\n",
        },
    )
    assert kinds(tmp_path) == {
        "docker/Dockerfile_prod": "dockerfile",
        "deploy/docker-compose.prod.yml.j2": "compose",
        "deploy/cors_support.conf": "nginx",
    }
