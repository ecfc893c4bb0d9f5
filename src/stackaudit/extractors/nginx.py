"""nginx configuration: crossplane's lexer on the text discovery already read, positions
derived from that text, and a directive tree with every include left unresolved.

crossplane's public ``parse()`` opens files (and includes) by path itself; its lexer
takes a file object, so it runs here on the decoded text and never reads anything. The
lexer gives lines only: each token is found again in the text to get its offsets, so
every directive and argument carries an exact span. Includes need the other files of the
scanned tree: they are resolved later, once, from every file's ``NginxFile`` fact
(``stackaudit.model.nginx.resolve_nginx``).

Templates are neutralised before lexing, keeping every offset: Jinja/Go ``{{ expr }}``
and ERB ``<%= expr %>`` become a variable-like word, ``{% ... %}``/``{# ... #}``/``<% ... %>``
statements become blanks; envsubst ``${VAR}`` and ``%PLACEHOLDER%`` words lex as they are
and are kept symbolic."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.facts.common import ParseProblem, Word
from stackaudit.facts.nginx import NginxDirective, NginxFile, is_symbolic
from stackaudit.source import SourceFile

# Template delimiters: (opener, closer, a character that must not follow the opener).
# Found by a linear scan, not by a regex such as `\{\{.*?\}\}`: that one rescans to the
# end of the text from every opener when no closer follows (a 2 MB line of `{{` is
# a trillion steps).
_TEMPLATE_EXPR = (("{{", "}}", ""), ("<%=", "%>", ""))
_TEMPLATE_STMT = (("{%", "%}", ""), ("{#", "#}", ""), ("<%", "%>", "="))
_MAX_PROBLEMS = 20
TEMPLATE_NAME = re.compile(r"\.(template|tpl|j2|jinja2?|erb|tmpl)$")


class _Token(Struct):
    text: str
    quoted: bool
    start: int
    end: int
    line: int

    @property
    def is_comment(self) -> bool:
        return not self.quoted and self.text.startswith("#")

    def special(self, char: str) -> bool:
        return not self.quoted and self.text == char


def _blank(found: str) -> str:
    """Spaces in place of the text, its line breaks kept (offsets do not move)."""
    return "".join("\n" if c == "\n" else " " for c in found)


def _variable(found: str) -> str:
    """A same-length nginx variable-like word in place of a template expression."""
    return "".join("\n" if c == "\n" else ("$" if i == 0 else "_") for i, c in enumerate(found))


def neutralise_templates(text: str) -> tuple[str, bool]:
    """The text with template syntax replaced by same-length nginx-neutral text, and
    whether anything was replaced."""
    if "{{" not in text and "{%" not in text and "{#" not in text and "<%" not in text:
        return text, False
    replaced = _replace_delimited(text, _TEMPLATE_STMT, _blank)
    replaced = _replace_delimited(replaced, _TEMPLATE_EXPR, _variable)
    return replaced, replaced != text


def blank_template_statements(text: str) -> tuple[str, bool]:
    """The text with Jinja/ERB statements and comments (``{% if %}``, ``{# #}``,
    ``<% %>``) blanked, offsets kept, expressions left as written; and whether anything
    was blanked. For YAML templates: a statement line is no YAML, an expression inside a
    value is a run-time value."""
    if "{%" not in text and "{#" not in text and "<%" not in text:
        return text, False
    blanked = _replace_delimited(text, _TEMPLATE_STMT, _blank)
    return blanked, blanked != text


def _replace_delimited(
    text: str, kinds: tuple[tuple[str, str, str], ...], replace: Callable[[str], str]
) -> str:
    """``text`` with each delimited part replaced, leftmost first (the first kind on a
    tie), as the lazy regex would. Each kind's next opener is remembered until the scan
    passes it, and a kind with no closer left is dropped: every search moves forward,
    so the scan is linear."""
    out: list[str] = []
    done = 0
    alive = list(range(len(kinds)))
    next_at = [-1] * len(kinds)
    while alive:
        best: int | None = None
        for kind in list(alive):
            opener, _, not_after = kinds[kind]
            at = next_at[kind]
            if at < done:
                at = text.find(opener, done)
                while at >= 0 and not_after and text.startswith(not_after, at + len(opener)):
                    at = text.find(opener, at + 1)
                next_at[kind] = at
            if at < 0:
                alive.remove(kind)
            elif best is None or at < next_at[best]:
                best = kind
        if best is None:
            break
        opener, closer, _ = kinds[best]
        at = next_at[best]
        end = text.find(closer, at + len(opener))
        if end < 0:
            # No closer after this opener, so none after any later one either.
            alive.remove(best)
            continue
        end += len(closer)
        out.append(text[done:at])
        out.append(replace(text[at:end]))
        done = end
    out.append(text[done:])
    return "".join(out)


def _lex(text: str) -> list[tuple[str, int, bool]]:
    # Imported here: crossplane registers its Lua lexer on import, which is what makes
    # *_by_lua_block bodies one token.
    from crossplane.lexer import _lex_file_object

    return list(_lex_file_object(io.StringIO(text)))


def _quoted_end(text: str, start: int) -> int | None:
    """Offset just after the quoted string starting at ``start`` (crossplane's reading:
    a backslash escapes the next character)."""
    quote = text[start]
    index = start + 1
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == quote:
            return index + 1
        index += 1
    return None


def _align(text: str, raw: list[tuple[str, int, bool]], source: SourceFile) -> list[_Token]:
    """Find each token of crossplane's stream in the text, giving it offsets. When a token
    cannot be found where expected (an exotic third-party lexer), the token falls back to
    the start of its line and alignment resumes at the next token found on its line."""
    tokens: list[_Token] = []
    cursor = 0
    length = len(text)
    for value, line, quoted in raw:
        position = cursor
        while position < length and text[position].isspace():
            position += 1
        start: int | None = None
        end: int | None = None
        if quoted and position < length and text[position] in "\"'":
            start, end = position, _quoted_end(text, position)
        elif quoted and position < length and text[position] == "{":
            # A Lua block body: the text between the braces, verbatim.
            if text.startswith(value, position + 1):
                start, end = position, position + len(value) + 2
        elif not quoted and value == ";" and not text.startswith(";", position):
            start = end = position  # the ';' a Lua block lexer adds after the body
        elif text.startswith(value, position):
            start, end = position, position + len(value)
        if start is None or end is None:
            line_start = source.offset(line, 1)
            found = text.find(value, max(cursor, line_start)) if value else -1
            next_line = source.offset(line + 1, 1)
            if 0 <= found < next_line and not quoted:
                start, end = found, found + len(value)
            else:
                start = end = line_start
        cursor = max(cursor, end)
        tokens.append(_Token(value, quoted, start, end, line))
    return tokens


class _Builder:
    def __init__(self, source: SourceFile, original: str, tokens: list[_Token]) -> None:
        self.source = source
        self.original = original
        self.tokens = [t for t in tokens if not t.is_comment]
        self.problems: list[ParseProblem] = []

    def span(self, start: int, end: int) -> Span:
        return self.source.span(start, end)

    def word(self, token: _Token) -> Word:
        text = token.text
        raw = self.original[token.start : token.end]
        if raw and not token.quoted and raw != text:
            text = raw  # a neutralised template expression: show what is written
        elif token.quoted and "$_" in text and len(raw) >= 2:
            inner = raw[1:-1]
            if len(inner) == len(text):
                text = inner
        return Word(text, self.span(token.start, token.end), is_symbolic(text))

    def problem(self, token: _Token | None, message: str) -> None:
        # A file of two million stray braces is two million errors: the first few say
        # what is wrong, the rest would only make the report huge.
        if len(self.problems) >= _MAX_PROBLEMS:
            return
        if len(self.problems) == _MAX_PROBLEMS - 1:
            message = f"{message} (further syntax errors in this file are not reported)"
        if token is None:
            line = max(1, len(self.source.lines))
            self.problems.append(ParseProblem(Span(self.source.path, line, 1), message))
            return
        self.problems.append(ParseProblem(self.span(token.start, token.end), message))

    def build(self) -> tuple[NginxDirective, ...]:
        # Each open block: (name token, args, header end offset, children).
        stack: list[tuple[_Token, list[_Token], int, list[NginxDirective]]] = []
        args: list[_Token]
        top: list[NginxDirective] = []
        tokens = self.tokens
        index = 0
        count = len(tokens)
        while index < count:
            token = tokens[index]
            children = stack[-1][3] if stack else top
            if token.special("}"):
                if not stack:
                    self.problem(token, 'invalid nginx config: unexpected "}"')
                    index += 1
                    continue
                name, args, header_end, inner = stack.pop()
                parent = stack[-1][3] if stack else top
                parent.append(self.directive(name, args, header_end, tuple(inner), token))
                index += 1
                continue
            if token.special(";") or token.special("{"):
                self.problem(token, f'invalid nginx config: unexpected "{token.text}"')
                index += 1
                continue
            name = token
            args = []
            index += 1
            terminator: _Token | None = None
            while index < count:
                current = tokens[index]
                if current.special(";") or current.special("{") or current.special("}"):
                    terminator = current
                    break
                args.append(current)
                index += 1
            if terminator is None:
                self.problem(
                    tokens[-1],
                    'invalid nginx config: unexpected end of file, expecting ";" or "}"',
                )
                end = args[-1].end if args else name.end
                children.append(self.directive(name, args, end, None, None))
                break
            if terminator.text == "}":
                self.problem(
                    terminator,
                    f'invalid nginx config: directive "{name.text}" is not terminated by ";"',
                )
                children.append(
                    self.directive(name, args, args[-1].end if args else name.end, None, None)
                )
                continue  # the "}" closes the enclosing block on the next turn
            index += 1
            if terminator.text == ";":
                children.append(self.directive(name, args, terminator.end, None, None))
            else:
                stack.append((name, args, terminator.end, []))
        if stack:
            self.problem(
                tokens[-1] if tokens else None,
                'invalid nginx config: unexpected end of file, expecting "}"',
            )
            while stack:
                name, args, header_end, inner = stack.pop()
                parent = stack[-1][3] if stack else top
                parent.append(self.directive(name, args, header_end, tuple(inner), None))
        return tuple(top)

    def directive(
        self,
        name: _Token,
        args: list[_Token],
        header_end: int,
        block: tuple[NginxDirective, ...] | None,
        closing: _Token | None,
    ) -> NginxDirective:
        words = [self.word(arg) for arg in args]
        if name.text == "if":
            words = _strip_if_parentheses(words)
        return NginxDirective(
            name=name.text,
            args=tuple(words),
            span=self.span(name.start, max(name.end, header_end)),
            name_span=self.span(name.start, name.end),
            block=block,
            end_span=self.span(closing.start, closing.end) if closing else None,
            indent=self.indent(name.start),
        )

    def indent(self, start: int) -> str | None:
        """The blanks before ``start`` on its line, or None when something precedes it
        there (a directive written after another on one line)."""
        text = self.source.text
        line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
        prefix = text[line_start:start]
        return prefix if prefix.strip() == "" else None


def _strip_if_parentheses(words: list[Word]) -> list[Word]:
    """``if ($a ~ b)`` -> ``$a``, ``~``, ``b``: the parentheses removed as nginx (and
    crossplane's ``_prepare_if_args``) removes them, spans narrowed to match."""
    if not words or not words[0].text.startswith("(") or not words[-1].text.endswith(")"):
        return words
    out = list(words)
    first = out[0]
    stripped = first.text[1:].lstrip()
    shift = len(first.text) - len(stripped)
    span = first.span
    out[0] = Word(
        stripped,
        Span(span.path, span.line, span.column + shift, span.end_line, span.end_column),
        first.symbolic,
    )
    last = out[-1]
    stripped = last.text[:-1].rstrip()
    shift = len(last.text) - len(stripped)
    span = last.span
    out[-1] = Word(
        stripped,
        Span(
            span.path,
            span.line,
            span.column,
            span.end_line,
            max(span.column, span.end_column - shift),
        ),
        last.symbolic,
    )
    return [w for index, w in enumerate(out) if w.text or (0 < index < len(out) - 1)]


def extract_nginx(source: SourceFile) -> Extraction:
    result = Extraction()
    text, neutralised = neutralise_templates(source.text)
    template = neutralised or bool(TEMPLATE_NAME.search(source.path))
    from crossplane.errors import NgxParserBaseException

    try:
        raw = _lex(text)
    except NgxParserBaseException as exc:
        line = exc.lineno or 1
        reason = exc.strerror
        if template:
            reason = f"template could not be read as nginx after its placeholders: {reason}"
        result.problems.append(
            ParseProblem(Span(source.path, line, 1), f"invalid nginx config: {reason}")
        )
        return result
    tokens = _align(text, raw, source)
    leftover = _unlexed_tail(text, tokens)
    builder = _Builder(source, source.text, tokens)
    directives = builder.build()
    problems = builder.problems
    if leftover is not None:
        # Everything after the quote was swallowed: the other complaints follow from it.
        problems = []
        problems.append(
            ParseProblem(
                source.span(leftover, leftover + 1),
                "invalid nginx config: unterminated quoted string",
            )
        )
    if template and problems:
        problems = [
            ParseProblem(
                p.span,
                p.message.replace(
                    "invalid nginx config:", "template could not be read as nginx config:", 1
                ),
            )
            for p in problems
        ]
    result.problems.extend(problems)
    result.facts.append(NginxFile(source.path, directives, template))
    return result


def _unlexed_tail(text: str, tokens: list[_Token]) -> int | None:
    """Where the text goes on after the last token with something the lexer dropped (an
    unterminated quote: crossplane's lexer stops silently at end of file)."""
    end = max((t.end for t in tokens), default=0)
    rest = text[end:]
    stripped = rest.lstrip()
    if not stripped or stripped.startswith("#"):
        return None
    return end + (len(rest) - len(stripped))
