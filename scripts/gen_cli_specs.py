#!/usr/bin/env python3
"""Generate ``src/stackaudit/data/cli_specs.json`` from the REAL upstream parsers.

This is a developer tool, never imported by stackaudit at run time.  It imports
the upstream packages and walks their actual argparse / click objects, so the
JSON it writes describes exactly what ``bokeh serve``, ``panel serve``,
``uvicorn``, ``gunicorn``, ``fastapi run|dev`` and ``hypercorn`` accept.

Run it with an interpreter that has the upstream packages installed, e.g.::

    python3 -m venv /work/scratch/upstream
    /work/scratch/upstream/bin/pip install bokeh==3.9.2 'panel>=1.9,<1.10' \
        tornado starlette uvicorn gunicorn fastapi fastapi-cli hypercorn flask
    /work/scratch/upstream/bin/python scripts/gen_cli_specs.py

Output shape (keys sorted, 2-space indent, trailing newline)::

    {"<command>": {"package", "version", "parser", "allow_abbrev",
                   "auto_envvar_prefix", "source", "options", "positionals"}}

Each option: ``flags, dest, action, nargs, default, choices, envvar``.
``action`` uses argparse vocabulary (click is mapped onto it); ``nargs`` is null
for exactly one value, 0 for flags, or ``"?"``, ``"*"``, ``"+"``, ``"..."``
(REMAINDER), ``"A..."`` (PARSER), or an integer.  ``envvar`` is the environment
variable that supplies the option's value when the flag is absent (click
``envvar`` / ``auto_envvar_prefix``; for gunicorn the settings whose default is
read from the environment; for bokeh/panel serve the variables their
``invoke`` reads for that flag, listed only where the flag wins or setting both
is an error; for uvicorn / fastapi also the variable that
``uvicorn.Config`` reads when the value is still None), a list of names in
precedence order when there are several, or null.  Positionals carry
``dest, nargs, envvar``.  ``auto_envvar_prefix`` is present for every command
(null for argparse).

Defaults are made independent of the machine: the relevant environment
variables are removed and HOME points to an empty directory before the upstream
packages are imported (gunicorn, uvicorn and bokeh read some defaults from the
environment or from ``~/.bokeh`` at import time).
"""

from __future__ import annotations

import os
import sys
import tempfile

# ---------------------------------------------------------------------------
# Determinism: scrub the environment BEFORE importing anything upstream.
# ---------------------------------------------------------------------------
_SCRUB_PREFIXES = ("BOKEH_", "PANEL_", "UVICORN_", "GUNICORN_", "HYPERCORN_", "FASTAPI_")
_SCRUB_NAMES = {"PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"}
for _k in list(os.environ):
    if _k.startswith(_SCRUB_PREFIXES) or _k in _SCRUB_NAMES:
        del os.environ[_k]
_HOME = tempfile.TemporaryDirectory(prefix="gen_cli_specs_home_")  # removed at exit
os.environ["HOME"] = _HOME.name

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import sysconfig  # noqa: E402
from typing import Any  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
OUT = REPO / "src" / "stackaudit" / "data" / "cli_specs.json"
SITE = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()


def _source(obj: Any) -> str:
    path = pathlib.Path(inspect.getsourcefile(obj)).resolve()
    try:
        return path.relative_to(SITE).as_posix()
    except ValueError:
        return path.name


def _version(dist: str) -> str:
    return importlib.metadata.version(dist)


def _jsonable(value: Any) -> Any:
    """Return value if JSON-serialisable (tuples become lists), else a stable repr.

    Defaults computed from the machine (gunicorn: ``--chdir`` = cwd,
    ``--control-socket`` under $HOME) are written as ``<cwd>`` / ``~``.
    """
    if isinstance(value, str):
        home, cwd = os.environ["HOME"], str(pathlib.Path.cwd())
        if value == cwd:
            return "<cwd>"
        if value.startswith(home + os.sep):
            return "~" + value[len(home) :]
        return value
    if isinstance(value, tuple):
        value = list(value)
    if callable(value) and not isinstance(value, (str, bytes)):
        name = getattr(value, "__qualname__", None) or type(value).__name__
        return f"<callable {name}>"
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        r = repr(value)
        if " at 0x" in r:  # never leak addresses: output must be deterministic
            r = f"<{type(value).__name__}>"
        return r


