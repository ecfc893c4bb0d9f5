"""What an origin regular expression admits, read from the pattern's text.

Origin allowlists written as regexes (Starlette ``allow_origin_regex``, nginx ``map``
keys and ``if ($http_origin ~ ...)``) fail in a few well-known ways: an unescaped ``.``
in the host, a ``.*`` that can run into the registrable domain (``https://.*example.com``
admits ``https://evilexample.com``), a missing ``$`` under a *search* (nginx regexes are
unanchored), or a pattern that admits every origin.

The analysis never runs the pattern against attacker-sized input: it parses the pattern
text into atoms (a small, linear parser: a pattern it cannot read yields no finding) and
reasons about the host part. Whether it admits the origin ``null`` is decided without
running it either (see ``may_match_null``): even four characters can take a backtracking
engine minutes."""

from __future__ import annotations

import re
import warnings
from itertools import product
from typing import Any, Literal

from msgspec import Struct

MatchMode = Literal["fullmatch", "search"]
_MAX_PATHS = 64
_MAX_PATTERN = 2000
_MAX_REPEAT = 4294967295  # the re module's MAXREPEAT: no upper bound


class _Atom(Struct, frozen=True):
    # "lit": one literal character; "any": "."; "set": a class or escape (\w, [a-z.]);
    # "wild": a repeated group; "bol"/"eol": anchors; "zero": other zero-width items.
    kind: str
    char: str = ""
    dots: bool = False  # can match "."
    letters: bool = False  # can match a letter
    low: int = 1
    high: int | None = 1

    @property
    def repeated(self) -> bool:
        return self.high is None or self.high > 1

    @property
    def optional(self) -> bool:
        return self.low == 0

    @property
    def wildcard(self) -> bool:
        """Matches a run of arbitrary host characters."""
        return self.kind in ("any", "set", "wild") and self.letters and self.repeated

    @property
    def domain_char(self) -> bool:
        return (
            self.kind == "lit"
            and (self.char.isalnum() or self.char == "-")
            and (self.low == self.high == 1)
        )

    @property
    def dot_like(self) -> bool:
        """A separator between labels: ``\\.`` or a bare ``.`` used as one."""
        return self.low == self.high == 1 and (
            (self.kind == "lit" and self.char == ".") or self.kind == "any"
        )


class _Group(Struct, frozen=True):
    branches: tuple[tuple[_Atom | _Group, ...], ...]
    low: int = 1
    high: int | None = 1


class _Unreadable(Exception):
    pass


