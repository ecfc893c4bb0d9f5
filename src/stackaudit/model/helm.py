"""Helm template expressions in an image reference, resolved against the chart's own
``values.yaml`` and ``Chart.yaml`` (the defaults a plain ``helm install`` renders; a
``--set``/``-f`` at install time is not seen).

A template belongs to the chart whose root (the directory holding ``Chart.yaml``) is
its nearest ancestor, and is rendered only from that root's ``templates/``. A chart
under another's ``charts/`` is a subchart whose values the parent may override: not
resolved. Only these actions are evaluated, as Helm's engine (Go text/template with
``missingkey=zero``, then ``<no value>`` removed) and Sprig do:

- ``.Values.a.b``: the value; an absent key under a mapping is nil (renders empty),
  a field of an absent or non-mapping value fails the render (unknown here);
- ``.Chart.AppVersion``/``.Chart.Version``: ``appVersion``/``version`` ("" if unset);
- ``"text"``: a string literal without escapes;
- ``default D V``: ``D`` when ``V`` is empty (nil or ""), else ``V``;
- ``quote V``: ``V`` in double quotes (nil gives nothing);
- ``printf FORMAT ARGS``: with ``%s``/``%v``/``%%`` only;
- pipelines of those (``V | default D | quote``: the value is the last argument).

Anything else (numbers, booleans, ``include``, ``$``, parentheses, a value whose
rendering is not a plain image-name text) leaves the action as written, which image
matching treats as unknown."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from stackaudit.facts.deploy import HelmChartFile, ImageRef, parse_image


class _Nil:
    """Go's nil: an absent value."""


NIL = _Nil()
Value = str | _Nil

