"""The short title of a finding, for the finding line of the text report.

Why a title derived from the message rather than the rule's summary: the summary is
the first paragraph of the rule's "What it does" (60 to 1,300 characters, written for
the docs), and a one-line rule description such as zizmor's would say the same thing
for every finding of a rule. The message says what is wrong *here* (which option,
which route, which value) and every rule's message opens with that place and the
problem, so its opening is the better title (Ruff's model: the message is the title).
The full message is still printed under the code frame (``= note:``) and, unchanged,
by ``--quiet`` and every machine format.

The steps, in order, stop as soon as the text fits ``TITLE_LIMIT`` characters:
the message as it is; without its parenthesised asides (`` (Dockerfile ENV)``,
`` (no --basic-auth, ...)``: the details, kept in the note); cut at the last clause
break (``: ``, ``; ``, then ``, ``) that leaves at least ``_SHORTEST_CLAUSE``
characters; cut at the last word that fits (inside a word too long to leave that
much), with an ellipsis."""

from __future__ import annotations

import re

TITLE_LIMIT = 100
# A cut shorter than this would keep only the subject ("nginx location /api/"), not
# the problem.
_SHORTEST_CLAUSE = 50
_ELLIPSIS = "…"
_SPACES = re.compile(r" {2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([,;:.])")


def finding_title(message: str) -> str:
    """A title of at most ``TITLE_LIMIT`` characters for ``message`` (see the module)."""
    if len(message) <= TITLE_LIMIT:
        return message
    text = _without_asides(message)
    if len(text) <= TITLE_LIMIT:
        return text
    for breaks in (":;", ","):
        cuts = [i for i, char in _clause_breaks(text) if char in breaks]
        fitting = [i for i in cuts if _SHORTEST_CLAUSE <= i <= TITLE_LIMIT]
        if fitting:
            return text[: max(fitting)]
    return _cut_at_word(text, TITLE_LIMIT - len(_ELLIPSIS)).rstrip(",;: ") + _ELLIPSIS


def _cut_at_word(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters after its last whole word; inside
    a word when that would leave less than ``_SHORTEST_CLAUSE`` (a long path or URL)."""
    window = text[:limit]
    if text[limit : limit + 1] in (" ", ""):
        return window
    words = window.rsplit(" ", 1)[0]
    return words if len(words) >= _SHORTEST_CLAUSE else window


def _without_asides(text: str) -> str:
    """``text`` without the parenthesised groups that follow a space: asides such as
    `` (Dockerfile ENV)``; a call's parentheses (``add_middleware(CORSMiddleware)``)
    and anything in backquotes (quoted values) are kept."""
    out: list[str] = []
    depth = 0
    quoted = False
    previous = ""
    for char in text:
        if depth == 0 and char == "`":
            quoted = not quoted
        if not quoted and char == "(" and (depth > 0 or previous == " "):
            depth += 1
        elif depth > 0:
            if char == ")":
                depth -= 1
            elif char == "(":
                depth += 1
        else:
            out.append(char)
        previous = char
    if depth:  # an unclosed aside: the message is not what this expects, keep it all
        return text
    kept = _SPACES.sub(" ", "".join(out))
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", kept).strip()


def _clause_breaks(text: str) -> list[tuple[int, str]]:
    """Positions of ``:``, ``;`` and ``,`` followed by a space, outside backquotes."""
    found = []
    quoted = False
    for index, char in enumerate(text[:-1]):
        if char == "`":
            quoted = not quoted
        elif not quoted and char in ":;," and text[index + 1] == " ":
            found.append((index, char))
    return found
