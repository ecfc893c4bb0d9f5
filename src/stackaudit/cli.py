"""The ``stackaudit`` entry point.

A re-run of a command that ran before, on a tree where nothing it read has changed, is
answered from the stored report before anything else is imported, argparse and pathlib
included (see ``stackaudit.snapshot``); every other run goes to the command line proper,
``stackaudit.commands``.

Whatever goes wrong inside, the exit code stays honest: an unexpected exception is exit
3 with a one-line message (the traceback only with ``STACKAUDIT_DEBUG=1``), never the
interpreter's exit 1, which CI would read as "findings" — or worse, a pass."""

from __future__ import annotations

import gc
import os
import sys

# typing.TYPE_CHECKING without importing typing: this module starts every run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_INTERNAL = 3


# A run builds hundreds of thousands of small records that live until it ends; with
# Python's default threshold (700 allocations) the cyclic collector walks them over and
# over, a cost that grows faster than the tree (a 20,000-file tree: about 13 s of CPU,
# 10 s with this threshold; peak memory within 10 %). Worker processes inherit it.
_GC_THRESHOLD = (50_000, 20, 100)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    gc.set_threshold(*_GC_THRESHOLD)
    try:
        from stackaudit.snapshot import replay

        replayed = replay(arguments)
        if replayed is not None:
            return replayed
        from stackaudit.commands import main as run_command

        return run_command(arguments)
    except KeyboardInterrupt:
        return 130
    except RecursionError:
        return _failed("nesting too deep to analyse")
    except Exception as exc:  # the last line of defence: see the module's docstring
        return _failed(f"{type(exc).__name__}: {exc}")


def _failed(message: str) -> int:
    if os.environ.get("STACKAUDIT_DEBUG"):
        import traceback

        traceback.print_exc()
    from stackaudit.formatters.escape import printable

    print(f"stackaudit: internal error: {printable(message)}", file=sys.stderr)
    return EXIT_INTERNAL
