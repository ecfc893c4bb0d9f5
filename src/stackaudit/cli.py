"""The ``stackaudit`` command.

Start-up stays cheap: parsers, rich and the rules are imported only by the subcommand
that needs them, so a pre-commit run over one file pays for what it uses."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from stackaudit import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
FORMATS = ("text", "json")


class UsageError(Exception):
    pass


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
    check.add_argument("paths", nargs="*", type=Path, default=[], metavar="PATH")
    check.add_argument("--format", choices=FORMATS, default="text")
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
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    check.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=0,
        metavar="N",
        help="worker processes (default: number of cores)",
    )
    check.add_argument("--no-cache", action="store_true", help="do not read or write the cache")

    sub.add_parser("rules", help="list the rules")
    explain = sub.add_parser("explain", help="show a rule's documentation")
    explain.add_argument("code", metavar="CODE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "rules":
            return _rules()
        if args.command == "explain":
            return _explain(args.code)
    except UsageError as exc:
        print(f"stackaudit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    parser.print_help()
    return EXIT_USAGE


def _check(args: argparse.Namespace) -> int:
    from stackaudit.config import ConfigError, find_config, load_config, parse_severity
    from stackaudit.engine import Selection, run, scan_root
    from stackaudit.rules import validate_codes

    paths: list[Path] = args.paths or [Path()]
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"no such file or directory: {path}")
    try:
        root = scan_root(paths)
        config_path = args.config if args.config else find_config(root)
        if args.config and not args.config.is_file():
            raise UsageError(f"configuration file not found: {args.config}")
        config = load_config(config_path)
        where = str(config_path) if config_path else "configuration"
        select = validate_codes(args.select or config.select, "--select" if args.select else where)
        select += validate_codes(config.extend_select, where)
        select += validate_codes(args.extend_select or [], "--extend-select")
        ignore = validate_codes(config.ignore, where) + validate_codes(
            args.ignore or [], "--ignore"
        )
        for codes in config.per_file_ignores.values():
            validate_codes(codes, f"{where}: per-file-ignores")
        fail_on = parse_severity(args.fail_on, "--fail-on") if args.fail_on else config.fail_on
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    if args.jobs < 0:
        raise UsageError("--jobs must be 0 (one per core) or more")
    jobs = args.jobs or os.cpu_count() or 1

    result = run(paths, config, Selection(select, ignore), jobs=jobs, root=root)

    from stackaudit.formatters import render

    output = render(
        args.format, result, color=_color(args), quiet=args.quiet, to_file=bool(args.output)
    )
    if args.output:
        try:
            args.output.write_text(output, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    else:
        sys.stdout.write(output)
    for error in result.errors:
        print(f"stackaudit: internal error: {error}", file=sys.stderr)
    if result.errors:
        return EXIT_INTERNAL
    failing = [d for d in result.diagnostics if d.severity.at_least(fail_on)]
    return EXIT_FINDINGS if failing and not args.exit_zero else EXIT_OK


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


def _rules() -> int:
    from stackaudit.formatters.text import rules_table

    sys.stdout.write(rules_table(color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    return EXIT_OK


def _explain(code: str) -> int:
    from stackaudit.config import suggest
    from stackaudit.docs import rule_markdown
    from stackaudit.rules import all_rules, rule_by_code

    rule = rule_by_code(code.upper()) or rule_by_code(code)
    if rule is None:
        known = [r.code for r in all_rules()] + [r.name for r in all_rules()]
        raise UsageError(f"unknown rule `{code}`{suggest(code.upper(), known)}")
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console(no_color=bool(os.environ.get("NO_COLOR")))
    console.print(Markdown(rule_markdown(rule)))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
