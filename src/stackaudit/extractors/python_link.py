"""The project-wide step of the Python extractor: values imported from another module.

Each parsed module publishes its constants (``PythonModule``); a call whose argument
names an imported constant (``from .settings import ORIGINS``, ``settings.CORS_ORIGINS``
with ``settings = Settings()`` in ``config.py``) was built with that argument unknown
and left a ``PendingPythonFacts``. ``link_python_facts`` looks the names up and rebuilds
those facts with the values. It is cheap: a dictionary per module, and only pending
call sites are rebuilt. Modules are matched by dotted name, or by suffix for absolute
imports of a package below the scanned root (``app.settings`` is ``src/app/settings.py``
when only one module ends that way)."""

from __future__ import annotations

from collections.abc import Iterable

from msgspec.structs import replace

from stackaudit.extractors.python_build import Builder
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.python import (
    CallSite,
    KeywordValue,
    LibraryCall,
    PendingPythonFacts,
    PythonModule,
    PyValue,
)

_MAX_HOPS = 8


class _Constants:
    def __init__(self, modules: Iterable[PythonModule]) -> None:
        self.by_module: dict[str, dict[str, PyValue]] = {}
        for module in modules:
            self.by_module.setdefault(module.module, {}).update(module.constants)

    def _module(self, name: str) -> dict[str, PyValue] | None:
        found = self.by_module.get(name)
        if found is not None:
            return found
        matches = [m for m in self.by_module if m.endswith("." + name)]
        return self.by_module[matches[0]] if len(matches) == 1 else None

    def lookup(self, dotted: str, hops: int = 0) -> PyValue | None:
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            constants = self._module(".".join(parts[:cut]))
            if constants is None:
                continue
            value = constants.get(".".join(parts[cut:]))
            if value is not None and value.kind == "ref" and hops < _MAX_HOPS:
                return self.lookup(value.text, hops + 1)
            return value
        return None


def _rebase(value: PyValue, use: PyValue) -> PyValue:
    """The constant's value, as seen at the argument that names it."""
    items = tuple(_rebase(item, use) for item in value.items)
    key_spans = tuple(use.span for _ in value.key_spans)
    return PyValue(
        value.kind,
        value.value,
        value.text,
        use.span,
        items,
        value.keys,
        value.complete,
        value.defined_at or value.span,
        value.env_name,
        (),
        key_spans,
    )


def _resolve(value: PyValue, constants: _Constants) -> PyValue:
    if value.kind == "ref":
        found = constants.lookup(value.text)
        if found is None or found.kind == "ref":
            return PyValue("symbolic", None, value.text, value.span)
        return _rebase(found, value)
    if value.items:
        items = tuple(_resolve(item, constants) for item in value.items)
        return PyValue(
            value.kind,
            value.value,
            value.text,
            value.span,
            items,
            value.keys,
            value.complete,
            value.defined_at,
            value.env_name,
            value.origins,
            value.key_spans,
        )
    return value


def _resolve_site(site: CallSite, constants: _Constants) -> CallSite:
    keywords: list[KeywordValue] = []
    for keyword in site.keywords:
        keywords.append(
            KeywordValue(keyword.name, keyword.name_span, _resolve(keyword.value, constants))
        )
    return CallSite(
        site.api,
        site.callee,
        site.span,
        tuple(_resolve(v, constants) for v in site.positional),
        tuple(keywords),
        site.open_keywords,
        site.label,
        site.main_guard,
        site.function,
    )


def _development(fact: object) -> object:
    if isinstance(fact, (CorsPolicy, LibraryCall)):
        return replace(fact, development_branch=True)
    return fact


def link_python_facts(facts: list[object]) -> list[object]:
    """``facts`` with every pending Python fact rebuilt from the project's constants
    (the ``PendingPythonFacts`` records themselves removed)."""
    pending = [f for f in facts if isinstance(f, PendingPythonFacts)]
    if not pending:
        return facts
    constants = _Constants(f for f in facts if isinstance(f, PythonModule))
    builder = Builder()
    replacement: dict[int, list[object]] = {}
    dropped: set[int] = set()
    for entry in pending:
        rebuilt = builder.facts_of(_resolve_site(entry.site, constants))
        if entry.facts and getattr(entry.facts[0], "development_branch", False) is True:
            # Rebuilt facts keep the mark of a development path the analysis gave them.
            rebuilt = [_development(fact) for fact in rebuilt]
        if entry.facts:
            replacement[id(entry.facts[0])] = rebuilt
            dropped.update(id(f) for f in entry.facts[1:])
    linked: list[object] = []
    for fact in facts:
        if isinstance(fact, PendingPythonFacts) or id(fact) in dropped:
            continue
        linked.extend(replacement.get(id(fact), [fact]))
    return linked
