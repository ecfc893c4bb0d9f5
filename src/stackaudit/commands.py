"""The ``stackaudit`` command line: its parser and subcommands (``stackaudit.cli`` hands
over every run it cannot replay).

Start-up stays cheap: parsers, rich and the rules are imported only by the subcommand
that needs them, so a pre-commit run over one file pays for what it uses."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from stackaudit import __version__

# typing.TYPE_CHECKING without importing typing: this module is on every run's path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from stackaudit.cache import Cache
    from stackaudit.config import Config
    from stackaudit.config_tree import ConfigTree
    from stackaudit.diagnostics import Diagnostic, Severity
    from stackaudit.engine import RunResult
    from stackaudit.fix import FixOutcome
    from stackaudit.snapshot import Snapshot

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
FORMATS = ("text", "json", "sarif", "github", "gitlab", "junit")


class UsageError(Exception):
    pass


class ToolFailure(Exception):
    """stackaudit could not do what it was asked (an unreadable root, say): exit 3,
    never a pass."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"stackaudit: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _codes(value: str) -> list[str]:
    return [code.strip() for code in value.split(",") if code.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stackaudit",
        description="Audit the deployment of a Python web stack: serve commands, app code, "
        "nginx, compose and Kubernetes, seen as one model.",
    )
    parser.add_argument("--version", action="version", version=f"stackaudit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="scan paths and report findings")
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[],
        metavar="PATH",
        help="files or directories to check (default: the current directory); `-` reads "
        "standard input, with --stdin-filename",
    )
    check.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="report format (default: text; github: workflow annotations; gitlab: code quality)",
    )
    check.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="FILE",
        help="write the report to FILE instead of standard output",
    )
    check.add_argument(
        "--select",
        type=_codes,
        metavar="CODES",
        help="only these codes or prefixes (comma-separated), e.g. SA1,SA201",
    )
    check.add_argument("--ignore", type=_codes, metavar="CODES", help="codes or prefixes to skip")
    check.add_argument(
        "--extend-select",
        type=_codes,
        metavar="CODES",
        help="codes or prefixes to add to the selection",
    )
    check.add_argument(
        "--fail-on",
        choices=("error", "warning", "note"),
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    check.add_argument(
        "--min-confidence",
        choices=("high", "medium", "low"),
        help="leave out findings less sure than this (default: low, every finding)",
    )
    check.add_argument(
        "--persona",
        choices=("regular", "pedantic", "auditor"),
        help="regular (default): leave out notes of low confidence; pedantic: every finding "
        "at --min-confidence or above; auditor: every finding, --min-confidence ignored",
    )
    check.add_argument("--config", type=Path, metavar="FILE", help="configuration file to use")
    check.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when there are findings"
    )
    check.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print findings only: no source excerpts, no summary",
    )
    check.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (default: auto, on a terminal only; NO_COLOR and "
        "FORCE_COLOR are honoured)",
    )
    check.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=0,
        metavar="N",
        help="worker processes (default: number of cores)",
    )
    check.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    check.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where to keep the cache (default: in the user's cache directory, "
        "$XDG_CACHE_HOME/stackaudit/, keyed by the root)",
    )
    check.add_argument(
        "--sarif-category",
        default="",
        metavar="NAME",
        help="SARIF automationDetails category (stackaudit/NAME/)",
    )
    check.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="do not report findings recorded in this baseline",
    )
    check.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="record the current findings as the baseline",
    )
    check.add_argument(
        "--diff-base",
        metavar="REV",
        help="report only findings with a location (primary or related) in a file changed "
        "since the git revision REV",
    )
    check.add_argument(
        "--fix", action="store_true", help="apply the safe fixes, then report what remains"
    )
    check.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix or --diff, also apply the unsafe fixes (values stackaudit infers)",
    )
    check.add_argument(
        "--diff", action="store_true", help="print the fixes as a unified diff; change nothing"
    )
    check.add_argument(
        "--statistics",
        action="store_true",
        help="print how many findings each rule has (most first) instead of the findings",
    )
    check.add_argument(
        "--stdin-filename",
        metavar="PATH",
        help="read the file's text from standard input (PATH `-`, or no PATH), as the file "
        "PATH (its kind, its place in the stack); the tree around it gives the context",
    )
    check.add_argument(
        "--show-settings",
        action="store_true",
        help="print the configuration files and the settings that apply to the first PATH, "
        "and exit",
    )
    check.add_argument(
        "--show-files",
        action="store_true",
        help="list the files a check would read (kind, tab, path) and exit without analysing",
    )

    graph = sub.add_parser(
        "graph", help="show how proxy routes, services and servers are linked, with evidence"
    )
    graph.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[],
        metavar="PATH",
        help="files or directories to read (default: the current directory)",
    )
    graph.add_argument(
        "--format",
        choices=("text", "json", "mermaid"),
        default="text",
        help="text (default), json, or mermaid (a flowchart, as in the GitHub job summary)",
    )
    graph.add_argument("--config", type=Path, metavar="FILE", help="configuration file to use")
    graph.add_argument(
        "--no-findings",
        action="store_true",
        help="draw the stack only, without running the rules to mark findings on it",
    )

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or json"
    )
    explain = sub.add_parser("explain", help="show a rule's documentation")
    explain.add_argument("code", metavar="CODE", help="a rule's code (SA101) or name")
    server = sub.add_parser(
        "server", help="run the Language Server (diagnostics, quick fixes, hovers) for editors"
    )
    server.add_argument(
        "--stdio", action="store_true", help="talk over standard input and output (the default)"
    )
    return parser


