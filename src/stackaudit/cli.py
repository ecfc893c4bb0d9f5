"""The ``stackaudit`` entry point.

A re-run of a command that ran before, on a tree where nothing it read has changed, is
answered from the stored report before anything else is imported, argparse and pathlib
included (see ``stackaudit.snapshot``); every other run goes to the command line proper,
``stackaudit.commands``."""

from __future__ import annotations

import sys

# typing.TYPE_CHECKING without importing typing: this module starts every run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    from stackaudit.snapshot import replay

    replayed = replay(arguments)
    if replayed is not None:
        return replayed
    from stackaudit.commands import main as run_command

    return run_command(arguments)
