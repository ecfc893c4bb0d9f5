from collections.abc import Iterator

from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.python import PermissiveCheckOrigin, PythonClass, is_websocket_handler
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class TornadoCheckOriginPermissive(Rule):
    """
    ## What it does
    Flags a `check_origin` override on a Tornado `WebSocketHandler` subclass (directly or
    through intermediate classes of the project) that admits origins it should not: it
    returns `True` unconditionally (or every `return` is a truthy constant), matches the
    host with `endswith("example.com")` without the leading dot, tests a substring
    (`"example.com" in origin`), or tests a prefix that does not end the host
    (`origin.startswith("https://example.com")`).

    ## Why is this bad?
    Browsers let any page open a WebSocket to any host and send that host's cookies with
    the handshake; the `Origin` check is the only protection (cross-site WebSocket
    hijacking, CWE-1385). Tornado calls `check_origin` for every handshake that looks
    cross-origin: since 6.6 it first accepts same-origin requests by itself
    (`Sec-Fetch-Site: same-origin`, or `Origin` equal to `Host`), so an override
    returning `True` admits exactly the cross-site ones. `endswith("example.com")` also
    admits `evilexample.com`; `"example.com" in origin` admits
    `https://example.com.attacker.net`; so does `startswith("https://example.com")`.

    ## Example
    ```python
    class Feed(tornado.websocket.WebSocketHandler):
        def check_origin(self, origin):
            return True
    ```

    ## Use instead
    Compare the origin's host with an allowlist, or match subdomains with the dot:
    `urlparse(origin).netloc in ALLOWED` or `netloc.endswith(".example.com")`. Remove the
    override if the page and the WebSocket are served from the same host: Tornado
    accepts same-origin handshakes by itself.

    ## References
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L518-L580
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L264-L277
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L1726-L1750
    - https://cwe.mitre.org/data/definitions/1385.html
    """

    code = "SA106"
    name = "tornado-check-origin-permissive"
    severity = Severity.ERROR
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.PYTHON,)
    cwe = 1385
    examples = (
        Bad(
            "handlers.py",
            """
            import tornado.websocket

            class Feed(tornado.websocket.WebSocketHandler):
                def check_origin(self, origin):  # expect: SA106
                    return True
        """,
        ),
        Bad(
            "handlers.py",
            """
            from urllib.parse import urlparse
            from tornado.websocket import WebSocketHandler

            class Base(WebSocketHandler):
                pass

            class Feed(Base):
                def check_origin(self, origin):  # expect: SA106
                    return urlparse(origin).netloc.endswith("example.com")
        """,
            title="a host that merely ends with the name, through an intermediate class",
        ),
        Good(
            "handlers.py",
            """
            from urllib.parse import urlparse
            from tornado.websocket import WebSocketHandler

            ALLOWED = {"dash.example.com"}

            class Feed(WebSocketHandler):
                def check_origin(self, origin):
                    host = urlparse(origin).netloc
                    return host in ALLOWED or host.endswith(".example.com")
        """,
        ),
        Good(
            "proxy.py",
            """
            class Upstream:
                def check_origin(self, origin):
                    return True
        """,
            title="not a Tornado WebSocket handler",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        classes = {c.qualname: c for c in stack.of(PythonClass)}
        for override in stack.of(PermissiveCheckOrigin):
            if not is_websocket_handler(override.bases, classes):
                continue
            yield self._report(override, _hosts(stack))

    def _report(self, override: PermissiveCheckOrigin, hosts: list[str]) -> Diagnostic:
        where = f"`{override.class_name}.check_origin`"
        detail = override.detail
        if override.flaw == "always-true":
            message = (
                f"{where} returns `{detail}` for every origin: any web site can open "
                "this WebSocket with its visitors' cookies (Tornado already accepts "
                "same-origin handshakes before calling it)"
            )
        elif override.flaw == "suffix-without-dot":
            message = (
                f"{where} matches the host with `{detail}`: a host that merely ends "
                "with the name (e.g. `evil` + that name) is admitted too"
            )
        elif override.flaw == "substring":
            message = (
                f"{where} tests a substring (`{detail}`): an origin such as "
                "`https://<that name>.attacker.net` is admitted"
            )
        else:
            message = (
                f"{where} tests a prefix (`{detail}`) that does not end the host: "
                "`<that origin>.attacker.net` is admitted"
            )
        return self.report(
            override.span,
            message,
            help="compare the host with an allowlist: `urlparse(origin).netloc in "
            f"{{{', '.join(repr(h) for h in hosts) or repr('app.example.com')}}}`, or use "
            '`.endswith(".example.com")` with the leading dot for subdomains',
            fix_title="Check the origin against an allowlist",
            related=[Related(override.evidence, "the permissive check")]
            if override.evidence != override.span
            else [],
        )


def _hosts(stack: Stack) -> list[str]:
    """The hosts (with a port when not the default) browsers load the pages from."""
    origins = stack.public_origins
    return [origin.split("://", 1)[1] for origin in origins]