# ---------------------------------------------------------------------------
# argparse
# ---------------------------------------------------------------------------
_ARGPARSE_ACTIONS = {
    argparse._StoreAction: "store",
    argparse._StoreConstAction: "store_const",
    argparse._StoreTrueAction: "store_true",
    argparse._StoreFalseAction: "store_false",
    argparse._AppendAction: "append",
    argparse._AppendConstAction: "append_const",
    argparse._CountAction: "count",
    argparse._ExtendAction: "extend",
    argparse._HelpAction: "help",
    argparse._VersionAction: "version",
}
_ZERO_ARG = {"store_const", "store_true", "store_false", "append_const", "count", "help", "version"}


def _argparse_nargs(action: argparse.Action, kind: str) -> Any:
    if kind in _ZERO_ARG:
        return 0
    n = action.nargs
    if n is None:
        return None
    if n == argparse.REMAINDER:
        return "..."
    if n == argparse.PARSER:
        return "A..."
    return n  # '?', '*', '+' or an int


def _argparse_kind(action: argparse.Action) -> str:
    for cls in type(action).__mro__:
        if cls in _ARGPARSE_ACTIONS:
            return _ARGPARSE_ACTIONS[cls]
    raise SystemExit(f"unknown argparse action class {type(action)!r} for {action.option_strings}")


def walk_argparse(
    parser: argparse.ArgumentParser,
    defaults: dict[str, Any] | None = None,
    envvars: dict[str, str] | None = None,
    null_defaults: tuple[Any, ...] = (),
) -> tuple[list[dict], list[dict]]:
    """Walk ``parser._actions``.

    ``defaults`` overrides the parser default per dest (gunicorn keeps the real
    defaults in its settings, the parser default is always None).  Parser
    defaults identical to an object in ``null_defaults`` (hypercorn's
    ``sentinel``) are written as null.
    """
    options: list[dict] = []
    positionals: list[dict] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if isinstance(action, getattr(argparse, "BooleanOptionalAction", ())):
            pos = [f for f in action.option_strings if not f.startswith("--no-")]
            neg = [f for f in action.option_strings if f.startswith("--no-")]
            for flags, kind in ((pos, "store_true"), (neg, "store_false")):
                options.append(
                    _entry(flags, action.dest, kind, 0, action.default, action.choices, None)
                )
            continue
        kind = _argparse_kind(action)
        if not action.option_strings:
            positionals.append(
                {"dest": action.dest, "nargs": _argparse_nargs(action, kind), "envvar": None}
            )
            continue
        default = action.default
        if any(default is d for d in null_defaults):
            default = None
        if defaults is not None and action.dest in defaults:
            default = defaults[action.dest]
        options.append(
            _entry(
                list(action.option_strings),
                action.dest,
                kind,
                _argparse_nargs(action, kind),
                default,
                action.choices,
                (envvars or {}).get(action.dest),
            )
        )
    return options, positionals


def _entry(flags, dest, action, nargs, default, choices, envvar) -> dict:
    if choices is not None:
        choices = [_jsonable(c) for c in choices]
    return {
        "flags": list(flags),
        "dest": dest,
        "action": action,
        "nargs": nargs,
        "default": _jsonable(default),
        "choices": choices,
        "envvar": envvar,
    }


# ---------------------------------------------------------------------------
# click
# ---------------------------------------------------------------------------
def _click_unset(value: Any) -> bool:
    """click >= 8.3 (and typer's vendored fork) mark 'no default' with a sentinel."""
    for modname in ("click._utils", "typer._click.utils", "typer._click._utils"):
        try:
            mod = __import__(modname, fromlist=["UNSET"])
        except ImportError:
            continue
        unset = getattr(mod, "UNSET", None)
        if unset is not None and value is unset:
            return True
    return False