# `{{ ... }}`, with the `{{-`/`-}}` trim markers (they trim the text around, which
# within one scalar is none).
_ACTION = re.compile(r"\{\{(?:-\s)?\s*(.*?)\s*(?:\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r'\s*(?:(?P<pipe>\|)|"(?P<string>[^"\\\n]*)"|`(?P<raw>[^`]*)`'
    r"|(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
# What a rendered action may hold to be substituted into an image reference unchanged
# by the YAML that reads the rendered line.
_IMAGE_TEXT = re.compile(r"[A-Za-z0-9._:/@+-]*")
# Image references are at most 255 characters (as model.images bounds them).
_LONGEST = 512
_MAX_TOKENS = 32
_MAX_ACTIONS = 8


class Unknown(Exception):
    """The action cannot be evaluated here."""


class HelmChart:
    """One chart's values: paths of string values, of mappings, of other values."""

    def __init__(self) -> None:
        self.chart: dict[str, str] = {}
        self.strings: dict[str, str] = {}
        self.mappings: set[str] = set()
        self.others: set[str] = set()
        self.has_values = False

    def add(self, record: HelmChartFile) -> None:
        if record.role == "chart":
            self.chart = dict(record.strings)
            return
        self.has_values = True
        self.strings = dict(record.strings)
        self.mappings = set(record.mappings)
        self.others = set(record.others)

    def value(self, field: str) -> Value:
        """The value of a field chain such as ``.Values.image.tag``."""
        names = field[1:].split(".")
        if names[0] == "Chart" and len(names) == 2:
            key = {"AppVersion": "appVersion", "Version": "version"}.get(names[1])
            if key is None:
                raise Unknown
            return self.chart.get(key, "")
        if names[0] != "Values" or len(names) < 2 or not self.has_values:
            raise Unknown
        path = ".".join(names[1:])
        if path in self.strings:
            return self.strings[path]
        if path in self.mappings or path in self.others:
            raise Unknown  # a mapping or a number: not rendered here
        parent = ".".join(names[1:-1])
        if parent in self.mappings:
            return NIL  # an absent key of a mapping
        raise Unknown  # a field of an absent value: the render fails


class HelmCharts:
    """Charts by root directory, built once per run from the chart files read."""

    def __init__(self, records: Iterable[HelmChartFile]) -> None:
        self._charts: dict[str, HelmChart] = {}
        self._roots: set[str] = set()  # directories holding a Chart.yaml
        for record in records:
            root = posixpath.dirname(record.path)
            self._charts.setdefault(root, HelmChart()).add(record)
            if record.role == "chart":
                self._roots.add(root)

    def chart_of(self, template: str) -> HelmChart | None:
        """The chart whose ``templates/`` holds ``template``: its nearest ancestor
        holding ``Chart.yaml``; None for a subchart (its parent may override its
        values) or a file outside ``templates/``."""
        root = posixpath.dirname(template)
        while root not in self._roots:
            if not root:
                return None
            root = posixpath.dirname(root)
        if not template.startswith(posixpath.join(root, "templates") + "/"):
            return None
        parent = posixpath.dirname(root)
        if posixpath.basename(parent) == "charts" and posixpath.dirname(parent) in self._roots:
            return None
        return self._charts[root]

    def resolve_image(self, image: ImageRef) -> ImageRef:
        """``image`` with the Helm actions it holds evaluated where possible."""
        if "{{" not in image.text or len(image.text) > _LONGEST:
            return image
        chart = self.chart_of(image.span.path)
        if chart is None:
            return image
        text = render(image.text, chart)
        if text == image.text:
            return image
        return parse_image(text, image.span, "{{" in text or "$" in text, image.default_used)


def render(text: str, chart: HelmChart) -> str:
    """``text`` with each action that evaluates to image-name text replaced by it."""
    actions = list(_ACTION.finditer(text))
    if not actions or len(actions) > _MAX_ACTIONS:
        return text
    whole = len(actions) == 1 and actions[0].span() == (0, len(text))
    pieces: list[str] = []
    position = 0
    for action in actions:
        pieces.append(text[position : action.start()])
        pieces.append(_rendered(action, chart, whole))
        position = action.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _rendered(action: re.Match[str], chart: HelmChart, whole: bool) -> str:
    try:
        value = evaluate(action.group(1), chart)
    except Unknown:
        return action.group()
    text = "" if isinstance(value, _Nil) else value
    if whole and len(text) >= 2 and text[0] == text[-1] == '"':
        # The rendered line reads `image: "x"`: YAML takes the quotes for its own.
        text = text[1:-1]
    return text if _IMAGE_TEXT.fullmatch(text) else action.group()


def evaluate(pipeline: str, chart: HelmChart) -> Value:
    """The value of one action's pipeline; ``Unknown`` when it is not one of the
    forms this module evaluates."""
    commands = _commands(pipeline)
    value: Value | None = None
    for command in commands:
        value = _command(command, value, chart)
    if value is None:
        raise Unknown
    return value


def _commands(pipeline: str) -> list[list[tuple[str, str]]]:
    commands: list[list[tuple[str, str]]] = [[]]
    position = 0
    for _ in range(_MAX_TOKENS):
        if not pipeline[position:].strip():
            break
        match = _TOKEN.match(pipeline, position)
        if match is None or match.end() == position:
            raise Unknown
        position = match.end()
        kind = match.lastgroup or ""
        if kind == "pipe":
            commands.append([])
        else:
            commands[-1].append((kind, match.group(kind)))
    else:
        raise Unknown
    if any(not command for command in commands):
        raise Unknown
    return commands


def _command(command: list[tuple[str, str]], piped: Value | None, chart: HelmChart) -> Value:
    (kind, text), rest = command[0], command[1:]
    if kind != "name":
        if rest or piped is not None:
            raise Unknown  # a value takes no arguments
        return _operand(kind, text, chart)
    args = [_operand(k, t, chart) for k, t in rest]
    if piped is not None:
        args.append(piped)
    function = _FUNCTIONS.get(text)
    if function is None:
        raise Unknown
    return function(args)


def _operand(kind: str, text: str, chart: HelmChart) -> Value:
    if kind in ("string", "raw"):
        return text
    if kind == "field":
        return chart.value(text)
    raise Unknown  # a function name as an argument, a variable...


def _default(args: list[Value]) -> Value:
    # Sprig: `default D GIVEN...` is D when GIVEN is missing or empty.
    if len(args) not in (1, 2):
        raise Unknown
    if len(args) == 1 or _empty(args[1]):
        return args[0]
    return args[1]


def _empty(value: Value) -> bool:
    return isinstance(value, _Nil) or value == ""


def _quote(args: list[Value]) -> Value:
    # Sprig: each non-nil argument in Go's %q, joined by spaces.
    quoted = []
    for value in args:
        if isinstance(value, _Nil):
            continue
        if not value.isprintable() or not value.isascii() or '"' in value or "\\" in value:
            raise Unknown  # Go would escape it
        quoted.append(f'"{value}"')
    return " ".join(quoted)


_VERB = re.compile(r"%(.?)", re.DOTALL)


def _printf(args: list[Value]) -> Value:
    if not args or isinstance(args[0], _Nil):
        raise Unknown
    operands = iter(args[1:])
    used = 0

    def verb(match: re.Match[str]) -> str:
        nonlocal used
        if match.group(1) == "%":
            return "%"
        if match.group(1) not in ("s", "v"):
            raise Unknown  # another verb, a flag, or a trailing `%`
        value = next(operands, None)
        used += 1
        if not isinstance(value, str):
            raise Unknown  # missing, or nil: Go writes `%!s(...)`
        return value

    text = _VERB.sub(verb, args[0])
    if used != len(args) - 1:
        raise Unknown  # Go appends `%!(EXTRA ...)`
    return text


_FUNCTIONS = {"default": _default, "quote": _quote, "printf": _printf}
