"""Dependency pins from requirements files, pyproject.toml (PEP 621, Poetry, dependency
groups), lock files (uv.lock, poetry.lock, Pipfile.lock), conda environments, and
``pip install`` / ``conda install`` command lines. PEP 508 requirements and version
specifiers are read with ``packaging``, as pip reads them."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable

from stackaudit.extractors.base import Extraction
from stackaudit.facts.deps import DependencyPin, canonical_name
from stackaudit.invocation.shellwords import Token, split_commands
from stackaudit.source import SourceFile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

# Only packages some rule reasons about: the others are not worth a fact.
WATCHED = frozenset(
    {
        "bokeh",
        "panel",
        "tornado",
        "starlette",
        "fastapi",
        "uvicorn",
        "gunicorn",
        "bokeh-fastapi",
        "hypercorn",
        # SA213: PyJWT 1.x honours decode(verify=False), PyJWT 2 ignores it.
        "pyjwt",
    }
)
# The project name at the start of a PEP 508 requirement.
_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def _pin(
    source: SourceFile, requirement: str, start: int, end: int, how: str, locked: bool = False
) -> DependencyPin | None:
    # Only the name is read here; the version constraint is parsed (with packaging) when a
    # rule asks for it, which keeps packaging off the path of runs that never do.
    match = _NAME.match(requirement)
    if match is None:
        return None
    name = canonical_name(match[1])
    if name not in WATCHED:
        return None
    return DependencyPin(name, requirement.strip(), source.span(start, end), how, locked)


def _locked(
    source: SourceFile, name: str, version: str, start: int, end: int, how: str
) -> DependencyPin | None:
    name = canonical_name(name)
    if name not in WATCHED:
        return None
    return DependencyPin(name, f"{name}=={version}", source.span(start, end), how, True)


# -- requirements files -----------------------------------------------------------------


def extract_requirements(source: SourceFile) -> Extraction:
    result = Extraction()
    offset = 0
    for line in source.text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        content = re.split(r"\s+#", body, maxsplit=1)[0].strip()
        start = offset + len(body) - len(body.lstrip())
        offset += len(line)
        if not content or content.startswith(("-", "#")):
            continue
        content = content.split(" --hash", 1)[0].rstrip(" \\")
        pin = _pin(source, content, start, start + len(content), source.path)
        if pin:
            result.facts.append(pin)
    return result


# -- pyproject.toml, lock files ---------------------------------------------------------


def _find(source: SourceFile, needle: str, after: int = 0) -> tuple[int, int]:
    index = source.text.find(needle, after)
    if index < 0:
        return 0, 0
    return index, index + len(needle)


def _requirement_strings(data: dict[str, object]) -> Iterable[str]:
    project = data.get("project")
    if isinstance(project, dict):
        yield from (r for r in project.get("dependencies", []) if isinstance(r, str))
        optional = project.get("optional-dependencies", {})
        if isinstance(optional, dict):
            for group in optional.values():
                yield from (r for r in group if isinstance(r, str))
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for group in groups.values():
            if isinstance(group, list):
                yield from (r for r in group if isinstance(r, str))


def _poetry_requirements(data: dict[str, object]) -> Iterable[tuple[str, str]]:
    """(name, PEP 440 specifier) from [tool.poetry.*dependencies]."""
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if not isinstance(poetry, dict):
        return
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    group = poetry.get("group")
    if isinstance(group, dict):
        tables += [g.get("dependencies") for g in group.values() if isinstance(g, dict)]
    for table in tables:
        if not isinstance(table, dict):
            continue
        for name, value in table.items():
            constraint = value.get("version") if isinstance(value, dict) else value
            if isinstance(constraint, str):
                yield name, _poetry_constraint(constraint)


def _poetry_constraint(text: str) -> str:
    """Poetry's ``^`` and ``~`` and bare versions as PEP 440 specifiers."""
    text = text.strip()
    if text in ("", "*"):
        return ""
    match = re.fullmatch(r"([\^~])\s*(\d+(?:\.\d+)*)", text)
    if match:
        parts = [int(p) for p in match.group(2).split(".")]
        if match.group(1) == "^":
            index = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
        else:
            index = 0 if len(parts) == 1 else 1
        upper = parts[: index + 1]
        upper[-1] += 1
        return f">={match.group(2)},<{'.'.join(map(str, upper))}"
    if re.fullmatch(r"\d+(\.\d+)*", text):
        return f"=={text}"
    return text