def _is_option(param) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _click_envvar(param, ctx) -> Any:
    """Effective environment variable: explicit ``envvar`` or ``<auto_envvar_prefix>_<NAME>``."""
    if param.envvar:
        return list(param.envvar) if isinstance(param.envvar, (list, tuple)) else param.envvar
    if (
        _is_option(param)
        and getattr(param, "allow_from_autoenv", True)
        and ctx.auto_envvar_prefix is not None
        and param.name
    ):
        return f"{ctx.auto_envvar_prefix}_{param.name.upper()}"
    return None


def walk_click(
    cmd, ctx, env_fallbacks: dict[str, str] | None = None
) -> tuple[list[dict], list[dict]]:
    """Walk a click command's params (works for click and typer's vendored click fork).

    ``env_fallbacks`` adds, per dest, an environment variable read later when the
    value is still None (uvicorn ``Config`` reads WEB_CONCURRENCY and
    FORWARDED_ALLOW_IPS); ``envvar`` then becomes a list in precedence order.
    """
    options: list[dict] = []
    positionals: list[dict] = []
    help_names = set(ctx.help_option_names)
    for p in cmd.get_params(ctx):  # includes the help option, as the command builds it
        default = None if _click_unset(p.default) else p.default
        ptype = getattr(p, "type", None)
        choices = list(ptype.choices) if hasattr(ptype, "choices") else None
        if not _is_option(p):
            if p.nargs == -1:
                nargs: Any = "+" if p.required else "*"
            elif p.nargs == 1:
                nargs = None
            else:
                nargs = p.nargs
            positionals.append({"dest": p.name, "nargs": nargs, "envvar": _click_envvar(p, ctx)})
            continue
        envvar = _click_envvar(p, ctx)
        extra = (env_fallbacks or {}).get(p.name)
        if extra:
            envvar = [*([envvar] if isinstance(envvar, str) else (envvar or [])), extra]
            envvar = envvar[0] if len(envvar) == 1 else envvar
        if set(p.opts) <= help_names and not p.expose_value:
            # click collects help names through a set: use the context's (ordered) list
            flags = [n for n in ctx.help_option_names if n in p.opts]
            options.append(_entry(flags, p.name, "help", 0, None, None, None))
            continue
        if p.is_flag and not p.expose_value and p.is_eager and "--version" in p.opts:
            options.append(_entry(p.opts, p.name, "version", 0, None, None, None))
            continue
        if p.is_flag and p.is_bool_flag:
            flag_value = getattr(p, "flag_value", getattr(p, "_depr_flag_value", True))
            on = flag_value is not False
            options.append(
                _entry(
                    p.opts, p.name, "store_true" if on else "store_false", 0, default, None, envvar
                )
            )
            if p.secondary_opts:
                options.append(
                    _entry(
                        p.secondary_opts,
                        p.name,
                        "store_false" if on else "store_true",
                        0,
                        default,
                        None,
                        envvar,
                    )
                )
            continue
        if p.is_flag:
            options.append(_entry(p.opts, p.name, "store_const", 0, default, choices, envvar))
            continue
        if p.count:
            options.append(_entry(p.opts, p.name, "count", 0, default, None, envvar))
            continue
        nargs = None if p.nargs == 1 else p.nargs
        kind = "append" if p.multiple else "store"
        if p.multiple and default == ():
            default = []
        options.append(_entry(p.opts, p.name, kind, nargs, default, choices, envvar))
    return options, positionals


def click_allows_abbrev(ctx_factory, probe: list[str]) -> bool:
    """Ask the click implementation itself whether an abbreviated long option is accepted."""
    ctx = ctx_factory()
    try:
        ctx.command.parse_args(ctx, list(probe))
    except Exception as exc:  # NoSuchOption (a UsageError) in click and typer's fork
        if type(exc).__name__ in ("NoSuchOption", "UsageError", "BadOptionUsage"):
            return False
        raise
    return True


