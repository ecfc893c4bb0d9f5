"""Python fixes built as libcst codemods, only when fixing.

While checking, a rule describes a Python fix with a small record
(``diagnostics.ReplaceString``, ``WrapCall``, ``SetKeyword``): that costs nothing, and a
plain check never imports libcst. ``fix.py`` imports this module when ``--fix`` or
``--diff`` runs (the JSON and SARIF reports too, to show the edits): it parses the file
with libcst, finds the node the record's span names, changes that node, and turns the
change into ``Edit``s, the smallest text that differs. The rest of the file (comments,
quotes, spacing, line breaks) stays as written, and the edits take part in the fix passes
like any other rule's (overlaps, convergence).

libcst rather than ``ast`` for this: a libcst node owns its whitespace and comments, so a
changed call or string is written back in the file's own style. Its positions
(``PositionProvider``: 1-based lines, 0-based columns counted in characters, a node's
own parentheses outside its range) are the ones ``ast`` gives, which the rules' spans
come from; a span that names no node of the expected kind is refused, never guessed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import TypeVar

import libcst as cst
from libcst.metadata import (
    CodeRange,
    ImportAssignment,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from stackaudit.diagnostics import Codemod, Edit, ReplaceString, SetKeyword, Span, WrapCall
from stackaudit.source import SourceFile

_Node = TypeVar("_Node", bound=cst.CSTNode)
_Key = tuple[int, int, int, int]


class CodemodError(Exception):
    """A fix that cannot be built on this text; the message says why."""


def python_edits(path: str, text: str, codemods: Sequence[Codemod]) -> list[Edit]:
    """The edits that make ``codemods`` in ``text`` (the file ``path``). Raises
    ``CodemodError`` when one cannot be made."""
    return PythonFile(path, text).edits(codemods)


class PythonFile:
    """One file's text parsed once (per fix pass), its nodes indexed by position."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.source = SourceFile(path, "", text)
        self.module = _parse(text)
        self._wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self._positions: Mapping[cst.CSTNode, CodeRange] = self._wrapper.resolve(PositionProvider)
        self._by_range: dict[_Key, list[cst.CSTNode]] | None = None
        self._by_content: dict[_Key, cst.SimpleString] | None = None
        self._parents: Mapping[cst.CSTNode, cst.CSTNode] | None = None
        self._scopes: Mapping[cst.CSTNode, Scope | None] | None = None

    @property
    def text(self) -> str:
        return self.source.text

    def edits(self, codemods: Sequence[Codemod]) -> list[Edit]:
        """The edits of one fix (all its codemods), checked to leave valid Python."""
        edits: list[Edit] = []
        for codemod in codemods:
            if codemod.span.path != self.path:
                raise CodemodError(f"the fix is for {codemod.span.path}")
            if isinstance(codemod, ReplaceString):
                found = self.replace_string(codemod)
            elif isinstance(codemod, WrapCall):
                found = self.wrap_call(codemod)
            else:
                found = self.set_keyword(codemod)
            edits.extend(edit for edit in found if edit not in edits)
        if edits:
            _parse(self._apply(edits), after_fix=True)
        return edits

    # -- the codemods ---------------------------------------------------------------------

    def replace_string(self, fix: ReplaceString) -> list[Edit]:
        literal = self._string_with_content(fix.span)
        if "b" in literal.prefix.lower():
            raise CodemodError("the literal is bytes")
        try:
            value = literal.evaluated_value
        except Exception as exc:  # libcst evaluates with ast.literal_eval
            raise CodemodError("the string literal there cannot be read") from exc
        if value != fix.old:
            raise CodemodError("the string literal there no longer holds the value found")
        if not fix.new:
            raise CodemodError("no value to write")
        if fix.new == (fix.old,):
            return []
        literals = [literal.with_changes(value=_literal(literal, value)) for value in fix.new]
        if len(literals) == 1:
            return [self._replace(literal, literals[0])]
        # Several values: one element each, in the list, tuple or set that holds it.
        element = self._parent(literal)
        display = self._parent(element) if element is not None else None
        if not isinstance(element, cst.Element) or not isinstance(
            display, (cst.List, cst.Tuple, cst.Set)
        ):
            raise CodemodError("several values need a list, and the string is not in one")
        between = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        last_comma = element.comma
        if (
            isinstance(display, cst.Tuple)
            and element is display.elements[-1]
            and self._positions[display].end.line == self._positions[element].end.line
        ):
            # `("*",)` needed its comma to be a tuple; `("a", "b")` does not.
            last_comma = cst.MaybeSentinel.DEFAULT
        elements: list[cst.BaseElement] = []
        for old in display.elements:
            if old is not element:
                elements.append(old)
                continue
            for number, new in enumerate(literals, start=1):
                comma = last_comma if number == len(literals) else between
                elements.append(old.with_changes(value=new, comma=comma))
        return [self._replace(display, display.with_changes(elements=elements))]

    def wrap_call(self, fix: WrapCall) -> list[Edit]:
        target = self._node_at(fix.span, cst.BaseExpression, "expression")  # type: ignore[type-abstract]
        if isinstance(target, cst.Tuple) and not target.lpar:
            raise CodemodError("the expression is a tuple without parentheses")
        callee, imports = self._callee(target, fix.module, fix.function)
        if (
            isinstance(target, cst.Call)
            and self.module.code_for_node(target.func.with_changes(lpar=[], rpar=[])) == callee
        ):
            return []  # already wrapped
        inner = target.with_changes(lpar=[], rpar=[])
        call = cst.Call(
            func=cst.parse_expression(callee),
            args=[cst.Arg(inner)],
            lpar=target.lpar,
            rpar=target.rpar,
        )
        return [*imports, self._replace(target, call)]

    def set_keyword(self, fix: SetKeyword) -> list[Edit]:
        call = self._node_at(fix.span, cst.Call, "call")
        try:
            value = cst.parse_expression(fix.value)
        except cst.ParserSyntaxError as exc:
            raise CodemodError(f"not a Python expression: {fix.value}") from exc
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == fix.keyword:
                if arg.value.deep_equals(value):
                    return []
                return [self._replace(arg.value, value)]
        if any(arg.star == "**" for arg in call.args):
            raise CodemodError(f"the call passes **keywords, which may set {fix.keyword} already")
        return [
            self._replace(call, call.with_changes(args=_with_keyword(call, fix.keyword, value)))
        ]

    # -- finding nodes -------------------------------------------------------------------

    def _node_at(self, span: Span, kind: type[_Node], what: str) -> _Node:
        """The outermost node of ``kind`` written exactly at ``span``."""
        if self._by_range is None:
            self._by_range = {}
            for node, where in self._positions.items():
                self._by_range.setdefault(_key(where), []).append(node)
        # Positions are recorded children first: the last one is the outermost.
        for node in reversed(self._by_range.get(_span_key(span), [])):
            if isinstance(node, kind):
                return node
        raise CodemodError(f"no {what} is written exactly there")

    def _string_with_content(self, span: Span) -> cst.SimpleString:
        """The string literal whose content (inside its prefix and quotes) is at ``span``."""
        if self._by_content is None:
            self._by_content = {}
            for node, where in self._positions.items():
                if isinstance(node, cst.SimpleString):
                    opening = len(node.prefix) + len(node.quote)
                    start, end = where.start, where.end
                    key = (
                        start.line,
                        start.column + opening,
                        end.line,
                        end.column - len(node.quote),
                    )
                    self._by_content[key] = node
        found = self._by_content.get(_span_key(span))
        if found is None:
            raise CodemodError("the value is not written there as a plain string literal")
        return found

    def _parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        if self._parents is None:
            self._parents = self._wrapper.resolve(ParentNodeProvider)
        return self._parents.get(node)

    def _scope(self, node: cst.CSTNode) -> Scope:
        if self._scopes is None:
            self._scopes = self._wrapper.resolve(ScopeProvider)
        scope = self._scopes.get(node)
        if scope is None:
            raise CodemodError("the expression's scope is unknown")
        return scope

    # -- names and imports ---------------------------------------------------------------

    def _callee(
        self, target: cst.BaseExpression, module: str, function: str
    ) -> tuple[str, list[Edit]]:
        """How ``module.function`` is called at ``target``: through an import already
        in scope there, else through one the fix adds at the top of the module."""
        scope = self._scope(target)
        line = self._positions[target].start.line
        for name, callee, imports in self._imports_of(module, function):
            assignments = scope[name]
            if assignments and all(
                isinstance(a, ImportAssignment)
                and a.node in imports
                and self._positions[a.node].start.line < line
                for a in assignments
            ):
                return callee, []
        top = module.split(".")[0]
        where = self._import_line()
        if self._free(scope, top):
            return f"{module}.{function}", [self._insert(where, f"import {module}\n")]
        if self._free(scope, function):
            return function, [self._insert(where, f"from {module} import {function}\n")]
        raise CodemodError(f"the names {top} and {function} are taken where the fix goes")

    def _imports_of(self, module: str, function: str) -> list[tuple[str, str, set[cst.CSTNode]]]:
        """Names the file's imports bind to ``module`` or ``module.function``: the name,
        how the function is called through it, and the import statements that bind it."""
        found: dict[tuple[str, str], set[cst.CSTNode]] = {}
        for node in self._positions:
            if isinstance(node, cst.Import):
                for alias in node.names:
                    imported = _dotted(alias.name)
                    if alias.asname is not None and imported == module:
                        name = _dotted(alias.asname.name)
                        found.setdefault((name, f"{name}.{function}"), set()).add(node)
                    elif alias.asname is None and (
                        imported == module or imported.startswith(module + ".")
                    ):
                        name = imported.split(".")[0]
                        found.setdefault((name, f"{module}.{function}"), set()).add(node)
            elif (
                isinstance(node, cst.ImportFrom)
                and not node.relative
                and node.module is not None
                and _dotted(node.module) == module
                and not isinstance(node.names, cst.ImportStar)
            ):
                for alias in node.names:
                    if _dotted(alias.name) == function:
                        name = _dotted(alias.asname.name) if alias.asname else function
                        found.setdefault((name, name), set()).add(node)
        # `from html import escape` first: the shortest call, as the author wrote it.
        return sorted(
            ((name, callee, nodes) for (name, callee), nodes in found.items()),
            key=lambda item: (item[0] != item[1], item[0]),
        )

    def _free(self, scope: Scope, name: str) -> bool:
        """Whether a module-level import of ``name`` would be what ``name`` means in
        ``scope`` and would change the meaning of no other binding."""
        return not scope[name] and not scope.globals[name]

    def _import_line(self) -> int:
        """The line a new import goes on: after the module's leading docstring and
        imports (``from __future__`` ones included), else before its first statement
        and the comments right above it."""
        body = self.module.body
        line = None
        for index, statement in enumerate(body):
            if _is_import_line(statement) or (index == 0 and _is_docstring(statement)):
                line = self._positions[statement].end.line + 1
            else:
                break
        if line is not None:
            return line
        if not body:
            return 1
        first = body[0]
        return self._positions[first].start.line - len(first.leading_lines)

    # -- edits ---------------------------------------------------------------------------

    def _insert(self, line: int, text: str) -> Edit:
        return Edit(Span(self.path, line, 1, line, 1), text)

    def _replace(self, old: cst.CSTNode, new: cst.CSTNode) -> Edit:
        """The edit that turns ``old`` into ``new``: the module's text before and after,
        less what they share at both ends (the change lies inside ``old``)."""
        before = self.text
        replaced = self.module.deep_replace(old, new)
        assert isinstance(replaced, cst.Module)
        after = replaced.code
        start = 0
        limit = min(len(before), len(after))
        while start < limit and before[start] == after[start]:
            start += 1
        end = 0
        while end < limit - start and before[-1 - end] == after[-1 - end]:
            end += 1
        # Whole words: `False` becomes `True`, not `Fals` becoming `Tru`.
        while 0 < start < len(before) and _word(before[start - 1]) and _word(before[start]):
            start -= 1
        while end > 0 and _word(before[-end]) and _word(before[-end - 1]):
            end -= 1
        return Edit(self.source.span(start, len(before) - end), after[start : len(after) - end])

    def _apply(self, edits: Sequence[Edit]) -> str:
        """The text with ``edits`` (which do not overlap) applied."""
        located = sorted(
            (
                self.source.offset(e.span.line, e.span.column),
                self.source.offset(e.span.end_line, e.span.end_column),
                e.replacement,
            )
            for e in edits
        )
        out = []
        position = 0
        for start, end, replacement in located:
            if start < position:
                raise CodemodError("the fix's own edits overlap")
            out.append(self.text[position:start])
            out.append(replacement)
            position = end
        out.append(self.text[position:])
        return "".join(out)


