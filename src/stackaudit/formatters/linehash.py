"""GitHub's ``primaryLocationLineHash``, computed exactly as the upload action does
(github/codeql-action ``src/fingerprints.ts``): a rolling hash (base 37, 64-bit
wrap-around) over the first 100 characters from the start of each line, spaces and
tabs skipped, line endings normalised to ``\\n``, the end of the file marked by 65535
and padded with zeros; identical hashes are told apart by a ``:<count>`` suffix.
Characters are UTF-16 code units, as JavaScript's ``charCodeAt`` sees them."""

from __future__ import annotations

BLOCK_SIZE = 100
MOD = 37
MASK = (1 << 64) - 1
FIRST_MOD = pow(MOD, BLOCK_SIZE, 1 << 64)
EOF_CODE = 65535
_SPACE, _TAB, _LF, _CR = 32, 9, 10, 13


def line_hashes(text: str) -> dict[int, str]:
    """``{line number (1-based): hash}`` for every line of ``text``."""
    units = text.encode("utf-16-le")
    codes = [units[i] | (units[i + 1] << 8) for i in range(0, len(units), 2)]
    window = [0] * BLOCK_SIZE
    line_numbers = [-1] * BLOCK_SIZE
    state = {"hash": 0, "index": 0}
    counts: dict[str, int] = {}
    hashes: dict[int, str] = {}

    def output() -> None:
        index = state["index"]
        value = format(state["hash"], "x")
        counts[value] = counts.get(value, 0) + 1
        hashes.setdefault(line_numbers[index], f"{value}:{counts[value]}")
        line_numbers[index] = -1

    def update(current: int) -> None:
        index = state["index"]
        begin = window[index]
        window[index] = current
        state["hash"] = (MOD * state["hash"] + current - FIRST_MOD * begin) & MASK
        state["index"] = (index + 1) % BLOCK_SIZE

    line_number = 0
    line_start = True
    previous_cr = False
    for current in [*codes, EOF_CODE]:
        if current in (_SPACE, _TAB) or (previous_cr and current == _LF):
            previous_cr = False
            continue
        if current == _CR:
            current = _LF
            previous_cr = True
        else:
            previous_cr = False
        if line_numbers[state["index"]] != -1:
            output()
        if line_start:
            line_start = False
            line_number += 1
            line_numbers[state["index"]] = line_number
        if current == _LF:
            line_start = True
        update(current)
    for _ in range(BLOCK_SIZE):
        if line_numbers[state["index"]] != -1:
            output()
        update(0)
    return hashes