# ---------------------------------------------------------------------------
# the commands
# ---------------------------------------------------------------------------
def _verified_envvars(table: dict[str, tuple[Any, list[tuple[Any, str]]]]) -> dict[str, Any]:
    """``{dest: (envvar, [(object, source_snippet), ...])}`` -> ``{dest: envvar}``.

    Each env var is listed only after checking that the upstream source really
    contains the line that reads it; a changed upstream fails loudly.
    """
    out = {}
    for dest, (envvar, proofs) in table.items():
        for obj, snippet in proofs:
            src = inspect.getsource(obj)
            assert snippet in src, f"{dest}: {snippet!r} not found in {obj!r}"
        out[dest] = envvar
    return out


def _bokeh_serve_envvars() -> dict[str, Any]:
    """Env vars ``bokeh serve`` falls back to when the flag is absent (the flag wins).

    Deliberately NOT listed: BOKEH_ALLOW_WS_ORIGIN (it *replaces* the flag list
    at every handshake), BOKEH_SIGN_SESSIONS (no flag; ``--session-ids`` wins),
    BOKEH_XSRF_COOKIES (never read by ``bokeh serve``: the flag's default False
    is passed as an immediate value).  See docs/upstream-facts.md.
    """
    import bokeh.resources
    from bokeh.command.subcommands.serve import Serve

    inv = Serve.invoke
    return _verified_envvars(
        {
            "port": (
                "BOKEH_DEFAULT_SERVER_PORT",
                [(bokeh.resources, "DEFAULT_SERVER_PORT = settings.default_server_port()")],
            ),
            "log_level": ("BOKEH_PY_LOG_LEVEL", [(inv, "settings.py_log_level(args.log_level)")]),
            "ssl_certfile": (
                "BOKEH_SSL_CERTFILE",
                [(inv, "settings.ssl_certfile(getattr(args, 'ssl_certfile', None))")],
            ),
            "ssl_keyfile": (
                "BOKEH_SSL_KEYFILE",
                [(inv, "settings.ssl_keyfile(getattr(args, 'ssl_keyfile', None))")],
            ),
            "auth_module": (
                "BOKEH_AUTH_MODULE",
                [(inv, "settings.auth_module(getattr(args, 'auth_module', None))")],
            ),
            "cookie_secret": (
                "BOKEH_COOKIE_SECRET",
                [(inv, "settings.cookie_secret(getattr(args, 'cookie_secret', None))")],
            ),
            "ico_path": (
                "BOKEH_ICO_PATH",
                [(inv, "settings.ico_path(getattr(args, 'ico_path', None))")],
            ),
        }
    )


