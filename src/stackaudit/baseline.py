"""Baselines: accept today's findings, report only new ones.

An entry is matched by rule, path and fingerprint (the offending line's text and an
occurrence index, not its number), so moving lines keeps matches. Matching counts: two
identical findings in the baseline absorb two findings, not every one. Entries that
match nothing any more are stale and reported, so the baseline can shrink."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from msgspec import Struct

from stackaudit.config import ConfigError
from stackaudit.diagnostics import Diagnostic
from stackaudit.reading import NotRead, read_regular

VERSION = 1
# A baseline of a very large project is a few megabytes; a committed FIFO or a giant
# is not read.
BASELINE_LIMIT = 256 * 1024 * 1024


class BaselineEntry(Struct, frozen=True):
    code: str
    path: str
    fingerprint: str
    message: str = ""
    reason: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.code, self.path, self.fingerprint)


def baseline_text(
    diagnostics: list[Diagnostic], previous: list[BaselineEntry] | None = None
) -> str:
    """The baseline file recording ``diagnostics``, keeping the reasons ``previous``
    entries gave."""
    reasons = {entry.key: entry.reason for entry in previous or [] if entry.reason}
    entries: list[dict[str, Any]] = []
    for d in sorted(diagnostics, key=lambda d: d.sort_key):
        entry: dict[str, Any] = {
            "code": d.code,
            "path": d.span.path,
            "fingerprint": d.fingerprint,
            "message": d.message,
        }
        reason = reasons.get((d.code, d.span.path, d.fingerprint))
        if reason:
            entry["reason"] = reason
        entries.append(entry)
    document = {"version": VERSION, "tool": "stackaudit", "findings": entries}
    from stackaudit.formatters.escape import json_text

    # json_text: an undecodable file name (lone surrogates) is written as \u escapes.
    return json_text(document)


def read_baseline(path: Path) -> list[BaselineEntry]:
    try:
        data = json.loads(read_regular(path, BASELINE_LIMIT).decode("utf-8"))
    except NotRead as exc:
        raise ConfigError(f"cannot read baseline {path}: {exc.reason}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"baseline {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ConfigError(f"baseline {path}: unsupported format (expected version {VERSION})")
    entries = []
    for item in data.get("findings", []):
        try:
            entries.append(
                BaselineEntry(
                    str(item["code"]),
                    str(item["path"]),
                    str(item["fingerprint"]),
                    str(item.get("message", "")),
                    str(item.get("reason", "")),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"baseline {path}: malformed entry {item!r}") from exc
    return entries


def apply_baseline(
    diagnostics: list[Diagnostic], entries: list[BaselineEntry]
) -> tuple[list[Diagnostic], list[Diagnostic], list[BaselineEntry]]:
    """New findings, those the baseline absorbed, and its stale entries."""
    available = Counter(entry.key for entry in entries)
    kept = []
    absorbed = []
    for d in diagnostics:
        key = (d.code, d.span.path, d.fingerprint)
        if available[key] > 0:
            available[key] -= 1
            absorbed.append(d)
        else:
            kept.append(d)
    stale = []
    for entry in entries:
        if available[entry.key] > 0:
            available[entry.key] -= 1
            stale.append(entry)
    return kept, absorbed, stale
