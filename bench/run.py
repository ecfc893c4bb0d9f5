"""Benchmark stackaudit against the anchors, side by side, on the same files.

    python bench/run.py setup                      # virtualenvs and the library tree (once)
    python bench/run.py files [--shapes ...]       # only prove the tools read the same files
    python bench/run.py report                     # the table again, from the saved rows
    python bench/run.py run [--runs 3] [--shapes many,nginx,library] [--small]

Everything lives in the work directory, ``$STACKAUDIT_BENCH_DIR`` or by default
``<tmp>/stackaudit-bench``: never inside this repository, whose own ``pyproject.toml``
(``extend-exclude``) and ``.gitignore`` would otherwise shrink the scanned trees. The
run refuses a tree with a configuration or ignore file of any tool in a directory above
it.

Shapes, each at three sizes, each tool's growth fitted as an exponent (least squares of
log time against log size):

- ``many``: ``many relevant files`` (see shapes.py): N Panel/FastAPI apps with start
  scripts, N/4 compose projects each with an nginx site; N = 2,000, 4,000, 8,000
  (``--small``: 500, 1,000, 2,000). Anchors: Bandit and Ruff ``--select S`` on the tree,
  gixy-ng on the nginx files, named one by one.
- ``nginx``: one ``nginx.conf`` including ``sites/*.conf`` and shared snippets; 500,
  1,000, 2,000 sites. Anchor: gixy-ng on ``nginx.conf``, which follows the includes.
- ``library``: the site-packages of panel, bokeh, tornado, fastapi, starlette and
  uvicorn with their dependencies (pip and setuptools left out), 1, 2 and 4 copies; cold
  (``--no-cache``, and a fresh cache directory). Anchors: Ruff ``--select S``, and Bandit
  on one copy only (it takes minutes on four).

Anchors run in virtualenvs of their own under the work directory (gixy-ng's dependency
installs a package also named ``crossplane`` that would overwrite nginxinc's). Ruff runs
with ``--isolated`` (no configuration file in the tree or above changes it) and
``--no-cache``, and leaves out ``*.pyi`` stubs, which stackaudit does not read.

Before any timing, each row proves that stackaudit and every anchor read the same files
of the kind the anchor handles: stackaudit's list from ``check --show-files``, Bandit's
from the per-file ``metrics`` of its JSON report, Ruff's from ``--show-files``, gixy-ng's
from the ``Parse file`` lines of its debug log. A difference stops the run with both
lists' differences printed (``--allow-mismatch`` times the row anyway, marked).

Every measurement is a whole process started from the tree: wall time, and peak RSS
from ``/usr/bin/time`` (the largest single process: a worker pool's RSS is not summed).
Runs are interleaved (A, B, C, A, B, C, ...) so machine noise hits every tool alike; the
report gives medians. Nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes import many_relevant, nginx_includes, nginx_main

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = Path(
    os.environ.get("STACKAUDIT_BENCH_DIR") or Path(tempfile.gettempdir()) / "stackaudit-bench"
).absolute()
TREE_PACKAGES = ["panel", "bokeh", "tornado", "fastapi", "starlette", "uvicorn"]
# The virtualenv's own tooling, installed by `python -m venv`, not by the packages.
NOT_LIBRARY = {"pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence.pth"}
SIZES = {"many": (2000, 4000, 8000), "nginx": (500, 1000, 2000), "library": (1, 2, 4)}
SMALL_SIZES = {"many": (500, 1000, 2000), "nginx": (500, 1000, 2000), "library": (1, 2, 4)}
SIZE_UNIT = {"many": "apps", "nginx": "sites", "library": "copies"}
# Files by which stackaudit, Ruff, Bandit or git would let a directory above a tree
# change what is scanned.
OUTSIDE_INFLUENCE = (
    ".git",
    ".gitignore",
    "pyproject.toml",
    "stackaudit.toml",
    ".stackaudit.toml",
    "ruff.toml",
    ".ruff.toml",
    ".bandit",
)
PYTHON_SUFFIXES = (".py", ".pyw")


def bin_of(venv: str) -> Path:
    return WORK / "venvs" / venv / "bin"


def venv(name: str, packages: list[str]) -> Path:
    path = WORK / "venvs" / name
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", *packages], check=True)
    return path


def site_packages(path: Path) -> Path:
    return next((path / "lib").glob("python3*/site-packages"))


# -- trees -------------------------------------------------------------------------------


def library_tree(copies: int) -> Path:
    """``copies`` copies of the library site-packages. The directory is not called
    ``site-packages``: Ruff's default excludes name it."""
    tree = WORK / "trees" / f"library-{copies}"
    if tree.exists():
        return tree
    packages = site_packages(venv("tree", TREE_PACKAGES))
    ignore = shutil.ignore_patterns("__pycache__", *NOT_LIBRARY)
    for copy in range(copies):
        shutil.copytree(packages, tree / f"copy{copy}" / "packages", symlinks=True, ignore=ignore)
    return tree