_CLASS_ESCAPES = {
    "w": (False, True),
    "W": (True, False),
    "d": (False, False),
    "D": (True, True),
    "s": (False, False),
    "S": (True, True),
}


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.index = 0

    def parse(self) -> _Group:
        group = self.alternation()
        if self.index != len(self.text):
            raise _Unreadable
        return group

    def alternation(self) -> _Group:
        branches = [self.sequence()]
        while self.index < len(self.text) and self.text[self.index] == "|":
            self.index += 1
            branches.append(self.sequence())
        return _Group(tuple(branches))

    def sequence(self) -> tuple[_Atom | _Group, ...]:
        items: list[_Atom | _Group] = []
        text = self.text
        while self.index < len(text) and text[self.index] not in "|)":
            item = self.atom()
            if item is None:
                continue
            low, high = self.quantifier()
            if (low, high) != (1, 1):
                if isinstance(item, _Atom):
                    if item.kind in ("bol", "eol", "zero"):
                        continue
                    item = _Atom(item.kind, item.char, item.dots, item.letters, low, high)
                else:
                    item = _Group(item.branches, low, high)
            items.append(item)
        return tuple(items)

    def quantifier(self) -> tuple[int, int | None]:
        text = self.text
        if self.index >= len(text):
            return 1, 1
        char = text[self.index]
        result: tuple[int, int | None]
        if char in "*+?":
            self.index += 1
            result = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        elif char == "{":
            match = re.compile(r"\{(\d*)(,?)(\d*)\}").match(text, self.index)
            if not match or not (match.group(1) or match.group(3)):
                return 1, 1  # a literal "{"
            self.index = match.end()
            low = int(match.group(1) or 0)
            high = int(match.group(3)) if match.group(3) else (None if match.group(2) else low)
            result = (low, high)
        else:
            return 1, 1
        if self.index < len(text) and text[self.index] in "?+":
            self.index += 1  # lazy or possessive: same language
        return result

    def atom(self) -> _Atom | _Group | None:
        text = self.text
        char = text[self.index]
        self.index += 1
        if char == "^":
            return _Atom("bol")
        if char == "$":
            return _Atom("eol")
        if char == ".":
            return _Atom("any", dots=True, letters=True)
        if char == "[":
            return self.char_class()
        if char == "\\":
            return self.escape()
        if char == "(":
            return self.group()
        if char in "*+?":
            raise _Unreadable
        return _Atom("lit", char.lower())

    def escape(self) -> _Atom:
        if self.index >= len(self.text):
            raise _Unreadable
        char = self.text[self.index]
        self.index += 1
        if char in "AG":
            return _Atom("bol")
        if char in "zZ":
            return _Atom("eol")
        if char in "bB":
            return _Atom("zero")
        if char in _CLASS_ESCAPES:
            dots, letters = _CLASS_ESCAPES[char]
            return _Atom("set", dots=dots, letters=letters)
        if char in "nrtfv":
            return _Atom("lit", "\n")
        if char.isdigit():
            return _Atom("wild", dots=True, letters=True, high=None)  # a back-reference
        return _Atom("lit", char.lower())

    def char_class(self) -> _Atom:
        text = self.text
        negated = self.index < len(text) and text[self.index] == "^"
        if negated:
            self.index += 1
        members: list[str] = []
        first = True
        while True:
            if self.index >= len(text):
                raise _Unreadable
            char = text[self.index]
            if char == "]" and not first:
                self.index += 1
                break
            first = False
            if char == "\\" and self.index + 1 < len(text):
                escaped = text[self.index + 1]
                self.index += 2
                if escaped in _CLASS_ESCAPES:
                    dots, letters = _CLASS_ESCAPES[escaped]
                    members.extend((["."] if dots else []) + (["a"] if letters else []))
                else:
                    members.append(escaped)
                continue
            if (
                char == "-"
                and members
                and self.index + 1 < len(text)
                and text[self.index + 1] != "]"
            ):
                start, end = members[-1], text[self.index + 1]
                self.index += 2
                if start <= "." <= end:
                    members.append(".")
                if any(start <= c <= end for c in "aAzZ") or (start <= "a" and end >= "z"):
                    members.append("a")
                continue
            members.append(char)
            self.index += 1
        has_dot = "." in members
        has_letter = any(c.isalpha() for c in members)
        if negated:
            return _Atom("set", dots=not has_dot, letters=True)
        return _Atom("set", dots=has_dot, letters=has_letter)

    def group(self) -> _Atom | _Group | None:
        text = self.text
        if text.startswith("?", self.index):
            rest = text[self.index + 1 :]
            if rest.startswith((":", "P<", "<")) and not rest.startswith(("<=", "<!")):
                if rest.startswith(":"):
                    self.index += 2
                else:
                    close = text.find(">", self.index)
                    if close < 0:
                        raise _Unreadable
                    self.index = close + 1
            elif rest.startswith(("=", "!", "<=", "<!")):
                self.alternation_after(2 if rest[0] in "=!" else 3)
                return _Atom("zero")
            elif re.match(r"[a-zA-Z-]+\)", rest):
                self.index = text.index(")", self.index) + 1
                return None  # inline flags such as (?i)
            elif re.match(r"[a-zA-Z-]+:", rest):
                self.index = text.index(":", self.index) + 1
            else:
                raise _Unreadable
        inner = self.alternation()
        if self.index >= len(text) or text[self.index] != ")":
            raise _Unreadable
        self.index += 1
        return inner

    def alternation_after(self, skip: int) -> None:
        self.index += skip
        self.alternation()
        if self.index >= len(self.text) or self.text[self.index] != ")":
            raise _Unreadable
        self.index += 1


