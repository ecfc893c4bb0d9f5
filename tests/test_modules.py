"""Which file an ASGI command line imports: the one beside the command's own files,
not every file of that name in the tree."""

from __future__ import annotations

import textwrap

from stackaudit.extractors.compose import extract_compose
from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.python import extract_python
from stackaudit.extractors.shell import extract_shell
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile

EXTRACTORS = {
    "dockerfile": extract_dockerfile,
    "compose": extract_compose,
    "shell": extract_shell,
    "python": extract_python,
}
APP = "from fastapi import FastAPI\n\napp = FastAPI()\n"


def stack_of(*files: tuple[str, str, str]) -> Stack:
    facts: list[object] = []
    for kind, path, text in files:
        facts.extend(EXTRACTORS[kind](SourceFile(path, kind, textwrap.dedent(text))).facts)
    return Stack(facts)


def imports(stack: Stack) -> dict[str, tuple[str, ...]]:
    return {c.span.path: stack.module_files(c) for c in stack.serve_commands}


def test_each_start_script_imports_the_module_beside_it() -> None:
    stack = stack_of(
        ("python", "apps/a/main.py", APP),
        ("python", "apps/b/main.py", APP),
        ("shell", "apps/a/start.sh", "uvicorn main:app --host 0.0.0.0\n"),
        ("shell", "apps/b/start.sh", "uvicorn main:app --host 0.0.0.0\n"),
    )
    assert imports(stack) == {
        "apps/a/start.sh": ("apps/a/main.py",),
        "apps/b/start.sh": ("apps/b/main.py",),
    }
    assert [c.span.path for c in stack.asgi_servers_of("apps/b/main.py")] == ["apps/b/start.sh"]


def test_a_compose_service_imports_from_its_build_context() -> None:
    stack = stack_of(
        ("python", "services/api/app/main.py", APP),
        ("python", "services/admin/app/main.py", APP),
        (
            "compose",
            "deploy/compose.yaml",
            """
            services:
              api:
                build: ../services/api
                command: uvicorn app.main:app --host 0.0.0.0
            """,
        ),
    )
    assert imports(stack) == {"deploy/compose.yaml": ("services/api/app/main.py",)}


def test_a_root_dockerfile_finds_the_module_below_it_and_anywhere_as_a_last_resort() -> None:
    stack = stack_of(
        ("python", "backend/app/main.py", APP),
        ("dockerfile", "Dockerfile", 'FROM python:3.12\nCMD ["uvicorn", "app.main:app"]\n'),
        ("shell", "ops/run.sh", "uvicorn app.main:app\n"),
    )
    assert imports(stack) == {
        "Dockerfile": ("backend/app/main.py",),
        "ops/run.sh": ("backend/app/main.py",),
    }
