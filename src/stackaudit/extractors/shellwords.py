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

    def _end_command(self) -> None:
        if self._current:
            self.commands.append(self._current)
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
                self._end_command()
                self._read_heredoc_bodies()
            elif char in _OPERATOR_CHARS:
                self.pos += 1
                if char == "&" and self._peek() == ">":
                    self._redirection()
                    continue
                self._end_command()
            elif char in "<>":
                self._redirection()
            else:
                token = self._word()
                if token is not None:
                    self._current.append(token)
        self._end_command()
        stripped = (self._strip_keywords(cmd) for cmd in self.commands)
        return [cmd for cmd in stripped if cmd]

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
