"""Benchmark stackaudit against the anchors, side by side, on the same trees.

    python bench/run.py setup          # virtualenvs and trees under bench/.work (once)
    python bench/run.py run [--runs 5] # interleaved runs, medians, ratios, peak RSS

Trees:
- ``real``: the site-packages of a scratch virtualenv holding panel, bokeh, tornado,
  fastapi, starlette and uvicorn, plus ../shared/corpus/real when present;
- ``synthetic``: 100 000 files, mostly irrelevant (text, JSON, Python without any rule
  trigger), some relevant (Dockerfiles, compose files, nginx configs, Panel apps);
  ``synthetic-10k`` is a tenth of it, to check linear scaling.

Anchors, each in its own virtualenv (gixy-ng's dependency installs a package also named
``crossplane`` that would overwrite nginxinc's): Bandit on the Python files, gixy-ng on
the nginx files, Checkov on the compose files where it installs.

Every measurement is a whole process: wall time, and peak RSS read from
``/usr/bin/time -v``. Runs are interleaved (A, B, C, A, B, C, ...) so machine noise
hits every tool alike; the report gives medians and ratios. Nothing here is asserted by
the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus" / "real"
TREE_PACKAGES = ["panel", "bokeh", "tornado", "fastapi", "starlette", "uvicorn"]


def venv(name: str, packages: list[str]) -> Path:
    path = WORK / "venvs" / name
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", *packages], check=False)
    return path


def site_packages(path: Path) -> Path:
    return next((path / "lib").glob("python3*/site-packages"))


def build_real_tree() -> Path:
    tree = WORK / "trees" / "real"
    if tree.exists():
        return tree
    packages = site_packages(venv("tree", TREE_PACKAGES))
    shutil.copytree(packages, tree / "site-packages", symlinks=True)
    if CORPUS.is_dir():
        shutil.copytree(CORPUS, tree / "corpus", symlinks=True)
    return tree


RELEVANT = {
    "Dockerfile": 'FROM python:3.12\nCMD ["panel", "serve", "app.py", "--allow-websocket-origin=*"]\n',
    "docker-compose.yml": "services:\n  app:\n    image: app\n    ports: ['5006:5006']\n",
    "nginx.conf": "server {\n  listen 80;\n  location /ws {\n    proxy_pass http://app:5006;\n  }\n}\n",
    "app.py": "import panel as pn\npn.serve({'/': lambda: 1}, websocket_origin=['*'])\n",
}


def build_synthetic_tree(files: int) -> Path:
    tree = WORK / "trees" / f"synthetic-{files}"
    if tree.exists():
        return tree
    rng = random.Random(files)
    for index in range(files):
        directory = tree / f"d{index // 1000:03}" / f"e{(index // 50) % 20:02}"
        directory.mkdir(parents=True, exist_ok=True)
        if index % 500 == 0:
            name, text = rng.choice(sorted(RELEVANT.items()))
            (directory / f"s{index}").mkdir(exist_ok=True)
            (directory / f"s{index}" / name).write_text(text)
        elif index % 3 == 0:
            (directory / f"m{index}.py").write_text(
                f"def f{index}(x):\n    return x * {index}\n" * rng.randint(1, 40)
            )
        elif index % 3 == 1:
            (directory / f"n{index}.json").write_text('{"k": %d}\n' % index)
        else:
            (directory / f"t{index}.md").write_text("# notes\n" * rng.randint(1, 20))
    return tree


def build_app_tree() -> Path:
    """A small application repository (the bundled example stack), for the pre-commit
    cases: one file is named, the rest of the repository is the context."""
    tree = WORK / "trees" / "app"
    if not tree.exists():
        shutil.copytree(REPO / "examples" / "insecure-stack", tree)
    return tree


def setup() -> None:
    WORK.mkdir(exist_ok=True)
    venv("stackaudit", [str(REPO)])
    venv("bandit", ["bandit"])
    venv("gixy", ["gixy-ng"])
    venv("checkov", ["checkov"])
    build_real_tree()
    build_app_tree()
    build_synthetic_tree(10_000)
    build_synthetic_tree(100_000)
    print(f"ready under {WORK}")


def measure(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], cwd=cwd, capture_output=True,
                            text=True, check=False)
    wall = time.perf_counter() - start
    rss = 0.0
    for line in result.stderr.splitlines():
        if "Maximum resident set size" in line:
            rss = int(line.rsplit(":", 1)[1]) / 1024
    return wall, rss


def files_of(tree: Path, suffixes: tuple[str, ...]) -> list[str]:
    return [str(p) for p in tree.rglob("*") if p.is_file() and p.name.endswith(suffixes)]


def run(runs: int) -> None:
    bin_sa = WORK / "venvs" / "stackaudit" / "bin"
    bin_bandit = WORK / "venvs" / "bandit" / "bin"
    bin_gixy = WORK / "venvs" / "gixy" / "bin"
    bin_checkov = WORK / "venvs" / "checkov" / "bin"
    real = build_real_tree()
    cache_dir = WORK / "cache"
    sa = [str(bin_sa / "stackaudit"), "check", "-q", "--exit-zero"]
    nginx_files = files_of(real, (".conf",))
    compose_files = [f for f in files_of(real, (".yml", ".yaml")) if "compose" in f]
    app = build_app_tree()
    (app / "NOTES.txt").write_text("release notes\n")
    one_irrelevant = app / "NOTES.txt"
    one_relevant = app / "app.py"

    shutil.rmtree(cache_dir, ignore_errors=True)
    subprocess.run([*sa, str(real), "--cache-dir", str(cache_dir)], capture_output=True, check=False)
    subprocess.run([*sa, "--cache-dir", str(WORK / "cache-one"), "app.py"], cwd=app,
                   capture_output=True, check=False)
    cases: dict[str, list[str]] = {
        "stackaudit cold": [*sa, "--no-cache", str(real)],
        "stackaudit warm": [*sa, "--cache-dir", str(cache_dir), str(real)],
        "bandit -r": [str(bin_bandit / "bandit"), "-q", "-r", str(real), "-f", "json", "-o", os.devnull],
        "gixy (nginx files)": [str(bin_gixy / "gixy"), *nginx_files] if nginx_files else [],
        "stackaudit (nginx files)": [*sa, "--no-cache", *nginx_files] if nginx_files else [],
        "checkov (compose files)": (
            [str(bin_checkov / "checkov"), "--quiet", "--compact", *sum((["-f", f] for f in compose_files), [])]
            if compose_files and (bin_checkov / "checkov").exists() else []
        ),
        "python -c 'import yaml'": [str(bin_sa / "python"), "-c", "import yaml"],
        # Pre-commit cases, run inside a small application repository (see build_app_tree).
        "stackaudit one irrelevant file": [*sa, "--no-cache", one_irrelevant.name],
        # Named file, whole repository as context, nothing cached.
        "stackaudit one relevant file": [*sa, "--no-cache", one_relevant.name],
        # The repository was checked before and this file changed (touched first, so the
        # run cannot be a replay; the other files come from the cache).
        "stackaudit one relevant file, warm": [
            "sh", "-c", f"touch {one_relevant.name} && exec \"$@\"", "sh",
            *sa, "--cache-dir", str(WORK / "cache-one"), one_relevant.name,
        ],
        "bandit one relevant file": [str(bin_bandit / "bandit"), "-q", one_relevant.name],
        "stackaudit synthetic 10k": [*sa, "--no-cache", str(build_synthetic_tree(10_000))],
        "stackaudit synthetic 100k": [*sa, "--no-cache", str(build_synthetic_tree(100_000))],
    }
    cases = {name: command for name, command in cases.items() if command}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    in_app = {name for name in cases if "one " in name}
    for _ in range(runs):
        for name, command in cases.items():
            samples[name].append(measure(command, cwd=app if name in in_app else None))
    medians = {
        name: (statistics.median(w for w, _ in values), statistics.median(r for _, r in values))
        for name, values in samples.items()
    }
    print(f"{'case':36} {'wall s':>8} {'peak MiB':>9}   (median of {runs})")
    for name, (wall, rss) in medians.items():
        print(f"{name:36} {wall:8.3f} {rss:9.1f}")

    def ratio(a: str, b: str, index: int = 0) -> str:
        if a not in medians or b not in medians:
            return "n/a"
        return f"{medians[a][index] / medians[b][index]:.2f}x"

    print()
    print(f"bandit / stackaudit cold, time:        {ratio('bandit -r', 'stackaudit cold')}")
    print(f"stackaudit cold / bandit, peak memory: {ratio('stackaudit cold', 'bandit -r', 1)}")
    print(f"stackaudit cold / warm, time:          {ratio('stackaudit cold', 'stackaudit warm')}")
    print(f"one irrelevant file / import yaml:     {ratio('stackaudit one irrelevant file', 'python -c ' + repr('import yaml'))}")
    print(f"one relevant file / bandit same file:  {ratio('stackaudit one relevant file', 'bandit one relevant file')}")
    print(f"  same, pre-commit with a warm cache:   {ratio('stackaudit one relevant file, warm', 'bandit one relevant file')}")
    print(f"gixy / stackaudit on nginx files:      {ratio('gixy (nginx files)', 'stackaudit (nginx files)')}")
    print(f"synthetic 100k / 10k, time:            {ratio('stackaudit synthetic 100k', 'stackaudit synthetic 10k')}")
    print(f"synthetic 100k / 10k, peak memory:     {ratio('stackaudit synthetic 100k', 'stackaudit synthetic 10k', 1)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("setup", "run"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.action == "setup":
        setup()
    else:
        run(args.runs)


if __name__ == "__main__":
    main()