# -- helpers ---------------------------------------------------------------------------------


def _parse(text: str, *, after_fix: bool = False) -> cst.Module:
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        if after_fix:
            raise CodemodError("the fixed text would not be valid Python") from exc
        raise CodemodError("libcst cannot parse the file") from exc
    except RecursionError as exc:
        raise CodemodError("the file nests too deeply to rewrite") from exc


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _key(where: CodeRange) -> _Key:
    return (where.start.line, where.start.column, where.end.line, where.end.column)


def _span_key(span: Span) -> _Key:
    return (span.line, span.column - 1, span.end_line, span.end_column - 1)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _literal(like: cst.SimpleString, value: str) -> str:
    """``value`` written as a literal with ``like``'s prefix and quotes."""
    prefix, quote = like.prefix, like.quote
    plain = all(c.isprintable() and c not in ("\\", quote[0]) for c in value)
    if "r" in prefix.lower() and not plain:
        prefix = prefix.replace("r", "").replace("R", "")
    body = value if "r" in prefix.lower() else "".join(_escaped(c, quote) for c in value)
    text = f"{prefix}{quote}{body}{quote}"
    if ast.literal_eval(text) != value:
        raise CodemodError("the value cannot be written in that literal")
    return text


def _escaped(char: str, quote: str) -> str:
    if char == "\\":
        return "\\\\"
    if char == quote[0]:
        return "\\" + char
    if not char.isprintable():
        return char.encode("unicode_escape").decode("ascii")
    return char