def _panel_serve_envvars() -> dict[str, Any]:
    """Env vars ``panel serve`` reads for a flag; setting both raises ValueError.

    Deliberately NOT listed (the env var silently overrides the flag, or is
    ignored): PANEL_OAUTH_EXPIRY, PANEL_OAUTH_REFRESH_TOKENS,
    PANEL_OAUTH_EXTRA_PARAMS, PANEL_OAUTH_GUEST_ENDPOINTS, PANEL_OAUTH_OPTIONAL,
    BOKEH_ICO_PATH (Panel always passes its own favicon).
    """
    import importlib

    from panel.command.serve import Serve

    pconf = importlib.import_module("panel.config")  # ``panel.config`` attr is the config object

    ck = Serve.customize_kwargs
    cfg = pconf._config
    env = dict(_bokeh_serve_envvars())
    env.pop("ico_path")
    env.update(
        _verified_envvars(
            {
                "cookie_secret": (
                    ["PANEL_COOKIE_SECRET", "BOKEH_COOKIE_SECRET"],
                    [
                        (
                            cfg,
                            "'PANEL_COOKIE_SECRET',\n"
                            "            os.environ.get('BOKEH_COOKIE_SECRET'",
                        ),
                        (ck, "if args.cookie_secret and config.cookie_secret:"),
                    ],
                ),
                "cookie_path": (
                    "PANEL_COOKIE_PATH",
                    [(ck, 'if args.cookie_path and "PANEL_COOKIE_PATH" in os.environ:')],
                ),
                "basic_auth": (
                    "PANEL_BASIC_AUTH",
                    [
                        (cfg, "os.environ.get('PANEL_BASIC_AUTH'"),
                        (ck, "if args.basic_auth and config.basic_auth:"),
                    ],
                ),
                "oauth_provider": (
                    "PANEL_OAUTH_PROVIDER",
                    [
                        (cfg, "os.environ.get('PANEL_OAUTH_PROVIDER'"),
                        (ck, "if args.oauth_provider and config.oauth_provider:"),
                    ],
                ),
                "oauth_key": (
                    "PANEL_OAUTH_KEY",
                    [
                        (cfg, "os.environ.get('PANEL_OAUTH_KEY'"),
                        (ck, "if config.oauth_key and args.oauth_key:"),
                    ],
                ),
                "oauth_secret": (
                    "PANEL_OAUTH_SECRET",
                    [
                        (cfg, "os.environ.get('PANEL_OAUTH_SECRET'"),
                        (ck, "if config.oauth_secret and args.oauth_secret:"),
                    ],
                ),
                "oauth_redirect_uri": (
                    "PANEL_OAUTH_REDIRECT_URI",
                    [
                        (cfg, "os.environ.get('PANEL_OAUTH_REDIRECT_URI'"),
                        (ck, "if args.oauth_redirect_uri and config.oauth_redirect_uri:"),
                    ],
                ),
                "oauth_jwt_user": (
                    "PANEL_OAUTH_JWT_USER",
                    [
                        (cfg, "os.environ.get('PANEL_OAUTH_JWT_USER'"),
                        (ck, "if args.oauth_jwt_user and config.oauth_jwt_user:"),
                    ],
                ),
                "oauth_encryption_key": (
                    "PANEL_OAUTH_ENCRYPTION",
                    [
                        (cfg, "os.environ.get('PANEL_OAUTH_ENCRYPTION'"),
                        (ck, "if config.oauth_encryption_key and args.oauth_encryption_key:"),
                    ],
                ),
                "admin_log_level": (
                    "PANEL_ADMIN_LOG_LEVEL",
                    [(ck, "if os.environ.get('PANEL_ADMIN_LOG_LEVEL'):")],
                ),
                "num_threads": (
                    "PANEL_NUM_THREADS",
                    [
                        (cfg, "os.environ.get('PANEL_NUM_THREADS'"),
                        (ck, "if config.nthreads is not None:"),
                    ],
                ),
            }
        )
    )
    return env


def spec_bokeh_serve() -> dict:
    from bokeh.command.subcommands.serve import Serve

    parser = argparse.ArgumentParser(prog="bokeh")  # as bokeh/command/bootstrap.py:98
    subs = parser.add_subparsers(help="Sub-commands")
    sub = subs.add_parser(Serve.name, help=Serve.help)
    Serve(parser=sub)
    options, positionals = walk_argparse(sub, envvars=_bokeh_serve_envvars())
    return {
        "package": "bokeh",
        "version": _version("bokeh"),
        "parser": "argparse",
        "allow_abbrev": sub.allow_abbrev,
        "auto_envvar_prefix": None,
        "source": _source(Serve),
        "options": options,
        "positionals": positionals,
        "_parser": sub,
    }


def spec_panel_serve() -> dict:
    from panel.command.serve import Serve

    parser = argparse.ArgumentParser(prog="panel", formatter_class=argparse.RawTextHelpFormatter)
    subs = parser.add_subparsers(help="Sub-commands")  # as panel/command/__init__.py:72
    sub = subs.add_parser(Serve.name, help=Serve.help)
    Serve(parser=sub)
    options, positionals = walk_argparse(sub, envvars=_panel_serve_envvars())
    return {
        "package": "panel",
        "version": _version("panel"),
        "parser": "argparse",
        "allow_abbrev": sub.allow_abbrev,
        "auto_envvar_prefix": None,
        "source": _source(Serve),
        "options": options,
        "positionals": positionals,
        "_parser": sub,
    }


