"""One run: discover → extract → stack → rules → suppressions, deterministic whatever
the number of processes."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from msgspec import Struct, field

from stackaudit.cache import Cache
from stackaudit.config import Config
from stackaudit.config_tree import ConfigTree, Selection
from stackaudit.diagnostics import Diagnostic, Span, assign_fingerprints
from stackaudit.discovery import (
    Candidate,
    OpenCandidate,
    Skipped,
    Watch,
    discover,
    iter_candidates,
    opened,
    scan_root,
)
from stackaudit.facts.common import ParseProblem
from stackaudit.paths import walk_starts
from stackaudit.reading import NotRead, read_regular
from stackaudit.rules import all_rules
from stackaudit.rules.base import Rule, conditional_confidence
from stackaudit.source import SourceFile, decode
from stackaudit.suppress import Suppressed, Suppression, apply_suppressions, find_suppressions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from stackaudit.model.stack import Stack

# Files re-read to show findings in context were analysed under max-file-size already;
# this bound only stops a file swapped for a giant since from being read whole.
SOURCE_LIMIT = 256 * 1024 * 1024
# Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 48


class FileResult(Struct):
    rel: str
    kind: str
    facts: list[object] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    digest: str = ""


class RunResult(Struct):
    root: Path
    diagnostics: list[Diagnostic]
    suppressed: int
    skipped: list[Skipped]
    errors: list[str]
    files_scanned: int
    sources: dict[str, SourceFile]
    baselined: int = 0
    stale_baseline: list[str] = field(default_factory=list)
    # The findings suppressed in the source or absorbed by the baseline, for reports
    # that keep them marked (SARIF's `suppressions`).
    withheld: list[Suppressed] = field(default_factory=list)
    # Every secret in the files of ``sources``, found whatever the selection, the
    # per-file ignores, the suppressions or the baseline left out of the report:
    # outputs that quote source lines (the text report's context lines) mask them.
    redactions: list[Span] = field(default_factory=list)
    # The linked stack the rules saw, for pictures of it (the job summary): None when
    # the findings came from the cache, which keeps findings and never the stack.
    stack: Stack | None = None

    def source_line(self, path: str, line: int) -> str:
        source = self.sources.get(path)
        return source.line_text(line) if source else ""


def read_source(path: Path, rel: str, kind: str, data: bytes | None = None) -> SourceFile | str:
    """The decoded file, or the reason it is skipped."""
    if data is None:
        try:
            data = read_regular(path, SOURCE_LIMIT)
        except NotRead as exc:
            return exc.reason
    if b"\0" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "binary file (holds a NUL byte)"
    text, note = decode(data, python=kind == "python")
    return SourceFile(rel, kind, text, note)


def process_file(candidate: Candidate) -> FileResult:
    """Extract one file. Never raises: failures become problems or an error string."""
    result = FileResult(candidate.rel, candidate.kind)
    try:
        if isinstance(candidate, OpenCandidate):
            # An editor's text: already decoded, never read from the disk.
            result.digest = hashlib.sha256(candidate.text.encode("utf-8", "replace")).hexdigest()
            return _extract(result, SourceFile(candidate.rel, candidate.kind, candidate.text))
        try:
            # Bounded by what discovery measured (the file may have grown since) and
            # never blocking: it may have been replaced by a FIFO since, too.
            data = read_regular(candidate.path, 2 * candidate.size + 65536)
        except NotRead as exc:
            result.skipped = exc.reason
            return result
        result.digest = hashlib.sha256(data).hexdigest()
        source = read_source(Path(candidate.path), candidate.rel, candidate.kind, data)
        if isinstance(source, str):
            result.skipped = source
            return result
        return _extract(result, source)
    except RecursionError:
        result.problems.append(
            ParseProblem(Span(candidate.rel, 1, 1), "nesting too deep to analyse")
        )
    except Exception:
        result.error = f"{candidate.rel}: extractor failed:\n{_traceback()}"
    return result


def _extract(result: FileResult, source: SourceFile) -> FileResult:
    from stackaudit.extractors import extractor_for

    result.suppressions = find_suppressions(source.path, source.text, source.kind)
    extractor = extractor_for(source.kind)
    if extractor is None:
        return result
    extraction = extractor(source)
    result.facts = extraction.facts
    result.problems = extraction.problems
    result.skipped = extraction.skipped
    return result


Progress = Callable[[int, int], None]


class _Counted:
    """Candidates passed through while counted."""

    def __init__(self, candidates: Iterable[Candidate]) -> None:
        self.candidates = candidates
        self.count = 0

    def __iter__(self) -> Iterator[Candidate]:
        for candidate in self.candidates:
            self.count += 1
            yield candidate


def exit_with_parent(parent: int) -> None:
    """In each worker: exit as soon as the process that started it is gone. A parent
    killed outright (SIGKILL, an OOM kill, a CI step timing out) runs no clean-up, and
    workers blocked on the task queue would otherwise live on with the tree open."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _traceback() -> str:
    """The exception being handled, formatted (traceback is imported only on failure)."""
    import traceback

    return traceback.format_exc()


