"""Find the files to scan and tell what kind each one is.

The walk honours ``.gitignore`` files at every level and the configured excludes, never
follows a symbolic link out of the scanned root (nor a directory link at all, which
rules out loops), and classifies by name first and by a cheap look at the first bytes
where a name is ambiguous (``*.conf``, ``*.yml``, no extension, a name that speaks of
Docker): a Dockerfile by its first instruction, an nginx fragment by its directives."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from stackaudit.paths import scan_root
from stackaudit.reading import NotRead, inside, read_regular, real_path

if TYPE_CHECKING:
    import pathspec

# Called for every directory the walk lists, with the names in it: the exclude patterns
# of a configuration found there (relative to it), which replace those above it in its
# subtree, or None (config_tree.ConfigTree.enter).
Nested = Callable[[str, str, Collection[str]], "list[str] | None"]
# Exclude patterns and the directory they are relative to ("" for the root).
Excluding = tuple["pathspec.PathSpec[Any] | None", str]
# The names a nested configuration may have: config.CONFIG_FILES, written again because
# importing config (and tomllib) would slow the pre-commit path that needs only
# classify_name; tests/test_config_tree.py keeps the two equal.
_CONFIG_NAMES = frozenset({".stackaudit.toml", "stackaudit.toml", "pyproject.toml"})

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".stackaudit_cache",
    ".ipynb_checkpoints",
    "node_modules",
    "__pypackages__",
    ".eggs",
    ".direnv",
)
# The defaults name directories; matching names in a set is far cheaper than a glob.
_DEFAULT_EXCLUDED = frozenset(DEFAULT_EXCLUDES)
PEEK_BYTES = 4096
__all__ = [
    "Candidate",
    "OpenCandidate",
    "Skipped",
    "Watch",
    "classify_content",
    "classify_name",
    "discover",
    "opened",
    "scan_root",
]


class Candidate(Struct, frozen=True):
    path: str  # absolute; a string, not a Path: a big tree has many candidates
    rel: str
    kind: str
    size: int
    mtime_ns: int = 0
    # With size and mtime, what the cache compares: an edit that restores size and
    # mtime still changes the inode change time.
    ctime_ns: int = 0
    inode: int = 0


class OpenCandidate(Candidate, frozen=True):
    """A file open in an editor: analysed with the editor's text, not the disk's."""

    text: str = ""


def opened(
    candidates: Iterable[Candidate], texts: Mapping[str, str], *, unseen: bool = False
) -> Iterator[Candidate]:
    """``candidates``, those whose path is in ``texts`` carrying that text instead.

    Only files the walk found are overlaid, so excludes and ``.gitignore`` apply to open
    files as they do on the disk — unless ``unseen``: then a text the walk did not find
    (standard input named as a file that is new, excluded or of another kind on the
    disk) is analysed too, as the file named. A kind told by content (``*.conf``,
    ``*.yml``) is told again from the text, which may have turned a file into another
    kind."""
    seen: set[str] = set()
    for candidate in candidates:
        text = texts.get(candidate.rel)
        if text is None:
            yield candidate
            continue
        seen.add(candidate.rel)
        kind = kind_of_text(candidate.rel, text, candidate.kind)
        if kind is not None:
            yield OpenCandidate(
                candidate.path, candidate.rel, kind, len(text), candidate.mtime_ns, text=text
            )
    if unseen:
        for rel in sorted(set(texts) - seen):
            kind = kind_of_text(rel, texts[rel])
            if kind is not None:
                yield OpenCandidate(rel, rel, kind, len(texts[rel]), text=texts[rel])


def kind_of_text(rel: str, text: str, known: str | None = None) -> str | None:
    """The kind of the file at ``rel`` holding ``text``: by name, then, where the name
    leaves it open, by content (``known``: the kind the disk's content gave)."""
    by_name = classify_name(rel)
    if by_name not in AMBIGUOUS:
        return by_name or known
    return classify_content(rel, text[:PEEK_BYTES].encode("utf-8", "replace"), by_name)


class Skipped(Struct, frozen=True):
    rel: str
    reason: str
    # A file of a kind stackaudit reads (or a directory that may hold some) left
    # unread: its findings are missing, which SA003 reports. Other skips are notes.
    analysable: bool = False


def _spec(lines: list[str]) -> pathspec.PathSpec[Any]:
    import pathspec  # imported on first use: a pre-commit run on one file never needs it

    return pathspec.GitIgnoreSpec.from_lines(lines)


# (path, mtime_ns, size or -1 for a directory, ctime_ns, inode) of everything whose
# change could change what discovery finds: walked directories (an added, removed or
# renamed entry changes their mtime), .gitignore files, and files classified by their
# content.
Watch = list[tuple[str, int, int, int, int]]


def discover(
    paths: list[Path],
    root: Path,
    exclude: list[str],
    max_file_size: int,
    watch: Watch | None = None,
    nested: Nested | None = None,
) -> tuple[list[Candidate], list[Skipped]]:
    """The files under ``paths`` (all inside ``root``) that stackaudit reads, sorted."""
    skipped: list[Skipped] = []
    found = {
        c.rel: c
        for c in iter_candidates(paths, root, exclude, max_file_size, skipped, watch, nested)
    }
    return sorted(found.values(), key=lambda c: c.rel), sorted(skipped, key=lambda s: s.rel)


def iter_candidates(
    paths: list[Path],
    root: Path,
    exclude: list[str],
    max_file_size: int,
    skipped: list[Skipped],
    watch: Watch | None = None,
    nested: Nested | None = None,
) -> Iterator[Candidate]:
    """The same files as ``discover``, yielded directory by directory (names sorted,
    depth first) without holding them all: memory does not follow the tree's size."""
    # pathspec is imported only when there is a pattern to match.
    excludes = _spec(list(exclude)) if exclude else None
    real_root = Path(real_path(root))
    found: dict[str, Candidate] = {}
    seen: set[str] | None = set() if len(paths) > 1 else None  # overlapping paths
    for start in paths:
        if start.is_symlink():
            target = _link_target(start)
            if target is None or not inside(target, str(real_root)):
                reason = "cannot be resolved" if target is None else "out of the scanned root"
                skipped.append(Skipped(_rel(start, root), f"symbolic link {reason}"))
                continue
        if start.is_file():
            _consider(start, root, real_root, found, skipped, max_file_size, explicit=True)
            yield from _drain(found, seen)
            continue
        # A path given explicitly is scanned even when an exclude names it (as in ruff);
        # below it, excludes then apply relative to it.
        base = _rel(start, root)
        excluded = excludes is not None and base != "." and excludes.match_file(base + "/")
        exclude_base = base if excluded else ""
        for _ in _walk(
            start,
            root,
            real_root,
            (excludes, exclude_base),
            found,
            skipped,
            max_file_size,
            watch,
            nested,
        ):
            yield from _drain(found, seen)


def _drain(found: dict[str, Candidate], seen: set[str] | None) -> Iterator[Candidate]:
    for rel, candidate in found.items():
        if seen is None or rel not in seen:
            if seen is not None:
                seen.add(rel)
            yield candidate
    found.clear()


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _walk(
    top: Path,
    root: Path,
    real_root: Path,
    excluding: Excluding,
    found: dict[str, Candidate],
    skipped: list[Skipped],
    max_file_size: int,
    watch: Watch | None = None,
    nested: Nested | None = None,
) -> Iterator[None]:
    """Walk ``top``; after each directory, yield so the caller can take the candidates
    found in it."""
    # Strings, not Path objects, on the hot path: a big tree has many entries and few
    # candidates. Each stack entry: a directory (absolute and relative to the root), the
    # excludes in force there with the directory they are relative to, and the gitignore
    # specs in force there, with the directory each spec is relative to.
    start_rel = _rel(top, root)
    stack: list[tuple[str, str, Excluding, list[tuple[str, pathspec.PathSpec[Any]]]]] = [
        (str(top), "" if start_rel == "." else start_rel, excluding, [])
    ]
    while stack:
        directory, rel_dir, excluding, ignores = stack.pop()
        ignores = list(ignores)
        if watch is not None:
            with contextlib.suppress(OSError):
                info = os.stat(directory)  # noqa: PTH116
                watch.append((directory, info.st_mtime_ns, -1, info.st_ctime_ns, info.st_ino))
        gitignore = os.path.join(directory, ".gitignore")  # noqa: PTH118
        spec = _read_gitignore(
            gitignore, f"{rel_dir}/.gitignore" if rel_dir else ".gitignore", skipped, watch
        )
        if spec is not None:
            ignores.append((rel_dir, spec))
        try:
            with os.scandir(directory) as iterator:
                entries = sorted(iterator, key=lambda e: e.name)
        except OSError as exc:
            reason = f"cannot read directory: {exc.strerror or exc}"
            skipped.append(Skipped(rel_dir or ".", reason, analysable=True))
            continue
        if nested is not None:
            excluding = _nested_excludes(nested, directory, rel_dir, entries, excluding, watch)
        excludes, exclude_base = excluding
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if entry.name in _DEFAULT_EXCLUDED or _ignored(
                rel, is_dir, excludes, exclude_base, ignores
            ):
                continue
            if is_link:
                # realpath, not Path.resolve: a loop of links must not raise. A looping
                # link resolves inside the root and is then reported as unreadable.
                target = _link_target(entry.path)
                if target is None:
                    skipped.append(Skipped(rel, "symbolic link that cannot be resolved"))
                    continue
                if not inside(target, str(real_root)):
                    skipped.append(Skipped(rel, "symbolic link out of the scanned root"))
                    continue
                if os.path.isdir(target):  # noqa: PTH112
                    continue  # directory links are never followed: no loops, no duplicates
            if is_dir:
                subdirs.append((entry.path, rel, excluding, ignores))
            else:
                _consider_entry(entry, rel, found, skipped, max_file_size, watch)
        yield None
        stack.extend(reversed(subdirs))


def _link_target(path: str | os.PathLike[str]) -> str | None:
    """Where a symbolic link leads, None when it cannot be told: ``realpath`` raises
    when a link on the way cannot be read (``/proc/<pid>/cwd`` of another user's
    process, a FUSE mount), and one such link must not end the walk."""
    try:
        return real_path(path)
    except OSError:
        return None


def _nested_excludes(
    nested: Nested,
    directory: str,
    rel_dir: str,
    entries: list[os.DirEntry[str]],
    excluding: Excluding,
    watch: Watch | None,
) -> Excluding:
    """The excludes in force below ``directory``: a configuration there brings its own,
    relative to it, in place of those above."""
    names = [e.name for e in entries if e.name in _CONFIG_NAMES]
    if watch is not None:
        # A replayed report must notice an edited configuration, not only new files.
        for entry in entries:
            if entry.name in _CONFIG_NAMES:
                with contextlib.suppress(OSError):
                    watch.append(_watched(entry.path, entry.stat(follow_symlinks=False)))
    patterns = nested(directory, rel_dir, names)
    if patterns is None:
        return excluding
    return (_spec(patterns) if patterns else None, rel_dir)


def _consider_entry(
    entry: os.DirEntry[str],
    rel: str,
    found: dict[str, Candidate],
    skipped: list[Skipped],
    max_file_size: int,
    watch: Watch | None = None,
) -> None:
    """A file met while walking: classified by name before anything is read or
    stat'ed, since most files of a big tree are of no kind stackaudit reads."""
    kind = classify_name(rel)
    if kind is None:
        return
    try:
        info = entry.stat()
    except OSError as exc:
        skipped.append(Skipped(rel, f"cannot read: {exc.strerror or exc}", analysable=True))
        return
    _admit(entry.path, rel, kind, info, found, skipped, max_file_size, watch)


def _admit(
    path: str,
    rel: str,
    kind: str | None,
    info: os.stat_result,
    found: dict[str, Candidate],
    skipped: list[Skipped],
    max_file_size: int,
    watch: Watch | None = None,
    explicit: bool = False,
) -> None:
    """Decide on a file whose name gave ``kind`` (None: unknown, the content may tell):
    a candidate, a skip of a file whose findings would be missing (``analysable``), or
    a note. A FIFO or a device is never opened."""
    if not stat.S_ISREG(info.st_mode):
        if kind is not None or explicit:
            what = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
            skipped.append(Skipped(rel, f"{what}: not read"))
        return
    if watch is not None:
        watch.append(_watched(path, info))
    if kind is None or kind in AMBIGUOUS:
        head = _peek(Path(path))
        if head is None:
            if kind is not None or explicit:
                skipped.append(Skipped(rel, "cannot read", analysable=kind is not None))
            return
        kind = classify_content(rel, head, kind)
        if kind is None:
            return
    if info.st_size > max_file_size:
        reason = f"larger than max-file-size ({info.st_size} bytes)"
        skipped.append(Skipped(rel, reason, analysable=True))
        return
    found[rel] = Candidate(
        path, rel, kind, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino
    )


def _watched(path: str, info: os.stat_result) -> tuple[str, int, int, int, int]:
    return (path, info.st_mtime_ns, info.st_size, info.st_ctime_ns, info.st_ino)


def _ignored(
    rel: str,
    is_dir: bool,
    excludes: pathspec.PathSpec[Any] | None,
    exclude_base: str,
    ignores: list[tuple[str, pathspec.PathSpec[Any]]],
) -> bool:
    probe = rel + "/" if is_dir else rel
    if excludes is not None and excludes.match_file(
        probe[len(exclude_base) + 1 :] if exclude_base else probe
    ):
        return True
    # As in git, the deepest .gitignore with a matching pattern decides, so a nested
    # "!name" re-includes what a parent ignores.
    for base, spec in reversed(ignores):
        relative = probe[len(base) + 1 :] if base else probe
        decision = spec.check_file(relative).include
        if decision is not None:
            return bool(decision)
    return False


def _consider(
    path: Path,
    root: Path,
    real_root: Path,
    found: dict[str, Candidate],
    skipped: list[Skipped],
    max_file_size: int,
    explicit: bool = False,
) -> None:
    rel = _rel(path, root)
    kind = classify_name(rel)
    try:
        info = path.stat()
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        skipped.append(Skipped(rel, reason, analysable=kind is not None))
        return
    _admit(str(path), rel, kind, info, found, skipped, max_file_size, explicit=explicit)


def _peek(path: Path) -> bytes | None:
    try:
        return read_regular(path, PEEK_BYTES, head=True)
    except NotRead:
        return None


GITIGNORE_LIMIT = 1024 * 1024


def _read_gitignore(
    path: str, rel: str, skipped: list[Skipped], watch: Watch | None
) -> pathspec.PathSpec[Any] | None:
    """The patterns of one ``.gitignore``, read as git reads them. A link is not
    followed (git stopped following a ``.gitignore`` link in 2.32, so a link to a file
    holding ``*`` must not hide the tree from us either); a FIFO or a device is not
    read; a pattern git could not use (a lone ``!``, a trailing backslash, a reversed
    range ``[z-a]``) is dropped. Each with a note."""
    try:
        info = os.lstat(path)
    except OSError:
        return None  # none here: the common case
    if stat.S_ISLNK(info.st_mode):
        skipped.append(Skipped(rel, "symbolic link: git does not follow it, neither do we"))
        return None
    try:
        data = read_regular(path, GITIGNORE_LIMIT)
    except NotRead as exc:
        skipped.append(Skipped(rel, exc.reason))
        return None
    if watch is not None:
        with contextlib.suppress(OSError):
            watch.append(_watched(path, os.stat(path)))  # noqa: PTH116
    lines = gitignore_lines(data)
    try:
        return _spec(lines)
    except Exception:  # pathspec raises several types for one bad line
        usable = []
        for number, line in enumerate(lines, 1):
            try:
                _spec([line])
            except Exception:
                skipped.append(Skipped(rel, f"line {number}: invalid pattern ignored"))
                continue
            usable.append(line)
        return _spec(usable)


_TRAILING_BLANKS = re.compile(r"(?<!\\) +$")
_TRAILING_WHITESPACE = re.compile(r"[^\S ]+$")


def gitignore_lines(data: bytes) -> list[str]:
    """The lines of a ``.gitignore`` as git cuts them (git's ``dir.c``): at ``\\n``
    only (a form feed or U+2028 does not end a comment), one ``\\r`` before it
    dropped, and trailing spaces trimmed unless escaped — spaces only: a trailing tab is
    part of the pattern. pathspec strips every trailing whitespace character, so those
    are written as one-character brackets it keeps."""
    lines = []
    for raw in data.decode("utf-8", errors="replace").split("\n"):
        line = _TRAILING_BLANKS.sub("", raw.removesuffix("\r"))
        tail = _TRAILING_WHITESPACE.search(line)
        if tail is not None:
            line = line[: tail.start()] + "".join(f"[{c}]" for c in tail.group())
        lines.append(line)
    return lines


# -- classification ---------------------------------------------------------------------

AMBIGUOUS = frozenset(
    {"yaml", "conf", "conf-dir", "maybe-shell", "maybe-dockerfile", "maybe-traefik"}
)

_NAME_RULES: list[tuple[re.Pattern[str], str]] = [
    # BuildKit's per-Dockerfile ignore file (`Dockerfile.dockerignore`) is no Dockerfile.
    (re.compile(r"\.dockerignore$", re.IGNORECASE), "ignored"),
    (
        # `dockerfile` too: docker build falls back to the lower-case name. The variants
        # passed with -f (`Dockerfile.prod`, `Dockerfile-dev`, `prod.Dockerfile`,
        # `api.dockerfile`) are read by name; other names that speak of Docker
        # (`Dockerfile_prod`, `dockerfile.prod`, but also `dockerfile_parser.go`) are
        # "maybe-dockerfile" below, and their content decides.
        re.compile(
            r"(^|/)(Dockerfile|Containerfile)([.-][^/]*)?$|(^|/)(dockerfile|containerfile)$"
            r"|\.(dockerfile|Dockerfile|containerfile|Containerfile)$"
        ),
        "dockerfile",
    ),
    (re.compile(r"(^|/)(docker-)?compose([.-][^/]*)?\.ya?ml$"), "compose"),
    # Compose files rendered by a template engine before `docker compose` reads them
    # (`docker-compose.yml.j2`, `compose.prod.yaml.tpl`).
    (
        re.compile(r"(^|/)(docker-)?compose([.-][^/]*)?\.ya?ml\.(tpl|tmpl|template|j2|jinja2?)$"),
        "compose",
    ),
    (re.compile(r"(^|/)\.github/workflows/[^/]+\.ya?ml$"), "github-actions"),
    # Traefik's configuration files (`traefik.yml`, `traefik.dev.toml`, `traefik.toml.tpl`,
    # anything in a `traefik/` directory): the content tells them from manifests.
    (
        re.compile(
            r"((^|/)traefik[^/]*|(^|/)traefik/.*)\.(ya?ml|toml)(\.(tpl|tmpl|template|j2|jinja2?))?$",
            re.IGNORECASE,
        ),
        "maybe-traefik",
    ),
    # Fly.io's app configuration (`fly.toml`, `fly.staging.toml` passed with -c).
    (re.compile(r"(^|/)fly(\.[A-Za-z0-9_-]+)?\.toml$"), "fly"),
    (re.compile(r"\.py$|\.pyw$"), "python"),
    # Environment files a compose `env_file:` or a unit's `EnvironmentFile=` may name.
    (re.compile(r"(^|/)\.env(\.[A-Za-z0-9_-]+)?$|(^|/)[^/]+\.env$"), "env"),
    (re.compile(r"\.ipynb$"), "notebook"),
    (re.compile(r"(^|/|_)Procfile([.-][^/]*)?$"), "procfile"),
    (re.compile(r"\.(service)$"), "systemd"),
    (
        re.compile(r"(^|/)nginx[^/]*\.conf$|\.conf\.template$|\.nginx$|(^|/)nginx/.*\.(conf|tpl)$"),
        "nginx",
    ),
    (re.compile(r"(^|/)supervisord?\.conf$|(^|/)supervisor/.*\.conf$"), "supervisord"),
    # Directories nginx's packaging includes from: `sites-enabled/*` (any name),
    # `conf.d/*.conf`, `snippets/*.conf`. Other programs use these names too
    # (supervisor's conf.d, editors' snippets), so the content decides.
    (
        re.compile(r"(^|/)sites-(available|enabled)/[^/]+$|(^|/)(conf\.d|snippets)/[^/]+\.conf$"),
        "conf-dir",
    ),
    # `sh start.SH` runs it as well as `start.sh`: the case of an extension is no guard.
    (re.compile(r"\.(sh|bash)$", re.IGNORECASE), "shell"),
    (re.compile(r"(^|/)(GNU)?[Mm]akefile$|\.mk$"), "makefile"),
    (re.compile(r"(^|/)[^/.]*entrypoint[^/]*$"), "shell"),
    (re.compile(r"(^|/)(requirements[^/]*\.(txt|in)|constraints[^/]*\.txt)$"), "requirements"),
    (
        re.compile(r"(^|/)(pyproject\.toml|Pipfile|poetry\.lock|uv\.lock|Pipfile\.lock)$"),
        "dependencies",
    ),
    (
        re.compile(r"(^|/)(environment|anaconda-project|render|app|snapcraft|\.platform)\.ya?ml$"),
        "yaml",
    ),
    (re.compile(r"\.ya?ml(\.(tpl|tmpl|template|j2|jinja2?))?$"), "yaml"),
    (re.compile(r"\.(conf|tpl)$"), "conf"),
    # A name that speaks of Docker (`Dockerfile_prod`, `web.docker`, `Docker.prod`): a
    # Dockerfile if its content is one, else as any other name.
    (re.compile(r"(^|/)[^/]*(docker|containerfile)[^/]*$", re.IGNORECASE), "maybe-dockerfile"),
    (re.compile(r"(^|/)[^/.]+$"), "maybe-shell"),
]

_SHEBANG = re.compile(rb"^#![^\n]*\b(sh|bash|dash|zsh|ash|ksh)\b")
_PY_SHEBANG = re.compile(rb"^#![^\n]*\bpython")
# A block opening, or one of nginx's telltale directives ending in `;` (php-fpm's
# `listen = 127.0.0.1:9000` is not one).
_NGINX_HINT = re.compile(
    rb"^\s*(server|location|upstream|http|map|events)\b[^\n;]*\{"
    rb"|^\s*(proxy_pass|listen|server_name)[ \t]+[^\n=;{}]+;",
    re.MULTILINE,
)
# A Helm chart's own files are no manifests, whatever they hold (`apiVersion: v2` in
# Chart.yaml; a values.yaml may quote a manifest); extractors.helm reads them.
_HELM_CHART_FILES = frozenset({"Chart.yaml", "values.yaml"})
_K8S_HINT = re.compile(rb"^apiVersion:\s*\S+", re.MULTILINE)
# Compose's `services:` is a mapping of names (other manifests, such as App Platform
# specs, hold a list there).
_COMPOSE_HINT = re.compile(
    rb"^services:[ \t]*\r?\n(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]+[A-Za-z0-9_.-]+:", re.MULTILINE
)
_SUPERVISOR_HINT = re.compile(rb"^\[program:", re.MULTILINE)
# A Traefik configuration's top-level keys, in YAML (`entryPoints:`) or TOML
# (`[entryPoints]`, `[entryPoints.web]`, `[http.routers.dash]`).
_TRAEFIK_HINT = re.compile(
    rb"^(\[\[?\s*)?(entryPoints|providers|api|certificatesResolvers|http|tcp)\b[\].:\s]",
    re.MULTILINE | re.IGNORECASE,
)
# A line shaped like an nginx simple directive: a lower-case name, arguments, `;`. Files
# in nginx's directories are often fragments with no block (`proxy_set_header ...;`).
_NGINX_DIRECTIVE = re.compile(
    rb"^[ \t]*[a-z][a-z0-9_]*[ \t]+[^\n;{}=#]*;[ \t]*(?:#[^\n]*)?\r?$", re.MULTILINE
)


# Extensions no rule reads, whatever the directory (nginx's included: certificates, pages
# and scripts sit beside its configuration).
_NEVER = frozenset(
    {
        "pyc",
        "pyo",
        "pyd",
        "so",
        "dll",
        "dylib",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "ico",
        "css",
        "js",
        "mjs",
        "map",
        "html",
        "htm",
        "md",
        "rst",
        "json",
        "pyi",
        "typed",
        "csv",
        "woff",
        "woff2",
        "ttf",
        "eot",
        "otf",
        "zip",
        "gz",
        "whl",
        "h",
        "c",
        "cpp",
        "mo",
        "po",
        "lock",
        "cfg",
        "ini",
        "xml",
        "tsv",
        "pdf",
        "pem",
        "crt",
        "key",
        "txt",
    }
)


def classify_name(rel: str) -> str | None:
    name = rel.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    # Most files of a big tree are decided by their extension alone.
    if extension in ("py", "pyw") and not rel.startswith(".github/"):
        return "python"
    dependency_file = (
        extension == "txt" and ("requirements" in name or "constraints" in name)
    ) or (name in ("poetry.lock", "uv.lock", "Pipfile.lock"))
    if extension in _NEVER and not dependency_file:
        return None
    for pattern, kind in _NAME_RULES:
        if pattern.search(rel):
            return None if kind == "ignored" else kind
    return None


def classify_content(rel: str, head: bytes, by_name: str | None) -> str | None:
    if by_name in ("yaml", "maybe-traefik"):
        if rel.rsplit("/", 1)[-1] in _HELM_CHART_FILES:
            return "yaml"
        if _K8S_HINT.search(head) and b"kind:" in head:
            return "kubernetes"
        if _COMPOSE_HINT.search(head):
            return "compose"
        if by_name == "yaml":
            return "yaml"
        if _TRAEFIK_HINT.search(head):
            return "traefik"
        return "yaml" if re.search(r"\.ya?ml(\.[a-z0-9]+)?$", rel, re.IGNORECASE) else None
    if by_name in ("conf", "conf-dir"):
        if _SUPERVISOR_HINT.search(head):
            return "supervisord"
        if _NGINX_HINT.search(head):
            return "nginx"
        if by_name == "conf-dir" and _NGINX_DIRECTIVE.search(head):
            return "nginx"
        if nginx_shaped(head):
            return "nginx"
        return None
    if by_name == "maybe-dockerfile":
        if dockerfile_shaped(head):
            return "dockerfile"
        by_name = "maybe-shell"
    if by_name == "maybe-shell":
        if _SHEBANG.match(head):
            return "shell"
        if _PY_SHEBANG.match(head):
            return "python"
        return None
    return by_name


# A line of a `.conf` file that nginx would read as a directive: a name from nginx's own
# table, arguments, then `;` or a block's `{` (a trailing comment allowed).
_DIRECTIVE_LINE = re.compile(
    rb"^[ \t]*([a-z_][a-z0-9_]*)(?:[ \t]+[^\n#]*?)?[ \t]*[;{][ \t]*(?:#[^\n]*)?\r?$", re.MULTILINE
)
# What other programs' `.conf` files hold and nginx's never do: `key = value` (php-fpm,
# postgres, sysctl, systemd, INI), an `[section]`, an XML or Apache `<Tag>` line. (nginx's
# `location = /exact {` is the one directive written `name =`.)
_NOT_NGINX = re.compile(
    rb"^[ \t]*(?:(?!location\b)[A-Za-z_][A-Za-z0-9_.:-]*[ \t]*="
    rb"|\[[^\n\]]*\][ \t]*\r?$|<[A-Za-z?!/])",
    re.MULTILINE,
)
NGINX_SHAPED_LINES = 2


def nginx_shaped(head: bytes) -> bool:
    """Whether a `.conf` file of any name is an nginx configuration or fragment (a
    `cors.conf` holding only `add_header ...;` lines): at least two lines that are
    directives from nginx's table ending in `;` or `{`, and nothing shaped like another
    program's configuration. Logrotate's `rotate 7`, redis's `port 6379` end in no `;`;
    Apache's `ServerName` is no nginx directive."""
    if _NOT_NGINX.search(head):
        return False
    from crossplane.analyzer import DIRECTIVES  # imported only when a `.conf` is in doubt

    known = 0
    for match in _DIRECTIVE_LINE.finditer(head):
        if match.group(1).decode() in DIRECTIVES:
            known += 1
            if known >= NGINX_SHAPED_LINES:
                return True
    return False


# `FROM [--platform=...] image [AS name]`, the whole line: prose that begins with "From"
# is no instruction. `ARG NAME[=value]`.
_FROM = re.compile(
    rb"FROM(?:[ \t]+--[a-z]+=\S+)*[ \t]+\S+(?:[ \t]+AS[ \t]+\S+)?[ \t]*", re.IGNORECASE
)
_ARG = re.compile(rb"ARG[ \t]+[A-Za-z_][A-Za-z0-9_]*(?:=|[ \t]|\\?$)", re.IGNORECASE)


def dockerfile_shaped(head: bytes) -> bool:
    """Whether a file begins as a Dockerfile does: after comments (parser directives
    such as `# syntax=` included) and blank lines, a `FROM` line, or `ARG` lines then
    one."""
    continued = False
    for raw in head.splitlines():
        line = raw.strip()
        if continued:
            continued = line.endswith(b"\\")
            continue
        if not line or line.startswith(b"#"):
            continue
        if _FROM.fullmatch(line):
            return True
        if not _ARG.match(line):
            return False
        continued = line.endswith(b"\\")
    return False