def spec_uvicorn() -> dict:
    import importlib

    import click

    # ``uvicorn.main`` the package attribute is the command itself (uvicorn/__init__.py
    # re-exports it and shadows the submodule), so go through sys.modules.
    umain = importlib.import_module("uvicorn.main")
    cmd = umain.main
    assert isinstance(cmd, click.Command), type(cmd)

    def make_ctx():
        return click.Context(cmd, info_name="uvicorn", **cmd.context_settings)

    ctx = make_ctx()
    options, positionals = walk_click(cmd, ctx, env_fallbacks=_uvicorn_config_env())
    return {
        "package": "uvicorn",
        "version": _version("uvicorn"),
        "parser": "click",
        "allow_abbrev": click_allows_abbrev(make_ctx, ["--hos", "0.0.0.0", "app:app"]),
        "auto_envvar_prefix": ctx.auto_envvar_prefix,
        "source": _source(umain),
        "options": options,
        "positionals": positionals,
    }


def _uvicorn_config_env() -> dict[str, str]:
    """Env vars uvicorn.Config reads when the value is None (checked against its source)."""
    import uvicorn.config

    src = inspect.getsource(uvicorn.config.Config.__init__)
    found = {}
    if 'os.environ["WEB_CONCURRENCY"]' in src and "if workers is None" in src:
        found["workers"] = "WEB_CONCURRENCY"
    if 'os.environ.get("FORWARDED_ALLOW_IPS"' in src and "if forwarded_allow_ips is None" in src:
        found["forwarded_allow_ips"] = "FORWARDED_ALLOW_IPS"
    assert len(found) == 2, f"uvicorn.Config env handling changed: {found}"
    return found


def spec_gunicorn() -> dict:
    import gunicorn.config

    cfg = gunicorn.config.Config(prog="gunicorn")
    parser = cfg.parser()
    # gunicorn's parser default is always None ("not given"): the real default
    # is the setting's default (gunicorn/config.py Setting.add_option).
    defaults = {name: s.default for name, s in cfg.settings.items()}
    # settings whose default *is* an environment variable's value
    envvars = {"workers": "WEB_CONCURRENCY", "forwarded_allow_ips": "FORWARDED_ALLOW_IPS"}
    options, positionals = walk_argparse(parser, defaults=defaults, envvars=envvars)
    return {
        "package": "gunicorn",
        "version": _version("gunicorn"),
        "parser": "argparse",
        "allow_abbrev": parser.allow_abbrev,
        "auto_envvar_prefix": None,
        "source": _source(gunicorn.config),
        "options": options,
        "positionals": positionals,
        "_parser": parser,
    }


def spec_fastapi(sub: str) -> dict:
    import typer.main
    from fastapi_cli import cli as fcli

    group = typer.main.get_command(fcli.app)  # typer >= 0.2x vendors its own click fork
    ctx_cls = group.context_class
    parent = ctx_cls(group, info_name="fastapi", **group.context_settings)
    cmd = group.commands[sub]

    def make_ctx():
        return ctx_cls(cmd, info_name=sub, parent=parent, **cmd.context_settings)

    ctx = make_ctx()
    # fastapi_cli passes workers / forwarded_allow_ips (None by default) on to uvicorn.run()
    options, positionals = walk_click(cmd, ctx, env_fallbacks=_uvicorn_config_env())
    return {
        "package": "fastapi-cli",
        "version": _version("fastapi-cli"),
        "parser": "click",
        "allow_abbrev": click_allows_abbrev(make_ctx, ["--hos", "0.0.0.0"]),
        "auto_envvar_prefix": ctx.auto_envvar_prefix,
        "source": _source(fcli),
        "options": options,
        "positionals": positionals,
    }


