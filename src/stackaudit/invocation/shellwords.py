"""A POSIX shell lexer that keeps track of where every character came from.

It splits a script into simple commands (separated by ``;``, ``&``, ``&&``, ``||``,
``|``, newlines and grouping), removes quotes the way the shell does, drops comments,
redirections and heredoc bodies, and keeps ``$VAR``, ``${...}``, ``$(...)`` and
backquotes as written, marking the word symbolic: the value is only known at run time.

Every character of a word's value remembers its offset in the original file, so a word
found inside ``sh -c '...'`` or in a Dockerfile line joined by continuations still
points at the right line and column.
"""

from __future__ import annotations

import re

from msgspec import Struct, field

from stackaudit.policy import is_production_name

_OPERATOR_CHARS = frozenset(";&|()\n")
_BLANKS = frozenset(" \t\r")
# A run of characters that stand for themselves in a word: taken in one step rather than
# one character at a time (a 2 MB command line is otherwise millions of Python steps).
_PLAIN_RUN = re.compile(r"[^ \t\r;&|()\n<>\\'\"$`]+")
_SIMPLE_END = frozenset(" \t\r;&|()\n")
# Reserved words that start a compound command whose next word begins a command.
_PREFIX_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "("})
# Words after which nothing on the "command" is a program invocation.
_SKIP_KEYWORDS = frozenset({"for", "case", "select", "function", "fi", "done", "esac", "}", "in"})


class Token(Struct):
    """A shell word: its value after quote removal and where each character came from."""

    text: str
    origins: list[int]
    start: int
    end: int
    symbolic: bool = False
    quoted: bool = False
    # How many leading characters of ``text`` were written unquoted; an assignment
    # (``NAME=value``) needs its ``NAME=`` there.
    unquoted_prefix: int = -1
    # The text is the default of ``${VAR:-default}`` (a variable the script assigned
    # that way): it holds unless the environment sets the variable.
    default_used: bool = False

    @property
    def is_assignment(self) -> bool:
        equals = self.text.find("=")
        if equals <= 0 or not (self.text[0].isalpha() or self.text[0] == "_"):
            return False
        if not all(c.isalnum() or c == "_" for c in self.text[:equals]):
            return False
        return self.unquoted_prefix < 0 or equals < self.unquoted_prefix


class _Builder(Struct):
    chars: list[str] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)
    start: int = -1
    end: int = -1
    symbolic: bool = False
    quoted: bool = False
    unquoted_prefix: int = -1

    def quote(self) -> None:
        if not self.quoted:
            self.quoted = True
            self.unquoted_prefix = sum(len(part) for part in self.chars)

    def add(self, text: str, origins: list[int]) -> None:
        self.chars.append(text)
        self.origins.extend(origins)

    def touch(self, start: int, end: int) -> None:
        if self.start < 0:
            self.start = start
        self.end = end

    @property
    def empty(self) -> bool:
        return self.start < 0

    def token(self) -> Token:
        return Token(
            "".join(self.chars), self.origins, self.start, self.end, self.symbolic, self.quoted
        )