def _flatten(group: _Group, budget: list[int]) -> list[list[_Atom]]:
    """Every linear path through ``group`` (bounded): alternatives and optional groups
    are expanded; a repeated group becomes one ``wild`` atom."""
    paths: list[list[_Atom]] = []
    for branch in group.branches:
        options: list[list[list[_Atom]]] = []
        for item in branch:
            if isinstance(item, _Atom):
                options.append([[item]])
                continue
            inner = _flatten(_Group(item.branches), budget)
            if item.high is None or item.high > 1:
                dots = any(
                    a.dots or (a.kind == "lit" and a.char == ".") for path in inner for a in path
                )
                letters = any(
                    a.letters or (a.kind == "lit" and a.char.isalpha())
                    for path in inner
                    for a in path
                )
                wild = _Atom("wild", dots=dots, letters=letters, low=1, high=None)
                # (label\.)* : whatever it repeats, it ends with a dot.
                ends_with_dot = all(
                    path and path[-1].kind == "lit" and path[-1].char == "." for path in inner
                )
                repeated = [wild, _Atom("lit", ".")] if ends_with_dot else [wild]
                options.append([[], repeated] if item.low == 0 else [repeated])
            elif item.low == 0:
                options.append([[], *inner])
            else:
                options.append(inner)
        combos = 1
        for option in options:
            combos *= max(1, len(option))
        if combos > budget[0]:
            raise _Unreadable
        for choice in product(*options):
            paths.append([atom for part in choice for atom in part])
            budget[0] -= 1
            if budget[0] <= 0:
                raise _Unreadable
    return paths


def _paths(pattern: str) -> list[list[_Atom]] | None:
    if len(pattern) > _MAX_PATTERN:
        return None
    try:
        group = _Parser(pattern).parse()
        return _flatten(group, [_MAX_PATHS])
    except (_Unreadable, IndexError, ValueError):
        return None


class RegexFinding(Struct, frozen=True):
    """One way an origin regex admits more than intended."""

    kind: Literal[
        "unanchored-end",
        "unanchored-start",
        "unescaped-dot",
        "wildcard-into-domain",
        "wildcard-after-host",
        "tld-only",
    ]
    detail: str
    example: str = ""


class _Host(Struct):
    atoms: list[_Atom]
    start: int  # index in the path where the host begins
    end: int  # index just after the host
    scheme: str


def _split_host(path: list[_Atom]) -> _Host:
    atoms = [a for a in path if a.kind != "zero"]
    begin = 1 if atoms and atoms[0].kind == "bol" else 0
    start = begin
    scheme = ""
    for index in range(begin, len(atoms) - 2):
        if all(
            atoms[index + k].kind == "lit" and atoms[index + k].char == c
            for k, c in enumerate("://")
        ):
            start = index + 3
            scheme = "".join(a.char if a.kind == "lit" else "" for a in atoms[begin:index])
            break
    end = start
    while end < len(atoms):
        atom = atoms[end]
        if atom.kind == "eol" or (atom.kind == "lit" and atom.char in ":/"):
            break
        end += 1
    return _Host(atoms, start, end, scheme or "https")


def _core_end(host: _Host) -> int:
    """Index just after the host's last fixed character (trailing wildcards excluded)."""
    index = host.end
    while index > host.start and not (
        host.atoms[index - 1].domain_char or host.atoms[index - 1].dot_like
    ):
        index -= 1
    return index


def _domain_suffix(host: _Host, end: int) -> int:
    """Index where the trailing literal domain (labels and dots) of the host begins."""
    index = end
    while index > host.start:
        atom = host.atoms[index - 1]
        if atom.domain_char or atom.dot_like:
            index -= 1
            continue
        break
    while index < end and host.atoms[index].dot_like:
        index += 1
    return index


def _text(atoms: list[_Atom]) -> str:
    return "".join(a.char if a.kind == "lit" else "." for a in atoms)