def spec_flask_run() -> dict:
    """``flask [--app X] [--debug] run [options]``: the ``run`` command as the
    ``FlaskGroup`` builds its context (``auto_envvar_prefix="FLASK"``, so ``--host`` reads
    ``FLASK_RUN_HOST``). The group's own ``--debug/--no-debug`` is also an option of
    ``run`` (flask/cli.py ``run_command.params.insert(0, _debug_option)``)."""
    import flask.cli as fcli

    group = fcli.FlaskGroup()
    parent = group.make_context("flask", ["run"], resilient_parsing=True)
    cmd = fcli.run_command

    def make_ctx():
        return cmd.context_class(cmd, info_name="run", parent=parent, **cmd.context_settings)

    ctx = make_ctx()
    options, positionals = walk_click(cmd, ctx)
    return {
        "package": "flask",
        "version": _version("flask"),
        "parser": "click",
        "allow_abbrev": click_allows_abbrev(make_ctx, ["--hos", "0.0.0.0"]),
        "auto_envvar_prefix": ctx.auto_envvar_prefix,
        "source": _source(fcli),
        "options": options,
        "positionals": positionals,
    }


class _Captured(Exception):
    def __init__(self, parser):
        self.parser = parser


def spec_hypercorn() -> dict:
    import hypercorn.__main__ as hmain

    # hypercorn builds its parser inside main(); capture the real object at parse time.
    original = argparse.ArgumentParser.parse_args

    def capture(self, *a, **k):
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture
    try:
        hmain.main(["app:app"])
    except _Captured as c:
        parser = c.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    options, positionals = walk_argparse(parser, null_defaults=(hmain.sentinel,))
    return {
        "package": "hypercorn",
        "version": _version("hypercorn"),
        "parser": "argparse",
        "allow_abbrev": parser.allow_abbrev,
        "auto_envvar_prefix": None,
        "source": _source(hmain),
        "options": options,
        "positionals": positionals,
        "_parser": parser,
    }


# ---------------------------------------------------------------------------
# sanity checks (against the generated data AND the live parsers)
# ---------------------------------------------------------------------------
def _opt(spec: dict, flag: str) -> dict:
    for o in spec["options"]:
        if flag in o["flags"]:
            return o
    raise AssertionError(f"{flag} not in {spec['package']}")