class ShellLexer:
    """Lex ``text`` whose character ``i`` was read at file offset ``origins[i]``."""

    def __init__(
        self,
        text: str,
        origins: list[int] | None = None,
        base: int = 0,
        substitutions: bool = True,
    ) -> None:
        # Without a shell (systemd, supervisord), `$(...)` and backquotes are plain text;
        # only variables are expanded, by the service manager.
        self.substitutions = substitutions
        self.text = text
        self.origins = origins if origins is not None else list(range(base, base + len(text)))
        self.pos = 0
        self.commands: list[list[Token]] = []
        # The operator that ended each command of ``commands`` ("\n", ";", ";;", "&",
        # "&&", "|", "||", "(", ")" or "" at the end of the text).
        self.ends: list[str] = []
        self._current: list[Token] = []
        self._heredocs: list[tuple[str, bool]] = []

    # -- helpers ------------------------------------------------------------------------

    def _at(self, index: int) -> int:
        if index < len(self.origins):
            return self.origins[index]
        return (self.origins[-1] + 1) if self.origins else 0

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _end_command(self, operator: str = "") -> None:
        if self._current:
            self.commands.append(self._current)
            self.ends.append(operator)
        elif operator == ";;" and self.ends:
            # A case arm's `;;` on a line of its own ends the arm's last command.
            self.ends[-1] = operator
        self._current = []

    def _skip_to_eol(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] != "\n":
            self.pos += 1

    # -- main loop ----------------------------------------------------------------------

    def lex(self) -> list[list[Token]]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self._peek(1) == "\n":
                self.pos += 2
            elif char in _BLANKS:
                self.pos += 1
            elif char == "#":
                self._skip_to_eol()
            elif char == "\n":
                self.pos += 1
                self._end_command("\n")
                self._read_heredoc_bodies()
            elif char in _OPERATOR_CHARS:
                self.pos += 1
                if char == "&" and self._peek() == ">":
                    self._redirection()
                    continue
                operator = char
                if char in ";&|" and self._peek() == char:
                    operator += char
                    self.pos += 1
                self._end_command(operator)
            elif char in "<>":
                self._redirection()
            else:
                token = self._word()
                if token is not None:
                    self._current.append(token)
        self._end_command()
        stripped = (self._strip_keywords(cmd) for cmd in self.commands)
        return [cmd for cmd in stripped if cmd]

    def flow(self) -> list[FlowCommand]:
        """The simple commands with the conditions that guard them (see ``Guard``)."""
        self.lex()
        return _Flow().run(self.commands, self.ends)

    @staticmethod
    def _strip_keywords(words: list[Token]) -> list[Token]:
        while words and not words[0].quoted and words[0].text in _PREFIX_KEYWORDS:
            words = words[1:]
        if words and not words[0].quoted and words[0].text in _SKIP_KEYWORDS:
            return []
        return words

    def _redirection(self) -> None:
        """Skip a redirection operator and its target word (``2>&1``, ``>> log``,
        ``<<EOF`` registers a heredoc whose body is skipped)."""
        text = self.text
        if text.startswith("<<", self.pos) and not text.startswith("<<<", self.pos):
            self.pos += 2
            strip_tabs = self._peek() == "-"
            if strip_tabs:
                self.pos += 1
            while self._peek() in _BLANKS and self._peek():
                self.pos += 1
            delimiter = self._word()
            if delimiter is not None:
                self._heredocs.append((delimiter.text, strip_tabs))
            return
        while self.pos < len(text) and text[self.pos] in "<>&|":
            self.pos += 1
        if self.pos < len(text) and text[self.pos] == "-":
            self.pos += 1
            return
        while self._peek() in _BLANKS and self._peek():
            self.pos += 1
        if self._peek() and self._peek() not in _OPERATOR_CHARS:
            self._word()

    def _read_heredoc_bodies(self) -> None:
        while self._heredocs:
            delimiter, strip_tabs = self._heredocs.pop(0)
            while self.pos < len(self.text):
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end < 0 else end
                line = self.text[self.pos : end]
                self.pos = end + 1
                if (line.lstrip("\t") if strip_tabs else line).rstrip("\r") == delimiter:
                    break

    # -- words --------------------------------------------------------------------------

    def _word(self) -> Token | None:
        text = self.text
        run = _PLAIN_RUN.match(text, self.pos)
        if run is not None and (run.end() == len(text) or text[run.end()] in _SIMPLE_END):
            # The common word: plain characters up to a blank or an operator.
            start, end = run.span()
            origins = self.origins[start:end]
            if len(origins) == end - start:
                self.pos = end
                return Token(run.group(), origins, origins[0], origins[-1] + 1)
        word = _Builder()
        while self.pos < len(text):
            char = text[self.pos]
            start = self.pos
            if char in _BLANKS or char in _OPERATOR_CHARS:
                break
            if char in "<>":
                if word.chars and "".join(word.chars).isdigit() and not word.quoted:
                    # "2>" : the digits name a file descriptor, not a word.
                    self._redirection()
                    return None
                break
            if char == "\\":
                if self._peek(1) == "\n":
                    self.pos += 2
                    continue
                if self.pos + 1 < len(text):
                    word.add(text[self.pos + 1], [self._at(self.pos + 1)])
                    word.quote()
                self.pos += 2
            elif char == "'":
                close = text.find("'", self.pos + 1)
                close = len(text) if close < 0 else close
                word.add(
                    text[self.pos + 1 : close], [self._at(i) for i in range(self.pos + 1, close)]
                )
                word.quote()
                self.pos = close + 1
            elif char == "$" and self._peek(1) == "'":
                self._ansi_c_string(word)
            elif char == '"':
                self._double_quoted(word)
            elif (char == "$" and (self.substitutions or self._peek(1) != "(")) or (
                char == "`" and self.substitutions
            ):
                self._expansion(word)
            else:
                run = _PLAIN_RUN.match(text, self.pos)
                end = run.end() if run is not None else self.pos + 1
                origins = self.origins[self.pos : end]
                if len(origins) != end - self.pos:
                    origins = [self._at(i) for i in range(self.pos, end)]
                word.add(text[self.pos : end], origins)
                self.pos = end
            word.touch(self._at(start), self._at(self.pos - 1) + 1)
        return None if word.empty else word.token()

    def _ansi_c_string(self, word: _Builder) -> None:
        escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "e": "\x1b"}
        self.pos += 2
        word.quote()
        while self.pos < len(self.text) and self.text[self.pos] != "'":
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                word.add(escapes.get(nxt, nxt), [self._at(self.pos)])
                self.pos += 2
            else:
                word.add(char, [self._at(self.pos)])
                self.pos += 1
        self.pos += 1

    def _double_quoted(self, word: _Builder) -> None:
        text = self.text
        self.pos += 1
        word.quote()
        while self.pos < len(text) and text[self.pos] != '"':
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in '$`"\\\n':
                if text[self.pos + 1] != "\n":
                    word.add(text[self.pos + 1], [self._at(self.pos + 1)])
                self.pos += 2
            elif (char == "$" and (self.substitutions or self._peek(1) != "(")) or (
                char == "`" and self.substitutions
            ):
                self._expansion(word)
            else:
                word.add(char, [self._at(self.pos)])
                self.pos += 1
        self.pos += 1

    def _expansion(self, word: _Builder) -> None:
        """Copy ``$NAME``, ``${...}``, ``$(...)``, ``$((...))`` or a backquoted command
        into the word as written and mark it symbolic."""
        text = self.text
        start = self.pos
        if text[self.pos] == "`":
            end = self.pos + 1
            while end < len(text) and text[end] != "`":
                end += 2 if text[end] == "\\" else 1
            end += 1
        elif self._peek(1) == "(":
            end = _matching(text, self.pos + 1, "(", ")")
        elif self._peek(1) == "{":
            end = _matching(text, self.pos + 1, "{", "}")
        else:
            end = self.pos + 1
            if end < len(text) and (text[end].isalpha() or text[end] == "_"):
                while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                    end += 1
            elif end < len(text) and text[end] in "0123456789@*#?$!-":
                end += 1
            else:
                # A lone "$" is a literal dollar sign.
                word.add("$", [self._at(self.pos)])
                self.pos += 1
                return
        end = min(end, len(text))
        word.add(text[start:end], [self._at(i) for i in range(start, end)])
        word.symbolic = True
        self.pos = end


