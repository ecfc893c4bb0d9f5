"""docker-compose files: each service's command, entrypoint and environment.

Compose semantics reproduced: ``command:``/``entrypoint:`` as a string are split into
words (no shell runs them unless the command is ``sh -c ...``), as a list are the words;
``entrypoint`` words come before ``command`` words; ``$$`` is a literal ``$`` and
``${VAR}``/``$VAR`` are interpolated by Compose from the host, so they stay symbolic;
``environment:`` is a map or a list of ``KEY=value`` (a key with no value passes the
host's value through)."""

from __future__ import annotations

from yaml.nodes import Node, ScalarNode, SequenceNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.commandline import CommandContext, find_in_script, find_in_words
from stackaudit.extractors.shellwords import Token, split_commands
from stackaudit.extractors.yamlnodes import (
    BudgetExceeded,
    Walker,
    load_documents,
    node_span,
    scalar_token,
    unescape_dollars,
)
from stackaudit.facts.common import EnvVar, ParseProblem, Word, has_expansion
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile


def compose_value(source: SourceFile, node: ScalarNode) -> Word:
    """A compose scalar as the container sees it: ``$$`` unescaped; symbolic when
    Compose interpolates a variable into it."""
    token = scalar_token(source, node)
    symbolic = has_expansion(token.text.replace("$$", ""))
    token = unescape_dollars(token)
    span = (
        source.span(token.origins[0], token.origins[-1] + 1)
        if token.origins
        else (node_span(source, node))
    )
    return Word(token.text, span, symbolic)


def environment(source: SourceFile, walker: Walker, node: Node | None, how: str) -> list[EnvVar]:
    found: list[EnvVar] = []
    if isinstance(node, SequenceNode):
        for item in walker.sequence(node):
            if not isinstance(item, ScalarNode):
                continue
            name, sep, _ = item.value.partition("=")
            word = compose_value(source, item)
            value = None
            if sep:
                start = len(name) + 1
                value = Word(word.text[start:], _shift(word.span, start), word.symbolic)
            found.append(EnvVar(name.strip(), value, node_span(source, item), how))
        return found
    for name, value_node in walker.items(node):
        if isinstance(value_node, ScalarNode) and value_node.tag.endswith(":null"):
            found.append(EnvVar(name, None, node_span(source, value_node), how))
        elif isinstance(value_node, ScalarNode):
            found.append(
                EnvVar(name, compose_value(source, value_node), node_span(source, value_node), how)
            )
    return found


def _shift(span: Span, columns: int) -> Span:
    if span.end_line != span.line:
        return span
    return Span(
        span.path,
        span.line,
        span.column + columns,
        span.end_line,
        max(span.end_column, span.column + columns),
    )


def command_tokens(
    source: SourceFile, walker: Walker, node: Node | None, unescape: bool = True
) -> list[Token] | str | None:
    """A list-form command as words, a string-form command as its token (to be split),
    or None."""
    if isinstance(node, SequenceNode):
        tokens = [
            scalar_token(source, item)
            for item in walker.sequence(node)
            if isinstance(item, ScalarNode)
        ]
        return [unescape_dollars(t) for t in tokens] if unescape else tokens
    return None


def _words(source: SourceFile, walker: Walker, node: Node | None) -> list[Token] | None:
    listed = command_tokens(source, walker, node)
    if isinstance(listed, list):
        return listed
    if isinstance(node, ScalarNode) and node.value.strip():
        token = unescape_dollars(scalar_token(source, node))
        commands = split_commands(token.text, token.origins)
        return [word for command in commands for word in command]
    return None


def extract_compose(source: SourceFile) -> Extraction:
    result = Extraction()
    documents, problems = load_documents(source)
    result.problems.extend(problems)
    walker = Walker()
    deployment = not is_development_path(source.path)
    try:
        for document in documents:
            for name, service in walker.items(walker.get(document, "services")):
                context = CommandContext(
                    source,
                    "compose",
                    f"compose service `{name}`",
                    deployment,
                    environment(
                        source, walker, walker.get(service, "environment"), "compose environment"
                    ),
                    service=f"compose:{source.path}:{name}",
                )
                entrypoint = _words(source, walker, walker.get(service, "entrypoint"))
                command = _words(source, walker, walker.get(service, "command"))
                argv = (entrypoint or []) + (command or [])
                if argv:
                    found = find_in_words(context, argv)
                    if not found and command and entrypoint:
                        # An entrypoint script conventionally ends in `exec "$@"`.
                        found = find_in_words(context, command)
                    result.facts.extend(found)
    except BudgetExceeded:
        result.problems.append(
            ParseProblem(Span(source.path, 1, 1), "YAML aliases expand beyond the node budget")
        )
    return result


__all__ = ["command_tokens", "compose_value", "environment", "extract_compose", "find_in_script"]
