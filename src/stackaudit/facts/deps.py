"""Versions the stack installs: pins from requirements, pyproject, lock files, conda
environments and ``pip install`` lines."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from msgspec import Struct

from stackaudit.diagnostics import Span

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet


class DependencyPin(Struct, frozen=True):
    """A requirement on one package, as written (PEP 508). ``locked`` pins come from a
    lock file: that version is what gets installed.

    The constraint is parsed with ``packaging``, as pip parses it, when a rule first asks
    for it: only the rules about Tornado and Bokeh versions do, and a run over a Dockerfile
    that merely pins packages does not pay for importing it."""

    package: str  # normalised (PEP 503): lower case, runs of -_. as "-"
    requirement: str  # "bokeh==3.8.1", "tornado>=6,<7; python_version>'3.9'"
    span: Span
    source: str
    locked: bool = False

    @property
    def valid(self) -> bool:
        """pip would accept the requirement (an invalid one pins nothing)."""
        return _parse(self.requirement) is not None

    @property
    def spec(self) -> str:
        """The version constraint as pip normalises it: "==3.8.1", ">=3,<3.8.2", "" for
        none."""
        parsed = _parse(self.requirement)
        return parsed[0] if parsed else ""

    @property
    def ceiling(self) -> tuple[str, bool] | None:
        """The highest version the requirement admits and whether that version itself is
        admitted; None when it has no upper bound."""
        parsed = _parse(self.requirement)
        return parsed[1] if parsed else None

    def entirely_below(self, version: str) -> bool:
        """Every version this pin admits is older than ``version``."""
        from packaging.version import InvalidVersion, Version

        ceiling = self.ceiling
        if ceiling is None:
            return False
        try:
            top, wanted = Version(ceiling[0]), Version(version)
        except InvalidVersion:
            return False
        return top < wanted or (top == wanted and not ceiling[1])

    def floor_at_least(self, version: str) -> bool:
        """The requirement's lower bound is ``version`` or later (``>=6.6``, ``~=6.6``,
        ``==6.6.1``; not ``==6.*``, whose floor is 6.0)."""
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version

        try:
            wanted = Version(version)
            return any(
                s.operator in (">=", ">", "~=", "==", "===")
                and not s.version.endswith(".*")
                and Version(s.version) >= wanted
                for s in SpecifierSet(self.spec)
            )
        except (InvalidSpecifier, InvalidVersion):
            return False

    def entirely_at_least(self, version: str) -> bool:
        """The pin is exact (or locked) at ``version`` or later."""
        from packaging.version import InvalidVersion, Version

        ceiling = self.ceiling
        if ceiling is None or not ceiling[1]:
            return False
        spec = self.spec
        exact = spec.lstrip("=") if spec.startswith("==") or self.locked else None
        try:
            return exact is not None and Version(exact) >= Version(version)
        except InvalidVersion:
            return False


def canonical_name(name: str) -> str:
    """PEP 503 normalisation, as ``packaging.utils.canonicalize_name`` does it."""
    return re.sub(r"[-_.]+", "-", name).lower()


# "name==version", "name[extra] == version": the usual pin, and one whose reading needs
# only packaging's Version, not its requirement grammar (with markers and tags).
_EXACT = re.compile(
    r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[A-Za-z0-9._,\s-]*\])?"
    r"\s*==\s*([0-9][A-Za-z0-9.+!_-]*)\s*"
)


@lru_cache(maxsize=256)
def _parse(requirement: str) -> tuple[str, tuple[str, bool] | None] | None:
    """(specifier as pip normalises it, ceiling), or None when pip would refuse it."""
    exact = _EXACT.fullmatch(requirement)
    if exact is not None:
        from packaging.version import InvalidVersion, Version

        try:
            version = Version(exact[1])
        except InvalidVersion:
            return None
        return f"=={exact[1]}", (str(version), True)
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return None
    return str(parsed.specifier), ceiling(parsed.specifier)


def ceiling(specifier: SpecifierSet) -> tuple[str, bool] | None:
    """The highest version ``specifier`` admits, and whether it is admitted itself."""
    from packaging.version import InvalidVersion, Version

    best: tuple[Version, bool] | None = None
    for spec in specifier:
        text = spec.version
        try:
            if spec.operator in ("==", "===") and text.endswith(".*"):
                parts = [int(p) for p in text[:-2].split(".")]
                parts[-1] += 1
                bound = (Version(".".join(map(str, parts))), False)
            elif spec.operator in ("==", "==="):
                bound = (Version(text), True)
            elif spec.operator == "<":
                bound = (Version(text), False)
            elif spec.operator == "<=":
                bound = (Version(text), True)
            elif spec.operator == "~=":
                release = list(Version(text).release)
                release = release[:-1] if len(release) > 1 else release
                release[-1] += 1
                bound = (Version(".".join(map(str, release))), False)
            else:
                continue
        except (InvalidVersion, ValueError):
            continue
        if best is None or bound[0] < best[0] or (bound[0] == best[0] and not bound[1]):
            best = bound
    return (str(best[0]), best[1]) if best else None