def _can_be_empty(atoms: list[_Atom]) -> bool:
    return all(a.low == 0 or a.kind in ("bol", "eol", "zero") for a in atoms)


def matches_every_origin(pattern: str, match: MatchMode) -> bool:
    """Whether the pattern admits every origin (``.*``, ``^.*$``, ``https?://.*``, an
    unanchored pattern that can match the empty string...)."""
    paths = _paths(pattern)
    if not paths:
        return False
    for path in paths:
        atoms = [a for a in path if a.kind != "zero"]
        anchored_both = match == "fullmatch" or (
            bool(atoms) and atoms[0].kind == "bol" and atoms[-1].kind == "eol"
        )
        if not anchored_both and _can_be_empty(atoms):
            return True
        host = _split_host(path)
        fixed = host.atoms[host.start : _core_end(host)]
        free = host.atoms[host.start : host.end]
        open_end = not anchored_both and not (atoms and atoms[-1].kind == "eol")
        if not any(a.domain_char for a in fixed) and (
            open_end or any(a.wildcard and a.dots for a in free)
        ):
            # No fixed host character: only the scheme (or nothing) is checked.
            rest = host.atoms[host.end :]
            if anchored_both and not all(
                a.kind == "eol" or a.optional or a.wildcard or a.kind == "lit" for a in rest
            ):
                continue
            if host.end > host.start or not anchored_both:
                return True
    return False


def analyse_origin_regex(pattern: str, match: MatchMode) -> list[RegexFinding]:
    """The ways ``pattern`` admits origins it probably should not, most telling first.
    An unreadable pattern, or one that admits everything (see
    ``matches_every_origin``), gives no finding here."""
    if matches_every_origin(pattern, match):
        return []
    paths = _paths(pattern)
    if not paths:
        return []
    findings: dict[str, RegexFinding] = {}
    for path in paths:
        for finding in _analyse_path(path, match):
            findings.setdefault(finding.kind, finding)
    order = [
        "wildcard-into-domain",
        "tld-only",
        "unescaped-dot",
        "unanchored-end",
        "wildcard-after-host",
        "unanchored-start",
    ]
    return sorted(findings.values(), key=lambda f: order.index(f.kind))


def _analyse_path(path: list[_Atom], match: MatchMode) -> list[RegexFinding]:
    host = _split_host(path)
    atoms = host.atoms
    found: list[RegexFinding] = []
    core_end = _core_end(host)
    suffix = _domain_suffix(host, core_end)
    domain_atoms = atoms[suffix:core_end]
    labels = [label for label in _text(domain_atoms).split(".") if label]
    if not domain_atoms or not labels:
        return found
    scheme = host.scheme if host.scheme in ("http", "https") else "https"
    written = _text(domain_atoms)
    # Where the registrable domain (its last two labels) starts.
    dots = [i for i in range(suffix, core_end) if atoms[i].dot_like]
    registrable_start = dots[-2] + 1 if len(dots) >= 2 else suffix
    domain = _text(atoms[registrable_start:core_end])
    reaches = False
    index = registrable_start - 1
    while registrable_start == suffix and index >= host.start:
        atom = atoms[index]
        if atom.kind in ("any", "set", "wild") and atom.letters:
            reaches = True
            break
        if not atom.optional:
            break
        index -= 1  # an optional "\.?" does not separate anything
    if reaches and len(labels) >= 2:
        found.append(
            RegexFinding(
                "wildcard-into-domain",
                f"the wildcard before `{domain}` can run into the registrable domain",
                f"{scheme}://evil{domain}",
            )
        )
    elif (
        len(labels) == 1
        and suffix > host.start
        and atoms[suffix - 1].dot_like
        and any(a.wildcard for a in atoms[host.start : suffix])
    ):
        found.append(
            RegexFinding(
                "tld-only",
                f"only the top-level domain `.{labels[0]}` is fixed",
                f"{scheme}://attacker.{labels[0]}",
            )
        )
    for index in dots[:-1]:
        if atoms[index].kind == "any":
            swapped = _text(atoms[suffix:index]) + "x" + _text(atoms[index + 1 : core_end])
            found.append(
                RegexFinding(
                    "unescaped-dot",
                    f"the `.` in `{written}` is not escaped and matches any character",
                    f"{scheme}://{swapped}",
                )
            )
            break
    tail = atoms[core_end : host.end]
    after = atoms[host.end :]
    anchored_end = match == "fullmatch" or (bool(after) and after[-1].kind == "eol")
    if any(a.wildcard and a.dots for a in tail):
        found.append(
            RegexFinding(
                "wildcard-after-host",
                f"a wildcard after `{written}` lets the host go on",
                f"{scheme}://{written}.attacker.net",
            )
        )
    elif host.end == len(atoms) and not anchored_end:
        found.append(
            RegexFinding(
                "unanchored-end",
                "nothing anchors the end (`$`) and nginx regexes match anywhere in the value",
                f"{scheme}://{written}.attacker.net",
            )
        )
    starts_anchored = match == "fullmatch" or (bool(atoms) and atoms[0].kind == "bol")
    no_scheme = host.start == (1 if atoms and atoms[0].kind == "bol" else 0)
    if (
        not starts_anchored
        and no_scheme
        and host.start < core_end
        and (atoms[host.start].domain_char)
    ):
        found.append(
            RegexFinding(
                "unanchored-start",
                "nothing anchors the start (`^`) and the pattern begins with the host",
                f"https://evil{_text(atoms[host.start : core_end])}",
            )
        )
    return found