def _matching(text: str, open_index: int, opener: str, closer: str) -> int:
    """Index just past the bracket matching ``text[open_index]``, skipping quotes."""
    depth = 0
    index = open_index
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "'" and opener == "(":
            close = text.find("'", index + 1)
            index = len(text) if close < 0 else close + 1
            continue
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def split_commands(
    text: str, origins: list[int] | None = None, base: int = 0, substitutions: bool = True
) -> list[list[Token]]:
    """The simple commands of a shell script, each a list of words."""
    return ShellLexer(text, origins, base, substitutions).lex()


def split_flow(
    text: str, origins: list[int] | None = None, base: int = 0, substitutions: bool = True
) -> list[FlowCommand]:
    """The simple commands of a shell script with the conditions that guard them."""
    return ShellLexer(text, origins, base, substitutions).flow()


# -- control flow -------------------------------------------------------------------------

DEVELOPMENT = "development"
PRODUCTION = "production"
CONDITIONAL = "conditional"

# Values of an environment-like variable that name a development setup (production:
# policy.is_production_name).
_DEVELOPMENT_VALUES = frozenset(
    {"dev", "devel", "develop", "development", "local", "debug", "test", "testing"}
)
# Variables that switch development mode on when set or true (DEBUG, DEV_MODE, RELOAD).
_FLAG_VARIABLE = re.compile(r"DEBUG|(^|_)(DEV|DEVEL|DEVELOPMENT|RELOAD|AUTORELOAD)(_|$)", re.I)
_VARIABLE_NAME = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_TRUE_VALUES = frozenset({"1", "true", "yes", "on", "y"})
_FALSE_VALUES = frozenset({"0", "false", "no", "off", "n", ""})
_TESTS = frozenset({"[", "[[", "test"})
_FLIP = {DEVELOPMENT: PRODUCTION, PRODUCTION: DEVELOPMENT, CONDITIONAL: CONDITIONAL}


