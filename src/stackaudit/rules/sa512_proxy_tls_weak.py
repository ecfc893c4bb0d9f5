from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.nginx import ProxyRoute
from stackaudit.facts.tls import WEAK_FAMILY_LABELS, weak_cipher_families, weak_protocols
from stackaudit.model.links import Backend
from stackaudit.model.nginx_servers import NginxServer
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class ProxyTlsWeak(Rule):
    """
    ## What it does
    Flags an nginx `server` that terminates TLS for an application process of the
    stack (a Panel/Bokeh server, uvicorn, gunicorn, `fastapi run`...) while its
    effective `ssl_protocols` enables TLS 1.0 or 1.1 (or SSL), or its `ssl_ciphers`
    enables known-weak suites: NULL encryption, EXPORT grade, RC4, single or triple
    DES, anonymous (aNULL) key exchange. It is an error when the app authenticates
    (Panel `--basic-auth`/OAuth/an auth module, a FastAPI security scheme): passwords,
    tokens and session cookies cross that TLS.

    The value in effect is the innermost written (`server`, else `http`), else
    nginx's default: `TLSv1 TLSv1.1 TLSv1.2` before 1.23.4, plus `TLSv1.3` from
    1.23.4, `TLSv1.2 TLSv1.3` from 1.27.3 (judged only when the nginx version is
    known, from `nginx-version` or an `nginx:<version>` image). The protocol list of a
    name-based server is chosen before SNI selects it, so the default server of the
    address decides it (before nginx 1.29.2): the finding then points there. The
    cipher string is read as OpenSSL reads it: `!RC4` removes RC4 for good,
    `HIGH:!aNULL:!MD5` (nginx's default) enables none of these, `HIGH` alone enables
    anonymous suites. Only a server that proxies to a process the stack runs is
    judged (a TLS server of a static site is not this rule's concern).

    Confidence is medium, except for 3DES: OpenSSL 3 at its default security level
    refuses TLS 1.0/1.1, NULL, EXPORT, single DES, MD5 and anonymous suites whatever
    nginx asks, but older OpenSSL builds (1.1.1, still in many distributions) and
    `@SECLEVEL=0` do not; 3DES passes every security level up to 2.

    ## Why is this bad?
    TLS 1.0 and 1.1 are deprecated (RFC 8996) and weak suites can be broken or
    downgraded to: a network attacker who can force them reads the app's traffic,
    its login and its session cookie included.

    ## Example
    ```
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
    ```

    ## Use instead
    ```
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers HIGH:!aNULL:!MD5;
    ```

    ## References
    - https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_protocols
    - https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_ciphers
    - https://nginx.org/en/docs/http/server_names.html
    - https://nginx.org/en/CHANGES
    - https://github.com/nginx/nginx/blob/release-1.29.0/src/event/ngx_event_openssl.h
    - https://docs.openssl.org/3.0/man1/openssl-ciphers/
    - https://docs.openssl.org/3.0/man3/SSL_CTX_set_security_level/
    - https://www.rfc-editor.org/rfc/rfc8996
    """

    code = "SA512"
    name = "proxy-tls-weak"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    category = Category.TLS
    applies_to = (FileKind.NGINX, FileKind.STACK)
    cwe = 326
    one_finding_per_place = False
    examples = (
        Bad(
            "nginx/app.conf",
            """
            server {
                listen 443 ssl;
                server_name dash.example.com;
                ssl_certificate /etc/ssl/dash.pem;
                ssl_certificate_key /etc/ssl/dash.key;
                ssl_protocols TLSv1 TLSv1.1 TLSv1.2;  # expect: SA512
                location / {
                    proxy_pass http://127.0.0.1:5006;
                }
            }
        """,
            context={"start.sh": "exec panel serve app.py --port 5006 --address 127.0.0.1"},
        ),
        Good(
            "nginx/app.conf",
            """
            server {
                listen 443 ssl;
                server_name dash.example.com;
                ssl_certificate /etc/ssl/dash.pem;
                ssl_certificate_key /etc/ssl/dash.key;
                ssl_protocols TLSv1.2 TLSv1.3;
                ssl_ciphers HIGH:!aNULL:!MD5:!RC4:!3DES;
                location / {
                    proxy_pass http://127.0.0.1:5006;
                }
            }
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        found: dict[tuple[Span, str], list[tuple[ProxyRoute, list[Backend]]]] = {}
        problems: dict[tuple[Span, str], tuple[str, Confidence]] = {}
        for route in stack.nginx_routes:
            server = stack.nginx_servers.server_of(route)
            if server is None or not server.tls_listens or not server.public:
                continue
            backends = stack.links.backends_of_route(route)
            if not backends:
                continue
            for key, problem in _weaknesses(server):
                found.setdefault(key, []).append((route, backends))
                problems[key] = problem
        for key, reached in found.items():
            yield self._report(stack, key[0], problems[key], reached)

    def _report(
        self,
        stack: Stack,
        span: Span,
        problem: tuple[str, Confidence],
        reached: list[tuple[ProxyRoute, list[Backend]]],
    ) -> Diagnostic:
        text, sure = problem
        backends = list(dict.fromkeys(b for _, routed in reached for b in routed))
        authenticated = [
            (b, auth) for b in backends if (auth := stack.apps.authentication(b.command))
        ]
        route = reached[0][0]
        if authenticated:
            backend, auth = authenticated[0]
            whom = f"{backend.description}, which authenticates with {auth}"
        else:
            whom = backends[0].description
        related = [Related(r.span, f"proxies to the app ({r.where})") for r, _ in reached]
        related += [Related(b.command.span, "the app") for b in backends]
        link = min((b.confidence for b in backends), key=lambda c: c.rank)
        return self.report(
            span,
            f"{text} on the TLS that {route.where} puts in front of {whom}: a network "
            "attacker who forces them can read the app's traffic"
            + (", logins and session cookies included" if authenticated else ""),
            help="allow only `ssl_protocols TLSv1.2 TLSv1.3;` and a cipher list without "
            "weak suites (nginx's default `HIGH:!aNULL:!MD5` is fine)",
            fix_title="Allow only strong TLS",
            related=related,
            severity=Severity.ERROR if authenticated else None,
            confidence=min(sure, link, key=lambda c: c.rank),
        )


def _weaknesses(server: NginxServer) -> Iterator[tuple[tuple[Span, str], tuple[str, Confidence]]]:
    """((where, what), (message, how sure)) for each weak setting in
    effect: the protocol list (where the deciding server writes it, else its TLS
    listen), then the cipher string."""
    deciding = server.protocols_server()
    protocols = deciding.own_protocols()
    weak = weak_protocols(protocols.words or ()) if not protocols.symbolic else []
    if weak:
        span = protocols.span or deciding.tls_listens[0].span or deciding.span
        written = "" if protocols.written is not None else " (nginx's default for its version)"
        # Asked for in the configuration: medium (OpenSSL 3 refuses them at its default
        # security level); only nginx's default: low (images that old are rare).
        sure = Confidence.MEDIUM if protocols.written is not None else Confidence.LOW
        where = "" if deciding is server else f" of the default server {deciding.label}"
        yield (
            (span, "protocols"),
            (
                f"`ssl_protocols {protocols.text}`{written}{where} enables {' and '.join(weak)}",
                sure,
            ),
        )
    modern_only = protocols.words is not None and all(
        p.lower() == "tlsv1.3" for p in protocols.words
    )
    ciphers = server.ciphers()
    if ciphers.written is None or ciphers.symbolic or modern_only:
        return  # nginx's default enables none; TLS 1.3 suites are not set by ssl_ciphers
    families = weak_cipher_families(ciphers.text)
    if families:
        labels = ", ".join(WEAK_FAMILY_LABELS[f] for f in families)
        assert ciphers.span is not None
        yield (
            (ciphers.span, "ciphers"),
            (
                f"`ssl_ciphers` enables weak suites: {labels}",
                # 3DES passes OpenSSL's security levels up to 2; the others do not.
                Confidence.HIGH if "3DES" in families else Confidence.MEDIUM,
            ),
        )
