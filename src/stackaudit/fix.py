"""Applying the edits rules attach to findings (``--fix``, ``--unsafe-fixes``, ``--diff``).

A fix is all the edits of one finding, applied together or not at all. Fixes run in
passes, as ruff runs them: each pass applies every fix that does not overlap one already
taken (the first one wins; an identical edit shared by two fixes, such as one ``map``
block, is written once), then the tree is checked again, until nothing changes.

The passes run on a copy of the scanned files, so ``--diff`` sees exactly what ``--fix``
would write and an interrupted run leaves the tree as it was. The result is then
written back file by file: only inside the scanned root, never through a symbolic link
that leaves it, atomically (a temporary file in the same directory, then
``os.replace``), with the file's mode, line endings and encoding (UTF-8, with its BOM
if it had one, UTF-16, or a Python coding cookie's) kept.

A Python fix is described by a codemod record and built here, on the text of the pass,
with libcst (``stackaudit.pyfix``, imported only then); its edits then take part like any
other. One that cannot be built on the text (the node is not at its span any more, the
file does not parse) is refused with the reason."""

from __future__ import annotations

import codecs
import difflib
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import msgspec.structs
from msgspec import Struct, field

from stackaudit.diagnostics import Codemod, Diagnostic, Edit, FixSafety, Span
from stackaudit.source import SourceFile, decode, python_encoding
from stackaudit.writing import write_atomically

if TYPE_CHECKING:
    from stackaudit.pyfix import PythonFile

# Passes before giving up on fixes that keep changing the files (ruff stops at 100; a
# stack needs a handful: a fix can only make another one possible).
MAX_PASSES = 10

_PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")


class Refusal(Struct, frozen=True):
    """A fix that was not applied, and why."""

    diagnostic: Diagnostic
    reason: str


class FixPass(Struct):
    applied: list[Diagnostic] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


class FixOutcome(Struct):
    """What the passes did: the findings before, the fixes applied (per rule), what
    remains, the fixes that could not be applied, and each changed file's bytes."""

    initial: list[Diagnostic]
    remaining: list[Diagnostic]
    fixed: Counter[str]
    refused: list[Refusal]
    changes: dict[str, tuple[bytes, bytes]]
    converged: bool = True
    written: list[str] = field(default_factory=list)
    not_written: dict[str, str] = field(default_factory=dict)

    @property
    def fixed_count(self) -> int:
        return sum(self.fixed.values())


def applies(diagnostic: Diagnostic, unsafe: bool) -> bool:
    """Whether ``diagnostic`` carries a fix this run may apply."""
    if not diagnostic.has_fix:
        return False
    return diagnostic.fix_safety is FixSafety.SAFE or (
        unsafe and diagnostic.fix_safety is FixSafety.UNSAFE
    )


# -- one file's text ---------------------------------------------------------------------


class _Text(Struct):
    """A file decoded exactly as the scan decoded it, and how to write it back."""

    source: SourceFile
    encoding: str
    bom: bytes
    newline: str

    @property
    def text(self) -> str:
        return self.source.text

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.encoding)

    def offset(self, line: int, column: int) -> int | None:
        """The offset of a 1-based position, or None when no such position exists."""
        source = self.source
        offset = source.offset(line, column)
        if source.position(offset) != (line, column):
            return None
        return offset


def _read_text(rel: str, data: bytes) -> _Text | str:
    """The file as text with its encoding, or why it cannot be rewritten faithfully."""
    python = rel.endswith(_PYTHON_SUFFIXES)
    text, note = decode(data, python=python)
    if note is not None:
        return "not valid UTF-8: left as it is"
    bom = b""
    encoding = "utf-8"
    for mark, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(mark):
            bom, encoding = mark, name
            break
    else:
        cookie = python_encoding(data) if python else None
        if cookie is not None:
            encoding = cookie
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return "unknown encoding: left as it is"
    try:
        if bom + text.encode(encoding) != data:
            return "its encoding does not round-trip: left as it is"
    except (LookupError, UnicodeError):
        return "its encoding does not round-trip: left as it is"
    crlf = text.count("\r\n")
    endings = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    # The file's most common line ending, for the lines a fix inserts (ties: \n first).
    newline = max(endings, key=lambda ending: endings[ending])
    return _Text(SourceFile(rel, "", text), encoding, bom, newline)


# -- where a file may be written -----------------------------------------------------------