def _is_empty(result: FileResult) -> bool:
    return not (
        result.facts or result.problems or result.suppressions or result.skipped or result.error
    )


BATCH = 1024


def extract_all(
    candidates: Iterable[Candidate],
    jobs: int,
    progress: Progress | None = None,
    each: Callable[[Candidate, FileResult], None] | None = None,
) -> list[FileResult]:
    """Extract every candidate, over ``jobs`` processes when there are enough files.
    Candidates may stream in: they are taken in batches through one process pool, and
    only results that hold something are kept (most files of a big tree hold nothing,
    and memory must not grow with them); ``each`` sees every result. Results come back
    in the candidates' order, so output does not depend on ``jobs``.

    With a pool, the next batch is handed to the workers before the results of the
    current one are taken: the workers go on extracting while this process walks the
    tree for more candidates and unpacks results, instead of waiting at each batch."""
    total = len(candidates) if isinstance(candidates, list) else 0
    kept: list[FileResult] = []
    done = 0
    in_flight: list[tuple[list[Candidate], Iterable[FileResult]]] = []

    def take(batch: list[Candidate], outcomes: Iterable[FileResult]) -> None:
        nonlocal done
        for candidate, result in zip(batch, outcomes, strict=True):
            done += 1
            if each is not None:
                each(candidate, result)
            if not _is_empty(result):
                kept.append(result)
            if progress is not None and done % 64 == 0:
                progress(done, total)

    with contextlib.ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        iterator = iter(candidates)
        while batch := list(itertools.islice(iterator, BATCH)):
            if jobs > 1 and (pool is not None or len(batch) >= PARALLEL_THRESHOLD):
                if pool is None:
                    from concurrent.futures import ProcessPoolExecutor

                    from stackaudit.extractors import preload

                    preload(candidate.kind for candidate in batch)
                    pool = stack.enter_context(
                        ProcessPoolExecutor(
                            max_workers=jobs,
                            initializer=exit_with_parent,
                            initargs=(os.getpid(),),
                        )
                    )
                chunk = max(1, len(batch) // (jobs * 8))
                outcomes: Iterable[FileResult] = pool.map(process_file, batch, chunksize=chunk)
            else:
                outcomes = map(process_file, batch)
            in_flight.append((batch, outcomes))
            if len(in_flight) > 1:
                take(*in_flight.pop(0))
        for batch, outcomes in in_flight:
            take(batch, outcomes)
    return kept


def run(
    paths: list[Path],
    config: Config,
    selection: Selection,
    jobs: int = 1,
    root: Path | None = None,
    report_only: set[str] | None = None,
    cache: Cache | None = None,
    progress: Progress | None = None,
    watch: Watch | None = None,
    tree: ConfigTree | None = None,
    overlay: Mapping[str, str] | None = None,
    overlay_unseen: bool = False,
) -> RunResult:
    """Scan ``paths``; with ``report_only``, every file still informs the stack, but
    only findings with a location (primary or related) in one of those paths are
    reported: see ``touches``. ``tree`` holds the configurations nested below the
    root; without it, ``config`` and ``selection`` govern every file.

    ``overlay`` maps paths relative to the root to the text an editor holds for them
    (unsaved changes): those files are analysed with that text instead of what is on
    the disk, which is never written. The cache serves the other files only: it knows
    files by their stats on the disk, which say nothing of an editor's text. With
    ``overlay_unseen`` (standard input), an overlaid text is analysed even where the
    walk does not find its file."""
    root = root or scan_root(paths)
    if tree is None:
        tree = ConfigTree(root, config, selection=selection)
    absolute = walk_starts(paths)
    tree.prepare(absolute)
    excludes = [*config.exclude, *config.extend_exclude]
    run_key = ""
    index: _Index | None = None
    if cache is None:
        # Without a cache nothing needs the whole list: candidates stream from the walk
        # into extraction, and memory follows the files that hold something.
        skipped: list[Skipped] = []
        found = iter_candidates(
            absolute, root, excludes, config.max_file_size, skipped, watch, tree.enter
        )
        counted = _Counted(opened(found, overlay, unseen=overlay_unseen) if overlay else found)
        if progress is not None:
            shown = progress

            def progress(done: int, _: int) -> None:
                # Streaming, the total is what the walk has found so far.
                shown(done, counted.count)

        # The walk yields depth first; facts go to the stack in path order either way.
        results = sorted(extract_all(counted, jobs, progress), key=lambda r: r.rel)
        files_scanned = counted.count
    else:
        candidates, skipped = discover(
            absolute, root, excludes, config.max_file_size, watch, tree.enter
        )
        if overlay:
            candidates = sorted(
                opened(candidates, overlay, unseen=overlay_unseen), key=lambda c: c.rel
            )
        files_scanned = len(candidates)
        index = _Index(cache)
        known = [index.known(c) for c in candidates]
        if all(k is not None for k in known):
            # Every file unchanged: the run-level entry needs no file entry loaded.
            run_key = _run_key(cache, tree, candidates, [k[0] for k in known if k])
            cached = cache.get(run_key)
            if isinstance(cached, tuple) and len(cached) == 4:
                cached_diagnostics, cached_suppressed, skipped_cached, secrets = cached
                skipped = skipped + skipped_cached
                return _finish(
                    root,
                    cached_diagnostics,
                    cached_suppressed,
                    skipped,
                    [],
                    files_scanned,
                    report_only,
                    not_analysed=_not_analysed(skipped, tree),
                    secrets=secrets,
                )
        results = _extract_with_cache(candidates, jobs, cache, index, progress)
        digests = [index.known(c) for c in candidates]
        if all(d is not None for d in digests):
            run_key = _run_key(cache, tree, candidates, [d[0] for d in digests if d])

    from stackaudit.model.stack import Stack

    errors: list[str] = []
    facts: list[object] = []
    suppressions: list[Suppression] = []
    problems: list[ParseProblem] = []
    for result in results:
        facts.extend(result.facts)
        suppressions.extend(result.suppressions)
        problems.extend(result.problems)
        if result.skipped:
            skipped.append(Skipped(result.rel, result.skipped, analysable=True))
        if result.error:
            errors.append(result.error)

    from stackaudit.extractors.python_link import link_python_facts

    # Values one Python module imports from another are resolved across the project.
    try:
        facts = link_python_facts(facts)
    except Exception:
        errors.append(f"resolving Python constants failed:\n{_traceback()}")
    stack = Stack(facts, config)
    # Problems only the whole picture reveals (an nginx include cycle) are SA001 too.
    try:
        problems.extend(stack.problems())
    except Exception:
        errors.append(f"linking the stack failed:\n{_traceback()}")
    rules = [rule() for rule in all_rules() if tree.any_enabled(rule.code)]
    diagnostics: list[Diagnostic] = []
    for rule in rules:
        try:
            diagnostics.extend(rule.check(stack))
        except Exception:
            errors.append(f"rule {rule.code} ({rule.name}) failed:\n{_traceback()}")
    secrets = _secret_spans(stack, diagnostics, rules, errors)
    diagnostics = conditional_confidence(diagnostics, stack.serve_commands)
    diagnostics.extend(_parse_errors(problems, rules))
    diagnostics = tree.keep(diagnostics)
    diagnostics, suppressed = apply_suppressions(diagnostics, suppressions)
    diagnostics.extend(tree.keep(_unused_suppressions(suppressions, tree, rules)))

    withheld = [s.diagnostic for s in suppressed]
    sources = _sources_for(diagnostics + withheld, root, overlay)
    line_text = {
        (d.span.path, d.span.line): sources[d.span.path].line_text(d.span.line)
        for d in (*diagnostics, *withheld)
        if d.span.path in sources
    }
    diagnostics = sorted(
        assign_fingerprints(_dedupe(diagnostics, rules), line_text), key=lambda d: d.sort_key
    )
    suppressed = _fingerprinted(suppressed, line_text)
    file_skips = [Skipped(r.rel, r.skipped, analysable=True) for r in results if r.skipped]
    if cache is not None and run_key and not errors:
        cache.put(run_key, (diagnostics, suppressed, file_skips, secrets))
        cache.prune()
    finished = _finish(
        root,
        diagnostics,
        suppressed,
        skipped,
        errors,
        files_scanned,
        report_only,
        sources,
        _not_analysed(skipped, tree),
        secrets,
    )
    finished.stack = stack
    return finished


def _fingerprinted(
    suppressed: list[Suppressed], line_text: dict[tuple[str, int], str]
) -> list[Suppressed]:
    """Suppressed findings keep the fingerprint they would have if reported, so an
    alert a SARIF consumer knows is matched when it becomes suppressed."""
    ordered = sorted(suppressed, key=lambda s: s.diagnostic.sort_key)
    marked = assign_fingerprints([s.diagnostic for s in ordered], line_text)
    return [
        Suppressed(diagnostic, s.kind, s.justification)
        for diagnostic, s in zip(marked, ordered, strict=True)
    ]


def _not_analysed(skipped: list[Skipped], tree: ConfigTree) -> list[Diagnostic]:
    """SA003 for every file of a kind stackaudit reads that it left unread. Computed
    apart from the cached findings: discovery's skips are seen afresh on every run."""
    if not tree.any_enabled("SA003"):
        return []
    from stackaudit.rules.sa003_file_not_analysed import FileNotAnalysed

    rule = FileNotAnalysed()
    found = [
        rule.report(
            Span(entry.rel, 1, 1),
            f"not analysed: {entry.reason}; findings in it are missing from this report",
            help="do what the reason says (raise `max-file-size`, fix the file, run a newer "
            'Python), or accept the gap with `per-file-ignores = { "<path>" = ["SA003"] }`',
        )
        for entry in sorted(set(skipped), key=lambda s: s.rel)
        if entry.analysable
    ]
    return assign_fingerprints(tree.keep(found), {})


def _finish(
    root: Path,
    diagnostics: list[Diagnostic],
    suppressed: list[Suppressed],
    skipped: list[Skipped],
    errors: list[str],
    files: int,
    report_only: set[str] | None,
    sources: dict[str, SourceFile] | None = None,
    not_analysed: list[Diagnostic] | None = None,
    secrets: list[Span] | None = None,
) -> RunResult:
    if not_analysed:
        diagnostics = sorted(diagnostics + not_analysed, key=lambda d: d.sort_key)
    if report_only is not None:
        diagnostics = [d for d in diagnostics if touches(d, report_only)]
        suppressed = [s for s in suppressed if touches(s.diagnostic, report_only)]
    if sources is None:
        sources = _sources_for(diagnostics + [s.diagnostic for s in suppressed], root)
    return RunResult(
        root=root,
        diagnostics=diagnostics,
        suppressed=len(suppressed),
        withheld=suppressed,
        skipped=sorted(set(skipped), key=lambda s: s.rel),
        errors=errors,
        files_scanned=files,
        sources=sources,
        redactions=_redactions(secrets or [], sources),
    )


def _secret_spans(
    stack: Stack, diagnostics: list[Diagnostic], rules: list[Rule], errors: list[str]
) -> list[Span]:
    """The spans of every secret the secret rules (``span_is_secret``) find, run
    whether selected or not: a finding of another rule shows the lines around it, and
    a secret there must be masked even when ``--select``, a per-file ignore, a
    suppression or the baseline keeps its own finding out of the report."""
    secret_codes = {rule.code for rule in all_rules() if rule.span_is_secret}
    found = [d.span for d in diagnostics if d.code in secret_codes]
    ran = {rule.code for rule in rules}
    for rule_class in all_rules():
        if rule_class.code not in secret_codes or rule_class.code in ran:
            continue
        rule = rule_class()
        try:
            found.extend(d.span for d in rule.check(stack))
        except Exception:
            errors.append(f"rule {rule.code} ({rule.name}) failed:\n{_traceback()}")
    return found


def _redactions(secrets: list[Span], sources: Mapping[str, SourceFile]) -> list[Span]:
    """The secrets in the files whose lines may be quoted: the secret rules' spans and
    the body of every PEM private key block (RFC 7468), which no rule reports (a key
    in a comment, a heredoc, a multi-line value) but no report may quote either."""
    kept = {span for span in secrets if span.path in sources}
    for source in sources.values():
        kept.update(_private_key_blocks(source))
    return sorted(kept)


_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]{0,40}PRIVATE KEY)-----")