def extract_dependency_file(source: SourceFile) -> Extraction:
    name = source.path.rsplit("/", 1)[-1]
    if name == "Pipfile.lock":
        return _pipfile_lock(source)
    result = Extraction()
    try:
        data = tomllib.loads(source.text)
    except (tomllib.TOMLDecodeError, ValueError):
        return result  # not ours to judge: other tools own this file's syntax
    if name in ("uv.lock", "poetry.lock"):
        for package in data.get("package", []):
            if isinstance(package, dict) and isinstance(package.get("version"), str):
                start, end = _find(source, f'name = "{package.get("name")}"')
                pin = _locked(
                    source, str(package.get("name")), package["version"], start, end, name
                )
                if pin:
                    result.facts.append(pin)
        return result
    for requirement in _requirement_strings(data):
        start, end = _find(source, requirement)
        pin = _pin(source, requirement, start, end, name)
        if pin:
            result.facts.append(pin)
    for package, constraint in _poetry_requirements(data):
        start, end = _find(source, package)
        try:
            pin = _pin(source, f"{package}{constraint}", start, end, name)
        except ValueError:  # packaging's InvalidSpecifier is a ValueError
            pin = None
        if pin:
            result.facts.append(pin)
    return result


def _pipfile_lock(source: SourceFile) -> Extraction:
    result = Extraction()
    try:
        data = json.loads(source.text)
    except ValueError:
        return result
    for section in ("default", "develop"):
        table = data.get(section, {}) if isinstance(data, dict) else {}
        for name, entry in table.items() if isinstance(table, dict) else ():
            version = entry.get("version", "") if isinstance(entry, dict) else ""
            if isinstance(version, str) and version.startswith("=="):
                start, end = _find(source, f'"{name}"')
                pin = _locked(source, name, version[2:], start, end, "Pipfile.lock")
                if pin:
                    result.facts.append(pin)
    return result


# -- command lines and conda ------------------------------------------------------------

_PIP = re.compile(r"^(pip|pip3|pip3\.\d+)$")


def pins_in_script(
    source: SourceFile, text: str, origins: list[int], how: str
) -> list[DependencyPin]:
    """``pip install x==v`` (also ``python -m pip``, ``uv pip``) and ``conda install
    x=v`` in a shell script."""
    found = []
    for words in split_commands(text, origins):
        names = [w.text.rsplit("/", 1)[-1] for w in words]
        for index, name in enumerate(names):
            installer = None
            if _PIP.match(name) or (name == "uv" and names[index + 1 : index + 2] == ["pip"]):
                installer = "pip"
            elif name in ("conda", "mamba", "micromamba"):
                installer = "conda"
            elif name == "-m" and names[index + 1 : index + 2] == ["pip"]:
                installer = "pip"
            if installer is None:
                continue
            rest = words[index + 1 :]
            if "install" not in [w.text for w in rest[:3]]:
                continue
            for word in rest:
                if word.text.startswith("-") or word.text in ("install", "pip"):
                    continue
                found.extend(_word_pin(source, word, installer, how))
            break
    return found


def _word_pin(source: SourceFile, word: Token, installer: str, how: str) -> list[DependencyPin]:
    text = word.text
    if installer == "conda":
        text = re.sub(r"^([A-Za-z0-9_.-]+)=(?!=)", r"\1==", text)
    if word.origins:
        start, end = word.origins[0], word.origins[-1] + 1
    else:
        start, end = word.start, word.end
    pin = _pin(source, text, start, end, how)
    return [pin] if pin else []


def conda_pin(
    source: SourceFile, text: str, start: int, end: int, how: str
) -> DependencyPin | None:
    """A conda ``dependencies`` entry: ``bokeh=3.8.1``, ``bokeh==3.8.1``, ``bokeh>=3``."""
    text = re.sub(r"^([A-Za-z0-9_.-]+)=(?!=)", r"\1==", text.strip())
    text = re.sub(r"^([A-Za-z0-9_.-]+)==([\d.]+)=\S+$", r"\1==\2", text)  # build string
    return _pin(source, text, start, end, how)
