"""The rule registry: every ``saNNN_*.py`` module in this package defines one rule;
adding a rule means adding its module (and its fixtures), nothing else."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import cache

from stackaudit.config import ConfigError, suggest
from stackaudit.rules.base import Rule


@cache
def all_rules() -> tuple[type[Rule], ...]:
    found: list[type[Rule]] = []
    for module_info in pkgutil.iter_modules(__path__):
        if not module_info.name.startswith("sa"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.__module__ == module.__name__
                and getattr(value, "code", None)
            ):
                found.append(value)
    return tuple(sorted(found, key=lambda rule: rule.code))


def rule_by_code(code: str) -> type[Rule] | None:
    for rule in all_rules():
        if rule.code == code or rule.name == code:
            return rule
    return None


@cache
def known_codes() -> tuple[str, ...]:
    """Every rule code, read from the module names (``sa101_...`` holds SA101; a
    meta-test keeps them in step) so that validating a selection imports no rule."""
    return tuple(
        sorted(
            info.name.split("_", 1)[0].upper()
            for info in pkgutil.iter_modules(__path__)
            if info.name.startswith("sa")
        )
    )


def validate_codes(codes: Iterable[str], where: str) -> list[str]:
    """Codes or prefixes (``SA1``, ``SA101``); an unknown one is a usage error."""
    known = list(known_codes())
    checked = []
    for raw in codes:
        code = raw.strip().upper()
        if not code:
            continue
        if not any(k.startswith(code) for k in known):
            raise ConfigError(f"{where}: unknown rule code `{raw}`{_suggest_code(code, known)}")
        checked.append(code)
    return checked


def _suggest_code(code: str, known: list[str]) -> str:
    """The nearest code or prefix: `SA1XX` or `SA1*` means the prefix `SA1`; a prefix
    is compared with prefixes of its length (`SA9` is closer to `SA8` than to a code)."""
    stripped = code.rstrip("X*")
    if stripped != code and any(k.startswith(stripped) for k in known):
        return f" (did you mean `{stripped}`?)"
    if len(code) < max(map(len, known), default=0):
        prefixes = sorted({k[: len(code)] for k in known})
        return suggest(code, prefixes)
    return suggest(code, known)


def _longest_prefix(code: str, prefixes: Iterable[str]) -> int:
    return max((len(p) for p in prefixes if code.startswith(p)), default=-1)


def is_enabled(code: str, select: list[str], ignore: list[str]) -> bool:
    """A code is on when its most specific selector selects it (``select = ["SA1"]``,
    ``ignore = ["SA10"]`` plus ``extend-select = ["SA101"]`` turns SA101 on)."""
    selected = _longest_prefix(code, select)
    ignored = _longest_prefix(code, ignore)
    return selected >= 0 and selected > ignored
