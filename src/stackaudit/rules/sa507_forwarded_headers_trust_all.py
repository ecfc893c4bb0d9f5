from collections.abc import Iterator

from msgspec import Struct

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.serve import UVICORN_FAMILY, GunicornWorker, Listener, ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

# What each kind of server takes from the forwarded headers of a trusted peer.
_TORNADO_TAKES = (
    "takes the client IP from X-Real-Ip/X-Forwarded-For and the scheme from "
    "X-Scheme/X-Forwarded-Proto of every request, whoever sends it"
)
_UVICORN_TAKES = (
    "takes the client IP from X-Forwarded-For and the scheme from X-Forwarded-Proto of "
    "every request, whoever sends it"
)
_GUNICORN_TAKES = (
    "takes the scheme from X-Forwarded-Proto/-Protocol/-Ssl and SCRIPT_NAME/PATH_INFO "
    "headers of every request, whoever sends it"
)


class _Trust(Struct, frozen=True):
    """Where a server is told to trust forwarded headers from every peer, as written,
    and what it then takes from them."""

    span: Span
    written: str
    what: str
    # The setting to change, as the place it was written names it.
    setting: str


class ForwardedHeadersTrustAll(Rule):
    """
    ## What it does
    Flags a server that believes forwarded headers from every client while its port
    can be reached without the proxy: uvicorn, `fastapi run` and gunicorn with
    `--forwarded-allow-ips '*'` (or `FORWARDED_ALLOW_IPS=*`, uvicorn's
    `UVICORN_FORWARDED_ALLOW_IPS=*`, `forwarded_allow_ips="*"` in code), and Bokeh/Panel
    with `--use-xheaders` (`use_xheaders=True`).

    gunicorn's answer depends on its worker class. Its own workers (the default `sync`,
    `gthread`, `gevent`, `asgi`) trust every peer when any entry of the comma-separated
    list is `*`, and then take the scheme from `X-Forwarded-Proto`/`-Protocol`/`-Ssl` and
    the `SCRIPT_NAME`/`PATH_INFO` headers (the client address stays the peer's). Its
    uvicorn workers (`-k uvicorn.workers.UvicornWorker`, the `uvicorn-worker` package)
    hand the split list to uvicorn, which trusts every peer only when it is exactly
    `["*"]`, and then takes the client address from `X-Forwarded-For` and the scheme
    from `X-Forwarded-Proto`: `10.0.0.1,*` trusts nobody but 10.0.0.1 there. gunicorn's
    `tornado` worker ignores the setting. A worker class of the app's own is judged only
    on an exact `*`.

    "Reachable" means listening on every interface, unless the server runs in a compose
    service that publishes no port on every interface (then only containers of its
    network, the proxy among them, reach it), or a hosting platform starts it (a
    Procfile's `web` process on `$PORT`, App Engine's `entrypoint`, Cloud Run, Fly.io,
    Render, Azure App Service: their router, which sets these headers, is the only way
    in, so trusting it is right there; not a Fly.io service whose ports pass TCP
    through without the `http` handler, which sets none): Bokeh/Panel with no `--address` (Tornado's default)
    or `0.0.0.0`/`::`, uvicorn `--host 0.0.0.0` (its default is 127.0.0.1), `fastapi run`
    (default 0.0.0.0), gunicorn `--bind 0.0.0.0:…`, or no `--bind` with `PORT` set
    (gunicorn then binds `0.0.0.0:$PORT`). Inside a container this may only be the
    container network, hence medium confidence.

    ## Why is this bad?
    These headers are meant to be set by the proxy. A server that trusts them from any
    peer lets a client that connects directly claim any IP address (defeating IP
    allowlists, rate limits and logs) and claim `https` (so the app builds `https`
    redirect URLs and treats the request as secure). uvicorn trusts every peer only
    for exactly `*`; gunicorn's own workers for any `*` in the list; Tornado's
    `xheaders` trusts every peer, with no list at all.

    ## Example
    ```
    uvicorn main:app --host 0.0.0.0 --forwarded-allow-ips '*'
    ```

    ## Use instead
    List the proxy's address or network (`--forwarded-allow-ips 10.0.0.0/8`, the
    default is `127.0.0.1,::1`), or bind the server where only the proxy can reach it
    (`--host 127.0.0.1`, a Unix socket, a private network). Bokeh and Panel have no
    such list (`bokeh serve`/`panel serve` have no `--forwarded-allow-ips`): drop
    `--use-xheaders`, or listen with `--address 127.0.0.1` or `--unix-socket`.

    ## References
    - https://github.com/encode/uvicorn/blob/0.54.0/uvicorn/config.py#L361-L365
    - https://github.com/encode/uvicorn/blob/0.54.0/uvicorn/middleware/proxy_headers.py#L105-L109
    - https://github.com/encode/uvicorn/blob/0.54.0/uvicorn/main.py#L61-L69
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/config.py#L700-L711
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/config.py#L1422-L1445
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/http/message.py#L165-L181
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/http/message.py#L204-L221
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/config.py#L529-L535
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/config.py#L2853-L2858
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/workers/__init__.py#L6-L14
    - https://github.com/Kludex/uvicorn/blob/0.55.0/uvicorn/workers.py#L45-L53
    - https://github.com/Kludex/uvicorn/blob/0.55.0/uvicorn/middleware/proxy_headers.py#L108-L109
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/server.py#L413
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/httpserver.py#L339-L359
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/netutil.py#L89-L92
    - https://fastapi.tiangolo.com/advanced/behind-a-proxy/
    - https://devcenter.heroku.com/articles/http-routing#heroku-headers
    - https://fly.io/docs/networking/request-headers/
    """

    code = "SA507"
    name = "forwarded-headers-trust-all"
    severity = Severity.ERROR
    confidence = Confidence.MEDIUM
    category = Category.REVERSE_PROXY
    security = True  # a client forges its address and scheme
    applies_to = (FileKind.COMMAND_LINE, FileKind.ENVIRONMENT, FileKind.PYTHON, FileKind.STACK)
    cwe = 348
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA507
            CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--forwarded-allow-ips", "*"]
        """,
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            ENV PORT=8000 FORWARDED_ALLOW_IPS=*  # expect: SA507
            CMD gunicorn -k uvicorn.workers.UvicornWorker main:app
        """,
            title="with PORT set and no --bind, gunicorn binds 0.0.0.0:$PORT",
        ),
        Bad(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --use-xheaders  # expect: SA507
        """,
            title="with no --address, Tornado listens on every interface",
        ),
        Bad(
            "main.py",
            """
            import uvicorn
            uvicorn.run(app, host="0.0.0.0", forwarded_allow_ips="*")  # expect: SA507
        """,
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["uvicorn", "main:app", "--forwarded-allow-ips", "*"]
        """,
            title="uvicorn listens on 127.0.0.1 by default",
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            exec panel serve app.py --address 127.0.0.1 --use-xheaders
        """,
        ),
        Good(
            "Procfile",
            """
            web: panel serve app.py --address 0.0.0.0 --port $PORT --use-xheaders
        """,
            title="Heroku's router is the only way to the web process, and sets the headers",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            CMD ["gunicorn", "-b", "0.0.0.0:8000", "--forwarded-allow-ips", "10.0.0.0/8", "main:app"]
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        seen: set[Span] = set()
        for command in stack.serve_commands:
            trusted = _trusts_everyone(command)
            if trusted is None:
                continue
            listener = next((lis for lis in command.listeners() if lis.all_interfaces), None)
            if listener is None or trusted.span in seen:
                continue
            exposure = stack.deploy.exposure(command)
            if exposure is not None and exposure.reachable_without_proxy is False:
                continue  # in a container whose port is not published: only the proxy reaches it
            platform = stack.platform_for(command)
            if (
                platform is not None
                and platform.reached_only_through_router
                and platform.forwarded_headers
            ):
                continue  # Heroku, Cloud Run...: every request comes through their router
            seen.add(trusted.span)
            yield self._report(command, trusted, listener)

    def _report(self, command: ServeCommand, trusted: _Trust, listener: Listener) -> Diagnostic:
        where = (
            listener.written
            if listener.written.startswith(("no ", command.label))
            else f"`{listener.written}`"
        )
        claim = (
            "claim https and another mount path"
            if trusted.what == _GUNICORN_TAKES
            else "claim any IP address and https"
        )
        return self.report(
            trusted.span,
            f"{command.label}: {trusted.written} {trusted.what}, and it listens on all "
            f"interfaces ({where}): a client that reaches the port without the proxy can "
            f"{claim}",
            help=_help(command, trusted),
            fix_title="Trust forwarded headers from the proxy only",
            related=[Related(listener.span, "listens on all interfaces")]
            if listener.span is not None
            else [],
        )


def _help(command: ServeCommand, trusted: _Trust) -> str:
    """The remedy in the server's own terms: Bokeh/Panel have no list of trusted
    proxies (Tornado's ``xheaders`` is all or nothing), the others take one."""
    if command.is_bokeh_family:
        return (
            f"drop {trusted.written} (Bokeh and Panel have no list of trusted proxies), or "
            "listen only where the proxy can reach it (`--address 127.0.0.1`, "
            "`--unix-socket`, a private network)"
        )
    if trusted.setting == "forwarded_allow_ips":
        example = 'forwarded_allow_ips="10.0.0.0/8"'
    elif trusted.setting.startswith("--"):
        example = f"{trusted.setting} 10.0.0.0/8"
    else:
        example = f"{trusted.setting}=10.0.0.0/8"
    if command.carrier == "python":
        listen = '`host="127.0.0.1"`, `uds=PATH`'
    elif command.tool == "gunicorn":
        listen = "`--bind 127.0.0.1:PORT`, `--bind unix:PATH`"
    elif command.tool == "uvicorn":
        listen = "`--host 127.0.0.1`, `--uds PATH`"
    else:
        listen = "`--host 127.0.0.1`"  # fastapi-cli has no option for a unix socket
    return (
        f"trust only the proxy's address or network (e.g. {example}), or listen only where "
        f"the proxy can reach it ({listen}, a private network)"
    )


def _trusts_everyone(command: ServeCommand) -> _Trust | None:
    """Where the server is told to trust forwarded headers from every peer."""
    if command.is_bokeh_family:
        use = command.enabled("use_xheaders")
        if use is None:
            return None
        return _Trust(use.span, f"`{command.written(use)}`", _TORNADO_TAKES, "use_xheaders")
    worker = command.gunicorn_worker()
    if command.tool in UVICORN_FAMILY:
        headers = command.last("proxy_headers")
        if headers is not None and command.turns_on(headers) is False:
            return None
        names = ["FORWARDED_ALLOW_IPS"]
        if command.tool == "uvicorn" and command.carrier != "python":
            names.insert(0, "UVICORN_FORWARDED_ALLOW_IPS")
    elif worker in ("gunicorn", "uvicorn", "unknown"):
        names = ["FORWARDED_ALLOW_IPS"]  # read by gunicorn, also for its uvicorn workers
    else:
        return None  # gunicorn's Tornado worker: Tornado's server ignores the setting
    what = _GUNICORN_TAKES if worker == "gunicorn" else _UVICORN_TAKES
    if worker == "unknown":
        what = "trusts forwarded headers from every client"
    use = command.last("forwarded_allow_ips")
    if use is not None and use.values:
        word = use.values[-1]
        if not word.symbolic and _all_peers(worker, word.text):
            setting = (
                "forwarded_allow_ips" if command.carrier == "python" else "--forwarded-allow-ips"
            )
            return _Trust(use.span, f"`{command.written(use)}`", what, setting)
        return None
    for name in names:
        var = command.env_var(name)
        if var is None or (var.value is not None and var.value.text == ""):
            continue  # click and os.environ.get: an empty value counts as unset
        if var.is_literal and var.value is not None and _all_peers(worker, var.value.text):
            return _Trust(var.span, f"{name}={var.value.text}", what, name)
        return None
    return None


def _all_peers(worker: GunicornWorker | None, text: str) -> bool:
    """Whether the allowlist as written trusts every peer. gunicorn splits it on commas
    and strips each entry (config.py ``validate_string_to_list``); its own workers trust
    everyone when any entry is ``*`` (http/message.py ``_ip_in_allow_list``), while
    uvicorn, and gunicorn's uvicorn workers that pass it the split list, trust everyone
    only for exactly ``*`` or ``["*"]`` (middleware/proxy_headers.py ``_TrustedHosts``);
    a ``*`` among other entries is there an unmatched literal."""
    if worker is None:
        return text == "*"
    entries = [part.strip() for part in text.split(",") if part]
    if worker == "gunicorn":
        return "*" in entries
    return entries == ["*"]
