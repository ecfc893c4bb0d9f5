"""Generators of the worst-case trees the benchmark scans (see run.py).

Each generator writes a fresh tree under ``root`` (removed first) and returns nothing;
the trees are deterministic, so two runs of the benchmark scan the same bytes.

- ``many_relevant(n, root)``: ``n`` small applications, every one a file stackaudit must
  parse (alternately a Panel app started by ``panel serve`` and a FastAPI app started by
  ``uvicorn``, each with its start script), and ``n // 4`` compose projects, each running
  four of those apps behind an nginx site of its own. Every file is relevant and every
  proxy route must be linked to a compose service: the shape that exposed the cubic
  growth of the deployment model (issue 16).
- ``nginx_includes(sites, root)``: one ``nginx.conf`` whose ``http`` block includes
  ``sites/*.conf``; each site has a TLS server with several locations, and includes
  shared snippets (TLS settings, proxy headers, WebSocket upgrade) at server and location
  level, as a distribution's ``/etc/nginx`` does. Include resolution and route building
  dominate here.

Usable on its own: ``python bench/shapes.py many 2000 /tmp/tree``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

PANEL_APP = """import panel as pn

pn.extension()
slider = pn.widgets.IntSlider(name="value {i}", start=0, end=10)
pn.Column("# app {i}", slider, pn.bind(lambda v: v * {i}, slider)).servable()
"""

FASTAPI_APP = """from fastapi import FastAPI

app = FastAPI(title="app {i}")


@app.get("/items/{{item_id}}")
def read_item(item_id: int) -> dict[str, int]:
    return {{"item_id": item_id, "app": {i}}}
"""


def _is_panel(index: int) -> bool:
    return index % 2 == 0


def _start_script(index: int) -> str:
    if _is_panel(index):
        command = (
            f"panel serve app.py --port {5000 + index % 1000} "
            f"--allow-websocket-origin=app{index}.example.com"
        )
    else:
        command = f"uvicorn app:app --host 0.0.0.0 --port {8000 + index % 1000}"
    return f"#!/bin/sh\nexec {command}\n"


def _service(project: int, slot: int, apps: int) -> str:
    index = (4 * project + slot) % apps
    if _is_panel(index):
        command = f"panel serve app.py --port 5006 --allow-websocket-origin=dash{slot}.example.com"
    else:
        command = "uvicorn app:app --host 0.0.0.0 --port 5006"
    return f"  dash{slot}:\n    build: ../../apps/app{index}\n    command: {command}\n"


def many_relevant(n: int, root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    for index in range(n):
        directory = root / "apps" / f"app{index}"
        directory.mkdir(parents=True)
        template = PANEL_APP if _is_panel(index) else FASTAPI_APP
        (directory / "app.py").write_text(template.format(i=index))
        (directory / "start.sh").write_text(_start_script(index))
    for project in range(n // 4):
        directory = root / "projects" / f"p{project}"
        directory.mkdir(parents=True)
        services = "".join(_service(project, slot, n) for slot in range(4))
        (directory / "docker-compose.yml").write_text(
            "services:\n"
            + services
            + "  nginx:\n    image: nginx:1.27\n    ports: ['80:80']\n"
            + "    volumes: ['./nginx.conf:/etc/nginx/conf.d/default.conf']\n"
        )
        locations = "".join(
            f"  location /d{slot}/ {{ proxy_pass http://dash{slot}:5006/; }}\n" for slot in range(4)
        )
        (directory / "nginx.conf").write_text(
            f"server {{\n  listen 80;\n  server_name p{project}.example.com;\n{locations}}}\n"
        )


SNIPPETS = {
    "ssl.conf": (
        "ssl_protocols TLSv1.2 TLSv1.3;\n"
        "ssl_prefer_server_ciphers on;\n"
        "ssl_session_cache shared:SSL:10m;\n"
        'add_header Strict-Transport-Security "max-age=63072000" always;\n'
    ),
    "proxy.conf": (
        "proxy_set_header Host $host;\n"
        "proxy_set_header X-Real-IP $remote_addr;\n"
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "proxy_set_header X-Forwarded-Proto $scheme;\n"
        "proxy_http_version 1.1;\n"
    ),
    "websocket.conf": (
        "proxy_set_header Upgrade $http_upgrade;\n"
        'proxy_set_header Connection "upgrade";\n'
        "proxy_read_timeout 3600s;\n"
    ),
    "security.conf": (
        "add_header X-Content-Type-Options nosniff always;\n"
        "add_header X-Frame-Options SAMEORIGIN always;\n"
    ),
}

NGINX_CONF = """user nginx;
worker_processes auto;
events {
    worker_connections 1024;
}
http {
    default_type application/octet-stream;
    sendfile on;
    include snippets/security.conf;
    include sites/*.conf;
}
"""


def _site(index: int) -> str:
    port = 5000 + index % 1000
    return f"""upstream site{index}_app {{
    server 127.0.0.1:{port};
}}
server {{
    listen 80;
    server_name site{index}.example.com;
    return 301 https://$host$request_uri;
}}
server {{
    listen 443 ssl;
    server_name site{index}.example.com;
    ssl_certificate /etc/ssl/site{index}.pem;
    ssl_certificate_key /etc/ssl/site{index}.key;
    include snippets/ssl.conf;
    location / {{
        include snippets/proxy.conf;
        proxy_pass http://site{index}_app;
    }}
    location /ws {{
        include snippets/proxy.conf;
        include snippets/websocket.conf;
        proxy_pass http://site{index}_app;
    }}
    location /api/ {{
        include snippets/proxy.conf;
        proxy_pass http://127.0.0.1:{port + 1000}/;
    }}
    location /static/ {{
        alias /srv/site{index}/static/;
        expires 7d;
    }}
}}
"""


def nginx_includes(sites: int, root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    conf = root / "etc" / "nginx"
    (conf / "sites").mkdir(parents=True)
    (conf / "snippets").mkdir()
    (conf / "nginx.conf").write_text(NGINX_CONF)
    for name, text in SNIPPETS.items():
        (conf / "snippets" / name).write_text(text)
    for index in range(sites):
        (conf / "sites" / f"site{index:05}.conf").write_text(_site(index))


def nginx_main(root: Path) -> Path:
    """The file nginx (and gixy-ng) starts from in a tree made by ``nginx_includes``."""
    return root / "etc" / "nginx" / "nginx.conf"


SHAPES = {"many": many_relevant, "nginx": nginx_includes}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in SHAPES:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(SHAPES)}}} SIZE DIRECTORY")
    SHAPES[sys.argv[1]](int(sys.argv[2]), Path(sys.argv[3]))