def main(arguments: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(arguments)
    try:
        if args.command == "check":
            return _check(args, list(arguments))
        if args.command == "rules":
            return _rules(args)
        if args.command == "graph":
            return _graph(args)
        if args.command == "explain":
            return _explain(args.code)
        if args.command == "server":
            from stackaudit.lsp.server import serve

            return serve()
    except UsageError as exc:
        from stackaudit.formatters.escape import printable

        print(f"stackaudit: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except ToolFailure as exc:
        print(f"stackaudit: error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A nested configuration is read when the walk reaches it, in the middle of the
        # run: one that cannot work is still a usage error.
        from stackaudit.config import ConfigError
        from stackaudit.formatters.escape import printable

        if not isinstance(exc, ConfigError):
            raise
        print(f"stackaudit: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    parser.print_help()
    return EXIT_USAGE


def _check(args: argparse.Namespace, arguments: list[str]) -> int:
    paths: list[Path] = args.paths or [Path()]
    stdin_name = _stdin_name(args, paths)
    if stdin_name is not None:
        paths = [stdin_name[0]]
    _check_paths(paths)
    if stdin_name is None and _nothing_to_read(args, paths) and not args.show_files:
        # A pre-commit run on files no extractor reads: answer before importing the
        # parsers, the rules and rich.
        if not args.quiet:
            sys.stdout.write("No findings in 0 files.\n")
        return EXIT_OK
    from stackaudit.config import ConfigError, parse_severity
    from stackaudit.discovery import scan_root

    root = scan_root(paths)
    tree = _config_tree(args, root)
    config = tree.top.config
    config_path = config.path
    try:
        fail_on = parse_severity(args.fail_on, "--fail-on") if args.fail_on else config.fail_on
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    if args.jobs < 0:
        raise UsageError("--jobs must be 0 (one per core) or more")
    for destination in (args.output, args.write_baseline):
        if destination is not None:
            _destination(destination)
    jobs = args.jobs or os.cpu_count() or 1
    if args.show_settings:
        return _show_settings(paths, tree)
    if args.show_files:
        return _show_files(paths, root, tree)

    overlay: dict[str, str] | None = None
    if stdin_name is not None:
        overlay = {stdin_name[1]: _read_stdin(config.max_file_size, stdin_name[1])}
    cache = _cache(args, root, config_path)
    # A replayed report knows nothing of standard input.
    snapshot = _snapshot(args, arguments, root) if cache and overlay is None else None
    from stackaudit.engine import run
    from stackaudit.progress import progress_bar

    scan_paths, report_only = _scope(paths, root, args.diff_base)
    if overlay is not None and stdin_name is not None:
        # The whole root informs the stack; findings touching the named file count.
        report_only = set(overlay)
        scan_paths = scan_paths if stdin_name[2] else []
    outcome: FixOutcome | None = None
    if (args.fix or args.diff) and (report_only is None or report_only):
        outcome = _fix(args, root, scan_paths, report_only, tree, jobs)
        if args.diff:
            return _show_diff(args, outcome, fail_on)
    watch: list[tuple[str, int, int, int, int]] = []
    if report_only is not None and not report_only:
        result = _empty_result(root)
    else:
        with progress_bar(args.quiet) as progress:
            result = run(
                scan_paths,
                config,
                tree.top.selection,
                jobs=jobs,
                root=root,
                report_only=report_only,
                cache=cache,
                progress=progress,
                watch=watch if snapshot is not None else None,
                tree=tree,
                overlay=overlay,
                overlay_unseen=True,
            )
    for note in tree.notes:
        print(f"stackaudit: note: {_shown(note)}", file=sys.stderr)
    hidden = _confidence_filter(args, config, result)
    _baseline(args, result)

    failing = [d for d in result.diagnostics if d.severity.at_least(fail_on)]
    if result.errors:
        code = EXIT_INTERNAL
    else:
        code = EXIT_FINDINGS if failing and not args.exit_zero else EXIT_OK

    from stackaudit.formatters import render

    if args.format in ("json", "sarif") and any(d.codemods for d in result.diagnostics):
        # These reports list each fix's edits: the Python ones are built now (libcst).
        from stackaudit.fix import with_python_edits

        sources = result.sources
        result.diagnostics = with_python_edits(
            result.diagnostics, lambda path: sources[path].text if path in sources else None
        )
    options: dict[str, object] = {}
    if args.format == "text":
        options = {"width": _terminal_width(args), "hidden": hidden}
    if args.format == "sarif":
        from stackaudit.rules import all_rules

        options = {
            "category": args.sarif_category,
            "exit_code": code,
            "selected": [r.code for r in all_rules() if tree.any_enabled(r.code)],
        }
    if args.statistics:
        from stackaudit.formatters.text import statistics

        output = statistics(result)
    else:
        output = render(args.format, result, color=_color(args), quiet=args.quiet, **options)
    _emit(args, output)
    _job_summary(result, scan_paths, root, tree, jobs)
    if snapshot is not None and watch and not result.errors:
        destination = str(args.output.resolve()) if args.output else ""
        snapshot.save(watch, output, destination, code)
    from stackaudit.formatters.escape import printable

    for error in result.errors:
        print(f"stackaudit: internal error: {printable(str(error))}", file=sys.stderr)
    for stale in result.stale_baseline:
        print(f"stackaudit: stale baseline entry: {printable(stale)}", file=sys.stderr)
    if outcome is not None:
        from stackaudit.fix import summary

        outcome.remaining = result.diagnostics
        for line in summary(outcome, unsafe=args.unsafe_fixes, dry_run=False):
            print(f"stackaudit: {printable(line)}", file=sys.stderr)
    return code


def _config_tree(args: argparse.Namespace, root: Path) -> ConfigTree:
    """The configurations of this run: ``--config`` alone, or the file found from the
    scanned root upward, then those nested below it as the walk finds them. Any that
    cannot be read as a valid configuration is a usage error: never skipped in favour
    of another one or the defaults."""
    from stackaudit.config import ConfigError, find_config, load_config
    from stackaudit.config_tree import CommandLineCodes, ConfigTree

    try:
        notes: list[str] = []
        if args.config and not args.config.is_file():
            raise UsageError(f"configuration file not found: {args.config}")
        config_path = args.config if args.config else find_config(root, notes)
        for note in notes:
            print(f"stackaudit: note: {_shown(note)}", file=sys.stderr)
        config = load_config(config_path, within=(os.path.realpath(root),))
        cli = CommandLineCodes(
            select=getattr(args, "select", None),
            ignore=getattr(args, "ignore", None) or [],
            extend_select=getattr(args, "extend_select", None) or [],
        )
        # As in Ruff, a configuration named on the command line governs every file.
        return ConfigTree(root, config, cli, nested=not args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def _show_settings(paths: list[Path], tree: ConfigTree) -> int:
    """--show-settings: the configuration files governing the first path and every
    setting in force there, as TOML, then exit."""
    from stackaudit.config_tree import describe

    tree.prepare([p.resolve() for p in paths])
    target = paths[0].resolve()
    try:
        rel = target.relative_to(tree.root).as_posix()
    except ValueError:
        rel = ""
    if rel == ".":
        rel = ""
    elif target.is_dir():
        rel += "/"
    sys.stdout.write(describe(tree, rel))
    return EXIT_OK


def _show_files(paths: list[Path], root: Path, tree: ConfigTree) -> int:
    """--show-files: the files the same check would read, in path order, as
    ``KIND<TAB>PATH`` (the path as the report writes it, relative to the root), so a
    benchmark or a puzzled user can compare it with what another tool reads."""
    from stackaudit.discovery import discover
    from stackaudit.formatters.escape import printable
    from stackaudit.paths import walk_starts

    scan_paths, _ = _scope(paths, root, None)
    absolute = walk_starts(scan_paths)
    config = tree.top.config
    tree.prepare(absolute)
    candidates, _ = discover(
        absolute, root, tree.top.excludes, config.max_file_size, nested=tree.enter
    )
    sys.stdout.write("".join(f"{c.kind}\t{printable(c.rel)}\n" for c in candidates))
    return EXIT_OK


def _stdin_name(args: argparse.Namespace, paths: list[Path]) -> tuple[Path, str, bool] | None:
    """For ``check - --stdin-filename PATH`` (an editor sending its buffer): the root,
    PATH relative to it, and whether the tree around it is scanned for context. That
    tree is the working directory, when PATH lies under it; elsewhere PATH's directory
    is the root but the text is checked alone (`--stdin-filename /x.py` must not walk
    the whole file system). None when standard input is not read."""
    if args.stdin_filename is None and Path("-") not in paths:
        return None
    if args.stdin_filename is not None and paths == [Path()] and not args.paths:
        paths = [Path("-")]  # no PATH: --stdin-filename alone names standard input's text
    if paths != [Path("-")]:
        raise UsageError(
            "standard input is checked alone: give `-` as the only PATH (or no PATH) with "
            "--stdin-filename, e.g. `stackaudit check - --stdin-filename app.py < app.py`"
        )
    if args.stdin_filename is None:
        raise UsageError("reading standard input needs --stdin-filename PATH (its kind and place)")
    if args.fix or args.diff or args.diff_base or args.write_baseline:
        raise UsageError("--fix, --diff, --diff-base and --write-baseline read files, not stdin")
    here = Path.cwd().resolve()
    named = Path(os.path.normpath(here / args.stdin_filename))
    if named.is_dir():
        # The walk would find the directory's files and never the text: a clean report
        # of a buffer that was not analysed.
        raise UsageError(f"--stdin-filename names a directory: {_shown(named)}")
    inside = named.is_relative_to(here)
    root = here if inside else named.parent
    if not root.is_dir():
        raise UsageError(f"--stdin-filename: no such directory: {_shown(root)}")
    return root, named.relative_to(root).as_posix(), inside


def _read_stdin(limit: int, rel: str) -> str:
    """Standard input as text, bounded like any file (``max-file-size``)."""
    from stackaudit.source import decode

    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"standard input is larger than max-file-size ({limit:,} bytes)")
    if b"\0" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError("standard input is binary (holds a NUL byte)")
    return decode(data, python=rel.endswith((".py", ".pyi")))[0]


def _check_paths(paths: list[Path]) -> None:
    """Every path named can be read: a missing one is a usage error; a directory (the
    root above all) that cannot be listed means nothing under it would be analysed, a
    failure rather than a clean report."""
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"no such file or directory: {_shown(path)}")
        try:
            if stat.S_ISDIR(path.stat().st_mode):
                with os.scandir(path) as entries:
                    for _ in entries:
                        break
        except OSError as exc:
            raise ToolFailure(f"cannot read {_shown(path)}: {exc.strerror or exc}") from exc


def _shown(text: Path | str) -> str:
    from stackaudit.formatters.escape import printable

    return printable(str(text))


def _fix(
    args: argparse.Namespace,
    root: Path,
    scan_paths: list[Path],
    report_only: set[str] | None,
    tree: ConfigTree,
    jobs: int,
) -> FixOutcome:
    """--fix and --diff: fix passes on a copy of the scanned files; with --fix the
    result is then written back into the tree."""
    from stackaudit.baseline import apply_baseline, read_baseline
    from stackaudit.config import ConfigError
    from stackaudit.discovery import discover
    from stackaudit.engine import run
    from stackaudit.fix import fix_tree
    from stackaudit.paths import walk_starts

    try:
        previous = read_baseline(args.baseline) if args.baseline else []
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    absolute = walk_starts(scan_paths)
    config = tree.top.config
    tree.prepare(absolute)
    candidates, _ = discover(
        absolute, root, tree.top.excludes, config.max_file_size, nested=tree.enter
    )

    shows = _shown_by_persona(args, config)

    def check(copy_root: Path, copy_paths: list[Path]) -> list[Diagnostic]:
        # The copy is governed by the configurations found in the tree itself.
        found = run(
            copy_paths,
            config,
            tree.top.selection,
            jobs=jobs,
            root=copy_root,
            report_only=report_only,
            tree=tree,
        ).diagnostics
        # What the persona hides is not reported, so not fixed either; nor what the
        # baseline accepts.
        found = [d for d in found if shows(d)]
        return apply_baseline(found, previous)[0] if previous else found

    try:
        return fix_tree(
            root,
            scan_paths,
            [c.rel for c in candidates],
            check,
            unsafe=args.unsafe_fixes,
            write=not args.diff,
        )
    except OSError as exc:
        raise UsageError(f"cannot apply fixes: {exc.strerror or exc}") from exc


def _show_diff(args: argparse.Namespace, outcome: FixOutcome, fail_on: Severity) -> int:
    """--diff: the fixes as a unified diff on standard output; the exit code is the
    check's."""
    from stackaudit.fix import summary, unified_diff
    from stackaudit.formatters.escape import printable

    text = unified_diff(outcome.changes)
    if args.output:
        _write_file(args.output, text)
    else:
        sys.stdout.write(text)
    for line in summary(outcome, unsafe=args.unsafe_fixes, dry_run=True):
        print(f"stackaudit: {printable(line)}", file=sys.stderr)
    failing = [d for d in outcome.initial if d.severity.at_least(fail_on)]
    return EXIT_FINDINGS if failing and not args.exit_zero else EXIT_OK


def _cache(args: argparse.Namespace, root: Path, config_path: Path | None) -> Cache | None:
    """The cache of this run: in the user's cache directory unless ``--cache-dir`` says
    otherwise. None with ``--no-cache``, or (with a warning) when the directory is not
    safe to use; a directory that would hide or hold scanned files is a usage error."""
    if args.no_cache:
        return None
    from stackaudit.cache import Cache, default_directory, misplaced

    # Not resolved: a cache directory that is a link must be seen as one, and refused.
    directory = str(args.cache_dir.absolute()) if args.cache_dir else default_directory(str(root))
    problem = misplaced(directory, str(root))
    if problem and args.cache_dir:
        raise UsageError(f"--cache-dir {args.cache_dir}: {problem}")
    cache = Cache(directory, str(config_path or ""), root=root)
    problem = problem or cache.problem
    if problem:
        print(f"stackaudit: warning: cache disabled: {problem}", file=sys.stderr)
        return None
    return cache if cache.enabled else None


def _snapshot(args: argparse.Namespace, arguments: list[str], root: Path) -> Snapshot | None:
    """Where to keep this run's report for an identical re-run, when it can be replayed
    and the replay's reading of the command line (which does not parse it) agrees with
    this one: same cache directory, same configuration file, a scan rooted here."""
    if not _replayable(args) or root != Path.cwd().resolve():
        return None
    from stackaudit.snapshot import Snapshot, option_value

    written = option_value(arguments, "--cache-dir")
    if (Path(written).absolute() if written else None) != (
        args.cache_dir.absolute() if args.cache_dir else None
    ):
        return None
    config = option_value(arguments, "--config")
    if (Path(config).resolve() if config else None) != (
        args.config.resolve() if args.config else None
    ):
        return None
    return Snapshot(arguments, create=True)


def _replayable(args: argparse.Namespace) -> bool:
    """A report that can be replayed from the last run: no fixing, no git or baseline
    input, and no side effect besides the report (such as the GitHub job summary)."""
    return not (
        args.fix
        or args.diff
        or args.diff_base
        or args.baseline
        or args.write_baseline
        or _summary_destination()
    )


def _summary_destination() -> str:
    """Where GitHub Actions wants this step's job summary ("" outside Actions)."""
    return os.environ.get("GITHUB_STEP_SUMMARY", "")


def _job_summary(
    result: RunResult, scan_paths: list[Path], root: Path, tree: ConfigTree, jobs: int
) -> None:
    """Append the job summary when GitHub Actions asks for one, whatever the format.
    A summary that cannot be written is a warning: the report itself was made."""
    destination = _summary_destination()
    if not destination:
        return
    from stackaudit.formatters.escape import printable
    from stackaudit.formatters.github import blob_url, step_summary
    from stackaudit.writing import UnsafeDestination, append_to_regular_file

    text = step_summary(
        result, _stack_diagram(result, scan_paths, root, tree, jobs), blob_url(os.environ, root)
    )
    try:
        append_to_regular_file(destination, text)
    except (UnsafeDestination, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"stackaudit: warning: job summary not written: {printable(reason)}",
            file=sys.stderr,
        )


def _stack_diagram(
    result: RunResult, scan_paths: list[Path], root: Path, tree: ConfigTree, jobs: int
) -> str | None:
    """The stack picture for the summary, findings marked: the run's own stack, or,
    when the findings came from the cache (which keeps no stack), the files read again.
    A failure here costs the picture, not the summary."""
    from stackaudit.formatters.escape import printable
    from stackaudit.graph import build_stack, stack_diagram

    try:
        stack = result.stack or build_stack(scan_paths, root, tree.top.config, jobs, tree)
        return stack_diagram(stack, result.diagnostics)
    except Exception as exc:  # the findings are reported already; say why no picture
        print(
            f"stackaudit: warning: no stack diagram in the job summary: "
            f"{printable(type(exc).__name__ + ': ' + str(exc))}",
            file=sys.stderr,
        )
        return None


def _emit(args: argparse.Namespace, output: str) -> None:
    if args.output:
        _write_file(args.output, output)
    else:
        sys.stdout.write(output)


def _destination(typed: Path) -> str:
    """Where ``--output``/``--write-baseline`` may write (see ``stackaudit.writing``);
    checked before the scan, so a refused destination costs nothing."""
    from stackaudit.writing import UnsafeDestination, check_destination

    try:
        return check_destination(str(typed))
    except UnsafeDestination as exc:
        raise UsageError(_shown(str(exc))) from exc


def _write_file(typed: Path, text: str) -> None:
    from stackaudit.writing import write_atomically

    try:
        write_atomically(_destination(typed), text)
    except OSError as exc:
        raise UsageError(f"cannot write {_shown(typed)}: {exc.strerror or exc}") from exc


def _nothing_to_read(args: argparse.Namespace, paths: list[Path]) -> bool:
    """Only named files, none of a kind stackaudit reads, and plain text output."""
    if not args.paths or args.format != "text" or args.output or args.diff_base:
        return False
    if args.write_baseline or args.baseline or not all(p.is_file() for p in paths):
        return False
    from stackaudit.discovery import classify_name

    return all(p.is_file() and classify_name(p.as_posix()) is None for p in paths)


def _scope(
    paths: list[Path], root: Path, diff_base: str | None
) -> tuple[list[Path], set[str] | None]:
    """What to scan and what to report. Findings touching the files named on the
    command line (as pre-commit passes them) are reported, but the whole root is
    scanned for context, so a changed nginx file is still checked against the compose
    file beside it, and a finding it causes there is reported (engine.touches)."""
    report_only: set[str] | None = None
    scan_paths = paths
    if paths and all(p.is_file() for p in paths):
        from stackaudit.discovery import classify_name

        named = {
            p.resolve().relative_to(root).as_posix()
            for p in paths
            if p.resolve().is_relative_to(root)
        }
        # A commit touching only files no extractor reads needs no scan at all.
        report_only = {rel for rel in named if classify_name(rel) is not None}
        # The named files themselves are scanned even where an exclude or a .gitignore
        # would skip them in the walk (a file committed with `git add -f`, one under
        # `venv/`): a file the hook was asked about is never silently left out.
        scan_paths = [root, *(root / rel for rel in sorted(report_only))]
    if diff_base:
        changed = _changed_files(root, diff_base)
        report_only = changed if report_only is None else report_only & changed
    return scan_paths, report_only


def _changed_files(root: Path, revision: str) -> set[str]:
    from stackaudit.git import GitError, changed_files

    try:
        return changed_files(root, revision)
    except ValueError as exc:
        raise UsageError(f"--diff-base: {exc}") from exc
    except GitError as exc:
        raise UsageError(f"--diff-base {revision}: git failed: {exc}") from exc


def _empty_result(root: Path) -> RunResult:
    from stackaudit.engine import RunResult

    return RunResult(root, [], 0, [], [], 0, {})


def _baseline(args: argparse.Namespace, result: RunResult) -> None:
    if not args.baseline and not args.write_baseline:
        return
    from stackaudit.baseline import apply_baseline, baseline_text, read_baseline
    from stackaudit.config import ConfigError

    try:
        previous = read_baseline(args.baseline) if args.baseline else []
        if args.write_baseline:
            keep = previous if args.write_baseline == args.baseline else None
            text = baseline_text(result.diagnostics, keep)
            _write_file(args.write_baseline, text)
            # What was just recorded is accepted: the run reports (and fails on) nothing
            # the new baseline holds, and says how much it holds.
            previous = read_baseline(args.write_baseline)
            print(
                f"stackaudit: wrote {len(previous):,} baseline "
                f"{'entry' if len(previous) == 1 else 'entries'} to {args.write_baseline}",
                file=sys.stderr,
            )
        if previous:
            kept, absorbed, stale = apply_baseline(result.diagnostics, previous)
            result.diagnostics = kept
            result.baselined = len(absorbed)
            from stackaudit.suppress import Suppressed

            reason = f"recorded in the baseline {args.baseline or args.write_baseline}"
            result.withheld += [Suppressed(d, "external", reason) for d in absorbed]
            result.stale_baseline = [f"{e.code} {e.path} {e.fingerprint}" for e in stale]
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"cannot write baseline: {exc.strerror or exc}") from exc


def _confidence_filter(args: argparse.Namespace, config: Config, result: RunResult) -> int:
    """Leave out the findings the persona and the minimum confidence do not show
    (command line over configuration), before the baseline and every format; the
    number left out. Suppressed findings too: SARIF lists those, and one the filter
    hides is not reported at all, suppressed or not."""
    shows = _shown_by_persona(args, config)
    shown = [d for d in result.diagnostics if shows(d)]
    hidden = len(result.diagnostics) - len(shown)
    result.diagnostics = shown
    # The baseline has not run yet: every withheld finding is an inline suppression.
    result.withheld = [s for s in result.withheld if shows(s.diagnostic)]
    result.suppressed = len(result.withheld)
    return hidden


def _shown_by_persona(args: argparse.Namespace, config: Config) -> Callable[[Diagnostic], bool]:
    """Whether the persona and the minimum confidence show a finding."""
    from stackaudit.diagnostics import Confidence, Persona

    persona = Persona(args.persona) if args.persona else config.persona
    least = Confidence(args.min_confidence) if args.min_confidence else config.min_confidence
    return lambda diagnostic: persona.shows(diagnostic, least)


def _terminal_width(args: argparse.Namespace) -> int | None:
    """The terminal's width when the report goes to one, for cutting source lines and
    wrapping notes; None for a pipe or a file (CI logs have no width), unless COLUMNS
    says how wide the reader is."""
    to_file = bool(getattr(args, "output", None))  # `graph` has no --output
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and not to_file:
        return max(int(columns), 60)
    if to_file or not sys.stdout.isatty():
        return None
    import shutil

    return max(shutil.get_terminal_size((100, 24)).columns, 60)


def _color(args: argparse.Namespace) -> bool:
    if args.output:
        return False
    if args.color == "always":
        return True
    if args.color == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _graph(args: argparse.Namespace) -> int:
    from stackaudit.discovery import scan_root
    from stackaudit.graph import (
        build_stack,
        render_graph_json,
        render_graph_mermaid,
        render_graph_text,
    )

    paths: list[Path] = args.paths or [Path()]
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or directory: {path}")
    root = scan_root(paths)
    tree = _config_tree(args, root)
    config = tree.top.config
    jobs = os.cpu_count() or 1
    diagnostics: list[Diagnostic] = []
    errors: list[str] = []
    if args.no_findings:
        stack = build_stack(paths, root, config, jobs, tree)
    else:
        from stackaudit.engine import run

        # The check's own run (configuration, nested ones, inline suppressions), without
        # the cache: the picture needs the stack, which the cache does not keep.
        result = run(paths, config, tree.top.selection, jobs=jobs, root=root, tree=tree)
        stack = result.stack or build_stack(paths, root, config, jobs, tree)
        # Marked as check reports them: what the persona hides there is not drawn.
        diagnostics = [d for d in result.diagnostics if config.shows(d)]
        errors = result.errors
    if args.format == "text":
        sys.stdout.write(render_graph_text(stack, diagnostics, _terminal_width(args)))
    else:
        renderers = {"json": render_graph_json, "mermaid": render_graph_mermaid}
        sys.stdout.write(renderers[args.format](stack, diagnostics))
    for error in errors:
        print(f"stackaudit: internal error: {_shown(error)}", file=sys.stderr)
    return EXIT_INTERNAL if errors else EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    import shutil

    from stackaudit.formatters.text import rules_json, rules_table

    if args.format == "json":
        sys.stdout.write(rules_json())
        return EXIT_OK
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = shutil.get_terminal_size((80, 24)).columns
    sys.stdout.write(rules_table(color=color, width=width))
    return EXIT_OK


def _explain(code: str) -> int:
    from stackaudit.config import suggest
    from stackaudit.docs import rule_markdown
    from stackaudit.rules import all_rules, rule_by_code

    rule = rule_by_code(code.upper()) or rule_by_code(code)
    if rule is None:
        known = [r.code for r in all_rules()] + [r.name for r in all_rules()]
        raise UsageError(f"unknown rule `{code}`{suggest(code.upper(), known)}")
    from stackaudit.formatters.explain import print_rule_page

    print_rule_page(rule_markdown(rule), no_color=bool(os.environ.get("NO_COLOR")))
    return EXIT_OK