def _private_key_blocks(source: SourceFile) -> Iterator[Span]:
    """What lies between each ``-----BEGIN ... PRIVATE KEY-----`` and its ``END``
    line (to the end of the file when the END is missing). One pass over the text."""
    position = 0
    while match := _PEM_BEGIN.search(source.text, position):
        end_marker = f"-----END {match.group(1)}-----"
        end = source.text.find(end_marker, match.end())
        if end < 0:
            end = len(source.text)
        # The END line's own prefix (a comment sign, indentation) is not the key.
        body_end = source.text.rfind("\n", match.end(), end)
        yield source.span(match.end(), body_end if body_end >= 0 else end)
        position = end + len(end_marker)


def touches(diagnostic: Diagnostic, paths: set[str]) -> bool:
    """Whether a change to ``paths`` bears on this finding. A cross-file finding is
    written where the fix goes (SA601 on the compose port) but caused as much by its
    related locations (the nginx route that now reaches that port): a commit adding
    the route must see it, or the pull request goes green on what it just exposed."""
    return diagnostic.span.path in paths or any(r.span.path in paths for r in diagnostic.related)


def _run_key(
    cache: Cache, tree: ConfigTree, candidates: list[Candidate], digests: list[str]
) -> str:
    return cache.key(
        "run",
        tree.key(),
        *(f"{c.rel}\0{c.kind}\0{d}" for c, d in zip(candidates, digests, strict=True)),
    )