def write_target(root: Path, rel: str) -> Path | str:
    """The real file to write for ``rel`` (a path relative to ``root``), or why it must
    not be written: outside the root, through a link out of it, not a regular file, or a
    file with other hard links (replacing it would split them)."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not rel:
        return "outside the scanned root"
    path = root / rel
    try:
        real_root = root.resolve(strict=True)
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "cannot be resolved"
    if not real.is_relative_to(real_root):
        return "a symbolic link out of the scanned root"
    try:
        info = real.stat()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink > 1:
        return "has other hard links"
    return real


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path``'s content by ``data`` in one step, keeping its mode."""
    write_atomically(str(path), data, stat.S_IMODE(path.stat().st_mode))


# -- one pass ------------------------------------------------------------------------------


def _overlaps(start: int, end: int, taken: Iterable[tuple[int, int]]) -> bool:
    """Whether ``[start, end)`` overlaps a range already taken. Insertions at the same
    point, or where a range begins or ends, do not overlap it."""
    return any(start < other_end and other_start < end for other_start, other_end in taken) or (
        start == end and any(other_start < start < other_end for other_start, other_end in taken)
    )


def apply_fixes(
    root: Path,
    diagnostics: Sequence[Diagnostic],
    *,
    unsafe: bool = False,
    writable: Callable[[str], str | None] | None = None,
) -> FixPass:
    """Apply, in ``root``, the fixes of ``diagnostics`` this run allows, in their order,
    skipping any that overlaps a fix already taken. ``writable(rel)`` returns why a file
    must not be changed (None when it may)."""
    result = FixPass()
    texts: dict[str, _Text | str] = {}
    taken: dict[str, list[tuple[int, int, str]]] = {}

    def load(rel: str) -> _Text | str:
        if rel not in texts:
            refusal = writable(rel) if writable is not None else None
            target = write_target(root, rel)
            if refusal is None and isinstance(target, str):
                refusal = target
            if refusal is not None:
                texts[rel] = refusal
            else:
                assert isinstance(target, Path)
                try:
                    texts[rel] = _read_text(rel, target.read_bytes())
                except OSError as exc:
                    texts[rel] = f"cannot be read: {exc.strerror or exc}"
        return texts[rel]

    python: dict[str, PythonFile | str] = {}

    def built(diagnostic: Diagnostic) -> list[Edit] | str:
        """The diagnostic's edits, its Python fixes built on the files' current text."""
        edits = list(diagnostic.edits)
        for path, codemods in _by_path(diagnostic.codemods).items():
            file = load(path)
            if isinstance(file, str):
                return f"{path}: {file}"
            made = python_edits(python, path, file.text, codemods)
            if isinstance(made, str):
                return f"{path}: {made}"
            edits.extend(made)
        return edits

    for diagnostic in diagnostics:
        if not applies(diagnostic, unsafe):
            continue
        planned: list[tuple[str, int, int, str]] = []
        reason = None
        fix = built(diagnostic)
        if isinstance(fix, str):
            result.refused.append(Refusal(diagnostic, fix))
            continue
        for edit in fix:
            file = load(edit.span.path)
            if isinstance(file, str):
                reason = f"{edit.span.path}: {file}"
                break
            span = edit.span
            start = file.offset(span.line, span.column)
            end = file.offset(span.end_line, span.end_column)
            if start is None or end is None or end < start:
                reason = f"{span.path}: the edit lies outside the file's text"
                break
            replacement = edit.replacement.replace("\r\n", "\n").replace("\n", file.newline)
            planned.append((span.path, start, end, replacement))
        if reason is None:
            reason = _conflict(planned, taken)
        if reason is not None:
            result.refused.append(Refusal(diagnostic, reason))
            continue
        for rel, start, end, replacement in planned:
            if (start, end, replacement) not in taken.setdefault(rel, []):
                taken[rel].append((start, end, replacement))
        result.applied.append(diagnostic)

    for rel, edits in taken.items():
        file = texts[rel]
        assert isinstance(file, _Text)
        new = _splice(file.text, edits)
        if new != file.text:
            target = write_target(root, rel)
            assert isinstance(target, Path)
            write_atomic(target, file.encode(new))
            result.changed.add(rel)
    return result


def _by_path(codemods: Iterable[Codemod]) -> dict[str, list[Codemod]]:
    grouped: dict[str, list[Codemod]] = {}
    for codemod in codemods:
        grouped.setdefault(codemod.span.path, []).append(codemod)
    return grouped


