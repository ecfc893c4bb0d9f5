"""A progress bar for long scans, shown only when a person watches a terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A transient bar on stderr: never in CI logs, with --quiet, or when stderr is
    redirected."""
    if quiet or os.environ.get("CI") or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("scanning", total=None)

        def update(done: int, total: int) -> None:
            # While the walk goes on, the total is the files found so far.
            bar.update(task, completed=done, total=max(total, done) or None)

        yield update
