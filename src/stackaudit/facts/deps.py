"""Versions the stack installs: pins from requirements, pyproject, lock files, conda
environments and ``pip install`` lines."""

from __future__ import annotations

from msgspec import Struct

from stackaudit.diagnostics import Span


class DependencyPin(Struct, frozen=True):
    """A requirement on one package. ``ceiling`` is the highest version the requirement
    admits and whether that version itself is admitted; None when it has no upper
    bound. ``locked`` pins come from a lock file: that version is what gets installed."""

    package: str  # normalised (PEP 503): lower case, runs of -_. as "-"
    spec: str  # as written: "==3.8.1", ">=3,<3.8.2", "" for none
    span: Span
    source: str
    locked: bool = False
    ceiling: tuple[str, bool] | None = None

    def entirely_below(self, version: str) -> bool:
        """Every version this pin admits is older than ``version``."""
        from packaging.version import InvalidVersion, Version

        if self.ceiling is None:
            return False
        try:
            top, wanted = Version(self.ceiling[0]), Version(version)
        except InvalidVersion:
            return False
        inclusive = self.ceiling[1]
        return top < wanted or (top == wanted and not inclusive)

    def entirely_at_least(self, version: str) -> bool:
        """The pin is exact (or locked) at ``version`` or later."""
        from packaging.version import InvalidVersion, Version

        if self.ceiling is None or not self.ceiling[1]:
            return False
        exact = self.spec.lstrip("=") if self.spec.startswith("==") or self.locked else None
        try:
            return exact is not None and Version(exact) >= Version(version)
        except InvalidVersion:
            return False
