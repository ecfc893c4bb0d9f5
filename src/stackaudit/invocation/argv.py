"""Argument parsing with the real semantics of each server's command line.

The option tables in ``data/cli_specs.json`` are generated from the installed
``bokeh``/``panel`` argparse parsers, ``uvicorn``/``fastapi`` click commands and the
``gunicorn``/``hypercorn`` argparse parsers by ``scripts/gen_cli_specs.py``. This module
replays how those parsers read argv: argparse prefix abbreviations, ``--flag=value``,
``nargs`` ``?``/``*``/``+``/REMAINDER (greedy options swallow following positionals),
``--`` ending options; click's exact names and values taken verbatim.
"""

from __future__ import annotations

import json
import pkgutil
import re
from functools import cache
from typing import Any

from msgspec import Struct, field

from stackaudit.facts.common import has_expansion
from stackaudit.invocation.shellwords import Token

# argparse treats "-5" as a value, not an option, when the parser has no option that
# looks like a negative number (none of ours does).
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


class OptionSpec(Struct, frozen=True):
    flags: tuple[str, ...]
    dest: str
    action: str
    nargs: int | str | None

    @property
    def takes_value(self) -> bool:
        return self.nargs != 0 and self.action not in _NO_VALUE_ACTIONS


_NO_VALUE_ACTIONS = frozenset(
    {"store_true", "store_false", "store_const", "append_const", "count", "help", "version"}
)


class ToolSpec(Struct, frozen=True):
    name: str
    parser: str
    allow_abbrev: bool
    options: dict[str, OptionSpec]
    positionals: tuple[tuple[str, int | str | None], ...]
    version: str
    package: str = ""

    def lookup(self, flag: str) -> OptionSpec | str | None:
        """The option a flag names, None when unknown, or "ambiguous"."""
        found = self.options.get(flag)
        if found is not None:
            return found
        if self.parser != "argparse" or not self.allow_abbrev or not flag.startswith("--"):
            return None
        matches = {spec.dest: spec for name, spec in self.options.items() if name.startswith(flag)}
        if len(matches) == 1:
            return next(iter(matches.values()))
        return "ambiguous" if matches else None


@cache
def _specs() -> dict[str, Any]:
    # pkgutil reads package data without importlib.resources' zip machinery.
    data = pkgutil.get_data("stackaudit.data", "cli_specs.json")
    assert data is not None, "stackaudit.data is a regular package"
    loaded: dict[str, Any] = json.loads(data)
    return loaded


@cache
def tool_spec(name: str) -> ToolSpec:
    raw = _specs()[name]
    options: dict[str, OptionSpec] = {}
    for entry in raw["options"]:
        spec = OptionSpec(tuple(entry["flags"]), entry["dest"], entry["action"], entry["nargs"])
        for flag in spec.flags:
            options[flag] = spec
    positionals = tuple((p["dest"], p["nargs"]) for p in raw.get("positionals", []))
    return ToolSpec(
        name,
        raw["parser"],
        bool(raw.get("allow_abbrev", False)),
        options,
        positionals,
        str(raw.get("version", "")),
        str(raw.get("package", "")),
    )


class ParsedOption(Struct):
    dest: str
    flag: Token
    flag_end: int  # length of the flag part of the token (before "=value")
    values: list[tuple[Token, int]]  # (token, start index into its text)


class ParsedArgs(Struct):
    options: list[ParsedOption]
    positionals: list[Token]
    remainder: list[Token]
    # Option words the parser does not know (or, argparse, an ambiguous prefix): the
    # parser exits with a usage error.
    unknown: list[Token]
    # Options that take a value and were given none: a usage error as well (argparse
    # "expected one argument", click "requires an argument").
    missing_value: list[Token] = field(default_factory=list)


def _looks_like_option(token: Token) -> bool:
    """Whether argparse/click would take the word for an option. In ``--flag=$VALUE``
    only the value is run-time: the flag part decides."""
    text = token.text
    flag = text.split("=", 1)[0] if text.startswith("--") else text
    return (
        len(text) > 1
        and text.startswith("-")
        and not has_expansion(flag)
        and not _NEGATIVE_NUMBER.match(text)
        and " " not in flag
    )