def python_edits(
    parsed: dict[str, PythonFile | str], path: str, text: str, codemods: Sequence[Codemod]
) -> list[Edit] | str:
    """The edits of ``codemods`` on ``text`` (the file ``path``, parsed once and kept in
    ``parsed``), or why they cannot be made. libcst is imported here, when a fix needs
    it, never by a plain check."""
    from stackaudit.pyfix import CodemodError, PythonFile

    try:
        if path not in parsed:
            try:
                parsed[path] = PythonFile(path, text)
            except CodemodError as exc:
                parsed[path] = str(exc)
        file = parsed[path]
        if isinstance(file, str):
            return file
        return file.edits(codemods)
    except CodemodError as exc:
        return str(exc)
    except Exception as exc:  # libcst on hostile input: a refusal, never a traceback
        return f"the Python fix could not be built ({type(exc).__name__})"


def with_python_edits(
    diagnostics: list[Diagnostic], texts: Callable[[str], str | None]
) -> list[Diagnostic]:
    """``diagnostics`` with their Python fixes built into edits, for the reports that
    list edits (JSON, SARIF); ``texts(path)`` gives a file's text. A fix that cannot be
    built on the text is shown as display-only."""
    parsed: dict[str, PythonFile | str] = {}
    out = []
    for diagnostic in diagnostics:
        edits = list(diagnostic.edits)
        for path, codemods in _by_path(diagnostic.codemods).items():
            text = texts(path)
            made = python_edits(parsed, path, text, codemods) if text is not None else ""
            if isinstance(made, str):
                edits = []
                break
            edits.extend(made)
        if diagnostic.codemods:
            safety = diagnostic.fix_safety if edits else FixSafety.DISPLAY_ONLY
            diagnostic = msgspec.structs.replace(diagnostic, edits=tuple(edits), fix_safety=safety)
        out.append(diagnostic)
    return out


