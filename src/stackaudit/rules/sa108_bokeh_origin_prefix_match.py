from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity
from stackaudit.facts.deps import DependencyPin
from stackaudit.facts.serve import OriginEntry
from stackaudit.model.origins import admits_every_host
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

FIXED_IN = "3.8.2"


class BokehOriginPrefixMatch(Rule):
    """
    ## What it does
    Flags a stack that pins bokeh below 3.8.2 (requirements, pyproject, lock files,
    conda environments, `pip install` in a Dockerfile) and serves a Bokeh or Panel app
    with an explicit WebSocket origin allowlist. An entry set at run time
    (`--allow-websocket-origin=$PUBLIC_HOST`) is widened whatever host it names, and is
    reported one confidence step lower than a written host.

    ## Why is this bad?
    Before 3.8.2, Bokeh's `match_host` compared an allowlist entry with the *first*
    labels of the Origin host only (`len(pattern_parts) > len(host_parts)` was the only
    length test), so `dash.corp` also admits `dash.corp.attacker.com`, a name anyone
    can register: the allowlist does not protect the WebSocket
    (CVE-2026-21883 / GHSA-793v-589g-574v). 3.8.2 requires the same number of labels.
    A pin whose every admitted version is older than 3.8.2 is reported; a range that
    admits 3.8.2 is not, and a lock file's version wins over a range.

    ## Example
    ```
    bokeh==3.8.1
    ```

    ## Use instead
    Require `bokeh>=3.8.2` (and `panel` versions that accept it), then re-lock.

    ## References
    - https://github.com/bokeh/bokeh/blob/3.8.1/src/bokeh/server/util.py#L229-L234
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/util.py#L247-L248
    - https://github.com/bokeh/bokeh/security/advisories/GHSA-793v-589g-574v
    """

    code = "SA108"
    name = "bokeh-origin-prefix-match"
    severity = Severity.ERROR
    category = Category.WEBSOCKET_ORIGIN
    applies_to = (FileKind.STACK, FileKind.DEPENDENCIES)
    cwe = 1385
    examples = (
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA108
            RUN pip install panel==1.7.5 bokeh==3.8.1
            CMD ["panel", "serve", "app.py", "--allow-websocket-origin=dash.example.com"]
        """,
        ),
        Bad(
            "Dockerfile",
            """
            FROM python:3.12-slim
            # expect-next-line: SA108
            RUN pip install --no-cache-dir "bokeh<3.8.2" panel
            CMD ["panel", "serve", "app.py", "--allow-websocket-origin=dash.example.com"]
        """,
        ),
        Good(
            "requirements.txt",
            """
            bokeh>=3.4
            panel==1.9.4
        """,
            title="a range that admits the fixed versions",
        ),
        Good(
            "Dockerfile",
            """
            FROM python:3.12-slim
            RUN pip install bokeh==3.9.2
            CMD ["bokeh", "serve", "app.py", "--allow-websocket-origin=dash.example.com"]
        """,
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        pins = [pin for pin in stack.of(DependencyPin) if pin.package == "bokeh"]
        # Versions are read (with packaging) only when there is an allowlist to widen.
        if not any(self._explicit_entries(stack, _directory(pin.span.path)) for pin in pins):
            return
        pins = [pin for pin in pins if pin.valid]
        locked = [pin for pin in pins if pin.locked]
        deciding = locked or pins
        if any(pin.entirely_at_least(FIXED_IN) for pin in deciding):
            return
        for pin in deciding:
            if not pin.entirely_below(FIXED_IN):
                continue
            # A pin governs the project it belongs to: servers started from files in
            # its directory tree (a monorepo holds several projects).
            entries = self._explicit_entries(stack, _directory(pin.span.path))
            if not entries:
                continue
            related = [
                Related(entry.span, f"allowlist entry `{entry.text}`") for entry in entries[:5]
            ]
            exact = pin.spec.startswith("==") or pin.locked
            written = [entry for entry in entries if not entry.symbolic]
            if written:
                host = written[0].text.split(":")[0]
                widened = f"`{written[0].text}` also admits `{host}.attacker.example`"
                confidence = Confidence.HIGH if exact else Confidence.MEDIUM
            else:
                # Set at run time: whatever host the variable names, its prefix matches.
                widened = f"whatever host `{entries[0].text}` names, `<host>.attacker.example` is admitted too"
                confidence = Confidence.MEDIUM if exact else Confidence.LOW
            yield self.report(
                pin.span,
                f"bokeh `{pin.spec}` ({pin.source}) matches WebSocket origins by label "
                f"prefix: {widened}, so the allowlist does not protect the app",
                help=f"require bokeh>={FIXED_IN}",
                fix_title=f"Require bokeh>={FIXED_IN}",
                related=related,
                confidence=confidence,
            )

    @staticmethod
    def _explicit_entries(stack: Stack, directory: str) -> list[OriginEntry]:
        """Allowlist entries a prefix match widens (named hosts, not `*`, or a variable
        that names one at run time) of the servers started from files under
        ``directory``; written ones first."""
        found = []
        for command in stack.serve_commands:
            if command.is_bokeh_family and command.span.path.startswith(directory):
                found += [
                    entry
                    for entry in command.effective_origins()
                    if entry.text
                    and (entry.symbolic or not admits_every_host(entry.text))
                    and (entry.symbolic or "*" not in entry.text)
                ]
        return sorted(found, key=lambda entry: entry.symbolic)


def _directory(path: str) -> str:
    return path.rsplit("/", 1)[0] + "/" if "/" in path else ""