def may_match_null(pattern: str, match: MatchMode, case_insensitive: bool = False) -> bool:
    """Whether the pattern admits the origin ``null`` (sandboxed iframes, ``file:``
    pages, some redirects).

    The pattern is never run: a backtracking engine can take exponential time even on
    four characters (``^(.?){200}x$`` took over a minute on ``null``). It is parsed by
    the ``re`` module's own parser (parsing is linear) and its items are evaluated over
    the positions 0..4 of ``null`` as sets of reachable positions, each (item, position)
    computed once: the work is bounded by the pattern's size, whatever its nesting. A
    construct this cannot follow (back-references, look-behind) gives no finding."""
    if len(pattern) > _MAX_PATTERN:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = _sre_parse().parse(pattern, re.IGNORECASE if case_insensitive else 0)
        matcher = _NullMatcher(bool(parsed.state.flags & re.IGNORECASE))
        if match == "fullmatch":
            return _NULL_LENGTH in matcher.sequence(parsed.data, 0, matcher.ignore_case)
        return any(matcher.sequence(parsed.data, start, matcher.ignore_case) for start in range(5))
    except (re.error, RecursionError, OverflowError, _Unreadable):
        return False


def _sre_parse() -> Any:
    # The parser of the ``re`` module (``re._parser`` since 3.11; ``sre_parse``, kept as
    # a deprecated alias, is the one name that works from 3.10 on).
    import sre_parse

    return sre_parse