class Guard(Struct, frozen=True):
    """A condition a command runs under: a test (``[ "$ENV" = dev ]``, ``test -n
    "$DEBUG"``), an ``if`` condition, a ``case`` arm; ``negated`` for the ``else``
    branch, the ``||`` side or a ``*)`` arm after others. ``kind`` is what the
    condition selects, negation applied: ``development``, ``production`` or
    ``conditional`` when it names neither."""

    text: str
    start: int
    end: int
    kind: str
    negated: bool = False

    def negate(self) -> Guard:
        return Guard(self.text, self.start, self.end, _FLIP[self.kind], not self.negated)

    @property
    def written(self) -> str:
        return f"not {self.text}" if self.negated else self.text


class FlowCommand(Struct):
    """A simple command, the guards it runs under (outermost first), and whether it
    runs unconditionally at the top level of the script."""

    words: list[Token]
    guards: tuple[Guard, ...] = ()

    @property
    def top_level(self) -> bool:
        return not self.guards


def branch_of(guards: tuple[Guard, ...] | list[Guard]) -> str:
    """What the guards select together: ``""`` (no guard), ``development`` when one of
    them selects development; otherwise the conditions tested (``elif [ "$ENV" =
    staging ]``) decide over the negated ones around them (the earlier ``if [ "$ENV" =
    production ]``): ``production`` when they all select it, ``conditional`` when one
    names neither or they disagree."""
    if not guards:
        return ""
    positive = [guard for guard in guards if not guard.negated]
    if any(guard.kind == DEVELOPMENT for guard in positive):
        return DEVELOPMENT
    kinds = {guard.kind for guard in positive or guards}
    return kinds.pop() if len(kinds) == 1 else CONDITIONAL


def _written(token: Token) -> str:
    text = token.text
    if token.quoted and (token.symbolic or not text or any(c in text for c in " \t|&;")):
        return f'"{text}"'
    return text


def _guard(words: list[Token], kind: str | None = None) -> Guard:
    text = " ".join(_written(word) for word in words)
    return Guard(text, words[0].start, words[-1].end, kind or classify_test(words))


def _value_kind(variable: str, value: str) -> str:
    value = value.strip("*'\" ").lower()
    if value in _DEVELOPMENT_VALUES:
        return DEVELOPMENT
    if is_production_name(value):
        return PRODUCTION
    if _FLAG_VARIABLE.search(variable):
        if value in _TRUE_VALUES:
            return DEVELOPMENT
        if value in _FALSE_VALUES:
            return PRODUCTION
    return CONDITIONAL


