"""YAML as a node tree with positions, loaded safely.

Only ``compose`` (node building) is used, never object construction, so no tag can
instantiate anything. Aliases are shared nodes in that tree, not copies; walking through
them is what can explode (a "billion laughs" document), so every walk here counts the
nodes it visits against a budget and stops with a problem when it runs out.

``scalar_token`` rebuilds a scalar's value with, for each character, its offset in the
file, for plain, quoted, literal and folded scalars; when a value cannot be mapped
exactly (escapes in a double-quoted scalar, unusual folding), every character points at
the scalar's start, so a finding still lands on the right line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackaudit.diagnostics import Span
from stackaudit.facts.common import ParseProblem, has_expansion
from stackaudit.invocation.shellwords import Token
from stackaudit.source import SourceFile

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Enough for any real deployment file; an alias bomb needs millions.
NODE_BUDGET = 200_000
BUDGET_MESSAGE = f"more YAML nodes than the budget of {NODE_BUDGET:,} (aliases count at every use)"


class BudgetExceeded(Exception):
    pass


def load_documents(
    source: SourceFile, text: str | None = None
) -> tuple[list[Node], list[ParseProblem]]:
    """The documents of a YAML file (or of ``text``, the file's text rewritten with its
    offsets kept) as node trees, or the parse problem."""
    try:
        documents = [
            doc
            for doc in yaml.compose_all(source.text if text is None else text, Loader=Loader)
            if doc
        ]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        reason = exc.problem or exc.context or "invalid YAML"
        return [], [ParseProblem(Span(source.path, line, column), f"invalid YAML: {reason}")]
    except (yaml.YAMLError, RecursionError) as exc:
        return [], [ParseProblem(Span(source.path, 1, 1), f"invalid YAML: {exc}")]
    return documents, []


# `{{` opening a plain scalar (`password: {{.Env.DB}}`, `- {{.Env.KEY}}:/app/key`): YAML
# reads it as a flow mapping, so the file is no YAML until rendered.
# An anchor or tag before the value (`&name `, `!!str `) is at most 128 characters here:
# an unbounded `\S+` retried from every `&` of a long line would be quadratic.
_PLACEHOLDER_START = re.compile(r"(?m)(?:^[ \t]*|[:-][ \t]+|[&!][^\s&!{]{1,128}[ \t]+)(\{)\{")


# The anchor and tag written before a node's value (bounded as above).
_NODE_PROPERTIES = re.compile(r"(?:[&!][^\s&!{]{1,128}[ \t]+){1,2}")


# A line that is one template action and nothing else (`{{- if .Values.ingress }}`,
# `{{- end }}`, `{{- include "labels" . | nindent 4 }}`): structure, not a value.
_ACTION_LINE = re.compile(r"(?m)^[ \t]*\{\{[^\n]*\}\}[ \t]*$")


def unbrace_placeholders(text: str) -> str | None:
    """``text`` read around its template: lines that are one action blanked (so both
    branches of an ``if`` are read, as for Jinja statements), and the first brace of
    each ``{{`` that opens a plain scalar written ``_``; offsets kept. None when there
    is nothing to change. ``restore_placeholders`` puts the values back as written."""
    blanked = _ACTION_LINE.sub(lambda m: " " * len(m.group(0)), text)
    spots = [m.start(1) for m in _PLACEHOLDER_START.finditer(blanked)]
    if not spots and blanked == text:
        return None
    chars = list(blanked)
    for at in spots:
        chars[at] = "_"
    return "".join(chars)


def restore_placeholders(source: SourceFile, documents: list[Node]) -> None:
    """The plain scalars ``unbrace_placeholders`` changed get their text back as written
    in the file (``{{ expr }}...``): a template value, known only once rendered."""
    pending: list[Node] = list(documents)
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue  # an alias: the same node reached again
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            start, end = node.start_mark.index, node.end_mark.index
            # An anchored or tagged scalar (`&pass {{ x }}`) starts at its anchor.
            prefix = _NODE_PROPERTIES.match(source.text, start, end)
            start = prefix.end() if prefix is not None else start
            if not node.style and source.text.startswith("{{", start):
                node.value = source.text[start:end]
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                pending.extend((key, value))
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)


class Walker:
    """Visits nodes while counting them against ``NODE_BUDGET``."""

    def __init__(self, budget: int = NODE_BUDGET) -> None:
        self.remaining = budget
        # Each mapping's keys (merges applied) once, for `get`: readers ask a service
        # for a dozen keys, and a scan per key made that the cost of a compose file.
        # Keyed by node identity; the documents outlive the walker.
        self._keys: dict[int, tuple[MappingNode, dict[str, Node]]] = {}

    def _spend(self) -> None:
        self.remaining -= 1
        if self.remaining < 0:
            raise BudgetExceeded

    def items(self, node: Node | None) -> Iterator[tuple[str, Node]]:
        """``key, value`` pairs of a mapping, with ``<<`` merge keys applied (the
        mapping's own keys win over merged ones, as YAML 1.1 says)."""
        for key, value in self.key_items(node):
            yield key.value, value

    def key_items(self, node: Node | None) -> Iterator[tuple[ScalarNode, Node]]:
        """As ``items``, with the key nodes (for their positions)."""
        if not isinstance(node, MappingNode):
            return
        own: list[tuple[ScalarNode, Node]] = []
        merged: list[tuple[ScalarNode, Node]] = []
        for key, value in node.value:
            self._spend()
            if isinstance(key, ScalarNode) and key.value == "<<":
                sources = value.value if isinstance(value, SequenceNode) else [value]
                for merged_node in sources:
                    merged.extend(self.key_items(merged_node))
            elif isinstance(key, ScalarNode):
                own.append((key, value))
        names = {key.value for key, _ in own}
        yield from own
        yield from ((key, value) for key, value in merged if key.value not in names)

    def get(self, node: Node | None, key: str) -> Node | None:
        if not isinstance(node, MappingNode):
            return None
        known = self._keys.get(id(node))
        if known is None or known[0] is not node:
            keys: dict[str, Node] = {}
            for name, value in self.items(node):
                keys.setdefault(name, value)
            known = self._keys[id(node)] = (node, keys)
        return known[1].get(key)

    def sequence(self, node: Node | None) -> list[Node]:
        if not isinstance(node, SequenceNode):
            return []
        for _ in node.value:
            self._spend()
        return list(node.value)


def scalar(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def node_span(source: SourceFile, node: Node) -> Span:
    return source.span(node.start_mark.index, node.end_mark.index)


def scalar_token(source: SourceFile, node: ScalarNode) -> Token:
    """The scalar's value with per-character file offsets."""
    value: str = node.value
    start, end = node.start_mark.index, node.end_mark.index
    raw = source.text[start:end]
    origins = _map_scalar(raw, start, node.style, value)
    if origins is None or len(origins) != len(value):
        origins = [start] * len(value)
    return Token(
        value, origins, start, end, symbolic=has_expansion(value), quoted=node.style in ("'", '"')
    )


def _map_scalar(raw: str, start: int, style: str | None, value: str) -> list[int] | None:
    if style in (None, "", "'", '"') and "\n" not in raw:
        if not style:
            return list(range(start, start + len(raw))) if raw == value else None
        inner = raw[1:-1]
        if style == "'":
            chars, origins = _unescape(inner, start + 1, "''", "'")
        else:
            if "\\" in inner:
                return None
            chars, origins = inner, list(range(start + 1, start + 1 + len(inner)))
        return origins if chars == value else None
    if style in ("|", ">"):
        return _map_block(raw, start, style, value)
    return None


def _unescape(text: str, base: int, pair: str, single: str) -> tuple[str, list[int]]:
    chars: list[str] = []
    origins: list[int] = []
    index = 0
    while index < len(text):
        if text.startswith(pair, index):
            chars.append(single)
            origins.append(base + index)
            index += len(pair)
        else:
            chars.append(text[index])
            origins.append(base + index)
            index += 1
    return "".join(chars), origins


def _map_block(raw: str, start: int, style: str, value: str) -> list[int] | None:
    header_end = raw.find("\n")
    if header_end < 0:
        return None
    lines: list[tuple[int, str]] = []
    offset = header_end + 1
    for line in raw[header_end + 1 :].split("\n"):
        lines.append((start + offset, line))
        offset += len(line) + 1
    content = [line for _, line in lines if line.strip()]
    if not content:
        return None
    indent = min(len(line) - len(line.lstrip(" ")) for line in content)
    chars: list[str] = []
    origins: list[int] = []
    previous_blank = True
    for line_start, line in lines:
        body = line[indent:]
        folds = style == ">" and body and not previous_blank and not body.startswith(" ")
        if folds and chars and chars[-1] == "\n":
            # Folding: the line break between two text lines becomes a space.
            chars[-1] = " "
        chars.extend(body)
        origins.extend(range(line_start + indent, line_start + indent + len(body)))
        chars.append("\n")
        origins.append(line_start + len(line))
        previous_blank = not body
    text = "".join(chars)
    # Chomping (clip, strip, keep) only changes trailing newlines.
    stripped = value.rstrip("\n")
    if not text.startswith(stripped):
        return None
    return origins[: len(stripped)] + [origins[-1]] * (len(value) - len(stripped))


def unescape_dollars(token: Token) -> Token:
    """Compose writes a literal ``$`` as ``$$``; the program receives one ``$``."""
    if "$$" not in token.text:
        return token
    chars: list[str] = []
    origins: list[int] = []
    index = 0
    text = token.text
    while index < len(text):
        chars.append(text[index])
        origins.append(token.origins[index] if index < len(token.origins) else token.start)
        index += 2 if text.startswith("$$", index) else 1
    value = "".join(chars)
    return Token(
        value, origins, token.start, token.end, symbolic=has_expansion(value), quoted=token.quoted
    )
