"""The parsing floor of a tree: what reading and parsing alone cost, before any analysis.

    python bench/floor.py TREE

Walks TREE, reads every file, and parses each with the parser stackaudit uses for its kind
(``ast.parse`` for ``.py``, PyYAML's C loader composing nodes for ``.yml``/``.yaml``,
crossplane's lexer for ``.conf``), one process, nothing else. It answers whether a speed
target is reachable at all with these parsers: no run of stackaudit can be faster than this
floor divided by the number of worker processes, plus interpreter start-up.
"""

from __future__ import annotations

import ast
import os
import sys
import time
from pathlib import Path

import crossplane
import yaml


def main() -> None:
    tree = Path(sys.argv[1])
    start = time.perf_counter()
    files = [Path(d, f) for d, _, names in os.walk(tree) for f in names]
    walked = time.perf_counter()
    texts = {path: path.read_bytes() for path in files}
    read = time.perf_counter()
    phases = {"walk": walked - start, "read": read - walked}
    for label, suffixes in (
        ("ast.parse", (".py",)),
        ("yaml compose", (".yml", ".yaml")),
        ("crossplane lex", (".conf",)),
    ):
        began = time.perf_counter()
        count = 0
        for path, data in texts.items():
            if path.suffix not in suffixes:
                continue
            count += 1
            if label == "ast.parse":
                ast.parse(data)
            elif label == "yaml compose":
                yaml.compose(data, Loader=yaml.CSafeLoader)
            else:
                list(crossplane.lex(str(path)))
        phases[f"{label} ({count} files)"] = time.perf_counter() - began
    for label, seconds in phases.items():
        print(f"{label:>28}: {seconds:6.3f} s")
    print(f"{'total':>28}: {sum(phases.values()):6.3f} s  ({len(files)} files)")


if __name__ == "__main__":
    main()