def shape_tree(shape: str, size: int) -> Path:
    if shape == "library":
        return library_tree(size)
    tree = WORK / "trees" / f"{shape}-{size}"
    marker = tree / ".complete"
    if not marker.exists():
        (many_relevant if shape == "many" else nginx_includes)(size, tree)
        marker.write_text("")
    return tree


def check_outside(tree: Path) -> None:
    """Refuse a tree that a directory above it can influence."""
    real = tree.resolve()
    if real.is_relative_to(REPO.resolve()):
        sys.exit(f"bench: {tree} is inside the repository; set STACKAUDIT_BENCH_DIR elsewhere")
    for directory in real.parents:
        found = [name for name in OUTSIDE_INFLUENCE if (directory / name).exists()]
        if found:
            sys.exit(f"bench: {directory} above the tree {tree} holds {', '.join(found)}")


# -- the tools -----------------------------------------------------------------------------


@dataclass
class Tool:
    name: str
    command: list[str]  # run with the tree as working directory
    exit_codes: tuple[int, ...] = (0,)
    fresh_cache: bool = False  # a new --cache-dir on every run: cold, but writing the cache
    # The files it reads (relative to the tree) and the stackaudit kinds they compare with.
    listing: Callable[[Path], set[str]] | None = None
    kinds: tuple[str, ...] = ()


def stackaudit(*extra: str) -> list[str]:
    return [str(bin_of("stackaudit") / "stackaudit"), "check", "-q", "--exit-zero", *extra, "."]


def ruff_command(*extra: str) -> list[str]:
    return [
        str(bin_of("ruff") / "ruff"),
        "check",
        "--isolated",
        "--no-cache",
        "--select",
        "S",
        "--extend-exclude",
        "*.pyi",
        "--exit-zero",
        *extra,
        ".",
    ]


def bandit_command(output: str = os.devnull) -> list[str]:
    return [str(bin_of("bandit") / "bandit"), "-q", "-r", ".", "-f", "json", "-o", output]


def gixy_command(files: Sequence[str], *extra: str) -> list[str]:
    return [str(bin_of("gixy") / "gixy"), *extra, "-f", "json", "-o", os.devnull, *files]


def stackaudit_files(tree: Path) -> dict[str, str]:
    """Path → kind, as ``check --show-files`` lists them."""
    out = _output([*stackaudit()[:2], "--show-files", "."], tree)
    return {path: kind for kind, path in (line.split("\t", 1) for line in out.splitlines())}


def bandit_files(tree: Path) -> set[str]:
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        _output(bandit_command(report.name), tree, ok=(0, 1))
        data = json.loads(Path(report.name).read_text())
    read = {name for name in data["metrics"] if name != "_totals"}
    read |= {error["filename"] for error in data.get("errors", [])}
    return {os.path.normpath(name) for name in read}


def ruff_files(tree: Path) -> set[str]:
    out = _output(ruff_command("--show-files"), tree)
    listed = {os.path.relpath(line.strip(), tree.resolve()) for line in out.splitlines() if line}
    # pyproject.toml files are listed too (for RUF200); no S rule reads them.
    return {name for name in listed if name.endswith((*PYTHON_SUFFIXES, ".ipynb"))}


def gixy_files(files: Sequence[str]) -> Callable[[Path], set[str]]:
    def listing(tree: Path) -> set[str]:
        log = _output(gixy_command(files, "-d"), tree, ok=(0, 1), stream="stderr")
        parsed = re.findall(r"Parse file: (.+)$", log, re.MULTILINE)
        return {os.path.relpath(tree / name, tree) for name in parsed}

    return listing


