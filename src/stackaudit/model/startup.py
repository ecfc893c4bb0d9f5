"""Whether a server command line gets past its own parser.

``bokeh serve``/``panel serve`` (argparse subparsers under ``parse_args``), gunicorn and
hypercorn (argparse ``parse_args``) exit with status 2 on an option they do not know,
an ambiguous prefix (argparse ``allow_abbrev``) or an option left without its value;
uvicorn and ``fastapi`` (click) do the same for an unknown option (click matches names
exactly), a missing value and an argument beyond the ones they take. An exec-form
array whose program element holds the whole command line makes ``execve`` look for a
program of that name. In every case the process exits before it listens: nothing is
served, and no other setting on that line takes effect.

The option tables are the newest release of each tool (``data/cli_specs.json``); an
option they lack may belong to an older release, so a stack that pins the tool (or
Bokeh, under ``panel serve``) below that release is not judged on unknown options."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Literal

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.serve import ServeCommand
from stackaudit.invocation.argv import ToolSpec, tool_spec

FailureKind = Literal[
    "unknown-option", "ambiguous-option", "missing-value", "extra-argument", "whole-line"
]

# The packages whose release decides what a tool's parser accepts.
_PACKAGES = {
    "bokeh-serve": ("bokeh",),
    "panel-serve": ("panel", "bokeh"),
    "uvicorn": ("uvicorn",),
    "gunicorn": ("gunicorn",),
    "hypercorn": ("hypercorn",),
    "fastapi-run": ("fastapi-cli",),
    "fastapi-dev": ("fastapi-cli",),
    "flask-run": ("flask",),
}
# Options the tool once had, and the release that removed them (checked in the sources
# of the releases: docs/upstream-facts.md, "SA701").
_REMOVED = {
    ("bokeh-serve", "--host"): "Bokeh 0.12.16 (deprecated since 0.12.5)",
    ("panel-serve", "--host"): "Bokeh 0.12.16 (deprecated since 0.12.5)",
}

# Asked of the stack: is ``package`` installed older than ``version``?
InstalledOlder = Callable[[str, str], bool]


class StartFailure(Struct, frozen=True):
    """Why a command exits before serving: where, what the parser says, and a hint."""

    kind: FailureKind
    span: Span
    word: str
    reason: str
    hint: str = ""


def start_failures(command: ServeCommand, installed_older: InstalledOlder) -> list[StartFailure]:
    """Everything on the command line that stops the process at start, in order."""
    if command.carrier == "python" and not (
        command.whole_line or command.unknown or command.missing_values
    ):
        return []  # server calls in code (`pn.serve(...)`) are not argv: only `subprocess`
    found: list[StartFailure] = []
    if command.whole_line is not None:
        return [_whole_line(command)]  # the words inside never reach a parser
    if command.tool not in _PACKAGES:
        return found
    spec = tool_spec(command.tool)
    older = any(installed_older(package, _version(package)) for package in _PACKAGES[command.tool])
    if not older:
        found.extend(_unknown(command, spec))
        found.extend(_missing(command, spec))
    if not found:
        found.extend(_extra_arguments(command, spec))
    if spec.parser == "click" and found:
        # click stops at the first error; argparse names every unrecognised word.
        return [min(found, key=lambda failure: (failure.span.line, failure.span.column))]
    return found


def _version(package: str) -> str:
    for name in _PACKAGES:
        spec = tool_spec(name)
        if spec.package == package:
            return spec.version
    return ""


def _whole_line(command: ServeCommand) -> StartFailure:
    assert command.whole_line is not None
    word = command.whole_line
    return StartFailure(
        "whole-line",
        word.span,
        word.text,
        f"the one element `{_short(word.text)}` is the name of the program to run: "
        "no program has that name, so the process fails to start",
        'write each word as its own element (`["'
        + '", "'.join(word.text.split()[:3])
        + '", ...]`), or use the shell form',
    )


def _unknown(command: ServeCommand, spec: ToolSpec) -> list[StartFailure]:
    found = []
    for word in command.unknown:
        if word.default_used:
            continue  # `${OPTS:-...}`: the environment may give other words
        flag = word.text.split("=", 1)[0] if word.text.startswith("--") else word.text
        matches = spec.lookup(flag)
        if matches == "ambiguous":
            names = sorted(name for name in spec.options if name.startswith(flag))
            found.append(
                StartFailure(
                    "ambiguous-option",
                    word.span,
                    flag,
                    f"`{flag}` is the beginning of several options "
                    f"({', '.join(f'`{n}`' for n in names[:6])}): argparse refuses an "
                    "ambiguous prefix",
                    "write the option out in full",
                )
            )
            continue
        found.append(
            StartFailure("unknown-option", word.span, flag, *_unknown_text(command, spec, flag))
        )
    return found


def _unknown_text(command: ServeCommand, spec: ToolSpec, flag: str) -> tuple[str, str]:
    removed = _REMOVED.get((command.tool, flag))
    if removed is not None:
        reason = f"`{flag}` was removed in {removed}"
    elif spec.parser == "click":
        reason = f"`{flag}` is not an option of it (click matches option names exactly)"
    else:
        reason = f"`{flag}` is not an option of it"
    single_dash = flag.startswith("-") and not flag.startswith("--") and len(flag) > 2
    if single_dash and ("-" + flag) in spec.options:
        return reason + " (one dash: a single-dash word is read as short options)", (
            f"write `-{flag}`"
        )
    close = difflib.get_close_matches(flag, list(spec.options), n=1, cutoff=0.75)
    hint = f"did you mean `{close[0]}`?" if close else f"remove `{flag}`"
    return reason, hint


def _missing(command: ServeCommand, spec: ToolSpec) -> list[StartFailure]:
    return [
        StartFailure(
            "missing-value",
            word.span,
            word.text,
            f"`{word.text}` takes a value and none follows it"
            + (
                ""
                if spec.parser == "click"
                else " (argparse never takes a word that starts with `-` as a value)"
            ),
            f"give `{word.text}` its value, or remove it",
        )
        for word in command.missing_values
        if not word.default_used
    ]


def _extra_arguments(command: ServeCommand, spec: ToolSpec) -> list[StartFailure]:
    """click refuses arguments beyond the ones the command takes (``Got unexpected
    extra argument``); argparse tools here take any number (``nargs="*"``)."""
    if spec.parser != "click" or command.carrier == "python":
        return []
    if any(nargs not in (None, 1) for _, nargs in spec.positionals):
        return []
    if any(word.symbolic for word in command.positionals):
        return []  # `$ARGS` may expand to no word at all
    taken = len(spec.positionals)
    return [
        StartFailure(
            "extra-argument",
            word.span,
            word.text,
            f"`{_short(word.text)}` is one argument too many: {command.label} takes "
            f"{taken} ({', '.join(name.upper() for name, _ in spec.positionals)})",
            "remove the extra word, or give it the option it belongs to",
        )
        for word in command.positionals[taken:]
    ]


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