def _variable(token: Token) -> str:
    match = _VARIABLE_NAME.match(token.text) if token.symbolic else None
    return match.group(1) if match else ""


def classify_test(words: list[Token]) -> str:
    """What a test command selects: ``[ "$ENV" = dev ]`` and ``[ -n "$DEBUG" ]`` select
    development, ``[ "$ENV" = production ]`` and ``[ -z "$DEBUG" ]`` production; any
    other command is just ``conditional``."""
    negated = False
    while words and words[0].text == "!" and not words[0].quoted:
        negated = not negated
        words = words[1:]
    if not words or words[0].quoted or words[0].text not in _TESTS:
        return CONDITIONAL
    closer = {"[": "]", "[[": "]]"}.get(words[0].text)
    operands = words[1:]
    if closer and operands and operands[-1].text == closer:
        operands = operands[:-1]
    while operands and operands[0].text == "!" and not operands[0].quoted:
        negated = not negated
        operands = operands[1:]
    kind = CONDITIONAL
    texts = [word.text for word in operands]
    if len(operands) == 1 or (len(operands) == 2 and texts[0] in ("-n", "-z")):
        variable = _variable(operands[-1])
        if variable and _FLAG_VARIABLE.search(variable):
            kind = PRODUCTION if texts[0] == "-z" else DEVELOPMENT
    elif len(operands) == 3 and texts[1] in ("=", "==", "!=", "-eq", "-ne", "=~"):
        left, right = operands[0], operands[2]
        if not _variable(left):
            left, right = right, left
        variable = _variable(left)
        if variable and not right.symbolic:
            kind = _value_kind(variable, right.text)
            if texts[1] in ("!=", "-ne"):
                negated = not negated
    return _FLIP[kind] if negated else kind


def _negation(guards: list[Guard]) -> list[Guard]:
    """The guards of the other side of ``guards`` taken together."""
    if len(guards) <= 1:
        return [guard.negate() for guard in guards]
    # Not all of several conditions: nothing simpler is known.
    first, last = guards[0], guards[-1]
    text = " && ".join(guard.written for guard in guards)
    return [Guard(f"({text})", first.start, last.end, CONDITIONAL, True)]


# Earlier branches kept one by one; beyond, they are summed up in one guard (a chain of
# thousands of `elif`s stays linear).
_MAX_PRIOR = 16


def _bounded(guards: list[Guard]) -> list[Guard]:
    if len(guards) <= _MAX_PRIOR:
        return guards
    kinds = {guard.kind for guard in guards}
    kind = kinds.pop() if len(kinds) == 1 else CONDITIONAL
    negated = all(guard.negated for guard in guards)
    first, last = guards[0], guards[-1]
    return [Guard("(many earlier conditions)", first.start, last.end, kind, negated)]


class _Frame(Struct):
    kind: str  # "if" or "case"
    state: str  # if: "cond", "body"; case: "pattern", "body"
    subject: Token | None = None
    condition: list[list[Token]] = field(default_factory=list)
    pattern: list[Token] = field(default_factory=list)
    current: list[Guard] = field(default_factory=list)
    prior: list[Guard] = field(default_factory=list)