class _Index:
    """What the cache knows of each file: size, modification time, inode change time
    and inode number, content hash, and whether its extraction holds anything (most
    files of a big tree hold nothing, and those get no entry of their own)."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.key = cache.key("index")
        loaded = cache.get(self.key)
        self.entries: dict[str, tuple[int, int, int, int, str, bool]] = (
            loaded if isinstance(loaded, dict) else {}
        )
        self.changed = False

    def known(self, candidate: Candidate) -> tuple[str, bool] | None:
        if isinstance(candidate, OpenCandidate):
            return None  # an editor's text: the disk's stats do not describe it
        entry = self.entries.get(candidate.rel)
        if entry and entry[:4] == _stats(candidate):
            return entry[4], entry[5]
        return None

    def record(self, candidate: Candidate, digest: str, has_entry: bool) -> None:
        if isinstance(candidate, OpenCandidate):
            return
        self.entries[candidate.rel] = (*_stats(candidate), digest, has_entry)
        self.changed = True

    def save(self, candidates: list[Candidate]) -> None:
        live = {c.rel for c in candidates}
        if self.changed or len(live) != len(self.entries):
            self.cache.put(self.key, {r: e for r, e in self.entries.items() if r in live})


def _stats(candidate: Candidate) -> tuple[int, int, int, int]:
    return (candidate.size, candidate.mtime_ns, candidate.ctime_ns, candidate.inode)


def _file_key(cache: Cache, candidate: Candidate, digest: str) -> str:
    # Facts carry their path in every span: the path is part of the key.
    return cache.key("file", candidate.rel, candidate.kind, digest)


def _extract_with_cache(
    candidates: list[Candidate],
    jobs: int,
    cache: Cache,
    index: _Index,
    progress: Progress | None = None,
) -> list[FileResult]:
    """Extraction results that hold something, reusing cached ones for files whose stats
    (hence, with the index, content hash) are unchanged."""
    results: list[FileResult] = []
    missing: list[Candidate] = []
    for candidate in candidates:
        known = index.known(candidate)
        if known is not None:
            digest, has_entry = known
            if not has_entry:
                continue
            hit = cache.get(_file_key(cache, candidate, digest))
            if isinstance(hit, FileResult):
                results.append(hit)
                continue
        missing.append(candidate)

    def record(candidate: Candidate, result: FileResult) -> None:
        # An editor's text changes with every keystroke: not worth an entry.
        if result.digest and not result.error and not isinstance(candidate, OpenCandidate):
            empty = _is_empty(result)
            index.record(candidate, result.digest, not empty)
            if not empty:
                cache.put(_file_key(cache, candidate, result.digest), result)

    results.extend(extract_all(missing, jobs, progress, record))
    index.save(candidates)
    order = {c.rel: position for position, c in enumerate(candidates)}
    return sorted(results, key=lambda r: order[r.rel])


def _dedupe(diagnostics: Iterable[Diagnostic], rules: list[Rule]) -> list[Diagnostic]:
    """One finding per rule and place: a fact seen through two carriers (ENTRYPOINT +
    CMD and a RUN of the same words) or shared by several commands (one environment
    entry, one proxy route in front of two servers) is reported once, by the first
    report in rule order, so rules need not keep their own record of what they said."""
    by_message = {rule.code for rule in rules if not rule.one_finding_per_place}
    seen: dict[tuple[str, Span, str], Diagnostic] = {}
    for diagnostic in diagnostics:
        said = diagnostic.message if diagnostic.code in by_message else ""
        seen.setdefault((diagnostic.code, diagnostic.span, said), diagnostic)
    return list(seen.values())


def _rule(rules: list[Rule], code: str) -> Rule | None:
    return next((rule for rule in rules if rule.code == code), None)


def _parse_errors(problems: list[ParseProblem], rules: list[Rule]) -> list[Diagnostic]:
    rule = _rule(rules, "SA001")
    if rule is None:
        return []
    return [
        rule.report(
            p.span,
            f"{p.message}; findings for this file may be incomplete",
            help="fix the syntax, or exclude the file if it is not meant to be parsed",
        )
        for p in problems
    ]


def _unused_suppressions(
    suppressions: list[Suppression], tree: ConfigTree, rules: list[Rule]
) -> list[Diagnostic]:
    rule = _rule(rules, "SA002")
    if rule is None:
        return []
    known = [r.code for r in all_rules()]
    found = []
    for suppression in suppressions:
        selection = tree.scope_for(suppression.span.path).selection
        if suppression.bare:
            found.append(
                rule.report(
                    suppression.span,
                    "suppression names no rule code, so it suppresses nothing",
                    help="name the codes it is for: `# stackaudit: ignore[SA101]`",
                )
            )
        for code in suppression.codes:
            matches = [k for k in known if k.startswith(code)]
            if not matches:
                found.append(
                    rule.report(
                        suppression.span,
                        f"unknown rule code `{code}` in suppression",
                        help="use a code listed by `stackaudit rules`",
                    )
                )
            elif code not in suppression.used and any(selection.enabled(k) for k in matches):
                found.append(
                    rule.report(
                        suppression.span,
                        f"suppression of `{code}` matches no finding",
                        help="remove the unused code from the comment",
                    )
                )
    return found


def _sources_for(
    diagnostics: list[Diagnostic], root: Path, overlay: Mapping[str, str] | None = None
) -> dict[str, SourceFile]:
    sources: dict[str, SourceFile] = {}
    for path in sorted(
        {d.span.path for d in diagnostics} | {r.span.path for d in diagnostics for r in d.related}
    ):
        if overlay and path in overlay:
            sources[path] = SourceFile(path, "", overlay[path])
            continue
        source = read_source(root / path, path, "")
        if isinstance(source, SourceFile):
            sources[path] = source
    return sources