_NULL = "null"
_NULL_LENGTH = len(_NULL)
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class _NullMatcher:
    """The positions of ``null`` a parsed pattern can reach from a position: a set
    over five positions, so a repetition reaches its fixed point within a few dozen
    rounds, however large its count."""

    def __init__(self, ignore_case: bool) -> None:
        self.ignore_case = ignore_case
        self.memo: dict[tuple[int, int, bool], frozenset[int]] = {}
        self.keep: list[object] = []  # the memo is keyed by id(): keep the keys alive

    def sequence(self, items: Any, start: int, ignore_case: bool) -> frozenset[int]:
        key = (id(items), start, ignore_case)
        if key in self.memo:
            return self.memo[key]
        self.keep.append(items)
        positions = frozenset((start,))
        for op, argument in items:
            reached: set[int] = set()
            for position in positions:
                reached |= self.item(str(op), argument, position, ignore_case)
            positions = frozenset(reached)
            if not positions:
                break
        self.memo[key] = positions
        return positions

    def item(self, op: str, argument: Any, at: int, ignore_case: bool) -> frozenset[int]:
        char = _NULL[at] if at < _NULL_LENGTH else None
        one = frozenset((at + 1,))
        none: frozenset[int] = frozenset()
        if op in ("LITERAL", "NOT_LITERAL"):
            if char is None:
                return none
            same = _same(char, chr(argument), ignore_case)
            return one if same == (op == "LITERAL") else none
        if op == "ANY":
            return one if char is not None else none
        if op == "IN":
            return one if char is not None and _in_class(char, argument, ignore_case) else none
        if op == "AT":
            return frozenset((at,)) if _at(str(argument), at) else none
        if op == "BRANCH":
            found: set[int] = set()
            for branch in argument[1]:
                found |= self.sequence(branch, at, ignore_case)
            return frozenset(found)
        if op == "SUBPATTERN":
            add, remove = argument[1], argument[2]
            case = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            return self.sequence(argument[3], at, case)
        if op == "ATOMIC_GROUP":  # taken as an ordinary group: it admits no less
            return self.sequence(argument, at, ignore_case)
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return self.repeat(argument, at, ignore_case)
        if op in ("ASSERT", "ASSERT_NOT") and argument[0] == 1:  # look-ahead
            ahead = bool(self.sequence(argument[1], at, ignore_case))
            return frozenset((at,)) if ahead == (op == "ASSERT") else none
        raise _Unreadable

    def repeat(self, argument: Any, at: int, ignore_case: bool) -> frozenset[int]:
        low, high, items = argument
        high = None if high >= _MAX_REPEAT else int(high)
        current = frozenset((at,))
        seen: dict[frozenset[int], int] = {}  # rounds before the minimum
        collected: set[frozenset[int]] = set()  # rounds from the minimum on
        ends: set[int] = set()
        count = 0
        while True:
            if count < low and current in seen:
                # A cycle before the minimum count: jump ahead to the last round before
                # ``low`` (or ``low`` itself) that holds the same positions.
                period = count - seen[current]
                count = low - (low - count) % period
            if count >= low:
                if current in collected:
                    break  # every later round repeats one already collected
                collected.add(current)
                ends |= current
            else:
                seen[current] = count
            if (high is not None and count >= high) or not current:
                break
            reached: set[int] = set()
            for position in current:
                reached |= self.sequence(items, position, ignore_case)
            current = frozenset(reached)
            count += 1
        return frozenset(ends)


def _same(char: str, other: str, ignore_case: bool) -> bool:
    return char == other or (ignore_case and char.lower() == other.lower())


def _in_class(char: str, members: Any, ignore_case: bool) -> bool:
    negate = False
    found = False
    for op, argument in members:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            found = found or _same(char, chr(argument), ignore_case)
        elif name == "RANGE":
            low, high = argument
            found = found or any(
                low <= ord(c) <= high
                for c in {char, char.lower(), char.upper()}
                if ignore_case or c == char
            )
        elif name == "CATEGORY":
            category = str(argument)
            if category.endswith("_WORD"):
                hit = char in _WORD
            elif category.endswith("_DIGIT"):
                hit = char.isdigit()
            elif category.endswith("_SPACE"):
                hit = char.isspace()
            elif category.endswith("_LINEBREAK"):
                hit = char == "\n"
            else:
                raise _Unreadable
            found = found or (hit != ("_NOT_" in category))
        else:
            raise _Unreadable
    return found != negate


def _at(where: str, at: int) -> bool:
    if where in ("AT_BEGINNING", "AT_BEGINNING_STRING", "AT_BEGINNING_LINE"):
        return at == 0
    if where in ("AT_END", "AT_END_STRING", "AT_END_LINE"):
        return at == _NULL_LENGTH
    if where in ("AT_BOUNDARY", "AT_NON_BOUNDARY"):
        before = at > 0 and _NULL[at - 1] in _WORD
        after = at < _NULL_LENGTH and _NULL[at] in _WORD
        return (before != after) == (where == "AT_BOUNDARY")
    raise _Unreadable