def _with_keyword(call: cst.Call, keyword: str, value: cst.BaseExpression) -> list[cst.Arg]:
    """``call``'s arguments and ``keyword=value`` after them, laid out as the others
    are: on a line of its own when they are, a trailing comma kept, the comments at the
    end of a line left on that line."""
    new = cst.Arg(
        value=value,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    args = list(call.args)
    if not args:
        return [new]
    last = args[-1]
    # What separates arguments here, and what follows the last one before `)`.
    separator: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace(" ")
    if len(args) > 1 and isinstance(args[-2].comma, cst.Comma):
        separator = args[-2].comma.whitespace_after
    elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        separator = call.whitespace_before_args
    trailing = isinstance(last.comma, cst.Comma)
    closing = (
        last.comma.whitespace_after
        if isinstance(last.comma, cst.Comma)
        else last.whitespace_after_arg
    )
    after_last: cst.BaseParenthesizableWhitespace = separator
    after_new = closing
    if isinstance(closing, cst.ParenthesizedWhitespace):
        if isinstance(separator, cst.ParenthesizedWhitespace):
            # The last argument keeps its comment; the new one goes on the next line.
            after_last = separator.with_changes(
                first_line=closing.first_line, empty_lines=closing.empty_lines
            )
            after_new = closing.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
        else:
            after_last = cst.SimpleWhitespace(" ")
    if trailing:
        assert isinstance(last.comma, cst.Comma)
        args[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=after_last))
        new = new.with_changes(comma=last.comma.with_changes(whitespace_after=after_new))
    else:
        args[-1] = last.with_changes(
            comma=cst.Comma(whitespace_after=after_last),
            whitespace_after_arg=cst.SimpleWhitespace(""),
        )
        new = new.with_changes(whitespace_after_arg=after_new)
    return [*args, new]
