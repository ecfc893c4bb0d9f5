"""Command lines whose words come from several files.

Docker starts a container with the image's ENTRYPOINT followed by a compose
``command:`` (or a Kubernetes ``args:``), and an entrypoint script's ``exec "$@"`` runs
those words again: the server is only visible once the pieces are put together. Each
piece is kept as ``ArgWord``s (text plus where each character is written); here they
become shell ``Token``s over a ``JoinedSource``, a stand-in for one file whose offsets
lead back to the line and column of every character in its own file, so
``find_in_words`` recognises the server and every finding still points at the file
and line of its flag."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from msgspec import field

from stackaudit.diagnostics import Span
from stackaudit.facts.image import ArgWord
from stackaudit.invocation.commandline import token_span
from stackaudit.invocation.shellwords import Token
from stackaudit.source import SourceFile


def arg_word(source: SourceFile, token: Token) -> ArgWord:
    """A token of ``source`` as a word that remembers where its characters are."""
    return ArgWord(
        token.text,
        token_span(source, token),
        _runs(source, token.text, token.origins),
        token.symbolic,
        token.quoted,
        token.unquoted_prefix,
        token.default_used,
    )


def _runs(source: SourceFile, text: str, origins: list[int]) -> tuple[tuple[int, int, int], ...]:
    """``(line, column, count)`` for each stretch of characters written one after the
    other on one line."""
    if len(origins) != len(text):
        return ()
    runs: list[tuple[int, int, int]] = []
    start = 0
    for index in range(1, len(origins) + 1):
        if (
            index == len(origins)
            or origins[index] != origins[index - 1] + 1
            or text[index - 1] in "\r\n"
        ):
            line, column = source.position(origins[start])
            runs.append((line, column, index - start))
            start = index
    return tuple(runs)


class JoinedSource(SourceFile):
    """A source made of placed words: offset ``i`` is a character of one of them, and
    ``span`` answers with the file, line and column it is written at. ``segments`` are
    ``(first offset, path, line, column, step)``: ``step`` 1 for characters written one
    after another, 0 when they all stand at the same place."""

    segments: list[tuple[int, str, int, int, int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    size: int = 0

    def add(self, word: ArgWord) -> Token:
        start = self.size
        self._place(word)
        return Token(
            word.text,
            list(range(start, self.size)),
            start,
            self.size,
            symbolic=word.symbolic,
            quoted=word.quoted,
            unquoted_prefix=word.unquoted_prefix,
            default_used=word.default_used,
        )

    def _place(self, word: ArgWord) -> None:
        placed = sum(count for _, _, count in word.runs)
        if word.runs and placed == len(word.text):
            for line, column, count in word.runs:
                self._segment(word.span.path, line, column, 1)
                self.size += count
        else:
            span = word.span
            self._segment(span.path, span.line, span.column, 0)
            self.size += len(word.text)
        self.text += word.text

    def _segment(self, path: str, line: int, column: int, step: int) -> None:
        self.segments.append((self.size, path, line, column, step))
        self.starts.append(self.size)

    def _where(self, offset: int) -> tuple[str, int, int]:
        index = max(0, bisect.bisect_right(self.starts, offset) - 1)
        first, path, line, column, step = self.segments[index]
        return path, line, column + step * (offset - first)

    def span(self, start: int, end: int) -> Span:
        if not self.segments:
            return Span(self.path, 1, 1)
        path, line, column = self._where(start)
        last_path, last_line, last_column = self._where(max(start, end - 1))
        if last_path != path or (last_line, last_column) < (line, column):
            return Span(path, line, column, line, column + 1)
        return Span(path, line, column, last_line, last_column + 1)

    def origins_of(self, span: Span, text: str) -> list[int]:
        """A value written elsewhere (a ``GUNICORN_CMD_ARGS`` variable) placed here."""
        exact = span.line == span.end_line and span.end_column - span.column == len(text)
        runs = ((span.line, span.column, len(text)),) if exact else ()
        return self.add(ArgWord(text, span, runs)).origins


def joined_tokens(source: JoinedSource, words: Iterable[ArgWord]) -> list[Token]:
    return [source.add(word) for word in words]


def joined_source(path: str) -> JoinedSource:
    """An empty joined source named after the file the command is mainly read from."""
    return JoinedSource(path, "joined", "")


def substitute_arguments(words: Sequence[ArgWord], arguments: Sequence[ArgWord]) -> list[ArgWord]:
    """A script's command with ``"$@"`` replaced by the words it is given."""
    out: list[ArgWord] = []
    for word in words:
        if word.passes_all_arguments:
            out.extend(arguments)
        else:
            out.append(word)
    return out
