"""Shared pieces of the extractor fuzz tests and the longer fuzz run (fuzz/run.py):
seed files from the fixtures and the real corpus, mutations, and the invariants every
extraction must keep."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path

import msgspec

from stackaudit.diagnostics import Span
from stackaudit.discovery import AMBIGUOUS, Candidate, classify_content, classify_name
from stackaudit.engine import FileResult, process_file

REPO = Path(__file__).resolve().parent.parent
SEED_DIRS = [REPO / "fixtures", REPO / "examples", REPO.parent / "shared" / "corpus" / "real"]
KIND_NAMES = {
    "dockerfile": "Dockerfile",
    "shell": "run.sh",
    "procfile": "Procfile",
    "python": "app.py",
    "compose": "docker-compose.yml",
    "kubernetes": "k8s.yaml",
    "nginx": "nginx.conf",
    "systemd": "app.service",
    "supervisord": "supervisord.conf",
    "github-actions": ".github/workflows/ci.yml",
    "yaml": "anaconda-project.yml",
    "makefile": "Makefile",
    "requirements": "requirements.txt",
    "dependencies": "pyproject.toml",
    "notebook": "app.ipynb",
    "traefik": "traefik.yml",
}


def seeds() -> dict[str, list[str]]:
    """Seed texts by kind, from every fixture and corpus file that exists."""
    found: dict[str, list[str]] = {}
    for base in SEED_DIRS:
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.stat().st_size > 200_000 or "adversarial" in path.parts:
                continue
            rel = path.relative_to(base).as_posix()
            kind = classify_name(rel)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if kind is None or kind in AMBIGUOUS:
                kind = classify_content(rel, data[:4096], kind)
            if kind in KIND_NAMES:
                found.setdefault(kind, []).append(data.decode("utf-8", "replace"))
    return found


_NOISE = [
    "{",
    "}",
    ";",
    "\\\n",
    "'",
    '"',
    "$(",
    "${",
    "`",
    "#",
    "\n",
    "\t",
    "\r\n",
    "*",
    "--allow-websocket-origin=",
    " panel serve ",
    "&&",
    "<<EOF\n",
    "[",
    "]",
    ":",
    "- ",
    "\0",
    "\ufeff",
    "\u202e",
    "é",
    "${A:-",
    "include ",
    "location / {",
    "proxy_pass ",
    "services:\n  a:\n    command: ",
    'CMD ["',
    "ENV A=",
    "    ",
    "&",
    "|",
]


def mutate(text: str, rng: random.Random, edits: int = 6) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, edits)):
        action = rng.random()
        position = rng.randint(0, len(chars))
        if action < 0.4:
            chars[position:position] = list(rng.choice(_NOISE))
        elif action < 0.7 and chars:
            del chars[position : position + rng.randint(1, 12)]
        elif chars:
            start = rng.randint(0, len(chars) - 1)
            chunk = chars[start : start + rng.randint(1, 40)]
            chars[position:position] = chunk
    return "".join(chars)


def spans_in(value: object, depth: int = 0) -> Iterator[Span]:
    """Every Span inside a fact, however nested."""
    if depth > 12:
        return
    if isinstance(value, Span):
        yield value
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from spans_in(getattr(value, name), depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from spans_in(getattr(value, field.name), depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from spans_in(item, depth + 1)


def extract_text(tmp: Path, kind: str, text: str) -> FileResult:
    name = KIND_NAMES[kind]
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return process_file(Candidate(str(path), name, kind, path.stat().st_size))


def check_invariants(result: FileResult, text: str) -> None:
    assert result.error is None, result.error
    lines = max(1, len(text.splitlines()) + 1)
    for fact in [*result.facts, *result.problems]:
        for span in spans_in(fact):
            assert span.path == result.rel, (span, result.rel)
            assert 1 <= span.line <= lines, (span, lines)
            assert span.end_line >= span.line
            assert span.column >= 1