def _output(
    command: list[str], cwd: Path, ok: tuple[int, ...] = (0,), stream: str = "stdout"
) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode not in ok:
        sys.exit(f"bench: {' '.join(command)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result.stdout if stream == "stdout" else result.stderr


def tools_for(shape: str, size: int, tree: Path) -> list[Tool]:
    bandit = Tool("bandit", bandit_command(), (0, 1), listing=bandit_files, kinds=("python",))
    ruff = Tool("ruff --select S", ruff_command(), listing=ruff_files, kinds=("python", "notebook"))
    if shape == "many":
        nginx_files = sorted(
            p.relative_to(tree).as_posix() for p in tree.glob("projects/*/nginx.conf")
        )
        return [
            Tool("stackaudit", stackaudit("--no-cache")),
            bandit,
            ruff,
            Tool(
                "gixy-ng",
                gixy_command(nginx_files),
                (0, 1),
                listing=gixy_files(nginx_files),
                kinds=("nginx",),
            ),
        ]
    if shape == "nginx":
        main = [nginx_main(tree).relative_to(tree).as_posix()]
        return [
            Tool("stackaudit", stackaudit("--no-cache")),
            Tool("gixy-ng", gixy_command(main), (0, 1), listing=gixy_files(main), kinds=("nginx",)),
        ]
    # Bandit takes minutes on the larger copies; it is timed on one copy, where the
    # target compares, and its growth is measured on the other shapes.
    return [
        Tool("stackaudit", stackaudit("--no-cache")),
        Tool("stackaudit, fresh cache", stackaudit(), fresh_cache=True),
        ruff,
        *([bandit] if size == 1 else []),
    ]


def same_files(label: str, tree: Path, tools: list[Tool]) -> list[str]:
    """The differences between what stackaudit and each anchor read, as messages."""
    ours = stackaudit_files(tree)
    problems = []
    for tool in tools:
        if tool.listing is None:
            continue
        theirs = tool.listing(tree)
        mine = {path for path, kind in ours.items() if kind in tool.kinds}
        if mine == theirs:
            print(f"  {label}: stackaudit and {tool.name} read the same {len(mine)} files")
            continue
        only_mine, only_theirs = sorted(mine - theirs), sorted(theirs - mine)
        problems.append(
            f"FILE SETS DIFFER in {label}, stackaudit ({'/'.join(tool.kinds)}: {len(mine)} files)"
            f" vs {tool.name} ({len(theirs)} files):\n"
            f"    only stackaudit reads {len(only_mine)}: {only_mine[:8]}\n"
            f"    only {tool.name} reads {len(only_theirs)}: {only_theirs[:8]}"
        )
    return problems


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Row:
    shape: str
    size: int
    tool: str
    files: int
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    mismatch: bool = False

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def peak(self) -> float:
        return statistics.median(self.rss)


def measure(tool: Tool, tree: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, workers included) and peak RSS (MiB)
    of one process."""
    command = tool.command
    cache = None
    if tool.fresh_cache:
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=WORK))
        command = [*command[:-1], "--cache-dir", str(cache / "stackaudit"), command[-1]]
    with tempfile.NamedTemporaryFile() as rss_file:
        start = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", rss_file.name, *command],
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        user, system, rss = Path(rss_file.name).read_text().split()[-3:]
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    if result.returncode not in tool.exit_codes:
        sys.exit(
            f"bench: {tool.name} exited {result.returncode} in {tree}:\n{result.stderr[-2000:]}"
        )
    return wall, float(user) + float(system), int(rss) / 1024


def exponent(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    xs = [math.log(size) for size, _ in points]
    ys = [math.log(wall) for _, wall in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )


def run_shape(shape: str, sizes: Sequence[int], runs: int, allow_mismatch: bool) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        tree = shape_tree(shape, size)
        check_outside(tree)
        label = f"{shape} {size} {SIZE_UNIT[shape]}"
        tools = tools_for(shape, size, tree)
        problems = same_files(label, tree, tools)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems and not allow_mismatch:
            sys.exit("bench: the tools do not read the same files; nothing timed (see above)")
        if runs == 0:
            continue
        files = len(stackaudit_files(tree))
        here = [Row(shape, size, tool.name, files, mismatch=bool(problems)) for tool in tools]
        for _ in range(runs):
            for tool, row in zip(tools, here, strict=True):
                wall, cpu, rss = measure(tool, tree)
                row.walls.append(wall)
                row.cpus.append(cpu)
                row.rss.append(rss)
        for row in here:
            print(
                f"  {label}: {row.tool:26} {row.wall:8.2f} s wall {row.cpu:8.2f} s CPU "
                f"{row.peak:6.0f} MiB",
                flush=True,
            )
        rows.extend(here)
    return rows


# -- the report ----------------------------------------------------------------------------


def versions() -> dict[str, str]:
    def first_line(command: list[str]) -> str:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        return (result.stdout or result.stderr).strip().splitlines()[0]

    return {
        "stackaudit": first_line([str(bin_of("stackaudit") / "stackaudit"), "--version"]),
        "bandit": first_line([str(bin_of("bandit") / "bandit"), "--version"]),
        "ruff": first_line([str(bin_of("ruff") / "ruff"), "--version"]),
        "gixy-ng": first_line([str(bin_of("gixy") / "gixy"), "--version"]),
        "python": sys.version.split()[0],
    }


def report(rows: list[Row], runs: int, load: tuple[str, str]) -> str:
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
        f"median of {runs} interleaved runs; load average before {load[0]}, after {load[1]}.",
        "",
        "| shape | size | stackaudit files | tool | wall s | stackaudit / tool (wall) "
        "| CPU s | stackaudit / tool (CPU) | peak RSS MiB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    ours = {(r.shape, r.size): r for r in rows if r.tool == "stackaudit"}
    for row in rows:
        base = ours[(row.shape, row.size)]
        wall = "" if row is base else f"{base.wall / row.wall:.2f}"
        cpu = "" if row is base else f"{base.cpu / row.cpu:.2f}"
        mark = " (file sets differ)" if row.mismatch else ""
        lines.append(
            f"| {row.shape} | {row.size:,} {SIZE_UNIT[row.shape]} | {row.files:,} "
            f"| {row.tool}{mark} | {row.wall:.2f} | {wall} | {row.cpu:.2f} | {cpu} "
            f"| {row.peak:.0f} |"
        )
    lines += [
        "",
        "| shape | tool | sizes | exponent (wall) | exponent (CPU) |",
        "|---|---|---|---:|---:|",
    ]
    by_tool: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        by_tool.setdefault((row.shape, row.tool), []).append(row)
    for (shape, tool), series in by_tool.items():
        if len(series) >= 2:
            sizes = " / ".join(f"{r.size:,}" for r in series)
            wall = exponent([(r.size, r.wall) for r in series])
            cpu = exponent([(r.size, r.cpu) for r in series])
            lines.append(f"| {shape} | {tool} | {sizes} | {wall:.2f} | {cpu:.2f} |")
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def setup() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    install_stackaudit()
    venv("bandit", ["bandit"])
    venv("ruff", ["ruff"])
    venv("gixy", ["gixy-ng"])
    library_tree(1)
    print(f"ready under {WORK}")


def install_stackaudit() -> None:
    """The source as it is now, installed as users get it: a regular install, whose
    modules pip compiles to bytecode. An editable install under PYTHONDONTWRITEBYTECODE
    (set on some machines) recompiles every module at each start, about 0.15 s that no
    installed user pays, while the anchors come compiled from their wheels."""
    path = venv("stackaudit", [str(REPO)])
    pip = [str(path / "bin" / "pip"), "install", "-q", "--force-reinstall", "--no-deps"]
    subprocess.run([*pip, str(REPO)], check=True)


def run(args: argparse.Namespace) -> None:
    install_stackaudit()
    table = SMALL_SIZES if args.small else SIZES
    if args.action == "files":
        for shape in args.shapes.split(","):
            run_shape(shape, table[shape], 0, args.allow_mismatch)
        return
    rows: list[Row] = []
    before = load_average()
    for shape in args.shapes.split(","):
        if shape not in table:
            sys.exit(f"bench: unknown shape {shape!r}; choose from {', '.join(table)}")
        found = run_shape(shape, table[shape], args.runs, args.allow_mismatch)
        # Kept per shape, so a shape can be measured again alone (`report` merges them).
        saved = [{**vars(row), "load": load_average()} for row in found]
        (WORK / f"rows-{shape}.json").write_text(json.dumps(saved, indent=1))
        rows += found
    text = report(rows, args.runs, (before, load_average()))
    print()
    print(text)
    print(json.dumps(versions()))
    results = WORK / "results.md"
    results.write_text(text)
    print(f"(also in {results})")


def saved_report(runs: int) -> None:
    """The table of the shapes measured last, each from its own run."""
    rows: list[Row] = []
    loads = []
    for shape in SIZES:
        path = WORK / f"rows-{shape}.json"
        if path.exists():
            for saved in json.loads(path.read_text()):
                loads.append(saved.pop("load"))
                rows.append(Row(**saved))
    text = report(rows, runs, (loads[0], loads[-1]) if loads else ("?", "?"))
    print(text)
    (WORK / "results.md").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=("setup", "files", "run", "report"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shapes", default="many,nginx,library")
    parser.add_argument(
        "--small", action="store_true", help="many-relevant at 500/1,000/2,000 apps"
    )
    parser.add_argument(
        "--allow-mismatch", action="store_true", help="time rows whose file sets differ"
    )
    args = parser.parse_args()
    if args.action == "setup":
        setup()
    elif args.action == "report":
        saved_report(args.runs)
    else:
        run(args)


if __name__ == "__main__":
    main()