def parse_args(spec: ToolSpec, tokens: list[Token]) -> ParsedArgs:
    """Read ``tokens`` (the arguments after the program name) as ``spec``'s parser would."""
    result = ParsedArgs([], [], [], [])
    index = 0
    click = spec.parser == "click"
    while index < len(tokens):
        token = tokens[index]
        text = token.text
        index += 1
        if text == "--" and not token.quoted:
            result.positionals.extend(tokens[index:])
            break
        if not _looks_like_option(token):
            result.positionals.append(token)
            continue
        flag, has_inline, inline_start = text, False, 0
        if text.startswith("--") and "=" in text:
            flag, has_inline, inline_start = text.split("=", 1)[0], True, text.index("=") + 1
        option = spec.lookup(flag)
        if option is None and not text.startswith("--") and len(text) > 2:
            # "-p5006", "-b0.0.0.0:80", "-Dw4": short options run together, the last of
            # them possibly with its value attached.
            cluster = _short_cluster(spec, token)
            if cluster is not None:
                flags, valued = cluster
                result.options.extend(flags)
                if valued is None:
                    continue
                option, flag_end = valued
                flag = text[:flag_end]
                inline_start = flag_end
                if not click and flag_end == 2 and text[2:3] == "=":
                    inline_start = 3  # argparse splits "-b=value" at the "="
                has_inline = inline_start < len(text)
        if option is None and not click and " " in text:
            # argparse: a word holding a space that names no option is a positional.
            result.positionals.append(token)
            continue
        if option is None or option == "ambiguous":
            result.unknown.append(token)
            continue
        assert isinstance(option, OptionSpec)
        parsed = ParsedOption(option.dest, token, len(flag), [])
        needed = _values_needed(option, click)
        result.options.append(parsed)
        if not option.takes_value:
            continue
        if has_inline:
            parsed.values.append((token, inline_start))
            if option.nargs in (None, "?", "*", "+", 1):
                continue
            needed -= 1
        if option.nargs == "...":
            result.remainder.extend(tokens[index:])
            parsed.values.extend((t, 0) for t in tokens[index:])
            break
        wanted = option.nargs
        if wanted in (None, "?") or isinstance(wanted, int):
            count = 1 if wanted in (None, "?") else int(wanted)
            taken = 0
            while taken < count and index < len(tokens):
                nxt = tokens[index]
                if not click and _looks_like_option(nxt):
                    break
                parsed.values.append((nxt, 0))
                index += 1
                taken += 1
            if len(parsed.values) < needed:
                result.missing_value.append(token)
            continue
        # "*" and "+": greedy, up to the next option-looking word.
        while index < len(tokens) and not _looks_like_option(tokens[index]):
            if tokens[index].text == "--" and not tokens[index].quoted:
                break
            parsed.values.append((tokens[index], 0))
            index += 1
        if len(parsed.values) < needed:
            result.missing_value.append(token)
    return result


def _values_needed(option: OptionSpec, click: bool) -> int:
    """How many values the parser insists on: argparse ``nargs`` None, N and ``+``;
    click takes the next N words whatever they look like, so only an option at the
    very end lacks them."""
    if option.nargs in (None, "+"):
        return 1
    if isinstance(option.nargs, int):
        return option.nargs
    return 0


def _short_cluster(
    spec: ToolSpec, token: Token
) -> tuple[list[ParsedOption], tuple[OptionSpec, int] | None] | None:
    """Single-dash options written together (argparse ``consume_optional`` and click
    ``_match_short_opt`` read them alike): the flags, and the option that takes the
    rest of the word (or the next word) as its value with where its letter ends; None
    when a letter names no option."""
    text = token.text
    flags: list[ParsedOption] = []
    for position in range(1, len(text)):
        option = spec.options.get("-" + text[position])
        if option is None:
            return None
        if option.takes_value:
            return flags, (option, position + 1)
        flags.append(ParsedOption(option.dest, token, position + 1, []))
    return flags, None
