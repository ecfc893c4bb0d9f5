"""`stackaudit explain`: a rule's page rendered for the terminal.

Prose is wrapped to the terminal's width, but code and links never are: a configuration
line broken in two cannot be copied back into a file, nor a URL into a browser. Code
blocks and list items that are bare links are printed as written (the terminal may fold
a long line on screen; the text stays one line), the rest through Rich's Markdown.
"""

from __future__ import annotations

import re
import sys

from rich.console import Console
from rich.markdown import Markdown

# A fenced code block, or a run of list items that are each a bare link.
_VERBATIM = re.compile(
    r"^```[^\n`]*\n(?P<code>.*?)^```[ \t]*$|(?P<links>(?:^- https?://\S+[ \t]*(?:\n|$))+)",
    re.MULTILINE | re.DOTALL,
)


def print_rule_page(markdown: str, *, no_color: bool = False) -> None:
    console = Console(no_color=no_color)
    with console.capture() as captured:
        _render(console, markdown)
    # Rich pads every Markdown line with spaces to the full width; in a pipe or a file
    # they are only noise (and they wrap on a narrower screen). Styled lines keep theirs.
    lines = captured.get().split("\n")
    sys.stdout.write("\n".join(line if "\x1b" in line else line.rstrip() for line in lines))


def _render(console: Console, markdown: str) -> None:
    position = 0
    for block in _VERBATIM.finditer(markdown):
        prose = markdown[position : block.start()].strip()
        if prose:
            console.print(Markdown(prose))
        if block.group("code") is not None:
            lines = [" " + line for line in block.group("code").rstrip().splitlines()]
            console.print()
            # `out` writes the text as it is: no wrapping, no cropping at the width.
            console.out("\n".join(lines), highlight=False)
            console.print()
        else:
            links = [" • " + line[2:].strip() for line in block.group("links").splitlines()]
            console.out("\n".join(links), highlight=False)
        position = block.end()
    rest = markdown[position:].strip()
    if rest:
        console.print(Markdown(rest))