def _conflict(
    planned: list[tuple[str, int, int, str]], taken: dict[str, list[tuple[int, int, str]]]
) -> str | None:
    mine: dict[str, list[tuple[int, int]]] = {}
    for rel, start, end, replacement in planned:
        already = taken.get(rel, [])
        if (start, end, replacement) in already:
            continue  # the same edit, written by an earlier fix
        if _overlaps(start, end, [(s, e) for s, e, _ in already]):
            return "overlaps another fix applied first (it is retried after the re-check)"
        if _overlaps(start, end, mine.get(rel, [])):
            return "its own edits overlap"
        mine.setdefault(rel, []).append((start, end))
    return None


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with the edits applied; insertions at one point keep their order."""
    ordered = sorted(enumerate(edits), key=lambda item: (item[1][0], item[1][1], item[0]))
    out = []
    position = 0
    for _, (start, end, replacement) in ordered:
        out.append(text[position:start])
        out.append(replacement)
        position = max(position, end)
    out.append(text[position:])
    return "".join(out)


# -- the passes, on a copy of the tree -------------------------------------------------------


Check = Callable[[Path, list[Path]], list[Diagnostic]]


def fix_tree(
    root: Path,
    paths: list[Path],
    files: Iterable[str],
    check: Check,
    *,
    unsafe: bool = False,
    write: bool = True,
    max_passes: int = MAX_PASSES,
) -> FixOutcome:
    """Run fix passes over a copy of ``files`` (paths relative to ``root``), re-checking
    with ``check(copy_root, copied_paths)`` after each pass, then (with ``write``) write
    the changed files back into ``root``."""
    real_root = root.resolve()

    def writable(rel: str) -> str | None:
        target = write_target(real_root, rel)
        return target if isinstance(target, str) else None

    with tempfile.TemporaryDirectory(prefix="stackaudit-fix-") as temporary:
        copy = Path(temporary) / "tree"
        copy.mkdir()
        originals: dict[str, Path] = {}
        for rel in files:
            source = real_root / rel
            pure = PurePosixPath(rel)
            if pure.is_absolute() or ".." in pure.parts:
                continue
            destination = copy / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(source, destination)
            except OSError:
                continue
            originals[rel] = source
        copied_paths = [copy / _relative(p, real_root) for p in paths]

        diagnostics = check(copy, copied_paths)
        initial = diagnostics
        fixed: Counter[str] = Counter()
        refused: list[Refusal] = []
        changed: set[str] = set()
        converged = True
        for number in range(max_passes):
            step = apply_fixes(copy, diagnostics, unsafe=unsafe, writable=writable)
            refused = step.refused
            if not step.changed:
                break
            fixed.update(d.code for d in step.applied)
            changed |= step.changed
            diagnostics = check(copy, copied_paths)
            if number == max_passes - 1:
                converged = not any(applies(d, unsafe) for d in diagnostics)

        changes = {}
        for rel in sorted(changed):
            before = originals[rel].read_bytes()
            after = (copy / rel).read_bytes()
            if before != after:
                changes[rel] = (before, after)
    outcome = FixOutcome(initial, diagnostics, fixed, refused, changes, converged)
    if write:
        done: dict[Path, tuple[str, bytes]] = {}
        for rel, (before, after) in changes.items():
            target = write_target(real_root, rel)
            if isinstance(target, str):
                outcome.not_written[rel] = target
                continue
            if target in done:
                # Two names of one file (a link inside the root): written once.
                other, written = done[target]
                if written != after:
                    outcome.not_written[rel] = f"the same file as {other}, fixed differently"
                continue
            done[target] = (rel, after)
            if target.read_bytes() != before:
                outcome.not_written[rel] = "changed by someone else while stackaudit ran"
                continue
            try:
                write_atomic(target, after)
            except OSError as exc:
                outcome.not_written[rel] = f"cannot be written: {exc.strerror or exc}"
                continue
            outcome.written.append(rel)
    return outcome


def _relative(path: Path, root: Path) -> str:
    resolved = path.resolve() if not path.is_symlink() else path.absolute()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return "."


# -- reporting -------------------------------------------------------------------------------


def unified_diff(changes: dict[str, tuple[bytes, bytes]]) -> str:
    """The changes as a unified diff (``git apply`` reads it). Names are quoted as git
    quotes them; a line holding a control character other than a tab or its own line
    ending is shown with it escaped (that line no longer applies, but no terminal or CI
    log reading the diff interprets scanned bytes)."""
    from stackaudit.formatters.escape import diff_line, diff_path

    out = []
    for rel, (before, after) in sorted(changes.items()):
        old = _read_text(rel, before)
        new = _read_text(rel, after)
        old_text = old.text if isinstance(old, _Text) else before.decode("utf-8", "replace")
        new_text = new.text if isinstance(new, _Text) else after.decode("utf-8", "replace")
        old_lines, new_lines = _lines(old_text), _lines(new_text)
        headers = (diff_path(f"a/{rel}"), diff_path(f"b/{rel}"))
        for line in difflib.unified_diff(old_lines, new_lines, *headers):
            out.append(diff_line(line))
            if not line.endswith("\n"):
                out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    """Lines as ``diff`` and ``git apply`` count them: split after each ``\\n`` only (a
    form feed or a lone ``\\r`` stays inside its line)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def counts(diagnostics: Iterable[Diagnostic] | Counter[str]) -> str:
    """``SA501 (2), SA502 (1)``: findings per rule, in code order."""
    tally = (
        diagnostics if isinstance(diagnostics, Counter) else Counter(d.code for d in diagnostics)
    )
    return ", ".join(f"{code} ({count})" for code, count in sorted(tally.items()))


def summary(outcome: FixOutcome, *, unsafe: bool, dry_run: bool) -> list[str]:
    """Lines for standard error: what was (or would be) fixed, what remains. Names and
    reasons come from the scanned tree: the caller prints them through ``printable``."""
    lines = []
    files = len(outcome.changes)
    verb = "would fix" if dry_run else "fixed"
    if outcome.fixed:
        lines.append(
            f"{verb} {_plural(outcome.fixed_count, 'finding')} in {_plural(files, 'file')}: "
            f"{counts(outcome.fixed)}"
        )
    else:
        lines.append(f"{verb} nothing: no finding has an applicable fix")
    for rel, reason in sorted(outcome.not_written.items()):
        lines.append(f"not written: {rel}: {reason}")
    if not outcome.converged:
        lines.append(f"fixes still changed the files after {MAX_PASSES} passes; stopped")
    remaining = outcome.remaining
    if remaining:
        verb = "remains" if len(remaining) == 1 else "remain"
        lines.append(f"{_plural(len(remaining), 'finding')} {verb}: {counts(remaining)}")
    more = [d for d in remaining if applies(d, True) and not applies(d, unsafe)]
    if more:
        lines.append(
            f"{_plural(len(more), 'more fix', 'more fixes')} available with --unsafe-fixes"
        )
    for refusal in outcome.refused:
        span: Span = refusal.diagnostic.span
        lines.append(f"not fixed: {span} {refusal.diagnostic.code}: {refusal.reason}")
    return lines


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"