def sanity(specs: dict) -> None:
    bk, pn = specs["bokeh-serve"], specs["panel-serve"]
    for s in (bk, pn):
        assert s["allow_abbrev"] is True
        assert _opt(s, "--allow-websocket-origin")["action"] == "append"
        assert _opt(s, "--args")["nargs"] == "..."
        assert _opt(s, "-h")["action"] == "help"
        for f in (
            "--exclude-cookies",
            "--include-cookies",
            "--exclude-headers",
            "--include-headers",
        ):
            assert _opt(s, f)["nargs"] == "+", f
        assert _opt(s, "--num-procs")["default"] == 1
        assert _opt(s, "--keep-alive")["default"] is None
        assert s["positionals"] == [{"dest": "files", "nargs": "*", "envvar": None}]
    assert _opt(bk, "--allow-websocket-origin")["envvar"] is None  # env REPLACES the flag
    assert _opt(bk, "--cookie-secret")["envvar"] == "BOKEH_COOKIE_SECRET"
    assert _opt(pn, "--cookie-secret")["envvar"] == ["PANEL_COOKIE_SECRET", "BOKEH_COOKIE_SECRET"]
    assert _opt(pn, "--basic-auth")["envvar"] == "PANEL_BASIC_AUTH"
    assert _opt(pn, "--ico-path")["envvar"] is None
    assert _opt(bk, "--dev")["nargs"] == "*" and _opt(bk, "--dev")["action"] == "store"
    assert _opt(pn, "--dev")["action"] == "store_true" and _opt(pn, "--dev")["nargs"] == 0
    for f, n in (
        ("--static-dirs", "+"),
        ("--index-titles", "+"),
        ("--oauth-guest-endpoints", "*"),
        ("--reuse-sessions", "?"),
    ):
        assert _opt(pn, f)["nargs"] == n, f

    # behaviour of the live parsers: greedy options swallow the script, abbreviations work
    bkp = bk["_parser"]
    ns = bkp.parse_args(["--exclude-cookies", "a", "app.py"])
    assert ns.files == [] and ns.exclude_cookies == ["a", "app.py"]
    ns = bkp.parse_args(["--allow-websock", "*", "app.py"])
    assert ns.allow_websocket_origin == ["*"] and ns.files == ["app.py"]
    ns = bkp.parse_args(["--allow-websocket-origin=a.com,b.com", "app.py"])
    assert ns.allow_websocket_origin == ["a.com,b.com"]
    ns = bkp.parse_args(["app.py", "--args", "--port", "1"])
    assert ns.args == ["--port", "1"] and ns.port == 5006
    ns = pn["_parser"].parse_args(["--reuse-sessions", "app.py"])
    assert ns.reuse_sessions == "app.py" and ns.files == []
    ns = pn["_parser"].parse_args(["--dev", "app.py"])
    assert ns.dev is True and ns.files == ["app.py"]

    uv = specs["uvicorn"]
    assert uv["auto_envvar_prefix"] == "UVICORN" and uv["allow_abbrev"] is False
    assert _opt(uv, "--host")["default"] == "127.0.0.1"
    assert _opt(uv, "--host")["envvar"] == "UVICORN_HOST"
    assert _opt(uv, "--ws-ping-interval")["default"] == 20.0
    assert _opt(uv, "--forwarded-allow-ips")["default"] is None
    assert _opt(uv, "--forwarded-allow-ips")["envvar"] == [
        "UVICORN_FORWARDED_ALLOW_IPS",
        "FORWARDED_ALLOW_IPS",
    ]
    assert _opt(uv, "--workers")["envvar"] == ["UVICORN_WORKERS", "WEB_CONCURRENCY"]
    assert _opt(uv, "--reload")["action"] == "store_true"
    assert _opt(uv, "--no-proxy-headers")["action"] == "store_false"
    assert _opt(uv, "--help")["action"] == "help"
    assert uv["positionals"] == [{"dest": "app", "nargs": None, "envvar": "UVICORN_APP"}]

    gu = specs["gunicorn"]
    assert gu["allow_abbrev"] is True
    assert _opt(gu, "--bind")["action"] == "append"
    assert _opt(gu, "--bind")["default"] == ["127.0.0.1:8000"]
    assert _opt(gu, "--workers")["default"] == 1
    assert _opt(gu, "--forwarded-allow-ips")["default"] == "127.0.0.1,::1"
    assert _opt(gu, "--chdir")["default"] == "<cwd>"

    assert _opt(specs["fastapi-run"], "--host")["default"] == "0.0.0.0"
    assert _opt(specs["fastapi-dev"], "--host")["default"] == "127.0.0.1"
    assert _opt(specs["fastapi-run"], "--port")["envvar"] == "PORT"
    assert _opt(specs["fastapi-run"], "--reload")["default"] is False
    assert _opt(specs["fastapi-dev"], "--reload")["default"] is True
    assert _opt(specs["fastapi-run"], "-h")["action"] == "help"

    fl = specs["flask-run"]
    assert fl["auto_envvar_prefix"] == "FLASK_RUN" and fl["allow_abbrev"] is False
    assert _opt(fl, "--host")["default"] == "127.0.0.1"
    assert _opt(fl, "-h")["dest"] == "host"
    assert _opt(fl, "--debug")["action"] == "store_true"
    assert _opt(fl, "--no-debugger")["action"] == "store_false"

    hy = specs["hypercorn"]
    assert hy["allow_abbrev"] is True and _opt(hy, "--bind")["action"] == "append"


def main() -> int:
    specs = {
        "bokeh-serve": spec_bokeh_serve(),
        "panel-serve": spec_panel_serve(),
        "uvicorn": spec_uvicorn(),
        "gunicorn": spec_gunicorn(),
        "fastapi-run": spec_fastapi("run"),
        "fastapi-dev": spec_fastapi("dev"),
        "hypercorn": spec_hypercorn(),
        "flask-run": spec_flask_run(),
    }
    sanity(specs)
    for s in specs.values():
        s.pop("_parser", None)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    init = OUT.parent / "__init__.py"
    if not init.exists():
        init.write_text("")
    text = json.dumps(specs, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(
        f"wrote {OUT.relative_to(REPO)}: "
        + ", ".join(
            f"{k} {v['package']} {v['version']} ({len(v['options'])} options)"
            for k, v in specs.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
