"""Limits on what one finding may carry into a report.

A finding quotes scanned text (a value, a line of source) and points at related places.
Both come from the scanned repository, so both are bounded here, once, where findings are
made and where source lines are shown: a 254 KB file must not yield a report of gigabytes
(each of thousands of findings quoting a 50,000-character line, or listing every one of
thousands of other places)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

# Characters of a message or help text; a longer one keeps its start and its end.
MAX_TEXT = 1000
# Related places listed with one finding; the rest are counted in the last one's label.
MAX_RELATED = 20
# Characters of a source line shown in a code frame, around the reported span.
MAX_EXCERPT = 200

ELLIPSIS = "…"

T = TypeVar("T")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` if it fits, else its start and end around an ellipsis telling how much
    was left out."""
    if len(text) <= limit:
        return text
    marker = f" {ELLIPSIS} [{len(text) - limit:,} characters] {ELLIPSIS} "
    keep = max(0, limit - len(marker))
    head = keep * 2 // 3
    return text[:head] + marker + text[len(text) - (keep - head) :]


def first(items: Sequence[T], limit: int = MAX_RELATED) -> tuple[list[T], int]:
    """The first ``limit`` items and how many were left out."""
    return list(items[:limit]), max(0, len(items) - limit)


def window(line: str, start: int, end: int, limit: int = MAX_EXCERPT) -> tuple[str, int, int]:
    """A part of ``line`` at most about ``limit`` characters long that shows the columns
    ``start``..``end`` (0-based, end exclusive), with an ellipsis where it was cut, and
    the span's columns within it."""
    if len(line) <= limit:
        return line, start, end
    start = min(max(0, start), len(line))
    end = min(max(start, end), len(line))
    width = min(end - start, limit // 2)  # a long span shows its start
    margin = (limit - width) // 2
    left = max(0, start - margin)
    right = min(len(line), left + limit)
    left = max(0, min(left, right - limit))
    shown = line[left:right]
    offset = left
    if left > 0:
        shown = ELLIPSIS + shown
        offset -= 1
    if right < len(line):
        shown += ELLIPSIS
    new_start = start - offset
    new_end = min(start + width, right) - offset
    return shown, new_start, max(new_start, new_end)