class _Flow:
    """Follows ``if``/``elif``/``else``/``fi``, ``case``/``esac`` arms and ``test &&``
    lists over the commands the lexer split, in order."""

    def __init__(self) -> None:
        self.frames: list[_Frame] = []
        self.chain: list[Guard] = []

    def _nearest(self, kind: str) -> _Frame | None:
        for frame in reversed(self.frames):
            if frame.kind == kind:
                return frame
        return None

    def _pop(self, kind: str) -> None:
        """Close the nearest ``kind`` frame (and any left open inside it); a stray
        ``fi`` or ``esac`` closes nothing."""
        if self._nearest(kind) is None:
            return
        while self.frames:
            if self.frames.pop().kind == kind:
                return

    def guards(self) -> tuple[Guard, ...]:
        found: list[Guard] = []
        for frame in self.frames:
            found.extend(frame.prior if frame.kind == "if" else ())
            found.extend(frame.current)
        return (*found, *self.chain)

    def run(self, commands: list[list[Token]], ends: list[str]) -> list[FlowCommand]:
        found: list[FlowCommand] = []
        for words, end in zip(commands, ends, strict=True):
            words = self._keywords(words)
            frame = self.frames[-1] if self.frames else None
            if frame is not None and frame.kind == "case" and frame.state == "pattern":
                if words:
                    self._pattern(frame, words, end)
                continue
            if frame is not None and frame.kind == "if" and frame.state == "cond":
                if words:
                    frame.condition.append(words)
                continue
            words = ShellLexer._strip_keywords(words)
            if words:
                found.append(FlowCommand(words, self.guards()))
            if end in ("&&", "||") and words and self._is_test(words):
                guard = _guard(words)
                self.chain.append(guard.negate() if end == "||" else guard)
            elif end == "||" and self.chain:
                # `[ -n "$DEBUG" ] && dev-command || other`: other runs when the test
                # fails (or the command does): the other side of the test.
                self.chain = _negation(self.chain)
            elif end not in ("&&", "||", "|"):
                self.chain = []
            if end == ";;":
                case = self._nearest("case")
                if case is not None:
                    case.state, case.current = "pattern", []
        return found

    @staticmethod
    def _is_test(words: list[Token]) -> bool:
        index = 0
        while index < len(words) and words[index].text == "!" and not words[index].quoted:
            index += 1
        return index < len(words) and not words[index].quoted and words[index].text in _TESTS

    def _keywords(self, words: list[Token]) -> list[Token]:
        while words and not words[0].quoted:
            keyword = words[0].text
            frame = self._nearest("if")
            if keyword == "if":
                self.frames.append(_Frame("if", "cond"))
                self.chain = []
            elif keyword == "then" and frame is not None:
                frame.state = "body"
                frame.current = [_guard(c) for c in frame.condition]
            elif keyword in ("elif", "else") and frame is not None:
                frame.prior = _bounded([*frame.prior, *_negation(frame.current)])
                frame.current, frame.condition = [], []
                frame.state = "cond" if keyword == "elif" else "body"
            elif keyword == "fi":
                self._pop("if")
                # Words after `fi` on one command are no command (the lexer drops them).
                return []
            elif keyword == "case":
                subject = words[1] if len(words) > 1 else None
                self.frames.append(_Frame("case", "pattern", subject))
                rest = words[2:]
                if rest and rest[0].text == "in" and not rest[0].quoted:
                    rest = rest[1:]
                return rest
            elif keyword == "esac":
                self._pop("case")
                return []
            else:
                return words
            words = words[1:]
        return words

    def _pattern(self, frame: _Frame, words: list[Token], end: str) -> None:
        frame.pattern.extend(words)
        if end == "|":
            return
        if end != ")":
            # Not a pattern after all (a `case` this reader does not follow).
            frame.pattern = []
            return
        alternatives, frame.pattern = frame.pattern, []
        subject = frame.subject
        variable = _variable(subject) if subject is not None else ""
        first, last = subject or alternatives[0], alternatives[-1]
        text = (
            f"case {_written(subject) if subject else ''} in "
            f"{'|'.join(_written(word) for word in alternatives)})"
        )
        if all(word.text == "*" for word in alternatives):
            frame.current = [arm.negate() for arm in frame.prior]
            if not frame.current:
                frame.current = [Guard(text, first.start, last.end, CONDITIONAL)]
        else:
            kinds = {_value_kind(variable, word.text) for word in alternatives}
            kind = kinds.pop() if len(kinds) == 1 else CONDITIONAL
            if not variable:
                kind = CONDITIONAL
            guard = Guard(text, first.start, last.end, kind)
            frame.current = [guard]
            frame.prior = _bounded([*frame.prior, guard])
        frame.state = "body"
